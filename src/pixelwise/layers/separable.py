"""Depthwise-separable and atrous separable convolution (MobileNets, Howard et al. 2017;
DeepLab v3+, Chen et al., ECCV 2018)."""

from __future__ import annotations

from torch import nn

from pixelwise.layers.conv_norm_act import ActSpec, ConvNormAct, NormSpec


class DepthwiseSeparableConv2d(nn.Sequential):
    """A depthwise convolution (one ``k x k`` filter per input channel, ``groups=C_in``) followed
    by a pointwise ``1x1`` convolution that mixes channels.

    ``norm``/``act`` apply after each of the two steps, as DeepLab v3+ does (``mid_norm`` and
    ``mid_act`` default to the same). With ``dilation > 1`` this is the atrous separable
    convolution of DeepLab v3+.

    Shapes: ``(N, C_in, H, W) -> (N, C_out, H', W')``.
    Cost: ``k*k*C_in + C_in*C_out`` weights instead of ``k*k*C_in*C_out``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        *,
        stride: int = 1,
        dilation: int = 1,
        padding: int | None = None,
        norm: NormSpec = "batch",
        act: ActSpec = "relu",
        mid_norm: NormSpec | str = "same",
        mid_act: ActSpec | str = "same",
        bias: bool | None = None,
    ) -> None:
        depthwise = ConvNormAct(
            in_channels,
            in_channels,
            kernel_size,
            stride=stride,
            padding=padding,
            dilation=dilation,
            groups=in_channels,
            norm=norm if mid_norm == "same" else mid_norm,
            act=act if mid_act == "same" else mid_act,
            bias=bias,
        )
        pointwise = ConvNormAct(in_channels, out_channels, 1, norm=norm, act=act, bias=bias)
        super().__init__(depthwise, pointwise)
        self.in_channels = in_channels
        self.out_channels = out_channels


class AtrousSeparableConv2d(DepthwiseSeparableConv2d):
    """Depthwise-separable convolution whose depthwise step is atrous with ``rate``
    (DeepLab v3+). Shapes as :class:`DepthwiseSeparableConv2d`."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        *,
        rate: int = 2,
        **kwargs: object,
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, dilation=rate, **kwargs)  # type: ignore[arg-type]
