"""Boundary F1 (BF) score, Csurka et al., "What is a good evaluation measure for semantic
segmentation?", BMVC 2013, as reported by SegNet (Badrinarayanan et al., 2017).

For each image and each class present in its ground truth, the boundary pixels of the class
mask in the prediction and in the ground truth are matched within a distance tolerance
``theta``: precision = fraction of predicted boundary pixels within ``theta`` of a true boundary
pixel, recall = fraction of true boundary pixels within ``theta`` of a predicted one, and
``BF = 2 P R / (P + R)``. BF is averaged over the classes present in the image's ground truth,
then over images. The default ``theta`` is 0.75 % of the image diagonal (Csurka / SegNet);
an explicit ``tolerance`` in pixels overrides it.

Definitions made explicit here:

* Boundary pixel of a binary mask: a mask pixel with at least one 8-neighbour outside the mask.
  Pixels beyond the image border count as inside (the image edge is not a boundary).
* Distance is Euclidean; "within theta" is ``dist <= theta``. Backends: ``"scipy"`` uses
  ``scipy.ndimage.distance_transform_edt``; ``"torch"`` dilates with a disk of radius
  ``theta`` (all integer offsets with ``dx^2 + dy^2 <= theta^2``) via ``conv2d``. Both give
  identical results; ``"auto"`` picks SciPy when it is importable.
* Empty boundaries: both empty -> BF 1; exactly one empty -> BF 0.
* ``ignore_index``: ignored pixels count as "same class" when finding boundaries in both maps
  (a void band creates no boundary), and predicted boundary pixels lying on them are dropped.
"""

from __future__ import annotations

import importlib.util
import math
from typing import Literal

import torch
import torch.nn.functional as F

from pixelwise.metrics._distributed import all_reduce_sum
from pixelwise.metrics._inputs import (
    check_target_values,
    integer_tensor,
    invalid_pred_error,
    labels_from_prediction,
)

Backend = Literal["auto", "scipy", "torch"]
ResolvedBackend = Literal["scipy", "torch"]
DEFAULT_TOLERANCE_RATIO = 0.0075


def _resolve_backend(backend: Backend) -> ResolvedBackend:
    if backend == "auto":
        return "scipy" if importlib.util.find_spec("scipy") is not None else "torch"
    if backend not in ("scipy", "torch"):
        raise ValueError(f"backend must be 'auto', 'scipy' or 'torch'; got {backend!r}.")
    return backend


def mask_boundary(masks: torch.Tensor, same: torch.Tensor | None = None) -> torch.Tensor:
    """Boundary pixels of binary ``masks`` ``(K, H, W)``: mask pixels with an 8-neighbour outside.

    ``same`` (``(K, H, W)`` bool, optional) marks pixels that never count as outside.
    """
    inside = masks if same is None else masks | same
    padded = F.pad(inside[:, None].to(torch.float32), (1, 1, 1, 1), mode="replicate")
    eroded = -F.max_pool2d(-padded, kernel_size=3, stride=1)  # min-pool = erosion
    return masks & (eroded[:, 0] < 0.5)


def _disk(radius: float, device: torch.device) -> torch.Tensor:
    reach = int(math.floor(radius))
    offsets = torch.arange(-reach, reach + 1, device=device, dtype=torch.float64)
    return ((offsets[:, None] ** 2 + offsets[None, :] ** 2) <= radius**2 + 1e-9).float()


def _within_torch(sources: torch.Tensor, tolerance: float) -> torch.Tensor:
    """``(K, H, W)`` bool: pixels within Euclidean ``tolerance`` of a True pixel of ``sources``."""
    kernel = _disk(tolerance, sources.device)
    reach = kernel.shape[0] // 2
    hits = F.conv2d(sources[:, None].to(torch.float32), kernel[None, None], padding=reach)
    return hits[:, 0] > 0.5


def _within_scipy(sources: torch.Tensor, tolerance: float) -> torch.Tensor:
    from scipy.ndimage import distance_transform_edt

    out = torch.zeros_like(sources)
    for k, source in enumerate(sources.cpu().numpy()):
        if source.any():
            distance = distance_transform_edt(~source)
            out[k] = torch.from_numpy(distance <= tolerance + 1e-9)
    return out


