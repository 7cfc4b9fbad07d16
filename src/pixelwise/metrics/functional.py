"""One-call conveniences over the streaming metrics (one batch, or a dataset held in memory)."""

from __future__ import annotations

import torch

from pixelwise.metrics import scores
from pixelwise.metrics.average_precision import AveragePrecision
from pixelwise.metrics.boundary import Backend, BoundaryF1
from pixelwise.metrics.confusion import ConfusionMatrix


def confusion_matrix(
    pred: torch.Tensor, target: torch.Tensor, num_classes: int, ignore_index: int | None = None
) -> torch.Tensor:
    """``(C, C)`` int64 matrix, rows = ground truth, columns = prediction (sklearn's layout).

    ``pred``: label map shaped like ``target`` or ``N x C x H x W`` scores (argmax-ed).
    """
    confusion = ConfusionMatrix(num_classes, ignore_index)
    confusion.update(pred, target)
    return confusion.matrix


def mean_iou(
    pred: torch.Tensor, target: torch.Tensor, num_classes: int, ignore_index: int | None = None
) -> float:
    """Macro mean IoU over classes present in prediction or ground truth (others excluded)."""
    return scores.mean_iou(confusion_matrix(pred, target, num_classes, ignore_index))


def average_precision_score(
    scores_: torch.Tensor,
    target: torch.Tensor,
    num_classes: int,
    ignore_index: int | None = None,
    bins: int | None = None,
    from_logits: bool = False,
) -> torch.Tensor:
    """Per-class AP ``(C,)`` from ``N x C x H x W`` scores; exact by default (``bins=None``)."""
    metric = AveragePrecision(num_classes, bins, ignore_index, from_logits)
    metric.update(scores_, target)
    return metric.compute()


def boundary_f1(
    pred: torch.Tensor,
    target: torch.Tensor,
    num_classes: int,
    tolerance: float | None = None,
    ignore_index: int | None = None,
    backend: Backend = "auto",
) -> float:
    """Mean BF score over the images of one batch (see :class:`BoundaryF1`)."""
    metric = BoundaryF1(num_classes, tolerance, ignore_index=ignore_index, backend=backend)
    metric.update(pred, target)
    return metric.compute()
