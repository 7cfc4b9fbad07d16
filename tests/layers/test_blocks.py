"""Every building block runs forward and backward on odd sizes, keeping dtype and device."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn

from pixelwise.layers import (
    ASPPv2,
    ASPPv3,
    AtrousConv2d,
    AtrousSeparableConv2d,
    BedOfNailsUpsample,
    BilinearUpsample,
    ConvNormAct,
    DepthwiseSeparableConv2d,
    GlobalContext,
    L2Norm,
    NearestUpsample,
    PyramidPooling,
    TransposedConvUpsample,
    aspp_rates,
)

C = 8
BLOCKS: dict[str, tuple[Callable[[], nn.Module], Callable[[int, int], tuple[int, ...]]]] = {
    "conv_bn_relu": (lambda: ConvNormAct(C, 6, 3), lambda h, w: (6, h, w)),
    "conv_gn_gelu": (
        lambda: ConvNormAct(C, 6, 3, norm="group", act="gelu"),
        lambda h, w: (6, h, w),
    ),
    "conv_plain_stride2": (
        lambda: ConvNormAct(C, 6, 3, stride=2, norm=None, act=None),
        lambda h, w: (6, (h + 1) // 2, (w + 1) // 2),
    ),
    "nearest": (lambda: NearestUpsample(2), lambda h, w: (C, 2 * h, 2 * w)),
    "bed_of_nails": (lambda: BedOfNailsUpsample(2), lambda h, w: (C, 2 * h, 2 * w)),
    "bilinear": (lambda: BilinearUpsample(2.0), lambda h, w: (C, 2 * h, 2 * w)),
    "transposed": (lambda: TransposedConvUpsample(C, 4), lambda h, w: (4, 2 * h, 2 * w)),
    "atrous": (lambda: AtrousConv2d(C, 5, rate=4), lambda h, w: (5, h, w)),
    "separable": (lambda: DepthwiseSeparableConv2d(C, 5), lambda h, w: (5, h, w)),
    "atrous_separable": (lambda: AtrousSeparableConv2d(C, 5, rate=3), lambda h, w: (5, h, w)),
    "aspp_v2": (lambda: ASPPv2(C, 3), lambda h, w: (3, h, w)),
    "aspp_v2_vgg": (lambda: ASPPv2(C, 3, hidden_channels=16), lambda h, w: (3, h, w)),
    "aspp_v3": (lambda: ASPPv3(C, out_channels=16), lambda h, w: (16, h, w)),
    "aspp_v3_separable": (
        lambda: ASPPv3(C, out_channels=16, separable=True),
        lambda h, w: (16, h, w),
    ),
    "l2norm": (lambda: L2Norm(C), lambda h, w: (C, h, w)),
    "global_context": (lambda: GlobalContext(C), lambda h, w: (2 * C, h, w)),
    "pyramid_pooling": (lambda: PyramidPooling(C), lambda h, w: (2 * C, h, w)),
}


@pytest.mark.parametrize("name", sorted(BLOCKS))
@pytest.mark.parametrize("shape", [(1, C, 97, 131), (2, C, 13, 8)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_block_forward_backward(name: str, shape: tuple[int, ...], dtype: torch.dtype) -> None:
    torch.manual_seed(0)
    build, expected = BLOCKS[name]
    block = build().to(dtype).train()
    x = torch.randn(shape, dtype=dtype, requires_grad=True)
    out = block(x)
    assert out.shape == (shape[0], *expected(shape[2], shape[3]))
    assert out.dtype == dtype and out.device == x.device
    assert torch.isfinite(out).all()
    out.square().mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    params = [p for p in block.parameters() if p.requires_grad]
    assert all(p.grad is not None for p in params)
    block.eval()
    with torch.no_grad():
        assert block(x).shape == out.shape


def test_aspp_rates_follow_output_stride() -> None:
    assert aspp_rates(16) == (6, 12, 18)
    assert aspp_rates(8) == (12, 24, 36)
    with pytest.raises(ValueError, match="output_stride"):
        aspp_rates(4)


def test_aspp_v2_sums_branch_scores() -> None:
    torch.manual_seed(0)
    aspp = ASPPv2(4, 3, rates=(1, 2))
    x = torch.randn(1, 4, 9, 9)
    expected = aspp.branches[0](x) + aspp.branches[1](x)
    torch.testing.assert_close(aspp(x), expected)


def test_aspp_v3_structure_matches_deeplab_v3() -> None:
    aspp = ASPPv3(2048, rates=aspp_rates(16))
    assert len(aspp.convs) == 5  # 1x1, three atrous 3x3, image pooling
    dilations = [m.dilation[0] for m in aspp.modules() if isinstance(m, nn.Conv2d)][1:4]
    assert dilations == [6, 12, 18]
    # torchvision's ASPP(2048, [12, 24, 36]) has 15,203,840 parameters:
    # 1x1: 2048*256 + 512; 3 x (2048*256*9 + 512); pooling: 2048*256 + 512; project: 1280*256 + 512
    expected = 2048 * 256 + 3 * 2048 * 256 * 9 + 2048 * 256 + 1280 * 256 + 6 * 512
    assert sum(p.numel() for p in aspp.parameters()) == expected


def test_image_pooling_in_training_with_batch_one() -> None:
    # BatchNorm on a 1x1 pooled map with batch 1 would raise in plain PyTorch.
    aspp = ASPPv3(4, out_channels=8).train()
    assert aspp(torch.randn(1, 4, 5, 7)).shape == (1, 8, 5, 7)


def test_global_context_normalises_and_broadcasts() -> None:
    block = GlobalContext(3, init_scale=1.0)
    x = torch.randn(2, 3, 5, 6)
    out = block(x)
    local, context = out[:, :3], out[:, 3:]
    torch.testing.assert_close(local.norm(dim=1), torch.ones(2, 5, 6))
    pooled = x.mean(dim=(2, 3))
    expected = pooled / pooled.norm(dim=1, keepdim=True)
    torch.testing.assert_close(context[:, :, 2, 4], expected)
    assert torch.equal(context[:, :, 0, 0], context[:, :, 4, 5])


def test_pyramid_pooling_bins_and_channels() -> None:
    block = PyramidPooling(2048)
    assert block.bins == (1, 2, 3, 6) and block.out_channels == 4096
    pooled_sizes = [stage[0].output_size for stage in block.stages]
    assert pooled_sizes == [1, 2, 3, 6]
    assert all(stage[1].out_channels == 512 for stage in block.stages)


def test_conv_norm_act_rejects_unknown_names() -> None:
    with pytest.raises(ValueError, match="unknown norm 'layer'"):
        ConvNormAct(3, 3, norm="layer")
    with pytest.raises(ValueError, match="unknown activation 'swish2'"):
        ConvNormAct(3, 3, act="swish2")


def test_conv_norm_act_bias_only_without_norm() -> None:
    assert ConvNormAct(3, 4)[0].bias is None
    assert ConvNormAct(3, 4, norm=None)[0].bias is not None


@pytest.mark.parametrize("size", [(97, 131), (2, 3), (1, 1)])
def test_max_pool_unpool_round_trip_on_odd_sizes(size: tuple[int, int]) -> None:
    from pixelwise.layers import MaxPoolWithIndices, MaxUnpool

    x = torch.randn(2, 3, *size)
    pooled, indices, pre_size = MaxPoolWithIndices()(x)
    assert pooled.shape[-2:] == ((size[0] + 1) // 2, (size[1] + 1) // 2)
    restored = MaxUnpool()(pooled, indices, pre_size)
    assert restored.shape == x.shape
    # Every pooled maximum is put back exactly where it came from; the rest is zero.
    assert torch.equal(restored.flatten(2).gather(2, indices.flatten(2)), pooled.flatten(2))
    assert int((restored != 0).sum()) <= pooled.numel()
