"""The survey's compounded losses: combo loss (Taghanaki et al. 2019) and exponential
logarithmic loss (Wong et al., MICCAI 2018)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from pixelwise.losses._functional import (
    channel_log_probs,
    class_weight_tensor,
    masked_mean,
    num_categories,
    one_hot_channels,
    shifted_power,
)
from pixelwise.losses.base import SegmentationLoss
from pixelwise.losses.cross_entropy import true_class_log_prob
from pixelwise.losses.dice import soft_dice_per_class
from pixelwise.losses.registry import register_loss


@register_loss("combo")
class ComboLoss(SegmentationLoss):
    """Combo loss (Taghanaki et al., CMIG 2019, eq. 3):
    ``L = alpha L_mbce + (1 - alpha) (1 - Dice)``, with the modified cross-entropy
    ``L_mbce = -1/M sum [beta t log p + (1 - beta)(1 - t) log(1 - p)]`` over the M
    (pixel, channel) pairs (one-vs-rest on softmax channels in multiclass mode), and the soft Dice
    averaged over channels over the batch with ``smooth`` [1.0].

    The paper (and the survey, eq. 14, which also flips the sign of the Dice term) subtracts the
    Dice coefficient; we add ``1 - Dice`` instead, which differs by the constant
    ``1 - alpha`` (same gradients) and makes the loss 0 at a perfect prediction. ``alpha``
    weighs the cross-entropy against Dice, ``beta < 0.5`` penalises false positives more.
    Defaults 0.5 / 0.5 as in the authors' code.
    """

    def __init__(
        self,
        alpha: float = 0.5,
        beta: float = 0.5,
        smooth: float = 1.0,
        *,
        ignore_index: int | None = None,
    ) -> None:
        super().__init__(ignore_index=ignore_index)
        if not (0.0 <= alpha <= 1.0 and 0.0 <= beta <= 1.0):
            raise ValueError(f"alpha and beta must be in [0, 1]; got alpha={alpha}, beta={beta}")
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.smooth = float(smooth)

    def _loss(self, logits: Tensor, target: Tensor, valid: Tensor) -> Tensor:
        mask = valid.unsqueeze(1).to(logits.dtype)
        log_p, log_not_p = channel_log_probs(logits)
        onehot = one_hot_channels(target, valid, logits.shape[1], logits.dtype)
        terms = self.beta * onehot * log_p + (1.0 - self.beta) * (1.0 - onehot) * mask * log_not_p
        modified_ce = -terms.sum() / (mask.sum() * logits.shape[1])
        dice, _ = soft_dice_per_class(logits, target, valid, self.smooth, False, False)
        return self.alpha * modified_ce + (1.0 - self.alpha) * (1.0 - dice.mean())


@register_loss("exp_log")
class ExponentialLogarithmicLoss(SegmentationLoss):
    """Exponential logarithmic loss (Wong et al. 2018, eqs. 1-4; survey eq. 13):
    ``L = w_dice E_c[(-ln Dice_c)^gamma_dice] + w_cross E_x[w_l (-ln p_l(x))^gamma_cross]``.

    ``Dice_c = (2 sum p t + smooth) / (sum p + sum t + smooth)`` over the batch (``smooth`` = 1
    as in the paper), averaged over the ``C`` channels; ``p_l(x)`` is the probability of the
    true label at pixel x, averaged over valid pixels; ``w_l = (sum_k f_k / f_l)^0.5`` with
    label frequencies ``f_k``. Wong et al. take ``f_k`` from the training set: pass them as
    ``class_weights`` (the ``w_l``) computed e.g. with
    :class:`~pixelwise.losses.weights.ClassWeightEstimator` (``"inverse_sqrt"``); if omitted they
    come from the current batch's valid labels. Defaults: ``w_dice = 0.8``, ``w_cross = 0.2``,
    ``gamma = 0.3`` for both, as in the paper. The powers are continued linearly below
    1e-6 so their gradient stays finite at 0.
    """

    class_weights: Tensor | None  # buffer registered in __init__

    def __init__(
        self,
        w_dice: float = 0.8,
        w_cross: float = 0.2,
        gamma_dice: float = 0.3,
        gamma_cross: float = 0.3,
        smooth: float = 1.0,
        class_weights: Sequence[float] | Tensor | None = None,
        *,
        ignore_index: int | None = None,
    ) -> None:
        super().__init__(ignore_index=ignore_index)
        if gamma_dice <= 0 or gamma_cross <= 0:
            raise ValueError(f"gammas must be > 0; got {gamma_dice}, {gamma_cross}")
        self.w_dice = float(w_dice)
        self.w_cross = float(w_cross)
        self.gamma_dice = float(gamma_dice)
        self.gamma_cross = float(gamma_cross)
        self.smooth = float(smooth)
        weights = None if class_weights is None else torch.as_tensor(class_weights).float()
        self.register_buffer("class_weights", weights, persistent=False)

    def _label_weights(self, logits: Tensor, target: Tensor, valid: Tensor) -> Tensor:
        categories = num_categories(logits)
        given = class_weight_tensor(self.class_weights, categories, logits)
        if given is not None:
            return given
        counts = torch.bincount(target[valid], minlength=categories).to(logits.dtype)
        return torch.sqrt(counts.sum() / counts.clamp_min(1.0))

    def _loss(self, logits: Tensor, target: Tensor, valid: Tensor) -> Tensor:
        dice, _ = soft_dice_per_class(logits, target, valid, self.smooth, False, False)
        dice_term = shifted_power(-torch.log(dice.clamp_min(1e-12)), self.gamma_dice).mean()
        nll = -true_class_log_prob(logits, target)
        weights = self._label_weights(logits, target, valid)[target]
        cross_term = masked_mean(weights * shifted_power(nll, self.gamma_cross), valid)
        return self.w_dice * dice_term + self.w_cross * cross_term
