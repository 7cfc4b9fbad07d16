"""Evaluation at full resolution over a (sharded) dataset, in batches of equal-sized images.

The engine knows nothing of post-processing: a ``refine`` callable (e.g. the dense CRF that
``pixelwise evaluate --crf`` passes in) may replace each image's probabilities before the
argmax, and ``on_labels`` receives every predicted label map (``pixelwise evaluate
--predictions`` writes them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from pixelwise.metrics import BoundaryF1, ConfusionMatrix, SegmentationReport
from pixelwise.outputs import label_probabilities, main_logits, num_labels
from pixelwise.training.data_setup import DataBundle, val_items
from pixelwise.training.distributed import DistInfo
from pixelwise.training.progress import progress_bar

Refine = Callable[[Tensor, np.ndarray], Tensor]
"""``(probs (K, H, W) on the CPU, image (H, W, 3) uint8) -> refined probs (K, H, W)``."""


@dataclass
class EvaluationResult:
    report: SegmentationReport
    confusion: np.ndarray
    samples: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        return self.report.summary()


def denormalize(image: Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> np.ndarray:
    """Normalised C x H x W -> uint8 H x W x 3 for display."""
    m = torch.tensor(mean).view(-1, 1, 1)
    s = torch.tensor(std).view(-1, 1, 1)
    pixels = (image.cpu() * s + m).clamp(0, 1)
    if pixels.shape[0] == 1:
        pixels = pixels.expand(3, -1, -1)
    return (pixels[:3].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


@torch.no_grad()
def predict_probabilities(model: nn.Module, images: Tensor) -> Tensor:
    """One probability per label (see :mod:`pixelwise.outputs`) for a batch of images."""
    return label_probabilities(main_logits(model(images)))


def _batches(
    bundle: DataBundle, items: list[int], batch_size: int
) -> Iterator[list[tuple[int, Tensor, Tensor]]]:
    """Consecutive items, transformed, grouped while their sizes agree (up to batch_size)."""
    group: list[tuple[int, Tensor, Tensor]] = []
    for index in items:
        image, mask = bundle.val_transform(*bundle.val[index])
        if group and (len(group) == batch_size or group[0][1].shape != image.shape):
            yield group
            group = []
        group.append((index, image, mask))
    if group:
        yield group


def evaluate_model(
    model: nn.Module,
    bundle: DataBundle,
    device: torch.device,
    dist: DistInfo,
    *,
    batch_size: int = 1,
    progress: bool = True,
    refine: Refine | None = None,
    boundary: bool = False,
    keep_samples: int = 0,
    on_labels: Callable[[int, np.ndarray], None] | None = None,
) -> EvaluationResult:
    """Confusion matrix (synced across ranks) and report over this rank's validation images.

    ``batch_size`` images of equal size share a forward pass (``data.val_batch_size``);
    ``refine`` post-processes each image's probabilities (e.g. DeepLab's dense CRF);
    ``boundary=True`` adds the BF score; ``on_labels(index, labels)`` sees each label map.
    """
    was_training = model.training
    model.eval()
    num_classes = num_labels(bundle.num_classes)
    confusion = ConfusionMatrix(num_classes, bundle.ignore_index)
    boundary_f1 = BoundaryF1(num_classes, ignore_index=bundle.ignore_index) if boundary else None
    samples: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    items = val_items(bundle, dist)
    bar = progress_bar(
        total=len(items), desc="evaluate", enabled=progress and dist.is_main, unit="image"
    )
    for group in _batches(bundle, items, max(1, batch_size)):
        images = torch.stack([image for _, image, _ in group]).to(device)
        probs = predict_probabilities(model, images)
        if refine is not None:
            probs = torch.stack(
                [
                    refine(p.cpu(), denormalize(image, bundle.mean, bundle.std))
                    for p, (_, image, _) in zip(probs, group)
                ]
            ).to(device)
        predictions = probs.argmax(dim=1)
        targets = torch.stack([mask for _, _, mask in group]).to(device)
        confusion.update(predictions, targets)
        if boundary_f1 is not None:
            boundary_f1.update(predictions.cpu(), targets.cpu())
        for (index, image, mask), prediction in zip(group, predictions):
            if on_labels is not None:
                on_labels(index, prediction.cpu().numpy())
            if len(samples) < keep_samples:
                samples.append(
                    (
                        denormalize(image, bundle.mean, bundle.std),
                        mask.numpy(),
                        prediction.cpu().numpy(),
                    )
                )
        bar.update(len(group))
    bar.close()
    model.train(was_training)
    synced = confusion.sync()
    names = bundle.class_names if bundle.num_classes >= 2 else ["background", *bundle.class_names]
    bf_value = boundary_f1.compute() if boundary_f1 is not None else None
    report = SegmentationReport.from_confusion(synced, names, boundary_f1=bf_value)
    return EvaluationResult(report, synced.matrix.cpu().numpy(), samples)
