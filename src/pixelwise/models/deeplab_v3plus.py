"""DeepLab v3+ (Chen et al., "Encoder-Decoder with Atrous Separable Convolution for Semantic
Image Segmentation", ECCV 2018): DeepLab v3 as encoder plus a light decoder at stride 4."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from pixelwise.encoders import Encoder
from pixelwise.layers import ASPPv3, ConvNormAct, DepthwiseSeparableConv2d, aspp_rates, resize_to
from pixelwise.models._encoders import (
    DefaultEncoder,
    EncoderSpec,
    Weights,
    encoder_argument,
    resolve_encoder,
    stride4_index,
)
from pixelwise.models.base import BackboneModel
from pixelwise.models.heads import FCNHead
from pixelwise.registry import register_model

DEFAULT_ENCODER = DefaultEncoder("resnet50")


class DeepLabV3PlusDecoder(nn.Module):
    """Reduce the stride-4 low-level features to 48 channels (1x1 conv, BN, ReLU), upsample
    the ASPP output to their size (4x, or exactly their size for odd inputs), concatenate,
    refine with two 3x3 depthwise-separable convs of 256 and classify with a 1x1 conv.

    Shapes: context ``(N, C_aspp, H/16, W/16)`` and skip ``(N, C_low, H/4, W/4)``
    -> ``(N, num_classes, H/4, W/4)``.
    """

    def __init__(
        self,
        context_channels: int,
        skip_channels: int,
        num_classes: int,
        *,
        reduced_skip_channels: int = 48,
        channels: int = 256,
    ) -> None:
        super().__init__()
        self.reduce_skip = ConvNormAct(skip_channels, reduced_skip_channels, 1)
        self.refine = nn.Sequential(
            DepthwiseSeparableConv2d(context_channels + reduced_skip_channels, channels, 3),
            DepthwiseSeparableConv2d(channels, channels, 3),
        )
        self.classifier = nn.Conv2d(channels, num_classes, 1)

    def forward(self, context: Tensor, skip: Tensor) -> Tensor:
        skip = self.reduce_skip(skip)
        context = resize_to(context, skip.shape[-2:])
        return self.classifier(self.refine(torch.cat([context, skip], dim=1)))


class DeepLabV3Plus(BackboneModel):
    """Atrous encoder (output stride 16) -> ASPP with atrous separable convolutions and image
    pooling -> :class:`DeepLabV3PlusDecoder` with the encoder's first stride-4 map (ResNet
    layer1, MobileNetV2's 24-channel map, VGG's pool2) -> bilinear upsampling to the input
    size.

    ``aux`` adds an FCN head on the second-deepest feature map, output in training mode only.

    Shapes: ``(N, in_channels, H, W) -> (N, num_classes, H, W)``.
    """

    postprocess: str | None = None
    aux_weight: float = 0.4

    def __init__(
        self,
        encoder: Encoder,
        num_classes: int,
        *,
        in_channels: int,
        rates: Sequence[int] = (6, 12, 18),
        separable_aspp: bool = True,
        aux: bool = False,
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.output_stride = encoder.output_stride
        self.backbone = encoder
        self.skip_index = stride4_index(encoder, model="deeplab_v3plus")
        self.aspp = ASPPv3(encoder.out_channels[-1], rates=rates, separable=separable_aspp)
        self.decoder = DeepLabV3PlusDecoder(
            self.aspp.out_channels, encoder.out_channels[self.skip_index], num_classes
        )
        self.aux_classifier = FCNHead(encoder.out_channels[-2], num_classes) if aux else None

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        size = x.shape[-2:]
        features = self.backbone(x)
        decoded = self.decoder(self.aspp(features[-1]), features[self.skip_index])
        return self._output(resize_to(decoded, size), features, size)


@register_model(
    "deeplab_v3plus",
    paper="Chen et al., Encoder-Decoder with Atrous Separable Convolution for Semantic Image "
    "Segmentation, ECCV 2018",
    default_encoder=DEFAULT_ENCODER,
)
def build_deeplab_v3plus(
    *,
    num_classes: int,
    in_channels: int = 3,
    encoder: EncoderSpec = DEFAULT_ENCODER,
    output_stride: int = 16,
    multi_grid: tuple[int, int, int] | None = None,
    separable_aspp: bool = True,
    aux: bool = False,
    encoder_weights: Weights = None,
    backbone: str | None = None,
) -> DeepLabV3Plus:
    """DeepLab v3+ on ``encoder`` (default ResNet-50; any encoder with a stride-4 map), ASPP
    rates from ``output_stride``; ``backbone``: deprecated alias of ``encoder``."""
    built = resolve_encoder(
        encoder_argument(encoder, backbone, model="deeplab_v3plus"),
        in_channels=in_channels,
        output_stride=output_stride,
        multi_grid=multi_grid,
        weights=encoder_weights,
        model="deeplab_v3plus",
    )
    return DeepLabV3Plus(
        built,
        num_classes,
        in_channels=in_channels,
        rates=aspp_rates(output_stride),
        separable_aspp=separable_aspp,
        aux=aux,
    )
