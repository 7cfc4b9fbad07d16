"""Cross-entropy family against PyTorch's own F.cross_entropy / binary_cross_entropy."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from loss_inputs import IGNORE, make_inputs

from pixelwise.losses import (
    BalancedBinaryCrossEntropyLoss,
    BalancedCrossEntropyLoss,
    BinaryCrossEntropyLoss,
    CrossEntropyLoss,
    WeightedBinaryCrossEntropyLoss,
)


def test_ce_matches_torch_with_ignore_index() -> None:
    logits, target = make_inputs(ignore_fraction=0.3)
    ours = CrossEntropyLoss(ignore_index=IGNORE)(logits, target)
    reference = F.cross_entropy(logits, target, ignore_index=IGNORE)
    torch.testing.assert_close(ours, reference)


def test_balanced_ce_normalisations_match_torch() -> None:
    logits, target = make_inputs(ignore_fraction=0.3, seed=1)
    weights = torch.tensor([0.2, 1.5, 3.0], dtype=torch.float64)
    valid = (target != IGNORE).sum()
    by_pixels = BalancedCrossEntropyLoss(weights, ignore_index=IGNORE)(logits, target)
    summed = F.cross_entropy(logits, target, weight=weights, ignore_index=IGNORE, reduction="sum")
    # The lecture divides by N (valid pixels); torch's weighted mean divides by sum of w_{y_i}.
    torch.testing.assert_close(by_pixels, summed / valid)
    by_weights = BalancedCrossEntropyLoss(weights, normalize="weights", ignore_index=IGNORE)
    reference = F.cross_entropy(logits, target, weight=weights, ignore_index=IGNORE)
    torch.testing.assert_close(by_weights(logits, target), reference)


def test_binary_balanced_ce_pos_neg_weights() -> None:
    logits, target = make_inputs(c=1, ignore_fraction=0.2, seed=2)
    ours = BalancedCrossEntropyLoss(pos_weight=3.0, neg_weight=0.5, ignore_index=IGNORE)
    valid = target != IGNORE
    z, y = logits[:, 0][valid], target[valid].double()
    by_hand = -(3.0 * y * F.logsigmoid(z) + 0.5 * (1 - y) * F.logsigmoid(-z)).mean()
    torch.testing.assert_close(ours(logits, target), by_hand)
    same = BalancedCrossEntropyLoss([0.5, 3.0], ignore_index=IGNORE)(logits, target)
    torch.testing.assert_close(same, by_hand)


def test_binary_mode_ce_and_bce_equal_bce_with_logits() -> None:
    logits, target = make_inputs(c=1, seed=3)
    reference = F.binary_cross_entropy_with_logits(logits[:, 0], target.double())
    torch.testing.assert_close(CrossEntropyLoss()(logits, target), reference)
    torch.testing.assert_close(BinaryCrossEntropyLoss()(logits, target), reference)


def test_weighted_bce_is_torch_pos_weight() -> None:
    logits, target = make_inputs(c=1, seed=4)
    reference = F.binary_cross_entropy_with_logits(
        logits[:, 0], target.double(), pos_weight=torch.tensor(2.5, dtype=torch.float64)
    )
    torch.testing.assert_close(WeightedBinaryCrossEntropyLoss(2.5)(logits, target), reference)


def test_multiclass_bce_is_one_vs_rest_on_softmax() -> None:
    logits, target = make_inputs(seed=5)
    onehot = F.one_hot(target, 3).permute(0, 3, 1, 2).double()
    reference = F.binary_cross_entropy(logits.softmax(1), onehot)
    torch.testing.assert_close(BinaryCrossEntropyLoss()(logits, target), reference)


def test_balanced_bce_beta_is_negative_fraction_per_image() -> None:
    logits, target = make_inputs(n=2, c=1, h=4, w=5, seed=6)
    total = 0.0
    for n in range(2):
        y = target[n].double().flatten()
        z = logits[n, 0].flatten()
        beta = 1.0 - y.mean()  # survey: beta = 1 - y / (H * W)
        total = (
            total + -(beta * y * F.logsigmoid(z) + (1 - beta) * (1 - y) * F.logsigmoid(-z)).sum()
        )
    torch.testing.assert_close(BalancedBinaryCrossEntropyLoss()(logits, target), total / 40)


def test_bad_weights_and_labels_raise_clear_errors() -> None:
    logits, target = make_inputs()
    with pytest.raises(ValueError, match="expected 3"):
        BalancedCrossEntropyLoss([1.0, 2.0])(logits, target)
    bad = target.clone()
    bad[0, 0, 0] = 7
    with pytest.raises(ValueError, match="label 7"):
        CrossEntropyLoss()(logits, bad)
    with pytest.raises(TypeError, match="integer"):
        CrossEntropyLoss()(logits, target.double())
    with pytest.raises(ValueError, match="squeeze"):
        CrossEntropyLoss()(logits, target[:, None])
    with pytest.raises(ValueError, match=r"\{0, 1\}"):
        CrossEntropyLoss()(logits[:, :1], torch.full_like(target, 2))
