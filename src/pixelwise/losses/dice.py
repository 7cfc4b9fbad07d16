"""Dice loss (survey eq. 6; Milletari et al. 2016), generalised Dice (Sudre et al. 2017) and the
survey's log-cosh Dice (Jadon 2020, eq. 17).

Reduction options shared by the Dice family (defaults in brackets):

- ``per_image`` [False]: overlap sums over the whole batch (one Dice per class), or one Dice per
  image and class, then averaged over images. Batch statistics are more stable when objects are
  small or absent from some images.
- ``classes`` ["all"]: average over all classes, or only over classes present in the target
  (of the batch, or of the image when ``per_image``). With "all", an absent class scores
  ``smooth / (sum p + smooth)``, so predicting it anywhere is penalised.
- ``smooth`` [1.0]: added to numerator and denominator, as in the survey's
  ``DL = 1 - (2 y p + 1) / (y + p + 1)``; it also makes an absent class with an empty
  prediction score Dice 1 instead of 0/0.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from pixelwise.losses._functional import safe_ratio
from pixelwise.losses._region import (
    check_classes,
    reduce_classes,
    region_inputs,
    region_sums,
    rows_with_pixels,
)
from pixelwise.losses.base import SegmentationLoss
from pixelwise.losses.registry import register_loss


def soft_dice_per_class(
    logits: Tensor, target: Tensor, valid: Tensor, smooth: float, per_image: bool, squared: bool
) -> tuple[Tensor, Tensor]:
    """``(dice, sum_target)``, each ``(R, C)`` with R = 1 (batch) or N (per image)."""
    probs, onehot = region_inputs(logits, target, valid)
    tp, sum_pred, sum_target = region_sums(probs, onehot, per_image, squared)
    dice = safe_ratio(2.0 * tp + smooth, sum_pred + sum_target + smooth, empty_value=1.0)
    return dice, sum_target


@register_loss("dice")
class DiceLoss(SegmentationLoss):
    """Soft Dice loss ``1 - (2 sum p t + s) / (sum p + sum t + s)``, averaged over classes.

    ``p`` are softmax probabilities ``(N, C, H, W)`` (sigmoid foreground in binary mode) and
    ``t`` the one-hot target; ignored pixels are masked out of all sums. ``squared=True`` uses
    ``sum p^2 + sum t^2`` in the denominator (Milletari et al.). See the module docstring for
    ``per_image``, ``classes`` and ``smooth``. Matches MONAI's ``DiceLoss(softmax=True,
    to_onehot_y=True, include_background=True, smooth_nr=s, smooth_dr=s, batch=not per_image)``.
    """

    def __init__(
        self,
        smooth: float = 1.0,
        *,
        per_image: bool = False,
        classes: Literal["all", "present"] = "all",
        squared: bool = False,
        ignore_index: int | None = None,
    ) -> None:
        super().__init__(ignore_index=ignore_index)
        if smooth < 0:
            raise ValueError(f"smooth must be >= 0; got {smooth}")
        self.smooth = float(smooth)
        self.per_image = per_image
        self.classes = check_classes(classes)
        self.squared = squared

    def _loss(self, logits: Tensor, target: Tensor, valid: Tensor) -> Tensor:
        dice, sum_target = soft_dice_per_class(
            logits, target, valid, self.smooth, self.per_image, self.squared
        )
        rows = rows_with_pixels(valid, self.per_image)
        return reduce_classes(1.0 - dice, sum_target, rows, self.classes)


@register_loss("log_cosh_dice")
class LogCoshDiceLoss(DiceLoss):
    """Log-cosh Dice loss (Jadon 2020, eq. 17): ``log(cosh(DL))`` of the Dice loss above,
    computed stably as ``DL + softplus(-2 DL) - log 2``. Same options as :class:`DiceLoss`."""

    def _loss(self, logits: Tensor, target: Tensor, valid: Tensor) -> Tensor:
        dice_loss = super()._loss(logits, target, valid)
        return (
            dice_loss
            + torch.nn.functional.softplus(-2.0 * dice_loss)
            - torch.log(torch.tensor(2.0, dtype=dice_loss.dtype, device=dice_loss.device))
        )


@register_loss("generalized_dice")
class GeneralizedDiceLoss(SegmentationLoss):
    """Generalised Dice loss (Sudre et al., DLMIA 2017, eq. 2):
    ``GDL = 1 - 2 (sum_c w_c sum_i t_ci p_ci + s) / (sum_c w_c sum_i (t_ci + p_ci) + s)``.

    ``weight_type``: ``"square"`` ``w_c = 1 / (sum_i t_ci)^2`` (the paper), ``"simple"``
    ``1 / sum_i t_ci`` or ``"uniform"`` 1. The weight of a class absent from the target would be
    infinite; as in MONAI it is replaced by the largest finite weight (of the image when
    ``per_image``), so a false positive of an absent class is still penalised. Weights carry no
    gradient. ``smooth`` defaults to MONAI's 1e-5. Matches MONAI's ``GeneralizedDiceLoss(
    softmax=True, to_onehot_y=True, w_type=..., smooth_nr=s, smooth_dr=s, batch=not per_image)``
    (``s`` is added once to numerator and denominator, outside the factor 2). Binary mode
    weighs background and foreground, as Sudre et al. do for two-label problems (MONAI's
    ``sigmoid=True`` on one channel would score the foreground alone).
    """

    def __init__(
        self,
        smooth: float = 1e-5,
        *,
        weight_type: Literal["square", "simple", "uniform"] = "square",
        per_image: bool = False,
        ignore_index: int | None = None,
    ) -> None:
        super().__init__(ignore_index=ignore_index)
        if weight_type not in ("square", "simple", "uniform"):
            raise ValueError(
                f"weight_type must be 'square', 'simple' or 'uniform'; got {weight_type!r}"
            )
        if smooth < 0:
            raise ValueError(f"smooth must be >= 0; got {smooth}")
        self.smooth = float(smooth)
        self.weight_type = weight_type
        self.per_image = per_image

    def _class_weights(self, sum_target: Tensor) -> Tensor:
        if self.weight_type == "uniform":
            return torch.ones_like(sum_target)
        power = 2.0 if self.weight_type == "square" else 1.0
        present = sum_target > 0
        weights = safe_ratio(torch.ones_like(sum_target), sum_target**power, empty_value=0.0)
        largest = weights.amax(dim=1, keepdim=True)
        return torch.where(present, weights, largest.expand_as(weights))

    def _loss(self, logits: Tensor, target: Tensor, valid: Tensor) -> Tensor:
        probs, onehot = region_inputs(logits, target, valid, two_class=True)
        tp, sum_pred, sum_target = region_sums(probs, onehot, self.per_image)
        weights = self._class_weights(sum_target).detach()
        numerator = 2.0 * (weights * tp).sum(1) + self.smooth
        denominator = (weights * (sum_pred + sum_target)).sum(1) + self.smooth
        per_row = 1.0 - safe_ratio(numerator, denominator, empty_value=1.0)
        rows = rows_with_pixels(valid, self.per_image)
        return torch.where(rows, per_row, torch.zeros_like(per_row)).sum() / rows.sum()
