"""The lecture's upsampling operators: unpooling (nearest, bed of nails, max unpooling with
indices as in SegNet), learnable transposed convolution, and bilinear interpolation."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F


def nearest_upsample(x: Tensor, scale: int = 2) -> Tensor:
    """Nearest-neighbour unpooling: each value is copied into a ``scale x scale`` block.

    Shapes: ``(N, C, H, W) -> (N, C, scale*H, scale*W)``.
    """
    return x.repeat_interleave(scale, dim=-2).repeat_interleave(scale, dim=-1)


def bed_of_nails_upsample(x: Tensor, scale: int = 2) -> Tensor:
    """ "Bed of nails" unpooling: each value goes to the top-left corner of its
    ``scale x scale`` block and the rest is zero.

    Shapes: ``(N, C, H, W) -> (N, C, scale*H, scale*W)``.
    """
    *lead, height, width = x.shape
    out = x.new_zeros(*lead, height * scale, width * scale)
    out[..., ::scale, ::scale] = x
    return out


def max_unpool(x: Tensor, indices: Tensor, size: tuple[int, ...] | torch.Size) -> Tensor:
    """Max unpooling (``F.max_unpool2d`` for non-overlapping pools) written as a scatter, so it
    also exports to ONNX (``ScatterElements``; ``aten::max_unpool2d`` has no ONNX export).

    Each value goes to the position inside its plane that ``indices`` (``H * W`` flat, as
    ``F.max_pool2d(..., return_indices=True)`` gives) records; every other position is zero.
    Shapes: ``(N, C, h, w)`` and indices of the same shape -> ``(N, C, *size[-2:])``.
    """
    batch, channels = x.shape[0], x.shape[1]
    height, width = size[-2], size[-1]
    flat = x.new_zeros(batch, channels, height * width)
    flat = flat.scatter(2, indices.flatten(2), x.flatten(2))
    return flat.view(batch, channels, height, width)


class NearestUpsample(nn.Module):
    """Module form of :func:`nearest_upsample`."""

    def __init__(self, scale: int = 2) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, x: Tensor) -> Tensor:
        return nearest_upsample(x, self.scale)


class BedOfNailsUpsample(nn.Module):
    """Module form of :func:`bed_of_nails_upsample`."""

    def __init__(self, scale: int = 2) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, x: Tensor) -> Tensor:
        return bed_of_nails_upsample(x, self.scale)


class MaxPoolWithIndices(nn.Module):
    """Max pooling that also returns where each maximum came from (SegNet, Badrinarayanan et al.,
    TPAMI 2017), so a paired :class:`MaxUnpool` can put values back in place.

    ``ceil_mode=True`` by default so odd sizes keep their last row and column.

    Shapes: ``(N, C, H, W) -> ((N, C, H', W'), indices (N, C, H', W') int64, (H, W))``.
    """

    def __init__(self, kernel_size: int = 2, stride: int | None = None, ceil_mode: bool = True):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride or kernel_size
        self.ceil_mode = ceil_mode

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, torch.Size]:
        pooled, indices = F.max_pool2d(
            x, self.kernel_size, self.stride, ceil_mode=self.ceil_mode, return_indices=True
        )
        return pooled, indices, x.shape[-2:]


class MaxUnpool(nn.Module):
    """Max unpooling: scatter each value to the position its max-pooling index records; the
    rest is zero (SegNet's decoder upsampling).

    Shapes: ``(N, C, H', W')`` with indices of the same shape and the pre-pooling ``(H, W)`` ->
    ``(N, C, H, W)``.
    """

    def __init__(self, kernel_size: int = 2, stride: int | None = None) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride or kernel_size

    def forward(self, x: Tensor, indices: Tensor, output_size: torch.Size | tuple[int, int]):
        return max_unpool(x, indices, output_size)


class TransposedConvUpsample(nn.ConvTranspose2d):
    """Learnable upsampling by transposed convolution ("deconvolution"): each input value scales
    a copy of the filter placed ``stride`` pixels apart in the output; overlaps are summed.

    The default ``kernel_size=3, stride=2, padding=1, output_padding=1`` doubles the size exactly
    (the lecture's example). ``kernel_size=2, stride=2`` is U-Net's "up-convolution".

    Shapes: ``(N, C_in, H, W) -> (N, C_out, (H-1)*s - 2p + k + output_padding, ...)``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        *,
        stride: int = 2,
        padding: int = 1,
        output_padding: int | None = None,
        bias: bool = True,
    ) -> None:
        if output_padding is None:
            output_padding = max(0, stride - kernel_size + 2 * padding)
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=padding,
            output_padding=output_padding,
            bias=bias,
        )


class BilinearUpsample(nn.Module):
    """Bilinear interpolation (``align_corners=False``) by a scale factor or to a fixed size.

    Shapes: ``(N, C, H, W) -> (N, C, scale*H, scale*W)`` or ``(N, C, *size)``; ``forward`` also
    accepts ``size`` to match a skip connection of any (odd) size.
    """

    def __init__(self, scale: float | None = 2.0) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, x: Tensor, size: tuple[int, int] | torch.Size | None = None) -> Tensor:
        if size is not None:
            return F.interpolate(x, size=tuple(size)[-2:], mode="bilinear", align_corners=False)
        return F.interpolate(x, scale_factor=self.scale, mode="bilinear", align_corners=False)