def _bf_per_class(predicted: torch.Tensor, truth: torch.Tensor, tolerance: float, backend: str):
    """BF for paired boundary maps ``(K, H, W)`` -> ``(K,)`` float64."""
    within = _within_scipy if backend == "scipy" else _within_torch
    near_truth, near_pred = within(truth, tolerance), within(predicted, tolerance)
    n_pred = predicted.sum(dim=(1, 2)).double()
    n_truth = truth.sum(dim=(1, 2)).double()
    precision = (predicted & near_truth).sum(dim=(1, 2)).double() / n_pred.clamp(min=1)
    recall = (truth & near_pred).sum(dim=(1, 2)).double() / n_truth.clamp(min=1)
    bf = 2 * precision * recall / (precision + recall).clamp(min=1e-12)
    bf[(n_pred == 0) & (n_truth == 0)] = 1.0
    bf[(n_pred == 0) ^ (n_truth == 0)] = 0.0
    return bf.cpu()


class BoundaryF1:
    """Streaming BF score: per image, mean over classes in its ground truth; then mean over images.

    Args:
        num_classes: ``C``.
        tolerance: match distance in pixels; None -> ``tolerance_ratio`` x image diagonal.
        tolerance_ratio: fraction of the diagonal used when ``tolerance`` is None (0.75 %).
        ignore_index: target value to ignore.
        backend: ``"auto"`` (SciPy if importable), ``"scipy"`` or ``"torch"``.

    ``update(pred, target)``: ``target`` ``N x H x W`` (or ``H x W``) integer labels; ``pred``
    labels of the same shape or ``N x C x H x W`` scores (argmax-ed).
    """

    def __init__(
        self,
        num_classes: int,
        tolerance: float | None = None,
        tolerance_ratio: float = DEFAULT_TOLERANCE_RATIO,
        ignore_index: int | None = None,
        backend: Backend = "auto",
    ) -> None:
        if tolerance is not None and tolerance < 0:
            raise ValueError(f"tolerance must be >= 0 pixels; got {tolerance}.")
        self.num_classes = num_classes
        self.tolerance = tolerance
        self.tolerance_ratio = tolerance_ratio
        self.ignore_index = ignore_index
        self.backend = _resolve_backend(backend)
        self.reset()

    def reset(self) -> None:
        self.total = 0.0
        self.images = 0

    def per_image(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """BF of each image ``(N,)`` float64; NaN for images without valid ground truth."""
        target = integer_tensor(target, "target")
        labels, trusted = labels_from_prediction(pred, target, self.num_classes)
        if target.ndim == 2:
            target, labels = target[None], labels[None]
        if target.ndim != 3:
            raise ValueError(f"target must be N x H x W or H x W; got {tuple(target.shape)}.")
        check_target_values(target, self.num_classes, self.ignore_index)
        if not trusted and labels.numel():
            low, high = (int(v) for v in torch.aminmax(labels))
            if low < 0 or high >= self.num_classes:
                raise invalid_pred_error(low if low < 0 else high, self.num_classes)
        height, width = target.shape[-2:]
        tolerance = self.tolerance
        if tolerance is None:
            tolerance = self.tolerance_ratio * math.hypot(height, width)
        scores = []
        for image_target, image_labels in zip(target, labels):
            scores.append(self._image_score(image_labels, image_target, tolerance))
        return torch.tensor(scores, dtype=torch.float64)

    def _image_score(self, labels: torch.Tensor, target: torch.Tensor, tolerance: float) -> float:
        ignored = target == self.ignore_index if self.ignore_index is not None else None
        valid_truth = target if ignored is None else target[~ignored]
        classes = torch.unique(valid_truth)
        if classes.numel() == 0:
            return math.nan
        truth_masks = target[None] == classes[:, None, None]
        pred_masks = labels[None] == classes[:, None, None]
        same = None if ignored is None else ignored[None].expand_as(truth_masks)
        truth_boundary = mask_boundary(truth_masks, same)
        pred_boundary = mask_boundary(pred_masks, same)
        if ignored is not None:
            pred_boundary &= ~ignored[None]
        return float(_bf_per_class(pred_boundary, truth_boundary, tolerance, self.backend).mean())

    @torch.no_grad()
    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        scores = self.per_image(pred, target)
        scores = scores[~scores.isnan()]
        self.total += float(scores.sum())
        self.images += scores.numel()

    def compute(self) -> float:
        """Mean BF over the images seen (NaN before any valid image)."""
        return self.total / self.images if self.images else math.nan

    def merge(self, other: BoundaryF1) -> BoundaryF1:
        self.total += other.total
        self.images += other.images
        return self

    def sync(self) -> BoundaryF1:
        """Return a new state summed over all ``torch.distributed`` ranks (copy if none)."""
        state = all_reduce_sum(torch.tensor([self.total, float(self.images)], dtype=torch.float64))
        synced = BoundaryF1(
            self.num_classes, self.tolerance, self.tolerance_ratio, self.ignore_index, self.backend
        )
        synced.total, synced.images = float(state[0]), int(state[1])
        return synced
