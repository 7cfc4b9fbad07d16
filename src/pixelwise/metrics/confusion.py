"""Streaming confusion matrix for semantic segmentation.

The matrix is the basis of every overlap metric in :mod:`pixelwise.metrics.scores` (IoU,
precision, recall, F1/Dice, accuracies, Cohen's kappa). It is ``int64``, shaped
``(num_classes, num_classes)``, with **rows = ground truth, columns = prediction** (the
convention of ``sklearn.metrics.confusion_matrix``), so ``matrix[i, j]`` counts pixels of true
class ``i`` predicted as ``j``. Because it only sums counts it can be accumulated over a whole
dataset, over tiles of one image, and across processes (:meth:`ConfusionMatrix.sync`).

Speed: each update builds the pair index ``target * C + pred`` in the narrowest integer dtype
that holds it (int16 when ``rows * C < 32768``), in a reused workspace (fresh multi-MiB
allocations cost more in page faults than the arithmetic), in chunks of up to 4 Mpixel on CPU,
and counts it with one ``torch.bincount`` per chunk. Ignored pixels are not masked out (that
would need a compacting copy): their ``target`` row lands in its own histogram row, which is
dropped. The same rows catch invalid target values for free. The ops follow torch's thread
setting; on an oversubscribed CPU ``torch.set_num_threads(1)`` can be several times faster
(see ``benchmarks/metrics.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from pixelwise.metrics import scores
from pixelwise.metrics._distributed import all_reduce_sum
from pixelwise.metrics._inputs import (
    check_target_values,
    integer_tensor,
    invalid_pred_error,
    invalid_target_error,
    labels_from_prediction,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pixelwise.metrics.report import SegmentationReport

_CPU_CHUNK = 1 << 22  # pixels per CPU chunk: bounds the workspace (8 MiB int16, L3 sized)
_MAX_FAST_BINS = 1 << 17  # histogram bins allowed before falling back to explicit masking


def _index_dtype(num_bins: int) -> torch.dtype:
    if num_bins <= torch.iinfo(torch.int16).max:
        return torch.int16
    if num_bins <= torch.iinfo(torch.int32).max:
        return torch.int32
    return torch.int64


class ConfusionMatrix:
    """Streaming ``(C, C)`` int64 confusion matrix; rows = ground truth, columns = prediction.

    Args:
        num_classes: number of classes ``C``.
        ignore_index: target value whose pixels are skipped (e.g. 255 for VOC, -100 for
            ``nn.CrossEntropyLoss``); it may lie inside ``[0, C)``, then that class is skipped.

    ``update(pred, target)`` takes ``target`` as an integer label map of any shape (``N x H x W``,
    ``H x W``, ...; uint8/int8/int16/int32/int64/bool) and ``pred`` either as a label map of the
    same shape or as scores/logits/probabilities with a class dimension (``N x C x H x W``, any
    float dtype), which are argmax-ed. CPU and CUDA tensors both work; the matrix lives on the
    device of the first update.
    """

    def __init__(self, num_classes: int, ignore_index: int | None = None) -> None:
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1; got {num_classes}.")
        self.num_classes = int(num_classes)
        self.ignore_index = None if ignore_index is None else int(ignore_index)
        self.matrix = torch.zeros(num_classes, num_classes, dtype=torch.int64)
        self._workspace: dict[tuple[torch.dtype, torch.device], torch.Tensor] = {}

    # ------------------------------------------------------------------ state
    def reset(self) -> None:
        """Zero the counts (keep device and workspace)."""
        self.matrix.zero_()

    def merge(self, other: ConfusionMatrix) -> ConfusionMatrix:
        """Add ``other``'s counts into this matrix (e.g. per-tile or per-worker partials)."""
        if other.num_classes != self.num_classes:
            raise ValueError(
                f"cannot merge a {other.num_classes}-class matrix into a {self.num_classes}-class "
                f"one; both must use the same num_classes."
            )
        self.matrix += other.matrix.to(self.matrix.device)
        return self

    def sync(self) -> ConfusionMatrix:
        """Return a new matrix holding the sum over all ``torch.distributed`` ranks.

        ``self`` keeps its local counts, so calling ``sync()`` after every epoch (or twice) never
        double counts. Without an initialised process group it returns a copy. Collective: every
        rank must call it.
        """
        synced = ConfusionMatrix(self.num_classes, self.ignore_index)
        synced.matrix = all_reduce_sum(self.matrix)
        return synced

    def iou(self) -> torch.Tensor:
        """Per-class IoU ``(C,)`` float64; NaN for classes absent from prediction and truth."""
        return scores.per_class_iou(self)

    def mean_iou(self) -> float:
        """Macro mean IoU over present classes."""
        return scores.mean_iou(self)

    def summary(self) -> dict[str, float]:
        """Pixel / mean accuracy, mean / micro / fw IoU, kappa, mean precision / recall / F1."""
        return scores.summary(self)

    def report(self, class_names: Sequence[str] | None = None) -> SegmentationReport:
        """Per-class table and summary (:class:`~pixelwise.metrics.report.SegmentationReport`)."""
        from pixelwise.metrics.report import SegmentationReport

        return SegmentationReport.from_confusion(self, class_names)

    def __repr__(self) -> str:
        return (
            f"ConfusionMatrix(num_classes={self.num_classes}, ignore_index={self.ignore_index}, "
            f"pixels={int(self.matrix.sum())})"
        )

    # ----------------------------------------------------------------- update
    @torch.no_grad()
    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        """Accumulate one batch (or tile). See the class docstring for accepted inputs."""
        target = integer_tensor(target, "target")
        labels, trusted = labels_from_prediction(pred, target, self.num_classes)
        if self.matrix.device != target.device:
            self.matrix = self.matrix.to(target.device)
        if target.numel() == 0:
            return
        if not trusted:
            low, high = (int(v) for v in torch.aminmax(labels))
            if low < 0 or high >= self.num_classes:
                raise invalid_pred_error(low if low < 0 else high, self.num_classes)
        self.matrix += self._count(labels.reshape(-1), target.reshape(-1))

    def _count(self, labels: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        num_classes, ignore = self.num_classes, self.ignore_index
        t_min, t_max = (int(v) for v in torch.aminmax(target))
        for extreme in (t_min, t_max):
            if not 0 <= extreme < num_classes and extreme != ignore:
                raise invalid_target_error(extreme, num_classes, ignore)
        # Rows of the pair histogram are target values ``low .. t_max``; only [0, C) are kept.
        low = min(t_min, 0)
        rows = max(t_max, num_classes - 1) - low + 1
        if rows * num_classes > _MAX_FAST_BINS:
            return self._count_masked(labels, target)
        hist = self._pair_histogram(labels, target, low, rows)
        keep = slice(-low, -low + num_classes)
        stray = hist.sum(dim=1)
        stray[keep] = 0
        if ignore is not None and 0 <= ignore - low < rows:
            stray[ignore - low] = 0
        if bool(stray.any()):
            value = int(torch.nonzero(stray)[0].item()) + low
            raise invalid_target_error(value, num_classes, ignore)
        out = hist[keep].clone()
        if ignore is not None and 0 <= ignore < num_classes:
            out[ignore] = 0  # an ignored in-range class: its row was counted, drop it
        return out

    def _pair_histogram(
        self, labels: torch.Tensor, target: torch.Tensor, low: int, rows: int
    ) -> torch.Tensor:
        """``bincount((target - low) * C + labels)`` reshaped to ``(rows, C)``, chunked on CPU."""
        num_classes = self.num_classes
        num_bins = rows * num_classes
        dtype = _index_dtype(num_bins)
        total = target.numel()
        chunk = _CPU_CHUNK if target.device.type == "cpu" else total
        chunk = min(chunk, total)
        workspace = self._buffer(dtype, target.device, 2 * chunk)
        hist = torch.zeros(num_bins, dtype=torch.int64, device=target.device)
        for start in range(0, total, chunk):
            stop = min(start + chunk, total)
            size = stop - start
            index = workspace[:size]
            index.copy_(target[start:stop])
            if low:
                index.sub_(low)
            part = labels[start:stop]
            if part.dtype != dtype:
                # Same-dtype arithmetic is vectorised; a wider ``other`` would not be.
                part = workspace[chunk : chunk + size].copy_(part)
            torch.add(part, index, alpha=num_classes, out=index)  # one pass: part + C * index
            hist += torch.bincount(index, minlength=num_bins)
        return hist.view(rows, num_classes)

    def _count_masked(self, labels: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Slow path for huge ignore values: explicit validation and masking."""
        check_target_values(target, self.num_classes, self.ignore_index)
        if self.ignore_index is not None:
            keep = target != self.ignore_index
            target, labels = target[keep], labels[keep]
        index = target.to(torch.int64) * self.num_classes + labels.to(torch.int64)
        counts = torch.bincount(index, minlength=self.num_classes**2)
        return counts.view(self.num_classes, self.num_classes)

    def _buffer(self, dtype: torch.dtype, device: torch.device, size: int) -> torch.Tensor:
        key = (dtype, device)
        buffer = self._workspace.get(key)
        if buffer is None or buffer.numel() < size:
            buffer = torch.empty(size, dtype=dtype, device=device)
            self._workspace[key] = buffer
        return buffer
