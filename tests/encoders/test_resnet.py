"""ResNet: torchvision's dilation rule, DeepLab v3's multi-grid, initialisation, errors."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from pixelwise.encoders import ResNetEncoder


def _bottleneck_layout(layer: nn.Sequential) -> list[tuple[int, int]]:
    return [(block.conv2.stride[0], block.conv2.dilation[0]) for block in layer]


# Worked from torchvision.models.resnet.ResNet._make_layer with replace_stride_with_dilation:
# the first block is built with the previous dilation, the later blocks with the new one.
@pytest.mark.parametrize(
    ("output_stride", "layer3", "layer4"),
    [
        (32, [(2, 1)] + [(1, 1)] * 5, [(2, 1), (1, 1), (1, 1)]),
        (16, [(2, 1)] + [(1, 1)] * 5, [(1, 1), (1, 2), (1, 2)]),
        (8, [(1, 1)] + [(1, 2)] * 5, [(1, 2), (1, 4), (1, 4)]),
    ],
)
def test_resnet50_dilation_rule(
    output_stride: int, layer3: list[tuple[int, int]], layer4: list[tuple[int, int]]
) -> None:
    encoder = ResNetEncoder(50, output_stride=output_stride)
    assert _bottleneck_layout(encoder.layer3) == layer3
    assert _bottleneck_layout(encoder.layer4) == layer4
    for layer, expected in ((encoder.layer3, layer3), (encoder.layer4, layer4)):
        assert layer[0].downsample[0].stride[0] == expected[0][0]
    for module in encoder.modules():
        if isinstance(module, nn.Conv2d) and module.kernel_size == (3, 3):
            assert module.padding == module.dilation  # "same" size at stride 1


def test_resnet18_dilation_both_convs() -> None:
    encoder = ResNetEncoder(18, output_stride=8)
    # (conv1, conv2) rates: conv1 carries the removed stride and keeps the previous rate.
    layers = (encoder.layer2, encoder.layer3, encoder.layer4)
    rates = [[(b.conv1.dilation[0], b.conv2.dilation[0]) for b in layer] for layer in layers]
    assert rates == [[(1, 1), (1, 1)], [(1, 2), (2, 2)], [(2, 4), (4, 4)]]


@pytest.mark.parametrize(
    ("output_stride", "expected"), [(32, (1, 2, 4)), (16, (2, 4, 8)), (8, (4, 8, 16))]
)
def test_multi_grid_rates(output_stride: int, expected: tuple[int, int, int]) -> None:
    # DeepLab v3 Sec. 3.2: "output_stride = 16 and Multi_Grid = (1, 2, 4), the three
    # convolutions will have rates = 2 * (1, 2, 4) = (2, 4, 8) in block4".
    encoder = ResNetEncoder(50, output_stride=output_stride, multi_grid=(1, 2, 4))
    assert tuple(block.conv2.dilation[0] for block in encoder.layer4) == expected
    assert tuple(block.conv2.padding[0] for block in encoder.layer4) == expected
    # Only layer4 changes.
    plain = ResNetEncoder(50, output_stride=output_stride)
    assert _bottleneck_layout(encoder.layer3) == _bottleneck_layout(plain.layer3)
    encoder.eval()
    with torch.no_grad():
        features = encoder(torch.randn(1, 3, 33, 47))
    assert features[-1].shape[-2:] == (math.ceil(33 / output_stride), math.ceil(47 / output_stride))


def test_multi_grid_resnet18_and_bad_lengths() -> None:
    encoder = ResNetEncoder(18, output_stride=16, multi_grid=(1, 2))
    assert [(b.conv1.dilation[0], b.conv2.dilation[0]) for b in encoder.layer4] == [(2, 2), (4, 4)]
    with pytest.raises(ValueError, match="2 positive rates"):
        ResNetEncoder(18, multi_grid=(1, 2, 4))
    with pytest.raises(ValueError, match="3 positive rates"):
        ResNetEncoder(50, multi_grid=(1, 0, 4))


def test_bad_depth() -> None:
    with pytest.raises(ValueError, match="got 152"):
        ResNetEncoder(152)


def test_torchvision_initialisation() -> None:
    torch.manual_seed(0)
    encoder = ResNetEncoder(18)
    for module in encoder.modules():
        if isinstance(module, nn.BatchNorm2d):
            assert torch.all(module.weight == 1) and torch.all(module.bias == 0)
    # kaiming_normal_(mode="fan_out", nonlinearity="relu"): std = sqrt(2 / (C_out * k * k)).
    weight = encoder.layer4[1].conv2.weight  # 512 x 512 x 3 x 3: 2.4M samples
    expected_std = math.sqrt(2.0 / (512 * 9))
    assert abs(weight.std().item() / expected_std - 1) < 0.01
    assert abs(weight.mean().item()) < 0.01 * expected_std
    assert encoder.conv1.bias is None


def test_stem_is_after_relu() -> None:
    encoder = ResNetEncoder(18).eval()
    with torch.no_grad():
        stem = encoder(torch.randn(1, 3, 32, 32))[0]
    assert stem.min() >= 0 and stem.shape == (1, 64, 16, 16)
