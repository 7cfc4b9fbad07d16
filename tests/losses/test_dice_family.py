"""Dice, generalised Dice, log-cosh Dice, Tversky and focal Tversky against MONAI and by hand."""

from __future__ import annotations

import math

import pytest
import torch
from loss_inputs import IGNORE, make_inputs
from monai.losses import DiceLoss as MonaiDice
from monai.losses import GeneralizedDiceLoss as MonaiGeneralizedDice
from monai.losses import TverskyLoss as MonaiTversky

from pixelwise.losses import (
    DiceLoss,
    FocalTverskyLoss,
    GeneralizedDiceLoss,
    LogCoshDiceLoss,
    TverskyLoss,
)


def _close(ours: torch.Tensor, reference: torch.Tensor) -> None:
    torch.testing.assert_close(ours, reference.to(ours.dtype), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("per_image", [False, True])
@pytest.mark.parametrize("smooth", [1.0, 1e-5])
@pytest.mark.parametrize("squared", [False, True])
def test_dice_matches_monai(per_image: bool, smooth: float, squared: bool) -> None:
    # MONAI options that match: softmax=True, to_onehot_y=True, include_background=True,
    # smooth_nr=smooth_dr=smooth, batch=not per_image, squared_pred=squared, ignore_index.
    logits, target = make_inputs(ignore_fraction=0.2, seed=1)
    target[0][target[0] == 2] = 0  # class 2 absent from image 0
    monai = MonaiDice(
        softmax=True,
        to_onehot_y=True,
        include_background=True,
        smooth_nr=smooth,
        smooth_dr=smooth,
        batch=not per_image,
        squared_pred=squared,
        ignore_index=IGNORE,
    )
    ours = DiceLoss(smooth, per_image=per_image, squared=squared, ignore_index=IGNORE)
    _close(ours(logits, target), monai(logits, target[:, None]))


def test_binary_dice_matches_monai_sigmoid() -> None:
    logits, target = make_inputs(c=1, seed=2)
    monai = MonaiDice(sigmoid=True, smooth_nr=1.0, smooth_dr=1.0, batch=True)
    _close(DiceLoss(1.0)(logits, target), monai(logits, target[:, None].double()))


def test_dice_present_classes_by_hand() -> None:
    # One image, 2 classes, 4 pixels; probabilities chosen directly through logits.
    p1 = torch.tensor([0.9, 0.8, 0.3, 0.1], dtype=torch.float64)
    logits = torch.stack([torch.zeros(4, dtype=torch.float64), torch.log(p1 / (1 - p1))])
    logits = logits.view(1, 2, 2, 2)
    target = torch.zeros(1, 2, 2, dtype=torch.long)  # only class 0 present
    p0 = 1 - p1
    dice0 = (2 * p0.sum() + 1) / (p0.sum() + 4 + 1)  # tp = sum p0 since t0 = 1 everywhere
    dice1 = (0 + 1) / (p1.sum() + 0 + 1)
    all_classes = DiceLoss(1.0)(logits, target)
    present = DiceLoss(1.0, classes="present")(logits, target)
    torch.testing.assert_close(all_classes, 1 - (dice0 + dice1) / 2)
    torch.testing.assert_close(present, 1 - dice0)


def test_empty_prediction_single_class_and_no_smooth() -> None:
    # Class 1 absent and (almost) never predicted: with smooth=1 its Dice is ~1, loss ~0.
    logits = torch.zeros(1, 2, 3, 3, dtype=torch.float64)
    logits[:, 0] = 40.0
    target = torch.zeros(1, 3, 3, dtype=torch.long)
    assert DiceLoss(1.0)(logits, target).item() == pytest.approx(0.0, abs=1e-9)
    # Binary mode, empty target and an exactly empty prediction (sigmoid underflows to 0):
    # with smooth=0 this is 0/0; the loss must be 0 with a finite (zero) gradient, not NaN.
    empty = torch.full((1, 1, 3, 3), -1000.0, dtype=torch.float64, requires_grad=True)
    value = DiceLoss(0.0)(empty, target)
    (grad,) = torch.autograd.grad(value, empty)
    assert value.item() == 0.0 and torch.isfinite(grad).all()


@pytest.mark.parametrize("per_image", [False, True])
@pytest.mark.parametrize("weight_type", ["square", "simple", "uniform"])
def test_generalized_dice_matches_monai(per_image: bool, weight_type: str) -> None:
    # MONAI options: softmax=True, to_onehot_y=True, w_type, smooth_nr=smooth_dr=1e-5, batch.
    logits, target = make_inputs(seed=3)
    target[target == 2] = 1  # class 2 absent: infinite weight replaced by the max, as MONAI
    monai = MonaiGeneralizedDice(
        softmax=True, to_onehot_y=True, w_type=weight_type, batch=not per_image
    )
    ours = GeneralizedDiceLoss(weight_type=weight_type, per_image=per_image)
    _close(ours(logits, target), monai(logits, target[:, None]))


def test_log_cosh_dice_is_log_cosh_of_dice() -> None:
    logits, target = make_inputs(ignore_fraction=0.2, seed=4)
    dice = DiceLoss(ignore_index=IGNORE)(logits, target)
    ours = LogCoshDiceLoss(ignore_index=IGNORE)(logits, target)
    torch.testing.assert_close(ours, torch.log(torch.cosh(dice)))
    assert ours.item() == pytest.approx(math.log(math.cosh(dice.item())), rel=1e-12)


@pytest.mark.parametrize("per_image", [False, True])
def test_tversky_matches_monai(per_image: bool) -> None:
    # MONAI: softmax=True, to_onehot_y=True, alpha (FP) / beta (FN), smooth_nr=smooth_dr, batch.
    logits, target = make_inputs(ignore_fraction=0.2, seed=5)
    monai = MonaiTversky(
        softmax=True,
        to_onehot_y=True,
        alpha=0.3,
        beta=0.7,
        smooth_nr=1.0,
        smooth_dr=1.0,
        batch=not per_image,
        ignore_index=IGNORE,
    )
    ours = TverskyLoss(0.3, 0.7, 1.0, per_image=per_image, ignore_index=IGNORE)
    _close(ours(logits, target), monai(logits, target[:, None]))


def test_tversky_half_half_is_dice_and_focal_gamma_one_is_tversky() -> None:
    logits, target = make_inputs(ignore_fraction=0.2, seed=6)
    dice = DiceLoss(1.0, ignore_index=IGNORE)(logits, target)
    # TI(0.5, 0.5, s) = (2 tp + 2 s) / (sum p + sum t + 2 s): the Dice with smooth 2 s.
    tversky = TverskyLoss(0.5, 0.5, 0.5, ignore_index=IGNORE)(logits, target)
    torch.testing.assert_close(tversky, dice)
    asymmetric = TverskyLoss(0.3, 0.7, ignore_index=IGNORE)
    focal = FocalTverskyLoss(0.3, 0.7, gamma=1.0, ignore_index=IGNORE)
    torch.testing.assert_close(focal(logits, target), asymmetric(logits, target))


def test_focal_tversky_exponent_by_hand() -> None:
    logits, target = make_inputs(seed=7)
    probs = logits.softmax(1)
    onehot = torch.nn.functional.one_hot(target, 3).permute(0, 3, 1, 2).double()
    tp = (probs * onehot).sum((0, 2, 3))
    fp = (probs * (1 - onehot)).sum((0, 2, 3))
    fn = ((1 - probs) * onehot).sum((0, 2, 3))
    index = (tp + 1) / (tp + 0.3 * fp + 0.7 * fn + 1)
    expected = ((1 - index) ** 0.75).mean()  # Abraham & Khan: exponent 1/gamma, gamma = 4/3
    ours = FocalTverskyLoss()(logits, target)
    torch.testing.assert_close(ours, expected, rtol=1e-5, atol=0)
