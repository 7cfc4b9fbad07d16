"""DeepLab v3 (Chen et al., "Rethinking Atrous Convolution for Semantic Image Segmentation",
arXiv:1706.05587, 2017): an atrous encoder (ResNet by default) with ASPP and image pooling.

``create_model("deeplab_v3", num_classes=21, **TORCHVISION_DEEPLABV3_RESNET50)`` is
torchvision's ``deeplabv3_resnet50(num_classes=21, aux_loss=True)``: the same modules under
the same state-dict keys (``backbone``, ``classifier``, ``aux_classifier``), so its weights load
with ``load_state_dict(strict=True)``.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from pixelwise.encoders import Encoder
from pixelwise.layers import ASPPv3, ConvNormAct, aspp_rates
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

# Builder options that reproduce torchvision's deeplabv3_resnet50(aux_loss=True).
TORCHVISION_DEEPLABV3_RESNET50: dict[str, object] = {
    "encoder": "resnet50",
    "output_stride": 8,
    "aux": True,
}


class DeepLabHead(nn.Sequential):
    """ASPP (``convs.N``, ``project``) -> 3x3 conv 256 -> BN -> ReLU -> 1x1 conv to classes,
    laid out as torchvision's ``DeepLabHead`` (indices 0 ASPP, 1 conv, 2 BN, 4 classifier).

    Shapes: ``(N, C_in, H, W) -> (N, num_classes, H, W)``.
    """

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        *,
        rates: Sequence[int] = (6, 12, 18),
        channels: int = 256,
    ) -> None:
        super().__init__(
            ASPPv3(in_channels, out_channels=channels, rates=rates),
            *ConvNormAct(channels, channels, 3),
            nn.Conv2d(channels, num_classes, 1),
        )


class DeepLabV3(EncoderHeadModel):
    """An atrous backbone at output stride 16 or 8 followed by :class:`DeepLabHead`; logits
    are upsampled bilinearly to the input size. No CRF (the paper drops it).

    With ``aux`` an :class:`~pixelwise.models.heads.FCNHead` on the second-deepest feature map
    (ResNet layer3, MobileNetV2's 96-channel stride-16 map) adds an auxiliary output in
    training mode (torchvision's recipe weights its loss by ``aux_weight`` = 0.5).

    Shapes: ``(N, in_channels, H, W) -> (N, num_classes, H, W)`` (and the same for the
    auxiliary logits).
    """

    postprocess: str | None = None
    aux_weight: float = 0.5

    def __init__(
        self,
        encoder: Encoder,
        num_classes: int,
        *,
        in_channels: int,
        rates: Sequence[int] = (6, 12, 18),
        aux: bool = False,
    ) -> None:
        super().__init__(
            encoder,
            DeepLabHead(encoder.out_channels[-1], num_classes, rates=rates),
            FCNHead(encoder.out_channels[-2], num_classes) if aux else None,
            num_classes=num_classes,
            in_channels=in_channels,
        )


@register_model(
    "deeplab_v3",
    paper="Chen et al., Rethinking Atrous Convolution for Semantic Image Segmentation, "
    "arXiv:1706.05587, 2017",
    default_encoder=DEFAULT_ENCODER,
)
def build_deeplab_v3(
    *,
    num_classes: int,
    in_channels: int = 3,
    encoder: EncoderSpec = DEFAULT_ENCODER,
    output_stride: int = 16,
    multi_grid: tuple[int, int, int] | None = None,
    aux: bool = False,
    encoder_weights: Weights = None,
    backbone: str | None = None,
) -> DeepLabV3:
    """DeepLab v3 on ``encoder`` (default ResNet-50; any encoder name or an :class:`Encoder`).

    ASPP rates follow ``output_stride`` (6/12/18 at 16, 12/24/36 at 8); ``multi_grid=(1, 2, 4)``
    sets the unit rates of ResNet layer4. See :data:`TORCHVISION_DEEPLABV3_RESNET50`.
    ``backbone``: deprecated alias of ``encoder``.
    """
    built = resolve_encoder(
        encoder_argument(encoder, backbone, model="deeplab_v3"),
        in_channels=in_channels,
        output_stride=output_stride,
        multi_grid=multi_grid,
        weights=encoder_weights,
        model="deeplab_v3",
    )
    return DeepLabV3(
        built, num_classes, in_channels=in_channels, rates=aspp_rates(output_stride), aux=aux
    )
