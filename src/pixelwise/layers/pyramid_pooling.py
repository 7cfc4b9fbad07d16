"""PSPNet's pyramid pooling module (Zhao et al., "Pyramid Scene Parsing Network", CVPR 2017)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from pixelwise.layers.conv_norm_act import pooled_conv_norm_act, resize_to


def _bin_averaging_matrix(length: int, bins: int, like: Tensor) -> Tensor:
    """``(bins, length)`` matrix whose row ``i`` averages ``[floor(i L / b), ceil((i+1) L / b))``,
    the bins of ``adaptive_avg_pool`` (possibly overlapping when ``b`` does not divide ``L``)."""
    matrix = torch.zeros(bins, length, dtype=like.dtype, device=like.device)
    for index in range(bins):
        start = (index * length) // bins
        end = -((-(index + 1) * length) // bins)
        matrix[index, start:end] = 1.0 / (end - start)
    return matrix


def adaptive_avg_pool2d(features: Tensor, bins: int) -> Tensor:
    """``F.adaptive_avg_pool2d(features, bins)``; while exporting to ONNX it is written as two
    matrix products, because the TorchScript-based exporter rejects adaptive pooling whose bins
    do not divide the input size (e.g. 5x6 maps into 2, 3 or 6 bins).

    Shapes: ``(N, C, H, W) -> (N, C, bins, bins)``.
    """
    if not torch.onnx.is_in_onnx_export():
        return F.adaptive_avg_pool2d(features, bins)
    height, width = int(features.shape[-2]), int(features.shape[-1])
    rows = _bin_averaging_matrix(height, bins, features)
    columns = _bin_averaging_matrix(width, bins, features)
    return torch.matmul(torch.matmul(rows, features), columns.transpose(0, 1))


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
        pyramid = []
        for bins, stage in zip(self.bins, self.stages):
            pooled = adaptive_avg_pool2d(features, bins)
            # stage[0] is the AdaptiveAvgPool2d (kept for keys)
            for module in list(cast(nn.Sequential, stage))[1:]:
                pooled = module(pooled)
            pyramid.append(resize_to(pooled, size))
        return torch.cat([features, *pyramid], dim=1)
