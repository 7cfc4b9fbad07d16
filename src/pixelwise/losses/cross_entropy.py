"""Pixel-wise cross-entropy and the lecture's class-balanced cross-entropy."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from pixelwise.losses._functional import class_log_probs, class_weight_tensor, num_categories
from pixelwise.losses.base import SegmentationLoss
from pixelwise.losses.registry import register_loss


def true_class_log_prob(logits: Tensor, target: Tensor) -> Tensor:
    """``log p_{y_i}`` at every pixel, ``(N, H, W)`` (cleaned target)."""
    return class_log_probs(logits).gather(1, target.unsqueeze(1)).squeeze(1)


@register_loss("ce")
class CrossEntropyLoss(SegmentationLoss):
    """Cross-entropy ``CE = -1/N sum_i log p_i`` (lecture; N = valid pixels).

    ``logits`` ``(N, C, H, W)``, ``target`` ``(N, H, W)``. Binary mode (``C == 1``) is the
    binary cross-entropy with logits. Equals ``F.cross_entropy(..., ignore_index=...)``.
    """

    def _loss(self, logits: Tensor, target: Tensor, valid: Tensor) -> Tensor:
        # PyTorch's fused kernels; ignored pixels are masked by weight / ignore_index.
        count = valid.sum().to(logits.dtype)
        if logits.shape[1] == 1:
            mask = valid.to(logits.dtype)
            summed = F.binary_cross_entropy_with_logits(
                logits[:, 0], target.to(logits.dtype), weight=mask, reduction="sum"
            )
            return summed / count
        masked = torch.where(valid, target, -100)
        return F.cross_entropy(logits, masked, ignore_index=-100, reduction="sum") / count


@register_loss("balanced_ce")
class BalancedCrossEntropyLoss(SegmentationLoss):
    """Class-balanced cross-entropy (lecture): ``BCE = -1/N sum_i w_{y_i} log p_i``.

    ``class_weights`` holds ``w_c`` for the ``C`` classes (larger for rarer classes; see
    :class:`~pixelwise.losses.weights.ClassWeightEstimator`). The binary form
    ``-1/N (sum_pos w_pos log p_i + sum_neg w_neg log p_i)`` is selected with ``pos_weight`` /
    ``neg_weight`` (or ``class_weights=(w_neg, w_pos)``) on ``(N, 1, H, W)`` logits.

    ``normalize="pixels"`` (default) divides by the number of valid pixels N, as in the lecture;
    ``"weights"`` divides by ``sum_i w_{y_i}``, which is what ``F.cross_entropy(weight=...)``
    does. Without weights both equal the plain cross-entropy.
    """

    class_weights: Tensor | None  # buffer registered in __init__

    def __init__(
        self,
        class_weights: Sequence[float] | Tensor | None = None,
        *,
        pos_weight: float | None = None,
        neg_weight: float | None = None,
        normalize: Literal["pixels", "weights"] = "pixels",
        ignore_index: int | None = None,
    ) -> None:
        super().__init__(ignore_index=ignore_index)
        if normalize not in ("pixels", "weights"):
            raise ValueError(f"normalize must be 'pixels' or 'weights'; got {normalize!r}")
        if class_weights is not None and (pos_weight is not None or neg_weight is not None):
            raise ValueError("give either class_weights or pos_weight/neg_weight, not both")
        if pos_weight is not None or neg_weight is not None:
            class_weights = (
                1.0 if neg_weight is None else neg_weight,
                1.0 if pos_weight is None else pos_weight,
            )
        weights = None if class_weights is None else torch.as_tensor(class_weights).float()
        self.register_buffer("class_weights", weights, persistent=False)
        self.normalize = normalize

    def _loss(self, logits: Tensor, target: Tensor, valid: Tensor) -> Tensor:
        weights = class_weight_tensor(self.class_weights, num_categories(logits), logits)
        pixel_weight = valid.to(logits.dtype)
        if weights is not None:
            pixel_weight = pixel_weight * weights[target]
        if logits.shape[1] == 1:
            total = -(pixel_weight * true_class_log_prob(logits, target)).sum()
        else:  # fused kernel: sum_i w_{y_i} (-log p_i) over valid pixels
            masked = torch.where(valid, target, -100)
            total = F.cross_entropy(
                logits, masked, weight=weights, ignore_index=-100, reduction="sum"
            )
        if self.normalize == "pixels":
            return total / valid.sum().to(logits.dtype)
        return total / pixel_weight.sum().clamp_min(torch.finfo(logits.dtype).tiny)
