"""DeepLab v2 (Chen et al., "DeepLab: Semantic Image Segmentation with Deep Convolutional Nets,
Atrous Convolution, and Fully Connected CRFs", TPAMI 2018): ASPP-L on an atrous backbone."""

from __future__ import annotations

from collections.abc import Sequence

from pixelwise.encoders import Encoder
from pixelwise.layers import ASPPv2
from pixelwise.models._backbones import RESNETS, VGGS, Weights, create_backbone
from pixelwise.models.base import EncoderHeadModel
from pixelwise.registry import register_model


class DeepLabV2(EncoderHeadModel):
    """An atrous backbone followed by :class:`~pixelwise.layers.ASPPv2`: parallel atrous
    branches (ASPP-L rates 6, 12, 18, 24) that each predict class scores, summed, then bilinear
    upsampling to the input size.

    On ResNet each branch is a single 3x3 atrous conv to classes (``hidden_channels=None``); on
    VGG-16 each branch is its own fc6 (3x3 atrous, 1024) -> fc7 (1x1, 1024) -> fc8
    (``hidden_channels=1024``). As in DeepLab v1 the paper adds a fully connected CRF after the
    network (``postprocess == "dense_crf"``, see ``pixelwise.crf.dense_crf``).

    Shapes: ``(N, in_channels, H, W) -> (N, num_classes, H, W)``.
    """

    postprocess: str | None = "dense_crf"

    def __init__(
        self,
        backbone: Encoder,
        num_classes: int,
        *,
        in_channels: int,
        rates: Sequence[int] = (6, 12, 18, 24),
        hidden_channels: int | None = None,
    ) -> None:
        head = ASPPv2(
            backbone.out_channels[-1], num_classes, rates=rates, hidden_channels=hidden_channels
        )
        super().__init__(backbone, head, None, num_classes=num_classes, in_channels=in_channels)


@register_model(
    "deeplab_v2",
    paper="Chen et al., DeepLab: Semantic Image Segmentation with Deep Convolutional Nets, "
    "Atrous Convolution, and Fully Connected CRFs, TPAMI 2018",
    default_backbone="resnet101",
)
def build_deeplab_v2(
    *,
    num_classes: int,
    in_channels: int = 3,
    backbone: str = "resnet101",
    output_stride: int = 8,
    rates: tuple[int, ...] = (6, 12, 18, 24),
    encoder_weights: Weights = None,
) -> DeepLabV2:
    """DeepLab v2 (ASPP-L) on a ResNet (default ResNet-101) or VGG-16 at ``output_stride``."""
    encoder = create_backbone(
        backbone,
        allowed=(*RESNETS, *VGGS),
        in_channels=in_channels,
        output_stride=output_stride,
        weights=encoder_weights,
    )
    hidden_channels = 1024 if backbone in VGGS else None
    return DeepLabV2(
        encoder, num_classes, in_channels=in_channels, rates=rates, hidden_channels=hidden_channels
    )
