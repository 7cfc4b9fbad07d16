"""DeepLab v1 (Chen et al., "Semantic Image Segmentation with Deep Convolutional Nets and Fully
Connected CRFs", ICLR 2015): VGG-16 made atrous at output stride 8 plus the LargeFOV head (any
encoder dilated to output stride 8 with ``encoder=``)."""

from __future__ import annotations

from collections import OrderedDict

from torch import nn

from pixelwise.encoders import Encoder
from pixelwise.models._encoders import (
    DefaultEncoder,
    EncoderSpec,
    Weights,
    encoder_argument,
    resolve_encoder,
)
from pixelwise.models.base import EncoderHeadModel
from pixelwise.registry import register_model

DEFAULT_ENCODER = DefaultEncoder("vgg16")


class LargeFOVHead(nn.Sequential):
    """DeepLab-LargeFOV's classifier: fc6 as a 3x3 conv with rate 12 and 1024 filters, ReLU,
    dropout, fc7 as a 1x1 conv with 1024 filters, ReLU, dropout, fc8 as a 1x1 conv to classes.

    Shapes: ``(N, C_in, H, W) -> (N, num_classes, H, W)``.
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        *,
        rate: int = 12,
        hidden_channels: int = 1024,
        dropout: float = 0.5,
    ) -> None:
        super().__init__(
            OrderedDict(
                fc6=nn.Conv2d(in_channels, hidden_channels, 3, padding=rate, dilation=rate),
                relu6=nn.ReLU(inplace=True),
                drop6=nn.Dropout2d(dropout),
                fc7=nn.Conv2d(hidden_channels, hidden_channels, 1),
                relu7=nn.ReLU(inplace=True),
                drop7=nn.Dropout2d(dropout),
                fc8=nn.Conv2d(hidden_channels, num_classes, 1),
            )
        )


class DeepLabV1(EncoderHeadModel):
    """VGG-16 whose pool4/pool5 are 3x3 stride 1 and conv5 atrous (rate 2), so the features are
    at output stride 8, then :class:`LargeFOVHead`; the class scores are upsampled bilinearly
    to the input size.

    The paper refines the upsampled scores with a fully connected CRF; that step is not part
    of the network (``postprocess == "dense_crf"``, see ``pixelwise.crf.dense_crf``).

    Shapes: ``(N, in_channels, H, W) -> (N, num_classes, H, W)``; features ``(N, 512, H/8, W/8)``.
    """

    postprocess: str | None = "dense_crf"

    def __init__(
        self, encoder: Encoder, num_classes: int, *, in_channels: int, dropout: float = 0.5
    ) -> None:
        super().__init__(
            encoder,
            LargeFOVHead(encoder.out_channels[-1], num_classes, dropout=dropout),
            None,
            num_classes=num_classes,
            in_channels=in_channels,
        )


@register_model(
    "deeplab_v1",
    paper="Chen et al., Semantic Image Segmentation with Deep Convolutional Nets and Fully "
    "Connected CRFs, ICLR 2015 (DeepLab-LargeFOV)",
    default_encoder=DEFAULT_ENCODER,
)
def build_deeplab_v1(
    *,
    num_classes: int,
    in_channels: int = 3,
    encoder: EncoderSpec = DEFAULT_ENCODER,
    encoder_weights: Weights = None,
    dropout: float = 0.5,
    backbone: str | None = None,
) -> DeepLabV1:
    """DeepLab-LargeFOV on ``encoder`` ("vgg16" as in the paper, any encoder name or an
    :class:`Encoder` built at output stride 8); ``backbone``: deprecated alias of ``encoder``."""
    built = resolve_encoder(
        encoder_argument(encoder, backbone, model="deeplab_v1"),
        in_channels=in_channels,
        output_stride=8,
        weights=encoder_weights,
        model="deeplab_v1",
        strides=(8,),
    )
    return DeepLabV1(built, num_classes, in_channels=in_channels, dropout=dropout)
