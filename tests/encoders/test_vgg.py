"""VGG16: torchvision layout, SegNet's pooling indices, DeepLab v1's strides, FCN's fc6/fc7."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from pixelwise.encoders import VGGEncoder, vgg_fc_to_conv


@pytest.mark.parametrize(
    ("batch_norm", "pools"), [(False, (4, 9, 16, 23, 30)), (True, (6, 13, 23, 33, 43))]
)
def test_stage_end_indices_are_torchvision_pools(batch_norm: bool, pools: tuple[int, ...]) -> None:
    # torchvision's vgg16(_bn).features holds MaxPool2d at exactly these indices.
    encoder = VGGEncoder(batch_norm=batch_norm)
    assert encoder.stage_end_indices == pools
    pool_positions = [i for i, m in enumerate(encoder.features) if isinstance(m, nn.MaxPool2d)]
    assert tuple(pool_positions) == pools
    assert len(encoder.features) == pools[-1] + 1


def test_ceil_mode_pool_keeps_the_last_odd_row() -> None:
    pool = VGGEncoder().features[4]
    x = torch.zeros(1, 1, 3, 3)
    x[0, 0, 2, 2] = 5.0  # only in the window a floor-mode pool would drop
    pooled, indices = pool(x)
    assert pooled.shape == (1, 1, 2, 2)
    assert pooled[0, 0, 1, 1] == 5.0 and indices[0, 0, 1, 1] == 8  # flat index of (2, 2)


def test_forward_with_indices_unpools_exactly_on_odd_sizes() -> None:
    torch.manual_seed(0)
    encoder = VGGEncoder(batch_norm=True).eval()
    x = torch.randn(1, 3, 97, 131)
    with torch.no_grad():
        pooled_maps = encoder(x)
        last, records = encoder.forward_with_indices(x)
    torch.testing.assert_close(last, pooled_maps[-1])
    sizes = [tuple(size) for _, size in records]
    assert sizes == [(97, 131), (49, 66), (25, 33), (13, 17), (7, 9)]
    for pooled, (indices, size) in zip(pooled_maps, records):
        assert indices.shape == pooled.shape
        unpooled = F.max_unpool2d(pooled, indices, kernel_size=2, stride=2, output_size=size)
        assert unpooled.shape[-2:] == size
        # Each value goes back to its argmax: pooling again (inputs are post-ReLU, >= 0)
        # returns the pooled map, and nothing else is written.
        torch.testing.assert_close(F.max_pool2d(unpooled, 2, 2, ceil_mode=True), pooled)
        assert (unpooled != 0).sum() <= (pooled != 0).sum()


@pytest.mark.parametrize(
    ("output_stride", "pool_strides", "conv5_rate", "next_dilation"),
    [(32, (2,) * 5, 1, 1), (16, (2, 2, 2, 2, 1), 1, 2), (8, (2, 2, 2, 1, 1), 2, 4)],
)
def test_deeplab_v1_output_stride(
    output_stride: int, pool_strides: tuple[int, ...], conv5_rate: int, next_dilation: int
) -> None:
    encoder = VGGEncoder(output_stride=output_stride)
    pools = [encoder.features[i] for i in encoder.stage_end_indices]
    assert tuple(pool.stride for pool in pools) == pool_strides
    for pool in pools:  # DeepLab v1: stride-1 pools are 3x3 with padding 1
        assert (pool.kernel_size, pool.padding) == ((2, 0) if pool.stride == 2 else (3, 1))
    convs = [m for m in encoder.features if isinstance(m, nn.Conv2d)]
    assert [c.dilation[0] for c in convs] == [1] * 10 + [conv5_rate] * 3
    assert all(c.padding == c.dilation for c in convs)
    assert encoder.next_dilation == next_dilation


def test_vgg_fc_to_conv_matches_linear() -> None:
    torch.manual_seed(0)
    # Reduced output widths (8, 5) keep the test small; the input sizes are VGG's.
    fc6, fc7 = nn.Linear(512 * 7 * 7, 8), nn.Linear(8, 5)
    state = {
        "classifier.0.weight": fc6.weight.detach(),
        "classifier.0.bias": fc6.bias.detach(),
        "classifier.3.weight": fc7.weight.detach(),
        "classifier.3.bias": fc7.bias.detach(),
    }
    converted = vgg_fc_to_conv(state)
    assert converted["fc6.weight"].shape == (8, 512, 7, 7)
    assert converted["fc7.weight"].shape == (5, 8, 1, 1)
    x = torch.randn(2, 512, 9, 9)
    with torch.no_grad():
        conv6 = F.conv2d(x, converted["fc6.weight"], converted["fc6.bias"])
        conv7 = F.conv2d(conv6, converted["fc7.weight"], converted["fc7.bias"])
        assert conv7.shape == (2, 5, 3, 3)
        for i, j in ((0, 0), (2, 1)):  # the conv slides the classifier over 7x7 windows
            window = x[:, :, i : i + 7, j : j + 7].flatten(1)
            torch.testing.assert_close(conv6[:, :, i, j], fc6(window), rtol=1e-4, atol=1e-5)
            torch.testing.assert_close(conv7[:, :, i, j], fc7(fc6(window)), rtol=1e-4, atol=1e-5)


def test_vgg_fc_to_conv_errors() -> None:
    with pytest.raises(KeyError, match="classifier.0.weight"):
        vgg_fc_to_conv({})
    bad = {
        "classifier.0.weight": torch.zeros(4, 100),
        "classifier.0.bias": torch.zeros(4),
        "classifier.3.weight": torch.zeros(4, 4),
        "classifier.3.bias": torch.zeros(4),
    }
    with pytest.raises(ValueError, match="expected 25088"):
        vgg_fc_to_conv(bad)


def test_bad_depth() -> None:
    with pytest.raises(ValueError, match="got 19"):
        VGGEncoder(19)
