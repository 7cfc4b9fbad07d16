"""Atrous (dilated) convolution, DeepLab (Chen et al., ICLR 2015 / TPAMI 2018)."""

from __future__ import annotations

from torch import Tensor, nn


class AtrousConv2d(nn.Conv2d):
    """Convolution with rate ``r``: ``y(i) = sum_k x(i + r*k) w(k)``.

    Equivalent to an ordinary convolution whose filter has ``r-1`` zeros inserted between
    consecutive taps (:func:`upsample_filter`), with ``(k-1)*r + 1`` effective size and the same
    number of parameters. Padding defaults to "same" (``r * (k-1) // 2``).

    Shapes: ``(N, C_in, H, W) -> (N, C_out, H, W)`` at stride 1 with the default padding.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        *,
        rate: int = 2,
        stride: int = 1,
        padding: int | None = None,
        bias: bool = True,
    ) -> None:
        if rate < 1:
            raise ValueError(f"atrous rate must be >= 1, got {rate}")
        if padding is None:
            padding = rate * (kernel_size - 1) // 2
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=padding,
            dilation=rate,
            bias=bias,
        )

    @property
    def rate(self) -> int:
        return int(self.dilation[0])


def upsample_filter(weight: Tensor, rate: int) -> Tensor:
    """Insert ``rate - 1`` zeros between the taps of a ``(C_out, C_in, kh, kw)`` filter.

    Returns a ``(C_out, C_in, (kh-1)*rate+1, (kw-1)*rate+1)`` filter.
    """
    out_ch, in_ch, kh, kw = weight.shape
    dense = weight.new_zeros(out_ch, in_ch, (kh - 1) * rate + 1, (kw - 1) * rate + 1)
    dense[:, :, ::rate, ::rate] = weight
    return dense
