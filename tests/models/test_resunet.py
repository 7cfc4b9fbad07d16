"""ResUNet: Table I of Zhang, Liu and Wang (2018), pre-activation residual units."""

from __future__ import annotations

import torch
from torch import nn

from pixelwise import create_model
from pixelwise.models.resunet import PAPER_PARAMETERS, ResidualUnit, ResUNet


def _count(model: nn.Module) -> int:
    return sum(parameter.numel() for parameter in model.parameters())


def _unit_parameters(c_in: int, c_out: int, *, first: bool = False) -> int:
    """Hand count of one unit: [BN(c_in)] + conv3x3 + BN(c_out) + conv3x3 + 1x1 shortcut."""
    pre_activation = 0 if first else 2 * c_in
    convs = (9 * c_in * c_out + c_out) + 2 * c_out + (9 * c_out * c_out + c_out)
    return pre_activation + convs + c_in * c_out + c_out


def _shortcut_parameters(c_in: int, c_out: int) -> int:
    return c_in * c_out + c_out


def test_parameter_count_matches_table_1_by_hand_and_the_paper_without_projections() -> None:
    with torch.device("meta"):
        model = create_model("resunet", num_classes=1)
    units = [
        _unit_parameters(3, 64, first=True),
        _unit_parameters(64, 128),
        _unit_parameters(128, 256),
        _unit_parameters(256, 512),  # bridge
        _unit_parameters(512 + 256, 256),
        _unit_parameters(256 + 128, 128),
        _unit_parameters(128 + 64, 64),
    ]
    expected = sum(units) + 64 * 1 + 1
    ours = _count(model)
    assert ours == expected == 8_220_993
    # The paper reports 7.8M. Our 1x1 projection shortcuts hold 431,680 parameters; without
    # them the count is 7.79M, so the paper's figure leaves the projections out.
    projections = sum(
        _shortcut_parameters(c_in, c_out)
        for c_in, c_out in [(3, 64), (64, 128), (128, 256), (256, 512)]
        + [(768, 256), (384, 128), (192, 64)]
    )
    assert projections == 431_680
    assert round((ours - projections) / 1e5) == round(PAPER_PARAMETERS / 1e5)
    print(f"ResUNet parameters: ours {ours:,} vs paper {PAPER_PARAMETERS / 1e6:.1f}M")


def test_first_unit_skips_pre_activation_and_others_start_with_bn_relu() -> None:
    model = ResUNet(num_classes=2, base_channels=4)
    first, *others = list(model.encoder) + [model.bridge] + list(model.decoder)
    assert isinstance(first.body[0], nn.Conv2d)
    for unit in others:
        assert isinstance(unit.body[0], nn.BatchNorm2d) and isinstance(unit.body[1], nn.ReLU)
    strides = [unit.body[-4].stride[0] for unit in model.encoder] + [model.bridge.body[2].stride[0]]
    assert strides == [1, 2, 2, 2]


def test_residual_unit_adds_the_projected_input() -> None:
    """With the last convolution zeroed the unit is exactly its 1x1 (strided) shortcut."""
    torch.manual_seed(0)
    unit = ResidualUnit(5, 7, stride=2).eval()
    last_conv = unit.body[-1]
    assert isinstance(last_conv, nn.Conv2d)
    x = torch.randn(2, 5, 9, 11)
    with torch.no_grad():
        nn.init.zeros_(last_conv.weight)
        nn.init.zeros_(last_conv.bias)
        out = unit(x)
    assert out.shape == (2, 7, 5, 6)
    torch.testing.assert_close(out, unit.shortcut(x))


def test_last_decoder_unit_gets_upsampled_features_and_full_size_skip() -> None:
    """The last decoder unit sees ``concat(upsampled 2*base, skip base)`` at the (odd) input
    size: the upsampled map was cut to the skip's size."""
    torch.manual_seed(0)
    model = ResUNet(num_classes=2, base_channels=4).eval()
    captured: list[torch.Tensor] = []
    handle = model.decoder[-1].register_forward_pre_hook(lambda _, args: captured.append(args[0]))
    with torch.no_grad():
        model(torch.randn(1, 3, 17, 23))
    handle.remove()
    assert captured[0].shape == (1, 8 + 4, 17, 23)
    assert model.output_stride == 8
