"""Overlap metrics derived from a confusion matrix (rows = ground truth, columns = prediction).

With ``TP_c = M[c, c]``, ``FP_c = sum_i M[i, c] - TP_c`` (predicted c, truly other) and
``FN_c = sum_j M[c, j] - TP_c`` (truly c, predicted other), the lecture's metrics, with its
misprints corrected, are::

    IoU_c       = TP / (TP + FP + FN)           (Jaccard)
    precision_c = TP / (TP + FP)
    recall_c    = TP / (TP + FN)                (per-class accuracy)
    F1_c        = 2 TP / (2 TP + FP + FN)       (= Dice)

Absent classes: a class that appears neither in the ground truth nor in the prediction
(``TP + FP + FN = 0``) has **NaN** for every per-class metric and is **left out of all means**.
A class present on one side only gets the ordinary value, e.g. precision 0 when it is in the
ground truth but never predicted (scikit-learn's ``zero_division=0``). Mean class accuracy
follows the FCN paper and averages recall over classes present in the ground truth.

Per-class results are float64 CPU tensors of shape ``(C,)``; summaries are Python floats.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Union

import torch

if TYPE_CHECKING:
    from pixelwise.metrics.confusion import ConfusionMatrix

MatrixLike = Union["ConfusionMatrix", torch.Tensor]


def _raw(confusion: MatrixLike) -> torch.Tensor:
    return confusion if isinstance(confusion, torch.Tensor) else confusion.matrix


def _matrix(confusion: MatrixLike) -> torch.Tensor:
    matrix = _raw(confusion)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"expected a square (C, C) confusion matrix; got {tuple(matrix.shape)}.")
    return matrix.detach().to("cpu", torch.float64)


def _counts(confusion: MatrixLike) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(tp, fp, fn)`` per class as float64."""
    matrix = _matrix(confusion)
    tp = matrix.diagonal()
    return tp, matrix.sum(dim=0) - tp, matrix.sum(dim=1) - tp


def _ratio(numerator: torch.Tensor, denominator: torch.Tensor, present: torch.Tensor):
    """``numerator / denominator``; 0 where the denominator is 0, NaN where the class is absent."""
    out = numerator / denominator.clamp(min=1)
    out[~present] = math.nan
    return out


def _present(tp: torch.Tensor, fp: torch.Tensor, fn: torch.Tensor) -> torch.Tensor:
    return (tp + fp + fn) > 0


def _nanmean(values: torch.Tensor) -> float:
    kept = values[~values.isnan()]
    return float(kept.mean()) if kept.numel() else math.nan


def support(confusion: MatrixLike) -> torch.Tensor:
    """Ground-truth pixels per class (row sums), int64."""
    return _raw(confusion).detach().cpu().sum(dim=1).to(torch.int64)


def per_class_iou(confusion: MatrixLike) -> torch.Tensor:
    """``TP / (TP + FP + FN)`` per class; NaN for classes absent from prediction and truth."""
    tp, fp, fn = _counts(confusion)
    return _ratio(tp, tp + fp + fn, _present(tp, fp, fn))


def per_class_precision(confusion: MatrixLike) -> torch.Tensor:
    """``TP / (TP + FP)`` per class (0 if never predicted but present; NaN if absent)."""
    tp, fp, fn = _counts(confusion)
    return _ratio(tp, tp + fp, _present(tp, fp, fn))


def per_class_recall(confusion: MatrixLike) -> torch.Tensor:
    """``TP / (TP + FN)`` per class (0 if predicted but not in truth; NaN if absent)."""
    tp, fp, fn = _counts(confusion)
    return _ratio(tp, tp + fn, _present(tp, fp, fn))


def per_class_f1(confusion: MatrixLike) -> torch.Tensor:
    """F1 = Dice = ``2 TP / (2 TP + FP + FN)`` per class; NaN for absent classes."""
    tp, fp, fn = _counts(confusion)
    return _ratio(2 * tp, 2 * tp + fp + fn, _present(tp, fp, fn))


per_class_dice = per_class_f1


def pixel_accuracy(confusion: MatrixLike) -> float:
    """Global (overall) accuracy ``trace / total``; NaN for an empty matrix."""
    matrix = _matrix(confusion)
    total = float(matrix.sum())
    return float(matrix.trace()) / total if total else math.nan


def mean_class_accuracy(confusion: MatrixLike) -> float:
    """Mean over classes present in the ground truth of ``TP / (TP + FN)`` (FCN, Long et al.)."""
    matrix = _matrix(confusion)
    truth = matrix.sum(dim=1)
    in_truth = truth > 0
    if not bool(in_truth.any()):
        return math.nan
    return float((matrix.diagonal()[in_truth] / truth[in_truth]).mean())


def mean_iou(confusion: MatrixLike) -> float:
    """Macro mean IoU over classes present in prediction or truth (absent classes excluded)."""
    return _nanmean(per_class_iou(confusion))


def micro_iou(confusion: MatrixLike) -> float:
    """``sum TP / sum (TP + FP + FN)`` over classes (pools all pixels before dividing)."""
    tp, fp, fn = _counts(confusion)
    denominator = float((tp + fp + fn).sum())
    return float(tp.sum()) / denominator if denominator else math.nan


def frequency_weighted_iou(confusion: MatrixLike) -> float:
    """``sum_c (t_c / sum t) IoU_c`` with ``t_c`` the ground-truth pixels of class c (FCN)."""
    matrix = _matrix(confusion)
    truth = matrix.sum(dim=1)
    total = float(truth.sum())
    if not total:
        return math.nan
    iou = per_class_iou(matrix)
    in_truth = truth > 0  # classes absent from the truth have weight 0 (their IoU may be NaN)
    return float((truth[in_truth] / total * iou[in_truth]).sum())


def cohen_kappa(confusion: MatrixLike) -> float:
    """Cohen's kappa ``(p_o - p_e) / (1 - p_e)``; NaN when undefined (``p_e = 1``), as sklearn."""
    matrix = _matrix(confusion)
    total = float(matrix.sum())
    if not total:
        return math.nan
    observed = float(matrix.trace()) / total
    expected = float((matrix.sum(dim=1) * matrix.sum(dim=0)).sum()) / total**2
    if expected >= 1.0:
        return math.nan
    return (observed - expected) / (1.0 - expected)


def summary(confusion: MatrixLike) -> dict[str, float]:
    """All scalar summaries in one dict (NaN where undefined)."""
    return {
        "pixel_accuracy": pixel_accuracy(confusion),
        "mean_accuracy": mean_class_accuracy(confusion),
        "mean_iou": mean_iou(confusion),
        "micro_iou": micro_iou(confusion),
        "fw_iou": frequency_weighted_iou(confusion),
        "kappa": cohen_kappa(confusion),
        "mean_precision": _nanmean(per_class_precision(confusion)),
        "mean_recall": _nanmean(per_class_recall(confusion)),
        "mean_f1": _nanmean(per_class_f1(confusion)),
    }
