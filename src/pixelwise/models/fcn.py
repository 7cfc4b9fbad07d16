"""Fully convolutional networks (Long, Shelhamer and Darrell, "Fully Convolutional Networks for
Semantic Segmentation", CVPR 2015), registered as ``fcn``:

* ``encoder="vgg16"`` (or ``"vgg16_bn"``): FCN-32s/16s/8s. VGG16's fc6/fc7 become a 7x7 and a
  1x1 convolution of ``fc_channels`` (4096), ``score_*`` 1x1 convolutions predict class scores
  from fc7, pool4 and pool3, and 2x transposed convolutions initialised to bilinear
  interpolation (then learned) fuse them; the final x32/x16/x8 upsampling is fixed bilinear.
* ``encoder="resnet50"`` (or any other encoder): torchvision's ``fcn_resnet*``: the encoder
  dilated to ``output_stride`` 8, :class:`FCNHead` on its deepest map (ResNet layer4), an
  optional auxiliary :class:`FCNHead` on the second-deepest (layer3), bilinear upsampling to the
  input size. Attribute names ``backbone``, ``classifier``, ``aux_classifier`` give
  torchvision's state-dict keys.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from pixelwise.encoders import Encoder, VGGEncoder, encoder_info, list_encoders, vgg_fc_to_conv
from pixelwise.models._encoders import (
    DefaultEncoder,
    EncoderSpec,
    Weights,
    encoder_argument,
    resolve_encoder,
)
from pixelwise.models.base import BackboneModel, EncoderHeadModel
from pixelwise.models.heads import FCNHead
from pixelwise.registry import register_model

DEFAULT_ENCODER = DefaultEncoder("vgg16")

Variant = Literal["32s", "16s", "8s"]
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


class FCNVGG(BackboneModel):
    """FCN-32s/16s/8s on VGG16 (paper, Sec. 4 and Fig. 3); ``encoder``: a :class:`VGGEncoder` at
    output stride 32 (default: VGG16 without BN, built here with ``encoder_weights``).

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
        encoder: VGGEncoder | None = None,
        fc_channels: int = 4096,
        dropout: float = 0.5,
        encoder_weights: Weights = None,
    ) -> None:
        super().__init__()
        if encoder is None:
            encoder = VGGEncoder(16, in_channels=in_channels, weights=encoder_weights)
        if not isinstance(encoder, VGGEncoder) or encoder.output_stride != 32:
            raise ValueError("FCNVGG needs a VGGEncoder at output stride 32")
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.variant = variant
        self.output_stride = 32
        self.backbone = encoder
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


class TorchvisionFCN(EncoderHeadModel):
    """torchvision's ``fcn_resnet50/101`` (``torchvision.models.segmentation.fcn``) on any
    encoder.

    ``backbone``: the encoder (torchvision: a ResNet with layer3 and layer4 dilated, output
    stride 8), ``classifier``: ``FCNHead(C_last, num_classes)`` on its deepest map,
    ``aux_classifier``: ``FCNHead(C_second_last, num_classes)`` on the second-deepest when
    ``aux=True``; both bilinearly upsampled to the input size. With ResNet-50, 21 classes and
    the auxiliary head this has 35,322,218 parameters, as torchvision's model.

    Shapes: ``(N, in_channels, H, W) -> (N, num_classes, H, W)`` (a pair in training mode when
    the auxiliary head is on).
    """

    def __init__(
        self, encoder: Encoder, num_classes: int, *, in_channels: int, aux: bool = False
    ) -> None:
        channels = encoder.out_channels
        super().__init__(
            encoder,
            FCNHead(channels[-1], num_classes),
            FCNHead(channels[-2], num_classes) if aux else None,
            num_classes=num_classes,
            in_channels=in_channels,
        )


FCNResNet = TorchvisionFCN  # its name when it took ResNets only


def _is_vgg(encoder: EncoderSpec) -> bool:
    if isinstance(encoder, str):
        return encoder in list_encoders() and encoder_info(encoder).family == "vgg"
    return isinstance(encoder, VGGEncoder)


@register_model(
    "fcn", paper="Long, Shelhamer and Darrell, CVPR 2015", default_encoder=DEFAULT_ENCODER
)
def build_fcn(
    *,
    num_classes: int,
    in_channels: int = 3,
    encoder: EncoderSpec = DEFAULT_ENCODER,
    variant: Variant | None = None,
    output_stride: int | None = None,
    fc_channels: int = 4096,
    dropout: float = 0.5,
    aux: bool = False,
    encoder_weights: Weights = None,
    backbone: str | None = None,
) -> FCNVGG | TorchvisionFCN:
    """FCN. VGG encoders (``"vgg16"``, ``"vgg16_bn"``) build FCN-``variant`` (``"32s"``,
    ``"16s"`` or ``"8s"``, default ``"8s"``) at output stride 32 with ``fc_channels``-wide
    fc6/fc7 and ``dropout``; any other encoder builds torchvision's FCN (an :class:`FCNHead` on
    the deepest map) at ``output_stride`` (default 8), with the auxiliary head when
    ``aux=True``. ``encoder_weights``: None, ``"imagenet"`` or a torchvision state-dict path;
    ``backbone``: deprecated alias of ``encoder``.
    """
    encoder = encoder_argument(encoder, backbone, model="fcn")
    if _is_vgg(encoder):
        if aux:
            raise ValueError(
                "model 'fcn': aux=True needs a non-VGG encoder; the VGG FCN has no auxiliary head"
            )
        if output_stride not in (None, 32):
            raise ValueError(
                f"model 'fcn': VGG encoders build FCN-32s/16s/8s, which fuse pool3/pool4/pool5 "
                f"at output stride 32; got output_stride={output_stride} (a non-VGG encoder "
                "builds the dilated FCN)"
            )
        chosen = variant or "8s"
        if chosen not in _FINAL_STRIDE:
            raise ValueError(f"variant must be '32s', '16s' or '8s'; got {variant!r}")
        if fc_channels < 1:
            raise ValueError(f"fc_channels must be >= 1, got {fc_channels}")
        built = resolve_encoder(
            encoder,
            in_channels=in_channels,
            output_stride=32,
            weights=encoder_weights,
            model="fcn",
            strides=(32,),
        )
        assert isinstance(built, VGGEncoder)
        return FCNVGG(
            num_classes=num_classes,
            in_channels=in_channels,
            variant=chosen,
            encoder=built,
            fc_channels=fc_channels,
            dropout=dropout,
        )
    if fc_channels != 4096 or dropout != 0.5:
        raise ValueError(
            "model 'fcn': fc_channels and dropout apply to VGG encoders only; other encoders "
            "use torchvision's FCNHead"
        )
    if variant is not None:
        raise ValueError(
            f"model 'fcn': variant={variant!r} applies to VGG encoders only; other encoders "
            "upsample their scores directly"
        )
    built = resolve_encoder(
        encoder,
        in_channels=in_channels,
        output_stride=8 if output_stride is None else output_stride,
        weights=encoder_weights,
        model="fcn",
    )
    return TorchvisionFCN(built, num_classes, in_channels=in_channels, aux=aux)
