"""PSPNet's pyramid pooling module (Zhao et al., "Pyramid Scene Parsing Network", CVPR 2017)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from pixelwise.layers.conv_norm_act import pooled_conv_norm_act, resize_to


class PyramidPooling(nn.Module):
    """Average-pool the features to ``bins`` x ``bins`` grids (1, 2, 3, 6), reduce each to
    ``C / len(bins)`` channels with 1x1 conv -> BN -> ReLU, upsample bilinearly to the input
    size and concatenate with the input.

    Shapes: ``(N, C, H, W) -> (N, C + len(bins) * (C // len(bins)), H, W)`` (``2C`` for the
    paper's four bins and C divisible by 4).
    """

    def __init__(
        self,
        in_channels: int,
        *,
        bins: Sequence[int] = (1, 2, 3, 6),
        reduced_channels: int | None = None,
    ) -> None:
        super().__init__()
        reduced = reduced_channels or in_channels // len(bins)
        self.stages = nn.ModuleList(
            nn.Sequential(nn.AdaptiveAvgPool2d(b), *pooled_conv_norm_act(in_channels, reduced))
            for b in bins
        )
        self.bins = tuple(bins)
        self.out_channels = in_channels + len(bins) * reduced

    def forward(self, features: Tensor) -> Tensor:
        size = features.shape[-2:]
        pyramid = [resize_to(stage(features), size) for stage in self.stages]
        return torch.cat([features, *pyramid], dim=1)
