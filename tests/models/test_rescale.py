"""InputRescale: a model trained at a reduced scale, answered at the caller's resolution."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from pixelwise import create_model
from pixelwise.data import Resize
from pixelwise.models.rescale import InputRescale, with_input_scale


def test_matches_resizing_by_hand_like_the_training_transform() -> None:
    torch.manual_seed(0)
    model = create_model("unet", num_classes=3, base_channels=4, depth=2).eval()
    images = torch.rand(2, 3, 90, 121)
    wrapped = InputRescale(model, 0.5).eval()
    with torch.no_grad():
        logits = wrapped(images)
        # The same size rounding and antialiased bilinear shrink as the training Resize.
        size = Resize(scale=0.5).output_size(90, 121)
        assert size == (45, 60)
        small = torch.stack([
            F.interpolate(im[None], size=size, mode="bilinear", antialias=True)[0] for im in images
        ])  # fmt: skip
        expected = F.interpolate(model(small), size=(90, 121), mode="bilinear")
    assert logits.shape == (2, 3, 90, 121)
    torch.testing.assert_close(logits, expected)


def test_scale_one_is_the_model_itself_and_bad_scales_fail() -> None:
    model = nn.Conv2d(3, 2, 1)
    assert with_input_scale(model, 1.0) is model
    assert isinstance(with_input_scale(model, 0.5), InputRescale)
    for bad in (0.0, -1.0, 5.0):
        with pytest.raises(ValueError, match="scale"):
            InputRescale(model, bad)


def test_aux_outputs_in_training_are_resized_too() -> None:
    model = create_model("pspnet", num_classes=4, encoder="resnet18", aux=True).train()
    logits, aux = InputRescale(model, 0.5)(torch.rand(2, 3, 64, 80))
    assert logits.shape == aux.shape == (2, 4, 64, 80)


def test_upscaling_runs_the_model_at_a_larger_size() -> None:
    seen: list[tuple[int, int]] = []
    conv = nn.Conv2d(3, 2, 1)
    conv.register_forward_hook(lambda m, i, o: seen.append(tuple(i[0].shape[-2:])))
    out = InputRescale(conv, 2.0)(torch.rand(1, 3, 10, 12))
    assert seen == [(20, 24)] and out.shape == (1, 2, 10, 12)
