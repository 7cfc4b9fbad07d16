"""Focal loss (Lin et al., ICCV 2017) and the lecture's balanced focal loss."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from pixelwise.losses._functional import class_weight_tensor, num_categories, shifted_power
from pixelwise.losses.base import SegmentationLoss
from pixelwise.losses.cross_entropy import true_class_log_prob
from pixelwise.losses.registry import register_loss


def focal_terms(logits: Tensor, target: Tensor, gamma: float) -> Tensor:
    """``-(1 - p_t)^gamma log p_t`` per pixel ``(N, H, W)``; ``1 - p_t`` is computed as
    ``-expm1(log p_t)`` so it stays accurate when ``p_t`` is close to 1."""
    log_pt = true_class_log_prob(logits, target)
    one_minus_pt = (-torch.expm1(log_pt)).clamp_min(0.0)
    if gamma == 0:
        return -log_pt
    # shifted_power keeps the gradient finite at p_t = 1 when 0 < gamma < 1.
    modulating = shifted_power(one_minus_pt, gamma)
    return -modulating * log_pt


@register_loss("focal")
class FocalLoss(SegmentationLoss):
    """Focal loss ``FL = -1/N sum_i (1 - p_i)^gamma log p_i`` (Lin et al. 2017, eq. 4).

    ``p_i`` is the probability of the true class at pixel i, N the number of valid pixels.
    ``gamma = 0`` is the cross-entropy. Shapes as in :class:`SegmentationLoss`; binary mode uses
    ``p_t = sigmoid(z)`` for positives and ``1 - sigmoid(z)`` for negatives.
    """

    def __init__(self, gamma: float = 2.0, *, ignore_index: int | None = None) -> None:
        super().__init__(ignore_index=ignore_index)
        if gamma < 0:
            raise ValueError(f"gamma must be >= 0; got {gamma}")
        self.gamma = float(gamma)

    def _loss(self, logits: Tensor, target: Tensor, valid: Tensor) -> Tensor:
        terms = focal_terms(logits, target, self.gamma)
        return torch.where(valid, terms, torch.zeros_like(terms)).sum() / valid.sum().to(
            terms.dtype
        )


@register_loss("balanced_focal")
class BalancedFocalLoss(SegmentationLoss):
    """Balanced focal loss (lecture): ``FL = -1/N sum_i w_{y_i} (1 - p_i)^gamma log p_i``.

    ``class_weights`` are the precomputed ``w_c`` (one per class; ``(w_neg, w_pos)`` in binary
    mode). ``alpha`` is Lin et al.'s alpha-balanced form for binary mode: ``w_pos = alpha``,
    ``w_neg = 1 - alpha`` (the paper uses 0.25 with gamma 2). With neither, all weights are 1.
    N is the number of valid pixels (weights are not renormalised).
    """

    class_weights: Tensor | None  # buffer registered in __init__

    def __init__(
        self,
        gamma: float = 2.0,
        class_weights: Sequence[float] | Tensor | None = None,
        *,
        alpha: float | None = None,
        ignore_index: int | None = None,
    ) -> None:
        super().__init__(ignore_index=ignore_index)
        if gamma < 0:
            raise ValueError(f"gamma must be >= 0; got {gamma}")
        if alpha is not None and class_weights is not None:
            raise ValueError("give either class_weights or alpha, not both")
        if alpha is not None and not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1]; got {alpha}")
        self.gamma = float(gamma)
        self.alpha = alpha
        weights = None if class_weights is None else torch.as_tensor(class_weights).float()
        self.register_buffer("class_weights", weights, persistent=False)

    def _loss(self, logits: Tensor, target: Tensor, valid: Tensor) -> Tensor:
        weights: Tensor | None
        if self.alpha is not None:
            if logits.shape[1] != 1:
                raise ValueError(
                    f"alpha is the binary form (w_pos=alpha, w_neg=1-alpha) and needs logits with "
                    f"1 channel; got {logits.shape[1]}. Use class_weights for multiclass."
                )
            weights = torch.tensor([1.0 - self.alpha, self.alpha], dtype=logits.dtype)
            weights = weights.to(logits.device)
        else:
            weights = class_weight_tensor(self.class_weights, num_categories(logits), logits)
        terms = focal_terms(logits, target, self.gamma)
        if weights is not None:
            terms = terms * weights[target]
        return torch.where(valid, terms, torch.zeros_like(terms)).sum() / valid.sum().to(
            terms.dtype
        )
