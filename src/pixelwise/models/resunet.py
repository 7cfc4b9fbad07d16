"""ResUNet (Zhang, Liu and Wang, "Road Extraction by Deep Residual U-Net", IEEE GRSL 2018):
U-Net whose plain units are replaced by pre-activation residual units, with strided
convolutions instead of pooling. With ``encoder=`` the residual decoder runs over any
:class:`~pixelwise.encoders.Encoder` (:class:`~pixelwise.models.encoder_unet.EncoderUNet`)."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from pixelwise.models._encoders import EncoderSpec, Weights, resolve_encoder
from pixelwise.models.base import SegmentationModel
from pixelwise.models.encoder_unet import EncoderUNet, ResidualUnit
from pixelwise.registry import register_model

__all__ = ["PAPER_PARAMETERS", "ResUNet", "ResidualUnit", "build_resunet"]

# Parameters the paper reports for its network ("7.8M").
PAPER_PARAMETERS = 7_800_000


class ResUNet(SegmentationModel):
    """ResUNet (paper, Table I, with ``base_channels=64``):

    - encoding: unit 1 (64, stride 1, ``first``), unit 2 (128, stride 2), unit 3 (256, stride 2);
    - bridge: unit 4 (512, stride 2);
    - decoding: three times ``upsample x2 -> concatenate with the encoder unit of the same size
      -> residual unit`` (256, 128, 64);
    - a 1x1 convolution to ``num_classes`` logits (the paper applies a sigmoid; losses here
      take logits).

    Upsampling is nearest-neighbour x2 (no parameters), cut to the skip's size so odd inputs
    work. Shapes: ``(N, in_channels, H, W) -> (N, num_classes, H, W)``; output stride 8.
    """

    def __init__(self, *, num_classes: int, in_channels: int = 3, base_channels: int = 64):
        super().__init__()
        if base_channels < 1:
            raise ValueError(f"base_channels must be >= 1, got {base_channels}")
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.output_stride = 8
        widths = [base_channels * 2**level for level in range(4)]
        self.encoder = nn.ModuleList(
            [
                ResidualUnit(in_channels, widths[0], first=True),
                ResidualUnit(widths[0], widths[1], stride=2),
                ResidualUnit(widths[1], widths[2], stride=2),
            ]
        )
        self.bridge = ResidualUnit(widths[2], widths[3], stride=2)
        self.decoder = nn.ModuleList(
            [ResidualUnit(widths[level + 1] + widths[level], widths[level]) for level in (2, 1, 0)]
        )
        self.classifier = nn.Conv2d(widths[0], num_classes, 1)

    def forward(self, x: Tensor) -> Tensor:
        skips: list[Tensor] = []
        features = x
        for unit in self.encoder:
            features = unit(features)
            skips.append(features)
        features = self.bridge(features)
        for unit in self.decoder:
            skip = skips.pop()
            upsampled = F.interpolate(features, scale_factor=2.0, mode="nearest")
            upsampled = upsampled[..., : skip.shape[-2], : skip.shape[-1]]
            features = unit(torch.cat([upsampled, skip], dim=1))
        return self.classifier(features)


@register_model("resunet", paper="Zhang, Liu and Wang, IEEE GRSL 2018")
def build_resunet(
    *,
    num_classes: int,
    in_channels: int = 3,
    encoder: EncoderSpec | None = None,
    encoder_weights: Weights = None,
    decoder_channels: tuple[int, ...] | None = None,
    base_channels: int = 64,
) -> ResUNet | EncoderUNet:
    """ResUNet; ``base_channels=64`` is the paper's width.

    ``encoder``: None or ``"resunet"`` (the paper's residual encoder), or an encoder name /
    :class:`~pixelwise.encoders.Encoder` (at output stride 32) under residual decoder units of
    ``decoder_channels`` (:class:`EncoderUNet`); ``encoder_weights`` then loads its pretrained
    weights.
    """
    if encoder is None or encoder == "resunet":
        if encoder_weights is not None or decoder_channels is not None:
            raise ValueError(
                "model 'resunet': encoder_weights and decoder_channels need an encoder (e.g. "
                "encoder='resnet34'); the paper's ResUNet widths follow base_channels"
            )
        return ResUNet(
            num_classes=num_classes, in_channels=in_channels, base_channels=base_channels
        )
    if base_channels != 64:
        raise ValueError(
            "model 'resunet': base_channels applies to the paper's encoder (encoder=None); with "
            "an encoder the decoder widths are decoder_channels"
        )
    built = resolve_encoder(
        encoder,
        in_channels=in_channels,
        output_stride=32,
        weights=encoder_weights,
        model="resunet",
        strides=(32,),
    )
    return EncoderUNet(
        built,
        num_classes,
        in_channels=in_channels,
        decoder_channels=decoder_channels,
        block="resunet",
    )
