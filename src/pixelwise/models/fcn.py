"""Fully convolutional networks (Long, Shelhamer and Darrell, "Fully Convolutional Networks for
Semantic Segmentation", CVPR 2015), registered as ``fcn``:

* ``backbone="vgg16"`` (or ``"vgg16_bn"``): FCN-32s/16s/8s. VGG16's fc6/fc7 become a 7x7 and a
  1x1 convolution of ``fc_channels`` (4096), ``score_*`` 1x1 convolutions predict class scores
  from fc7, pool4 and pool3, and 2x transposed convolutions initialised to bilinear
  interpolation (then learned) fuse them; the final x32/x16/x8 upsampling is fixed bilinear.
* ``backbone="resnet50"`` (or 18/34/101): torchvision's ``fcn_resnet*``: a ResNet dilated to
  output stride 8, :class:`FCNHead` on layer4, an optional auxiliary :class:`FCNHead` on layer3,
  bilinear upsampling to the input size. Attribute names ``backbone``, ``classifier``,
  ``aux_classifier`` give torchvision's state-dict keys.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from pixelwise.encoders import VGGEncoder, create_encoder, vgg_fc_to_conv
from pixelwise.models.base import EncoderHeadModel, SegmentationModel
from pixelwise.models.heads import FCNHead
from pixelwise.registry import register_model

Variant = Literal["32s", "16s", "8s"]
VGG_BACKBONES = ("vgg16", "vgg16_bn")
RESNET_BACKBONES = ("resnet18", "resnet34", "resnet50", "resnet101")
_FINAL_STRIDE = {"32s": 32, "16s": 16, "8s": 8}


def bilinear_kernel(size: int) -> Tensor:
    """2-D bilinear interpolation kernel of side ``size`` (FCN's ``surgery.upsample_filt``):
    a transposed convolution with this kernel, stride ``(size + 1) // 2`` interpolates
    bilinearly. ``bilinear_kernel(4)`` is the outer product of ``[.25, .75, .75, .25]``."""
    factor = (size + 1) // 2
    center = factor - 1 if size % 2 == 1 else factor - 0.5
    taps = 1 - (torch.arange(size, dtype=torch.float64) - center).abs() / factor
    return torch.outer(taps, taps).float()


def bilinear_transposed_conv(channels: int) -> nn.ConvTranspose2d:
    """A learnable 2x upsampling ``ConvTranspose2d(channels, channels, 4, stride 2, pad 1)``
    without bias, initialised so that each channel is upsampled bilinearly on its own (FCN's
    ``upscore2``/``upscore_pool4``). Shapes: ``(N, C, H, W) -> (N, C, 2H, 2W)``."""
    deconv = nn.ConvTranspose2d(channels, channels, 4, stride=2, padding=1, bias=False)
    with torch.no_grad():
        deconv.weight.zero_()
        kernel = bilinear_kernel(4)
        for channel in range(channels):
            deconv.weight[channel, channel] = kernel
    return deconv


class FCNVGG(SegmentationModel):
    """FCN-32s/16s/8s on VGG16 (paper, Sec. 4 and Fig. 3).

    Departures from the Caffe models, both for inputs of any size: fc6 uses "same" padding 3
    instead of the 100-pixel padding of conv1_1 plus crop layers, and the encoder's pools
    round up (ceil mode), so every score map is aligned with its skip at offset 0 and each
    upsampled map is cut to the skip's size. With this padding, a stride-2 transposed conv
    with kernel 4 and padding 1 maps the centre of coarse cell ``j`` exactly onto fine
    position ``2j + 0.5``, the centre of the cells it covers. The final upsampling is bilinear
    interpolation (``align_corners=False``), which equals the paper's fixed bilinear
    deconvolution away from the border and replicates the edge instead of zero-padding it.

    Shapes: ``(N, in_channels, H, W) -> (N, num_classes, H, W)``.
    """

    def __init__(
        self,
        *,
        num_classes: int,
        in_channels: int = 3,
        variant: Variant = "8s",
        backbone: str = "vgg16",
        fc_channels: int = 4096,
        dropout: float = 0.5,
        encoder_weights: str | None = None,
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.variant = variant
        self.output_stride = 32
        self.backbone = VGGEncoder(
            16, batch_norm=backbone == "vgg16_bn", in_channels=in_channels, weights=encoder_weights
        )
        self.fc6 = nn.Conv2d(512, fc_channels, 7, padding=3)
        self.fc7 = nn.Conv2d(fc_channels, fc_channels, 1)
        self.drop6 = nn.Dropout(dropout)
        self.drop7 = nn.Dropout(dropout)
        self.score_fr = nn.Conv2d(fc_channels, num_classes, 1)
        self.score_pool4: nn.Conv2d | None = None
        self.upscore2: nn.ConvTranspose2d | None = None
        self.score_pool3: nn.Conv2d | None = None
        self.upscore_pool4: nn.ConvTranspose2d | None = None
        if variant in ("16s", "8s"):
            self.score_pool4 = nn.Conv2d(512, num_classes, 1)
            self.upscore2 = bilinear_transposed_conv(num_classes)
        if variant == "8s":
            self.score_pool3 = nn.Conv2d(256, num_classes, 1)
            self.upscore_pool4 = bilinear_transposed_conv(num_classes)
        # As in the paper, the class scoring layers start at zero.
        for score in (self.score_fr, self.score_pool4, self.score_pool3):
            if score is not None:
                nn.init.zeros_(score.weight)
                assert score.bias is not None  # the scoring convs are built with a bias
                nn.init.zeros_(score.bias)

    def load_vgg_classifier(self, state_dict: dict[str, Tensor]) -> None:
        """Load torchvision VGG16's fc6/fc7 (``classifier.0``/``classifier.3``) into the
        convolutional fc6/fc7 with :func:`vgg_fc_to_conv` (needs ``fc_channels=4096``)."""
        converted = vgg_fc_to_conv(state_dict)
        self.fc6.load_state_dict({"weight": converted["fc6.weight"], "bias": converted["fc6.bias"]})
        self.fc7.load_state_dict({"weight": converted["fc7.weight"], "bias": converted["fc7.bias"]})

    def forward(self, x: Tensor) -> Tensor:
        pool1, pool2, pool3, pool4, pool5 = self.backbone(x)
        del pool1, pool2
        features = self.drop6(F.relu(self.fc6(pool5)))
        features = self.drop7(F.relu(self.fc7(features)))
        scores = self.score_fr(features)
        if self.score_pool4 is not None and self.upscore2 is not None:
            skip = self.score_pool4(pool4)
            scores = self.upscore2(scores)[..., : skip.shape[-2], : skip.shape[-1]] + skip
        if self.score_pool3 is not None and self.upscore_pool4 is not None:
            skip = self.score_pool3(pool3)
            scores = self.upscore_pool4(scores)[..., : skip.shape[-2], : skip.shape[-1]] + skip
        factor = _FINAL_STRIDE[self.variant]
        logits = F.interpolate(scores, scale_factor=factor, mode="bilinear", align_corners=False)
        return logits[..., : x.shape[-2], : x.shape[-1]]


class FCNResNet(EncoderHeadModel):
    """torchvision's ``fcn_resnet50/101`` (``torchvision.models.segmentation.fcn``).

    ``backbone``: ResNet with layer3 and layer4 dilated (output stride 8), ``classifier``:
    ``FCNHead(C4, num_classes)`` on layer4, ``aux_classifier``: ``FCNHead(C3, num_classes)`` on
    layer3 when ``aux=True``; both bilinearly upsampled to the input size. With ResNet-50, 21
    classes and the auxiliary head this has 35,322,218 parameters, as torchvision's model.

    Shapes: ``(N, in_channels, H, W) -> (N, num_classes, H, W)`` (a pair in training mode when
    the auxiliary head is on).
    """

    def __init__(
        self,
        *,
        num_classes: int,
        in_channels: int = 3,
        backbone: str = "resnet50",
        aux: bool = False,
        encoder_weights: str | None = None,
    ) -> None:
        encoder = create_encoder(
            backbone, in_channels=in_channels, output_stride=8, weights=encoder_weights
        )
        channels = encoder.out_channels
        super().__init__(
            encoder,
            FCNHead(channels[-1], num_classes),
            FCNHead(channels[-2], num_classes) if aux else None,
            num_classes=num_classes,
            in_channels=in_channels,
        )


@register_model("fcn", paper="Long, Shelhamer and Darrell, CVPR 2015", default_backbone="vgg16")
def build_fcn(
    *,
    num_classes: int,
    in_channels: int = 3,
    backbone: str = "vgg16",
    variant: Variant | None = None,
    fc_channels: int = 4096,
    dropout: float = 0.5,
    aux: bool = False,
    encoder_weights: str | None = None,
) -> FCNVGG | FCNResNet:
    """FCN. VGG backbones (``"vgg16"``, ``"vgg16_bn"``) build FCN-``variant`` (``"32s"``,
    ``"16s"`` or ``"8s"``, default ``"8s"``) with ``fc_channels``-wide fc6/fc7 and ``dropout``;
    ResNet backbones (``"resnet18"``, ``"resnet34"``, ``"resnet50"``, ``"resnet101"``) build
    torchvision's dilated FCN, with the auxiliary head when ``aux=True``.
    ``encoder_weights``: None, ``"imagenet"`` or a torchvision state-dict path.
    """
    if backbone in VGG_BACKBONES:
        if aux:
            raise ValueError("aux=True needs a ResNet backbone; the VGG FCN has no auxiliary head")
        chosen = variant or "8s"
        if chosen not in _FINAL_STRIDE:
            raise ValueError(f"variant must be '32s', '16s' or '8s'; got {variant!r}")
        if fc_channels < 1:
            raise ValueError(f"fc_channels must be >= 1, got {fc_channels}")
        return FCNVGG(
            num_classes=num_classes,
            in_channels=in_channels,
            variant=chosen,
            backbone=backbone,
            fc_channels=fc_channels,
            dropout=dropout,
            encoder_weights=encoder_weights,
        )
    if backbone in RESNET_BACKBONES:
        if fc_channels != 4096 or dropout != 0.5:
            raise ValueError(
                "fc_channels and dropout apply to VGG backbones only; the ResNet FCN uses "
                "torchvision's FCNHead"
            )
        if variant is not None:
            raise ValueError(
                f"variant={variant!r} applies to VGG backbones only; the ResNet FCN upsamples "
                "its stride-8 scores directly"
            )
        return FCNResNet(
            num_classes=num_classes,
            in_channels=in_channels,
            backbone=backbone,
            aux=aux,
            encoder_weights=encoder_weights,
        )
    valid = ", ".join(VGG_BACKBONES + RESNET_BACKBONES)
    raise ValueError(f"unknown FCN backbone {backbone!r}; choose one of {valid}")
