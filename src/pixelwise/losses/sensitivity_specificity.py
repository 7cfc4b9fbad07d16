"""Sensitivity-specificity loss (Brosch et al., MICCAI 2015; survey eq. 8)."""

from __future__ import annotations

from torch import Tensor

from pixelwise.losses._functional import channel_probs, one_hot_channels
from pixelwise.losses.base import SegmentationLoss
from pixelwise.losses.registry import register_loss


@register_loss("sensitivity_specificity")
class SensitivitySpecificityLoss(SegmentationLoss):
    """Sensitivity-specificity loss per class channel,
    ``SS = w sum (t - p)^2 t / (sum t + eps)``
    ``+ (1 - w) sum (t - p)^2 (1 - t) / (sum (1 - t) + eps)``,
    with sums over the valid pixels of the batch, averaged over channels.

    The first term is an (error-weighted) sensitivity on the object, the second a specificity on
    the background; ``w`` (Brosch et al.'s sensitivity ratio ``r``, default 0.05 as in the
    paper) balances them. ``eps`` [1e-5] keeps a class absent from the batch finite (its first
    term is then 0). Logits ``(N, C, H, W)`` (softmax; sigmoid foreground when ``C = 1``).
    """

    def __init__(
        self, w: float = 0.05, eps: float = 1e-5, *, ignore_index: int | None = None
    ) -> None:
        super().__init__(ignore_index=ignore_index)
        if not 0.0 <= w <= 1.0:
            raise ValueError(f"w must be in [0, 1]; got {w}")
        if eps <= 0:
            raise ValueError(f"eps must be > 0; got {eps}")
        self.w = float(w)
        self.eps = float(eps)

    def _loss(self, logits: Tensor, target: Tensor, valid: Tensor) -> Tensor:
        mask = valid.unsqueeze(1).to(logits.dtype)
        probs = channel_probs(logits)
        onehot = one_hot_channels(target, valid, logits.shape[1], logits.dtype)
        background = (1.0 - onehot) * mask
        squared_error = (onehot - probs) ** 2
        dims = (0, 2, 3)
        sensitivity = (squared_error * onehot).sum(dims) / (onehot.sum(dims) + self.eps)
        specificity = (squared_error * background).sum(dims) / (background.sum(dims) + self.eps)
        return (self.w * sensitivity + (1.0 - self.w) * specificity).mean()
