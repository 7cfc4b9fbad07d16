"""Focal losses against hand-worked cases and MONAI's FocalLoss."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from loss_inputs import IGNORE, make_inputs
from monai.losses import FocalLoss as MonaiFocalLoss

from pixelwise.losses import BalancedFocalLoss, CrossEntropyLoss, FocalLoss


def test_gamma_zero_is_cross_entropy() -> None:
    logits, target = make_inputs(ignore_fraction=0.2)
    torch.testing.assert_close(
        FocalLoss(gamma=0.0, ignore_index=IGNORE)(logits, target),
        CrossEntropyLoss(ignore_index=IGNORE)(logits, target),
    )


def test_single_pixel_by_hand() -> None:
    # Two classes, logits (0, ln 3): p_true = 3/4 for class 1; FL = -(1/4)^2 ln(3/4).
    logits = torch.tensor([0.0, math.log(3.0)], dtype=torch.float64).view(1, 2, 1, 1)
    target = torch.ones(1, 1, 1, dtype=torch.long)
    expected = -(0.25**2) * math.log(0.75)
    assert FocalLoss(gamma=2.0)(logits, target).item() == pytest.approx(expected, rel=1e-12)
    weighted = BalancedFocalLoss(2.0, class_weights=[1.0, 4.0])(logits, target).item()
    assert weighted == pytest.approx(4.0 * expected, rel=1e-12)


def test_matches_monai_softmax_focal_with_class_weights() -> None:
    # MONAI: use_softmax=True, to_onehot_y=True, alpha=<per-class sequence>, ignore_index set;
    # its "mean" then divides by the number of valid pixels, as our 1/N.
    logits, target = make_inputs(ignore_fraction=0.25, seed=3)
    weights = [0.5, 1.0, 2.0]
    monai = MonaiFocalLoss(
        use_softmax=True, to_onehot_y=True, gamma=2.0, alpha=weights, ignore_index=IGNORE
    )
    reference = monai(logits, target[:, None])
    ours = BalancedFocalLoss(2.0, weights, ignore_index=IGNORE)(logits, target)
    torch.testing.assert_close(ours, reference.to(ours.dtype), rtol=1e-5, atol=1e-6)
    plain = MonaiFocalLoss(use_softmax=True, to_onehot_y=True, gamma=1.5, ignore_index=IGNORE)
    torch.testing.assert_close(
        FocalLoss(1.5, ignore_index=IGNORE)(logits, target),
        plain(logits, target[:, None]).to(ours.dtype),
        rtol=1e-5,
        atol=1e-6,
    )


def test_binary_alpha_matches_monai_sigmoid_focal() -> None:
    # MONAI sigmoid focal with scalar alpha: alpha on positives, 1 - alpha on negatives (Lin).
    logits, target = make_inputs(c=1, seed=4)
    reference = MonaiFocalLoss(use_softmax=False, gamma=2.0, alpha=0.25)(
        logits, target[:, None].double()
    )
    ours = BalancedFocalLoss(2.0, alpha=0.25)(logits, target)
    torch.testing.assert_close(ours, reference.to(ours.dtype), rtol=1e-5, atol=1e-7)


def test_saturated_logits_stay_finite_float32() -> None:
    logits, target = make_inputs(dtype=torch.float32, scale=80.0, seed=5)
    for loss in (FocalLoss(0.5), FocalLoss(2.0), BalancedFocalLoss(2.0, [1.0, 2.0, 3.0])):
        value = loss(logits, target)
        (grad,) = torch.autograd.grad(value, logits)
        assert torch.isfinite(value) and torch.isfinite(grad).all()
    ce = F.cross_entropy(logits, target)
    assert FocalLoss(0.0)(logits, target).item() == pytest.approx(ce.item(), rel=1e-5)


def test_alpha_needs_binary_mode() -> None:
    logits, target = make_inputs()
    with pytest.raises(ValueError, match="1 channel"):
        BalancedFocalLoss(alpha=0.25)(logits, target)
