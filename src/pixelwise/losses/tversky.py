"""Tversky loss (Salehi et al., MLMI 2017) and focal Tversky loss (Abraham & Khan, ISBI 2019)."""

from __future__ import annotations

from typing import Literal

from torch import Tensor

from pixelwise.losses._functional import safe_ratio, shifted_power
from pixelwise.losses._region import (
    check_classes,
    reduce_classes,
    region_inputs,
    region_sums,
    rows_with_pixels,
)
from pixelwise.losses.base import SegmentationLoss
from pixelwise.losses.registry import register_loss


@register_loss("tversky")
class TverskyLoss(SegmentationLoss):
    """Tversky loss ``1 - TI_c`` averaged over classes, with
    ``TI_c = (TP + s) / (TP + alpha FP + beta FN + s)``, ``TP = sum p t``,
    ``FP = sum p (1 - t)``, ``FN = sum (1 - p) t`` over valid pixels.

    The survey (eq. 11) writes one parameter (``beta`` on FP, ``1 - beta`` on FN); we follow
    Salehi et al. with separate ``alpha`` (false positives) and ``beta`` (false negatives),
    default 0.3 / 0.7, their best setting for small lesions. ``alpha = beta = 0.5`` with
    smooth ``s`` is the Dice loss with smooth ``2 s``. ``per_image`` [False], ``classes``
    ["all"] and ``smooth`` [1.0] work as in :class:`~pixelwise.losses.dice.DiceLoss`.
    Matches MONAI's ``TverskyLoss(softmax=True, to_onehot_y=True, alpha=alpha, beta=beta,
    smooth_nr=s, smooth_dr=s, batch=not per_image)``.
    Shapes: logits ``(N, C, H, W)``, target ``(N, H, W)``.
    """

    def __init__(
        self,
        alpha: float = 0.3,
        beta: float = 0.7,
        smooth: float = 1.0,
        *,
        per_image: bool = False,
        classes: Literal["all", "present"] = "all",
        ignore_index: int | None = None,
    ) -> None:
        super().__init__(ignore_index=ignore_index)
        if alpha < 0 or beta < 0 or smooth < 0:
            raise ValueError(
                f"alpha, beta and smooth must be >= 0; got alpha={alpha}, beta={beta}, "
                f"smooth={smooth}"
            )
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.smooth = float(smooth)
        self.per_image = per_image
        self.classes = check_classes(classes)

    def tversky_index(self, logits: Tensor, target: Tensor, valid: Tensor) -> tuple[Tensor, Tensor]:
        """``(TI, sum_target)``, each ``(R, C)``."""
        probs, onehot = region_inputs(logits, target, valid)
        tp, sum_pred, sum_target = region_sums(probs, onehot, self.per_image)
        false_pos = sum_pred - tp
        false_neg = sum_target - tp
        denominator = tp + self.alpha * false_pos + self.beta * false_neg + self.smooth
        return safe_ratio(tp + self.smooth, denominator, empty_value=1.0), sum_target

    def _loss(self, logits: Tensor, target: Tensor, valid: Tensor) -> Tensor:
        index, sum_target = self.tversky_index(logits, target, valid)
        rows = rows_with_pixels(valid, self.per_image)
        return reduce_classes(1.0 - index, sum_target, rows, self.classes)


@register_loss("focal_tversky")
class FocalTverskyLoss(TverskyLoss):
    """Focal Tversky loss (Abraham & Khan 2019, eq. 4): ``(1 - TI_c)^(1/gamma)``, averaged over
    classes (the paper sums them; the mean keeps it on the Tversky loss's scale).

    The survey (eq. 12) prints the exponent as ``gamma``; we follow the original paper's
    ``1/gamma`` with its default ``gamma = 4/3`` (exponent 0.75). ``gamma = 1`` is the Tversky
    loss. For ``1/gamma < 1`` the power is continued linearly below ``x = 1e-6`` to keep the
    gradient finite at a perfect prediction. Other options as
    :class:`TverskyLoss` (alpha on FP 0.3, beta on FN 0.7, as in the paper's code).
    """

    def __init__(
        self,
        alpha: float = 0.3,
        beta: float = 0.7,
        gamma: float = 4.0 / 3.0,
        smooth: float = 1.0,
        *,
        per_image: bool = False,
        classes: Literal["all", "present"] = "all",
        ignore_index: int | None = None,
    ) -> None:
        super().__init__(
            alpha, beta, smooth, per_image=per_image, classes=classes, ignore_index=ignore_index
        )
        if gamma <= 0:
            raise ValueError(f"gamma must be > 0; got {gamma}")
        self.gamma = float(gamma)

    def _loss(self, logits: Tensor, target: Tensor, valid: Tensor) -> Tensor:
        index, sum_target = self.tversky_index(logits, target, valid)
        focal = shifted_power(1.0 - index, 1.0 / self.gamma)
        rows = rows_with_pixels(valid, self.per_image)
        return reduce_classes(focal, sum_target, rows, self.classes)
