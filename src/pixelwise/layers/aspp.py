"""Atrous Spatial Pyramid Pooling: DeepLab v2's summed class-score branches and DeepLab v3's
concatenated feature branches with image pooling (and v3+'s separable variant)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from pixelwise.layers.conv_norm_act import ConvNormAct, pooled_conv_norm_act, resize_to
from pixelwise.layers.separable import DepthwiseSeparableConv2d


def aspp_rates(output_stride: int) -> tuple[int, int, int]:
    """DeepLab v3's atrous rates: (6, 12, 18) at output stride 16, doubled at 8."""
    if output_stride == 16:
        return (6, 12, 18)
    if output_stride == 8:
        return (12, 24, 36)
    if output_stride == 32:
        return (3, 6, 9)
    raise ValueError(f"output_stride must be 8, 16 or 32, got {output_stride}")


class ASPPv2(nn.Module):
    """DeepLab v2 ASPP (Chen et al., TPAMI 2018, Fig. 4): parallel atrous branches at
    ``rates`` (ASPP-L: 6, 12, 18, 24), each producing class scores; the scores are summed.

    With ``hidden_channels=None`` each branch is one 3x3 atrous conv to ``num_classes`` (the
    ResNet-101 model). With ``hidden_channels=1024`` each branch is the VGG-16 model's
    fc6 (3x3 atrous) -> ReLU -> dropout -> fc7 (1x1) -> ReLU -> dropout -> fc8 (1x1).

    Shapes: ``(N, C_in, H, W) -> (N, num_classes, H, W)``.
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        *,
        rates: Sequence[int] = (6, 12, 18, 24),
        hidden_channels: int | None = None,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        branches: list[nn.Module] = []
        for rate in rates:
            if hidden_channels is None:
                branches.append(nn.Conv2d(in_channels, num_classes, 3, padding=rate, dilation=rate))
            else:
                branches.append(
                    nn.Sequential(
                        nn.Conv2d(in_channels, hidden_channels, 3, padding=rate, dilation=rate),
                        nn.ReLU(inplace=True),
                        nn.Dropout2d(dropout),
                        nn.Conv2d(hidden_channels, hidden_channels, 1),
                        nn.ReLU(inplace=True),
                        nn.Dropout2d(dropout),
                        nn.Conv2d(hidden_channels, num_classes, 1),
                    )
                )
        self.branches = nn.ModuleList(branches)
        self.rates = tuple(rates)

    def forward(self, features: Tensor) -> Tensor:
        scores = self.branches[0](features)
        for branch in self.branches[1:]:
            scores = scores + branch(features)
        return scores


class ImagePoolingBranch(nn.Sequential):
    """DeepLab v3's image-level feature: global average pool -> 1x1 conv -> BN -> ReLU ->
    bilinear upsampling back to the input size (ParseNet's idea, Liu et al. 2015).

    Shapes: ``(N, C_in, H, W) -> (N, C_out, H, W)``.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        pooled = pooled_conv_norm_act(in_channels, out_channels)
        super().__init__(nn.AdaptiveAvgPool2d(1), *pooled)

    def forward(self, x: Tensor) -> Tensor:
        size = x.shape[-2:]
        for module in self:
            x = module(x)
        return resize_to(x, size)


class ASPPv3(nn.Module):
    """DeepLab v3 ASPP (Chen et al., arXiv:1706.05587, Sec. 3.3): a 1x1 conv, three 3x3 atrous
    convs (rates 6/12/18 at output stride 16, doubled at 8) and image pooling, ``out_channels``
    (256) filters with BN each, concatenated, then a 1x1 conv with BN, ReLU and dropout.

    ``separable=True`` makes the atrous branches atrous separable convolutions (DeepLab v3+).
    Module names follow torchvision (``convs.N``, ``project``) so its weights map across.

    Shapes: ``(N, C_in, H, W) -> (N, out_channels, H, W)``.
    """

    def __init__(
        self,
        in_channels: int,
        *,
        out_channels: int = 256,
        rates: Sequence[int] = (6, 12, 18),
        separable: bool = False,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        branches: list[nn.Module] = [ConvNormAct(in_channels, out_channels, 1)]
        for rate in rates:
            if separable:
                branches.append(
                    DepthwiseSeparableConv2d(in_channels, out_channels, 3, dilation=rate)
                )
            else:
                branches.append(ConvNormAct(in_channels, out_channels, 3, dilation=rate))
        branches.append(ImagePoolingBranch(in_channels, out_channels))
        self.convs = nn.ModuleList(branches)
        self.project = nn.Sequential(
            *ConvNormAct(len(branches) * out_channels, out_channels, 1), nn.Dropout(dropout)
        )
        self.out_channels = out_channels
        self.rates = tuple(rates)

    def forward(self, features: Tensor) -> Tensor:
        return self.project(torch.cat([branch(features) for branch in self.convs], dim=1))
