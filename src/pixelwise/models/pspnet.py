"""PSPNet (Zhao et al., "Pyramid Scene Parsing Network", CVPR 2017): a dilated ResNet (or any
encoder) at output stride 8 with the pyramid pooling module."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from pixelwise.encoders import Encoder
from pixelwise.layers import ConvNormAct, PyramidPooling
from pixelwise.models._encoders import (
    DefaultEncoder,
    EncoderSpec,
    Weights,
    encoder_argument,
    resolve_encoder,
)
from pixelwise.models.base import EncoderHeadModel
from pixelwise.models.heads import FCNHead
from pixelwise.registry import register_model

DEFAULT_ENCODER = DefaultEncoder("resnet50")


class PSPHead(nn.Sequential):
    """Pyramid pooling (bins 1, 2, 3, 6; ``C`` -> ``2C`` channels) -> 3x3 conv 512 -> BN ->
    ReLU -> dropout 0.1 -> 1x1 conv to classes.

    Shapes: ``(N, C, H, W) -> (N, num_classes, H, W)``.
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        *,
        bins: Sequence[int] = (1, 2, 3, 6),
        channels: int = 512,
        dropout: float = 0.1,
    ) -> None:
        pyramid = PyramidPooling(in_channels, bins=bins)
        super().__init__(
            pyramid,
            ConvNormAct(pyramid.out_channels, channels, 3),
            nn.Dropout2d(dropout),
            nn.Conv2d(channels, num_classes, 1),
        )


class PSPNet(EncoderHeadModel):
    """Dilated ResNet (output stride 8) -> :class:`PSPHead` -> bilinear upsampling to the
    input size.

    With ``aux`` the paper's deep supervision: an FCN head (3x3 conv to ``C/4``, BN, ReLU,
    dropout 0.1, 1x1 conv) on the encoder's second-deepest map (ResNet layer3), output in
    training mode only; the trainer
    weights its loss by ``aux_weight`` = 0.4.

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
        bins: Sequence[int] = (1, 2, 3, 6),
        aux: bool = False,
    ) -> None:
        super().__init__(
            encoder,
            PSPHead(encoder.out_channels[-1], num_classes, bins=bins),
            FCNHead(encoder.out_channels[-2], num_classes) if aux else None,
            num_classes=num_classes,
            in_channels=in_channels,
        )


@register_model(
    "pspnet",
    paper="Zhao et al., Pyramid Scene Parsing Network, CVPR 2017",
    default_encoder=DEFAULT_ENCODER,
)
def build_pspnet(
    *,
    num_classes: int,
    in_channels: int = 3,
    encoder: EncoderSpec = DEFAULT_ENCODER,
    output_stride: int = 8,
    bins: tuple[int, ...] = (1, 2, 3, 6),
    aux: bool = False,
    encoder_weights: Weights = None,
    backbone: str | None = None,
) -> PSPNet:
    """PSPNet on a dilated ``encoder`` (default ResNet-50 at output stride 8; any encoder name
    or an :class:`Encoder`); ``backbone``: deprecated alias of ``encoder``."""
    built = resolve_encoder(
        encoder_argument(encoder, backbone, model="pspnet"),
        in_channels=in_channels,
        output_stride=output_stride,
        weights=encoder_weights,
        model="pspnet",
    )
    return PSPNet(built, num_classes, in_channels=in_channels, bins=bins, aux=aux)
