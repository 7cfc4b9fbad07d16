"""Properties every registered loss must have, in multiclass and binary mode."""

from __future__ import annotations

import pytest
import torch
from loss_inputs import IGNORE, make_inputs

from pixelwise.losses import create_loss, list_losses

NAMES = list_losses()
# Losses whose value depends on where pixels are, not just on the set of (logit, label) pairs.
SPATIAL = {"distance_map", "shape_aware", "hausdorff_dt", "structural_similarity"}
MODES = {"multiclass": 3, "binary": 1}


def _loss(name: str) -> torch.nn.Module:
    return create_loss(name, ignore_index=IGNORE)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", NAMES)
def test_finite_with_absent_class(name: str, mode: str) -> None:
    logits, target = make_inputs(c=MODES[mode], ignore_fraction=0.2, seed=1)
    target[target == (2 if mode == "multiclass" else 1)] = 0  # a class absent from the batch
    value = _loss(name)(logits, target)
    (grad,) = torch.autograd.grad(value, logits)
    assert value.ndim == 0 and torch.isfinite(value)
    assert torch.isfinite(grad).all()
    # HED's beta = 1 - |Y+|/|Y| is 1 when an image has no positive: the survey's balanced BCE
    # then gives that image no signal at all, by definition.
    if not (name == "balanced_bce" and mode == "binary"):
        assert grad.abs().sum() > 0


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", NAMES)
def test_single_class_image_and_saturated_float32(name: str, mode: str) -> None:
    logits, target = make_inputs(c=MODES[mode], dtype=torch.float32, scale=60.0, seed=2)
    target[0] = 1  # one image holding a single class
    value = _loss(name)(logits, target)
    (grad,) = torch.autograd.grad(value, logits)
    assert torch.isfinite(value) and torch.isfinite(grad).all()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", NAMES)
def test_all_ignored_gives_zero_with_graph(name: str, mode: str) -> None:
    logits, _ = make_inputs(c=MODES[mode])
    target = torch.full((2, 6, 7), IGNORE)
    value = _loss(name)(logits, target)
    (grad,) = torch.autograd.grad(value, logits)
    assert value.item() == 0.0 and torch.all(grad == 0)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", NAMES)
def test_gradcheck_with_ignored_pixels(name: str, mode: str) -> None:
    logits, target = make_inputs(n=1, c=MODES[mode], h=4, w=5, ignore_fraction=0.2, seed=3)
    loss = _loss(name)
    assert torch.autograd.gradcheck(lambda x: loss(x, target), (logits,), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", NAMES)
def test_ignored_pixels_have_no_value_or_gradient(name: str, mode: str) -> None:
    logits, target = make_inputs(c=MODES[mode], ignore_fraction=0.3, seed=4)
    ignored = (target == IGNORE).unsqueeze(1).expand_as(logits)
    loss = _loss(name)
    value = loss(logits, target)
    (grad,) = torch.autograd.grad(value, logits)
    assert torch.all(grad[ignored] == 0)
    scrambled = torch.where(ignored, 50.0 * torch.randn_like(logits), logits.detach())
    torch.testing.assert_close(loss(scrambled, target), value.detach())


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", NAMES)
def test_ignored_band_equals_cropped_input(name: str, mode: str) -> None:
    # Region and boundary losses: ignoring the last two columns must equal cropping them away.
    logits, target = make_inputs(c=MODES[mode], h=6, w=9, seed=5)
    banded = target.clone()
    banded[..., -2:] = IGNORE
    loss = _loss(name)
    cropped = loss(logits[..., :-2], target[..., :-2])
    torch.testing.assert_close(loss(logits, banded), cropped)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", sorted(set(NAMES) - SPATIAL))
def test_ignored_pixels_equal_removed_pixels(name: str, mode: str) -> None:
    # Non-spatial losses depend only on the (logit, label) pairs of one image: the loss with
    # scattered ignored pixels equals the loss on the valid pixels alone, laid out as 1 x M.
    logits, target = make_inputs(n=1, c=MODES[mode], ignore_fraction=0.3, seed=6)
    valid = target[0] != IGNORE
    kept_logits = logits[0][:, valid].unsqueeze(0).unsqueeze(2)  # (1, C, 1, M)
    kept_target = target[0][valid].view(1, 1, -1)
    loss = _loss(name)
    torch.testing.assert_close(loss(logits, target), loss(kept_logits, kept_target))
