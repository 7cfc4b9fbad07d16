"""Registry, config building and composition."""

from __future__ import annotations

import pytest
import torch
from loss_inputs import IGNORE, make_inputs

from pixelwise.losses import (
    CompositeLoss,
    CrossEntropyLoss,
    DiceLoss,
    create_loss,
    list_losses,
    loss_from_config,
)

EXPECTED = {
    "ce", "balanced_ce", "bce", "weighted_bce", "balanced_bce", "focal", "balanced_focal",
    "distance_map", "dice", "generalized_dice", "sensitivity_specificity", "tversky",
    "focal_tversky", "exp_log", "combo", "shape_aware", "hausdorff_dt", "structural_similarity",
    "log_cosh_dice", "lovasz",
}  # fmt: skip


def test_all_survey_and_lecture_losses_registered() -> None:
    assert EXPECTED <= set(list_losses())
    assert list_losses() == sorted(list_losses())


def test_create_loss_errors_list_valid_choices() -> None:
    with pytest.raises(ValueError, match="Did you mean 'dice'") as info:
        create_loss("dicee")
    assert "generalized_dice" in str(info.value)
    with pytest.raises(ValueError, match=r"unknown argument\(s\) \['gama'\].*gamma"):
        create_loss("focal", gama=2.0)


def test_config_builds_weighted_sum() -> None:
    logits, target = make_inputs(ignore_fraction=0.2)
    spec = [{"name": "ce", "weight": 1.0}, {"name": "dice", "weight": 0.5, "smooth": 1.0}]
    loss = loss_from_config(spec, ignore_index=IGNORE)
    assert isinstance(loss, CompositeLoss)
    expected = CrossEntropyLoss(ignore_index=IGNORE)(logits, target) + 0.5 * DiceLoss(
        1.0, ignore_index=IGNORE
    )(logits, target)
    torch.testing.assert_close(loss(logits, target), expected)
    assert set(loss.last_values) == {"ce", "dice"}
    torch.testing.assert_close(
        loss.last_values["ce"], CrossEntropyLoss(ignore_index=IGNORE)(logits, target).detach()
    )


def test_config_single_and_errors() -> None:
    assert isinstance(loss_from_config("dice"), DiceLoss)
    assert isinstance(loss_from_config({"name": "ce", "ignore_index": 3}), CrossEntropyLoss)
    with pytest.raises(ValueError, match="entry 1: unknown loss 'dcie'"):
        loss_from_config([{"name": "ce"}, {"name": "dcie"}])
    with pytest.raises(ValueError, match="entry 0 has no 'name'"):
        loss_from_config([{"weight": 1.0}])
    with pytest.raises(ValueError, match="accepts"):
        loss_from_config([{"name": "dice", "smoth": 1.0}])


def test_composite_names_deduplicated_and_bad_terms_rejected() -> None:
    composite = CompositeLoss([(1.0, DiceLoss()), (2.0, DiceLoss(0.0))])
    assert composite.names == ["dice", "dice_2"]
    with pytest.raises(ValueError, match="at least one"):
        CompositeLoss([])
    with pytest.raises(TypeError, match="nn.Module"):
        CompositeLoss([(1.0, "dice")])  # type: ignore[list-item]
