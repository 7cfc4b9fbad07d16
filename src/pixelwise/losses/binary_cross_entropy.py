"""The survey's binary cross-entropy family (Jadon 2020, Sec. III-A): BCE, weighted BCE and
balanced BCE, applied one-vs-rest to every channel.

Binary mode (``logits`` ``(N, 1, H, W)``) is the survey's setting. In multiclass mode each class
channel ``c`` is a binary problem between ``p_c = softmax(logits)_c`` and ``[y == c]``, and the
per-channel losses are averaged over channels and valid pixels.
"""

from __future__ import annotations

from torch import Tensor

from pixelwise.losses._functional import channel_log_probs, one_hot_channels
from pixelwise.losses.base import SegmentationLoss
from pixelwise.losses.registry import register_loss


def _one_vs_rest_mean(
    logits: Tensor,
    target: Tensor,
    valid: Tensor,
    pos_weight: Tensor | float,
    neg_weight: Tensor | float,
) -> Tensor:
    log_p, log_not_p = channel_log_probs(logits)
    onehot = one_hot_channels(target, valid, logits.shape[1], logits.dtype)
    mask = valid.unsqueeze(1).to(logits.dtype)
    terms = -(pos_weight * onehot * log_p + neg_weight * (1.0 - onehot) * mask * log_not_p)
    return terms.sum() / (mask.sum() * logits.shape[1])


@register_loss("bce")
class BinaryCrossEntropyLoss(SegmentationLoss):
    """Binary cross-entropy ``L = -(y log p + (1 - y) log(1 - p))`` averaged over pixels
    (and over channels, one-vs-rest, in multiclass mode). In binary mode this equals
    ``F.binary_cross_entropy_with_logits``."""

    def _loss(self, logits: Tensor, target: Tensor, valid: Tensor) -> Tensor:
        return _one_vs_rest_mean(logits, target, valid, 1.0, 1.0)


@register_loss("weighted_bce")
class WeightedBinaryCrossEntropyLoss(SegmentationLoss):
    """Weighted BCE (survey eq. 2): ``L = -(beta y log p + (1 - y) log(1 - p))``.

    ``beta > 1`` reduces false negatives, ``beta < 1`` false positives. In binary mode equals
    ``F.binary_cross_entropy_with_logits(pos_weight=beta)``.
    """

    def __init__(self, beta: float = 1.0, *, ignore_index: int | None = None) -> None:
        super().__init__(ignore_index=ignore_index)
        if beta < 0:
            raise ValueError(f"beta must be >= 0; got {beta}")
        self.beta = float(beta)

    def _loss(self, logits: Tensor, target: Tensor, valid: Tensor) -> Tensor:
        return _one_vs_rest_mean(logits, target, valid, self.beta, 1.0)


@register_loss("balanced_bce")
class BalancedBinaryCrossEntropyLoss(SegmentationLoss):
    """Balanced BCE (survey eq. 3; Xie & Tu 2015, HED):
    ``L = -(beta y log p + (1 - beta)(1 - y) log(1 - p))`` with ``beta = 1 - |Y_+| / |Y|``,
    the fraction of negative pixels, computed per image and channel over valid pixels (no
    gradient flows through ``beta``). As defined, an image (channel) without positives gets
    ``beta = 1`` and so contributes nothing."""

    def _loss(self, logits: Tensor, target: Tensor, valid: Tensor) -> Tensor:
        onehot = one_hot_channels(target, valid, logits.shape[1], logits.dtype)
        pixels = valid.flatten(1).sum(1).to(logits.dtype).clamp_min(1).view(-1, 1, 1, 1)
        beta = 1.0 - onehot.sum(dim=(2, 3), keepdim=True) / pixels
        return _one_vs_rest_mean(logits, target, valid, beta, 1.0 - beta)


__all__ = [
    "BalancedBinaryCrossEntropyLoss",
    "BinaryCrossEntropyLoss",
    "WeightedBinaryCrossEntropyLoss",
]
