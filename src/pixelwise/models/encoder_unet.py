"""U-Net and ResUNet decoders over any :class:`~pixelwise.encoders.Encoder` (``encoder=`` of
``unet`` and ``resunet``), and the blocks they share with the papers' models.

Everything is derived from the encoder's ``out_channels`` and ``reductions``, so encoders whose
first map is at stride 2 (ResNet, VGG, MobileNetV2) or stride 4 (ConvNeXt via timm) work alike.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from pixelwise.encoders import Encoder
from pixelwise.layers.conv_norm_act import ConvNormAct, resize_to
from pixelwise.models.base import SegmentationModel

Upsampling = Literal["transpose", "bilinear"]
Block = Literal["unet", "resunet"]


class DoubleConv(nn.Sequential):
    """Two 3x3 convolutions, each followed by (optional BatchNorm and) ReLU.

    Shapes: ``(N, C_in, H, W) -> (N, C_out, H, W)`` with ``"same"`` padding, ``(H-4, W-4)``
    with ``"valid"``.
    """

    def __init__(self, in_channels: int, out_channels: int, *, padding: int, batch_norm: bool):
        norm = "batch" if batch_norm else None
        super().__init__(
            ConvNormAct(in_channels, out_channels, 3, padding=padding, norm=norm),
            ConvNormAct(out_channels, out_channels, 3, padding=padding, norm=norm),
        )


class UpStep(nn.Module):
    """Upsample by ``factor`` (2) and change the channels: the paper's 2x2 up-convolution
    (kernel and stride ``factor``), or bilinear interpolation followed by a 1x1 convolution
    (fewer parameters, no checkerboard artefacts).

    Shapes: ``(N, C_in, H, W) -> (N, C_out, factor*H, factor*W)``, cut to ``size``.
    """

    def __init__(
        self, in_channels: int, out_channels: int, mode: Upsampling, factor: int = 2
    ) -> None:
        super().__init__()
        self.mode = mode
        self.up: nn.ConvTranspose2d | nn.Conv2d
        if mode == "transpose":
            self.up = nn.ConvTranspose2d(in_channels, out_channels, factor, stride=factor)
        else:
            self.up = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: Tensor, size: tuple[int, int]) -> Tensor:
        if self.mode == "transpose":
            upsampled = self.up(x)
            return upsampled[..., : size[0], : size[1]]
        return self.up(F.interpolate(x, size=size, mode="bilinear", align_corners=False))


def _conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1)


class ResidualUnit(nn.Module):
    """Pre-activation residual unit (He et al., ECCV 2016, as in ResUNet's residual unit figure):
    ``BN -> ReLU -> conv3x3(stride) -> BN -> ReLU -> conv3x3`` plus a 1x1 convolution shortcut
    (with the same stride) that matches channels and size.

    ``first=True`` is ResUNet's first encoder unit, whose first convolution sees the raw input
    (no BN-ReLU before it): ``conv3x3 -> BN -> ReLU -> conv3x3``.

    Shapes: ``(N, C_in, H, W) -> (N, C_out, ceil(H / stride), ceil(W / stride))``.
    """

    def __init__(
        self, in_channels: int, out_channels: int, *, stride: int = 1, first: bool = False
    ) -> None:
        super().__init__()
        pre: list[nn.Module] = [] if first else [nn.BatchNorm2d(in_channels), nn.ReLU()]
        self.body = nn.Sequential(
            *pre,
            _conv3x3(in_channels, out_channels, stride),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
            _conv3x3(out_channels, out_channels),
        )
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1, stride=stride)

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x) + self.shortcut(x)


def init_he_normal(module: nn.Module) -> None:
    """U-Net's initialisation (paper, Sec. 3): every (transposed) convolution in ``module``
    Gaussian with std ``sqrt(2 / N)``, N the incoming nodes of one neuron; biases zero."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
            fan_in = layer.weight[0].numel()
            if isinstance(layer, nn.ConvTranspose2d):  # taps reaching one output pixel
                taps = math.prod(layer.kernel_size) // math.prod(layer.stride)
                fan_in = layer.in_channels * max(1, taps)
            nn.init.normal_(layer.weight, std=math.sqrt(2.0 / fan_in))
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


def default_decoder_channels(skips: int) -> tuple[int, ...]:
    """Decoder widths, deepest first: 256, 128, 64, 32, 16, then 16 for any further skip."""
    return tuple(max(16, 256 >> level) for level in range(skips))


class DecoderStage(nn.Module):
    """Upsample the deeper features to the skip's size, concatenate the skip, refine.

    ``block="unet"``: :class:`UpStep` to ``out_channels`` then :class:`DoubleConv` on
    ``[skip, up]``; ``block="resunet"``: nearest upsampling then :class:`ResidualUnit` on
    ``[up, skip]`` (each paper's order). Shapes: ``(N, C_in, h, w)`` and skip
    ``(N, C_skip, H, W)`` -> ``(N, out_channels, H, W)``.
    """

    def __init__(
        self,
        in_channels: int,
        skip_channels: int,
        out_channels: int,
        *,
        factor: int,
        block: Block,
        batch_norm: bool,
        upsampling: Upsampling,
    ) -> None:
        super().__init__()
        self.up: UpStep | None = None
        self.block: nn.Module
        if block == "unet":
            self.up = UpStep(in_channels, out_channels, upsampling, factor)
            conv = DoubleConv(
                skip_channels + out_channels, out_channels, padding=1, batch_norm=batch_norm
            )
            self.block = conv
        else:
            self.block = ResidualUnit(in_channels + skip_channels, out_channels)

    def forward(self, x: Tensor, skip: Tensor) -> Tensor:
        size = (skip.shape[-2], skip.shape[-1])
        if self.up is None:
            return self.block(torch.cat([resize_to(x, size, mode="nearest"), skip], dim=1))
        # An encoder that floors its sizes (timm) can leave the up-convolution a pixel short.
        upsampled = resize_to(self.up(x, size), size)
        return self.block(torch.cat([skip, upsampled], dim=1))


class EncoderUNet(SegmentationModel):
    """A U-Net (``block="unet"``) or ResUNet (``block="resunet"``) decoder over ``encoder``.

    For the encoder's maps ``f_0 ... f_{n-1}`` (reductions ``r_0 <= ... <= r_{n-1}``), from the
    deepest: one :class:`DecoderStage` per skip ``f_i`` (upsampling by ``r_{i+1} / r_i``),
    of ``decoder_channels`` widths (deepest first; default 256, 128, 64, 32 for 4 skips), then
    a 1x1 classifier at stride ``r_0`` and bilinear upsampling to the input size. U-Net's
    decoder is initialised as the paper's (:func:`init_he_normal`); the encoder is left as
    built (pretrained or not).

    Shapes: ``(N, in_channels, H, W) -> (N, num_classes, H, W)``.
    """

    def __init__(
        self,
        encoder: Encoder,
        num_classes: int,
        *,
        in_channels: int,
        decoder_channels: Sequence[int] | None = None,
        block: Block = "unet",
        batch_norm: bool = True,
        upsampling: Upsampling = "transpose",
    ) -> None:
        super().__init__()
        if block not in ("unet", "resunet") or upsampling not in ("transpose", "bilinear"):
            raise ValueError(
                f"block must be 'unet' or 'resunet' and upsampling 'transpose' or 'bilinear', "
                f"got {block!r} and {upsampling!r}"
            )
        channels, reductions = tuple(encoder.out_channels), tuple(encoder.reductions)
        skips = len(channels) - 1
        if skips < 1 or any(
            deep < shallow or deep % shallow for shallow, deep in zip(reductions, reductions[1:])
        ):
            raise ValueError(
                f"a {block} decoder needs at least 2 maps whose reductions divide each other, "
                f"got reductions {reductions}"
            )
        widths = default_decoder_channels(skips) if decoder_channels is None else decoder_channels
        if len(widths) != skips or any(width < 1 for width in widths):
            raise ValueError(
                f"decoder_channels must hold {skips} positive widths (one per skip, deepest "
                f"first) for this encoder, got {tuple(widths)}"
            )
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.output_stride = encoder.output_stride
        self.encoder = encoder
        self.decoder = nn.ModuleList()
        previous = channels[-1]
        for width, level in zip(widths, reversed(range(skips))):
            factor = reductions[level + 1] // reductions[level]
            stage = DecoderStage(
                previous,
                channels[level],
                width,
                factor=factor,
                block=block,
                batch_norm=batch_norm,
                upsampling=upsampling,
            )
            self.decoder.append(stage)
            previous = width
        self.classifier = nn.Conv2d(previous, num_classes, 1)
        if block == "unet":
            init_he_normal(self.decoder)
            init_he_normal(self.classifier)

    def forward(self, x: Tensor) -> Tensor:
        features = self.encoder(x)
        decoded = features[-1]
        for stage, skip in zip(self.decoder, reversed(features[:-1])):
            decoded = stage(decoded, skip)
        return resize_to(self.classifier(decoded), x.shape[-2:])
