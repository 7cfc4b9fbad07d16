"""U-Net: the paper's parameter count and tile geometry, the options, the skip cropping."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pixelwise import create_model
from pixelwise.models.unet import UNet, unet_valid_input_size, unet_valid_output_size


def _count(model: nn.Module) -> int:
    return sum(parameter.numel() for parameter in model.parameters())


def _paper_unet_parameters(in_channels: int, num_classes: int) -> int:
    """Hand count of Fig. 1 of the paper: 3x3 convs and 2x2 up-convs with biases, no BN."""
    widths = [64, 128, 256, 512, 1024]
    total, previous = 0, in_channels
    for width in widths:  # contracting path, two 3x3 convs per level
        total += 9 * previous * width + width + 9 * width * width + width
        previous = width
    for deep, shallow in zip(widths[:0:-1], widths[-2::-1]):  # expanding path
        total += 4 * deep * shallow + shallow  # 2x2 up-convolution halving the channels
        total += 9 * 2 * shallow * shallow + shallow + 9 * shallow * shallow + shallow
    return total + widths[0] * num_classes + num_classes  # final 1x1 conv


def test_paper_configuration_has_31_030_658_parameters() -> None:
    with torch.device("meta"):
        model = create_model("unet", num_classes=2, in_channels=1, batch_norm=False)
    assert _paper_unet_parameters(1, 2) == 31_030_658
    assert _count(model) == 31_030_658


def test_batch_norm_adds_norms_and_drops_conv_biases() -> None:
    with torch.device("meta"):
        plain = UNet(num_classes=2, in_channels=1, batch_norm=False, base_channels=8)
        normed = UNet(num_classes=2, in_channels=1, batch_norm=True, base_channels=8)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in plain.modules())
    norms = [m for m in normed.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(norms) == 18  # two per DoubleConv, 9 DoubleConvs at depth 4
    convs_3x3 = [
        m for m in normed.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)
    ]
    assert all(conv.bias is None for conv in convs_3x3)


def test_bilinear_upsampling_replaces_2x2_upconvs_by_1x1_convs() -> None:
    with torch.device("meta"):
        transpose = UNet(num_classes=2, base_channels=8, batch_norm=False)
        bilinear = UNet(num_classes=2, base_channels=8, batch_norm=False, upsampling="bilinear")
    pairs = [(16, 8), (32, 16), (64, 32), (128, 64)]
    # A 2x2 kernel has 4 weights per (in, out) pair, a 1x1 kernel one.
    assert _count(transpose) - _count(bilinear) == sum(3 * c_in * c_out for c_in, c_out in pairs)


def test_valid_padding_geometry_matches_the_paper_tile() -> None:
    assert unet_valid_output_size(572, 572) == (388, 388)
    assert unet_valid_input_size(388, 388) == (572, 572)
    assert unet_valid_input_size(389, 1) == (588, 188)
    # Every valid size maps back to itself through the two helpers.
    for size in range(188, 700, 16):
        out_h, out_w = unet_valid_output_size(size, size)
        assert unet_valid_input_size(out_h, out_w) == (size, size)
    model = UNet(num_classes=2, in_channels=1, padding="valid", base_channels=2).eval()
    with torch.no_grad():
        logits = model(torch.randn(1, 1, 572, 572))
    assert logits.shape == (1, 2, 388, 388)


def test_valid_padding_output_is_the_centre_region_and_translation_equivariant() -> None:
    """Without padding, a network of total stride 16 is exactly equivariant to shifts by 16:
    a tile cut 16 pixels into a larger one gives the larger output cut by 16 pixels."""
    torch.manual_seed(0)
    model = UNet(num_classes=3, in_channels=1, padding="valid", base_channels=4, batch_norm=False)
    image = torch.randn(1, 1, 204, 220)
    with torch.no_grad():
        full = model(image)
        tile = model(image[..., 16:, 16:])
    assert full.shape[-2:] == unet_valid_output_size(204, 220) == (20, 36)
    assert tile.shape[-2:] == (4, 20)
    torch.testing.assert_close(tile, full[..., 16:, 16:], rtol=1e-5, atol=1e-5)


def test_valid_padding_rejects_sizes_that_pool_an_odd_map() -> None:
    model = UNet(num_classes=2, padding="valid", base_channels=2)
    with pytest.raises(ValueError, match=r"97x131 .*use e\.g\. \d+x\d+"):
        model(torch.randn(1, 3, 97, 131))
    with pytest.raises(ValueError, match="573x572"):
        unet_valid_output_size(573, 572)


def test_same_padding_keeps_odd_sizes_and_depth_sets_output_stride() -> None:
    model = UNet(num_classes=4, base_channels=4, depth=2).eval()
    assert model.output_stride == 4
    with torch.no_grad():
        assert model(torch.randn(1, 3, 9, 7)).shape == (1, 4, 9, 7)


@pytest.mark.parametrize(
    ("option", "value"),
    [("padding", "full"), ("upsampling", "nearest"), ("depth", 0), ("base_channels", 0)],
)
def test_bad_options_name_the_value(option: str, value: object) -> None:
    with pytest.raises(ValueError, match=str(value)):
        create_model("unet", num_classes=2, **{option: value})
