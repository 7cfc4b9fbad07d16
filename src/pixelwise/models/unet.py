"""U-Net (Ronneberger, Fischer and Brox, "U-Net: Convolutional Networks for Biomedical Image
Segmentation", MICCAI 2015): a contracting path of two 3x3 convolutions and a 2x2 max pool per
level, an expanding path of 2x2 up-convolutions, and skip concatenation between the two. With
``encoder=`` the contracting path is any :class:`~pixelwise.encoders.Encoder`
(:class:`~pixelwise.models.encoder_unet.EncoderUNet`)."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from pixelwise.models._encoders import EncoderSpec, Weights, resolve_encoder
from pixelwise.models.base import SegmentationModel
from pixelwise.models.encoder_unet import (
    DoubleConv,
    EncoderUNet,
    Upsampling,
    UpStep,
    init_he_normal,
)
from pixelwise.registry import register_model

Padding = Literal["same", "valid"]


def _check_choice(name: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")


def _valid_output_length(size: int, depth: int) -> int | None:
    """Output length of a valid-padding U-Net along one axis, or ``None`` if ``size`` is not a
    valid input (some max pool would see an odd map, or some map would be empty)."""
    for _ in range(depth):
        size -= 4
        if size <= 0 or size % 2:
            return None
        size //= 2
    size -= 4
    if size <= 0:
        return None
    for _ in range(depth):
        size = 2 * size - 4
        if size <= 0:
            return None
    return size


def _input_length_for_bottom(bottom: int, depth: int) -> int:
    # Going up the contracting path, each level doubles and adds the 4 pixels its convs remove.
    return 2**depth * bottom + 4 * (2**depth - 1)


def _valid_input_length(min_output: int, depth: int) -> int:
    """Smallest valid input length whose valid-padding output is at least ``min_output``.

    With ``b`` the bottleneck's input length, the output is ``2**d * (b - 4) - 4 * (2**d - 1)``
    when every intermediate map is non-empty.
    """
    scale = 2**depth
    bottom = max(5, -(-(min_output + 4 * (scale - 1)) // scale) + 4)
    while _valid_output_length(_input_length_for_bottom(bottom, depth), depth) is None:
        bottom += 1
    return _input_length_for_bottom(bottom, depth)


def _nearest_valid_input_length(size: int, depth: int) -> int:
    scale = 2**depth
    bottom = round((size - 4 * (scale - 1)) / scale)
    return max(_input_length_for_bottom(bottom, depth), _valid_input_length(1, depth))


def unet_valid_output_size(height: int, width: int, *, depth: int = 4) -> tuple[int, int]:
    """Output size of ``padding="valid"`` U-Net for an ``height x width`` input.

    Every 2x2 max pool must see an even map (paper, Sec. 2). Example: the paper's
    ``572 x 572`` tile gives a ``388 x 388`` output.

    Raises:
        ValueError: if the size is not valid, naming the nearest valid input size.
    """
    out_h = _valid_output_length(height, depth)
    out_w = _valid_output_length(width, depth)
    if out_h is None or out_w is None:
        good_h = _nearest_valid_input_length(height, depth)
        good_w = _nearest_valid_input_length(width, depth)
        raise ValueError(
            f"input size {height}x{width} is not valid for a valid-padding U-Net of depth {depth}"
            f" (every max pool needs an even map); use e.g. {good_h}x{good_w}, see"
            " unet_valid_input_size()"
        )
    return out_h, out_w


def unet_valid_input_size(out_height: int, out_width: int, *, depth: int = 4) -> tuple[int, int]:
    """Smallest valid input size for ``padding="valid"`` whose output covers at least
    ``out_height x out_width`` (what the overlap-tile strategy needs): ``388 -> 572`` for
    depth 4."""
    if out_height < 1 or out_width < 1:
        raise ValueError(f"output size must be positive, got {out_height}x{out_width}")
    return _valid_input_length(out_height, depth), _valid_input_length(out_width, depth)


def _center_crop(skip: Tensor, size: tuple[int, int]) -> Tensor:
    top = (skip.shape[-2] - size[0]) // 2
    left = (skip.shape[-1] - size[1]) // 2
    return skip[..., top : top + size[0], left : left + size[1]]


class UNet(SegmentationModel):
    """U-Net with ``depth`` down steps; channels ``base_channels * 2**level`` (64 ... 1024).

    ``padding="same"``: output ``(N, num_classes, H, W)`` for any ``H x W``; max pooling uses
    ``ceil_mode`` so odd maps keep their last row, and each upsampled map is cut to its skip.
    ``padding="valid"`` (the paper): unpadded convolutions, skips centre-cropped; the output is
    the centre ``unet_valid_output_size(H, W)`` region of the input (``572 -> 388``), and the
    input must be a valid size (see :func:`unet_valid_input_size`). This deliberately departs
    from the :class:`SegmentationModel` "output = input size" contract.
    """

    def __init__(
        self,
        *,
        num_classes: int,
        in_channels: int = 3,
        depth: int = 4,
        base_channels: int = 64,
        padding: Padding = "same",
        batch_norm: bool = True,
        upsampling: Upsampling = "transpose",
    ) -> None:
        super().__init__()
        _check_choice("padding", padding, ("same", "valid"))
        _check_choice("upsampling", upsampling, ("transpose", "bilinear"))
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        if base_channels < 1:
            raise ValueError(f"base_channels must be >= 1, got {base_channels}")
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.depth = depth
        self.padding = padding
        self.output_stride = 2**depth
        conv_padding = 1 if padding == "same" else 0
        widths = [base_channels * 2**level for level in range(depth + 1)]

        self.pool = nn.MaxPool2d(2, ceil_mode=padding == "same")
        self.down_blocks = nn.ModuleList()
        previous = in_channels
        for width in widths:  # the last block is the bottleneck
            self.down_blocks.append(
                DoubleConv(previous, width, padding=conv_padding, batch_norm=batch_norm)
            )
            previous = width
        self.up_steps = nn.ModuleList()
        self.up_blocks = nn.ModuleList()
        for level in reversed(range(depth)):
            self.up_steps.append(UpStep(widths[level + 1], widths[level], upsampling))
            self.up_blocks.append(
                DoubleConv(
                    2 * widths[level], widths[level], padding=conv_padding, batch_norm=batch_norm
                )
            )
        self.classifier = nn.Conv2d(widths[0], num_classes, 1)
        init_he_normal(self)

    @property
    def encoder(self) -> None:
        """None: the paper's contracting path (``down_blocks``) is not a separate encoder module;
        build with ``encoder=`` for one (:class:`EncoderUNet`)."""
        return None

    def valid_output_size(self, height: int, width: int) -> tuple[int, int]:
        """Output size for an ``height x width`` input (equal to it in ``"same"`` mode)."""
        if self.padding == "same":
            return height, width
        return unet_valid_output_size(height, width, depth=self.depth)

    def forward(self, x: Tensor) -> Tensor:
        if self.padding == "valid":
            self.valid_output_size(x.shape[-2], x.shape[-1])  # raises on invalid sizes
        skips: list[Tensor] = []
        features = x
        for level, block in enumerate(self.down_blocks):
            if level > 0:
                features = self.pool(features)
            features = block(features)
            skips.append(features)
        skips.pop()  # the bottleneck output is not a skip
        for up_step, block in zip(self.up_steps, self.up_blocks):
            skip = skips.pop()
            if self.padding == "same":
                features = up_step(features, skip.shape[-2:])
            else:
                size = (2 * features.shape[-2], 2 * features.shape[-1])
                features = up_step(features, size)
                skip = _center_crop(skip, size)
            features = block(torch.cat([skip, features], dim=1))
        return self.classifier(features)


@register_model("unet", paper="Ronneberger, Fischer and Brox, MICCAI 2015")
def build_unet(
    *,
    num_classes: int,
    in_channels: int = 3,
    encoder: EncoderSpec | None = None,
    encoder_weights: Weights = None,
    decoder_channels: tuple[int, ...] | None = None,
    depth: int = 4,
    base_channels: int = 64,
    padding: Padding = "same",
    batch_norm: bool = True,
    upsampling: Upsampling = "transpose",
) -> UNet | EncoderUNet:
    """U-Net. The paper's configuration is ``in_channels=1, num_classes=2, batch_norm=False,
    padding="valid"`` (31,030,658 parameters). ``batch_norm=True`` is the default here because
    it makes training from scratch robust to the learning rate; the paper predates BatchNorm's
    adoption in segmentation.

    ``encoder``: None or ``"unet"`` (the paper's contracting path of ``depth`` levels and
    ``base_channels``), or an encoder name / :class:`~pixelwise.encoders.Encoder` (at output
    stride 32) under a U-Net decoder of ``decoder_channels`` (:class:`EncoderUNet`);
    ``encoder_weights`` then loads its pretrained weights.
    """
    if encoder is None or encoder == "unet":
        if encoder_weights is not None or decoder_channels is not None:
            raise ValueError(
                "model 'unet': encoder_weights and decoder_channels need an encoder (e.g. "
                "encoder='resnet34'); the paper's U-Net is trained from scratch and its widths "
                "follow base_channels"
            )
        return UNet(
            num_classes=num_classes,
            in_channels=in_channels,
            depth=depth,
            base_channels=base_channels,
            padding=padding,
            batch_norm=batch_norm,
            upsampling=upsampling,
        )
    if depth != 4 or base_channels != 64 or padding != "same":
        raise ValueError(
            "model 'unet': depth, base_channels and padding apply to the paper's encoder "
            "(encoder=None); with an encoder the decoder follows its maps (widths: "
            "decoder_channels) and pads"
        )
    built = resolve_encoder(
        encoder,
        in_channels=in_channels,
        output_stride=32,
        weights=encoder_weights,
        model="unet",
        strides=(32,),
    )
    return EncoderUNet(
        built,
        num_classes,
        in_channels=in_channels,
        decoder_channels=decoder_channels,
        block="unet",
        batch_norm=batch_norm,
        upsampling=upsampling,
    )
