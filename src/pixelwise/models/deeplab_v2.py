"""DeepLab v2 (Chen et al., "DeepLab: Semantic Image Segmentation with Deep Convolutional Nets,
Atrous Convolution, and Fully Connected CRFs", TPAMI 2018): ASPP-L on an atrous backbone."""

from __future__ import annotations

from collections.abc import Sequence

from pixelwise.encoders import Encoder, VGGEncoder
from pixelwise.layers import ASPPv2
from pixelwise.models._encoders import (
    DefaultEncoder,
    EncoderSpec,
    Weights,
    encoder_argument,
    resolve_encoder,
)
from pixelwise.models.base import EncoderHeadModel
from pixelwise.registry import register_model

DEFAULT_ENCODER = DefaultEncoder("resnet101")


class DeepLabV2(EncoderHeadModel):
    """An atrous backbone followed by :class:`~pixelwise.layers.ASPPv2`: parallel atrous
    branches (ASPP-L rates 6, 12, 18, 24) that each predict class scores, summed, then bilinear
    upsampling to the input size.

    On ResNet (and every non-VGG encoder) each branch is a single 3x3 atrous conv to classes
    (``hidden_channels=None``); on VGG-16 each branch is its own fc6 (3x3 atrous, 1024) -> fc7
    (1x1, 1024) -> fc8 (``hidden_channels=1024``). As in DeepLab v1 the paper adds a fully
    connected CRF after the network (``postprocess == "dense_crf"``, see
    ``pixelwise.crf.dense_crf``).

    Shapes: ``(N, in_channels, H, W) -> (N, num_classes, H, W)``.
    """

    postprocess: str | None = "dense_crf"

    def __init__(
        self,
        encoder: Encoder,
        num_classes: int,
        *,
        in_channels: int,
        rates: Sequence[int] = (6, 12, 18, 24),
        hidden_channels: int | None = None,
    ) -> None:
        head = ASPPv2(
            encoder.out_channels[-1], num_classes, rates=rates, hidden_channels=hidden_channels
        )
        super().__init__(encoder, head, None, num_classes=num_classes, in_channels=in_channels)


@register_model(
    "deeplab_v2",
    paper="Chen et al., DeepLab: Semantic Image Segmentation with Deep Convolutional Nets, "
    "Atrous Convolution, and Fully Connected CRFs, TPAMI 2018",
    default_encoder=DEFAULT_ENCODER,
)
def build_deeplab_v2(
    *,
    num_classes: int,
    in_channels: int = 3,
    encoder: EncoderSpec = DEFAULT_ENCODER,
    output_stride: int = 8,
    rates: tuple[int, ...] = (6, 12, 18, 24),
    encoder_weights: Weights = None,
    backbone: str | None = None,
) -> DeepLabV2:
    """DeepLab v2 (ASPP-L) at ``output_stride`` on ``encoder`` (default ResNet-101; VGG-16 as
    in the paper's VGG model, or any encoder); ``backbone``: deprecated alias of ``encoder``."""
    built = resolve_encoder(
        encoder_argument(encoder, backbone, model="deeplab_v2"),
        in_channels=in_channels,
        output_stride=output_stride,
        weights=encoder_weights,
        model="deeplab_v2",
    )
    hidden_channels = 1024 if isinstance(built, VGGEncoder) else None
    return DeepLabV2(
        built, num_classes, in_channels=in_channels, rates=rates, hidden_channels=hidden_channels
    )
