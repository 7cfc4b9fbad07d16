"""Segmentation metrics built on a streaming confusion matrix (stand-alone: torch/numpy only).

* :class:`ConfusionMatrix` - int64 ``(C, C)``, rows = ground truth, columns = prediction;
  ``update`` / ``reset`` / ``merge`` / ``sync`` (``torch.distributed`` all-reduce).
* :mod:`~pixelwise.metrics.scores` - IoU, precision, recall, F1/Dice per class; pixel accuracy,
  mean class accuracy, mean / micro / frequency-weighted IoU, Cohen's kappa. They take a
  ``ConfusionMatrix`` or its ``(C, C)`` tensor; the per-class and summary ones are re-exported
  here (``scores.mean_iou`` is the matrix version of the one-call :func:`mean_iou`).
* One-call :func:`mean_iou`, :func:`confusion_matrix`, :func:`average_precision_score`,
  :func:`boundary_f1` on ``(pred, target, num_classes, ...)``.
* :class:`AveragePrecision` - per-class AP as sklearn's ``average_precision_score``, binned
  (streaming, with a guaranteed error bound) or exact.
* :class:`BoundaryF1` - the BF score of Csurka et al. (2013) reported by SegNet.
* :class:`SegmentationReport` - per-class table + summary, dict / JSON (NaN -> null).

A class absent from both prediction and ground truth gets NaN and is excluded from every mean.
"""

from __future__ import annotations

from pixelwise.metrics import scores
from pixelwise.metrics.average_precision import AveragePrecision, exact_average_precision
from pixelwise.metrics.boundary import BoundaryF1, mask_boundary
from pixelwise.metrics.confusion import ConfusionMatrix
from pixelwise.metrics.functional import (
    average_precision_score,
    boundary_f1,
    confusion_matrix,
    mean_iou,
)
from pixelwise.metrics.report import SegmentationReport
from pixelwise.metrics.scores import (
    cohen_kappa,
    frequency_weighted_iou,
    mean_class_accuracy,
    micro_iou,
    per_class_dice,
    per_class_f1,
    per_class_iou,
    per_class_precision,
    per_class_recall,
    pixel_accuracy,
    summary,
    support,
)

__all__ = [
    "AveragePrecision",
    "BoundaryF1",
    "ConfusionMatrix",
    "SegmentationReport",
    "average_precision_score",
    "boundary_f1",
    "cohen_kappa",
    "confusion_matrix",
    "exact_average_precision",
    "frequency_weighted_iou",
    "mask_boundary",
    "mean_class_accuracy",
    "mean_iou",
    "micro_iou",
    "per_class_dice",
    "per_class_f1",
    "per_class_iou",
    "per_class_precision",
    "per_class_recall",
    "pixel_accuracy",
    "scores",
    "summary",
    "support",
]
