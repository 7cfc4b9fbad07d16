"""SegNet (Badrinarayanan, Kendall and Cipolla, "SegNet: A Deep Convolutional Encoder-Decoder
Architecture for Image Segmentation", TPAMI 2017): the decoder upsamples with the max-pooling
indices memorised by the encoder (the lecture's "max unpooling"), so it learns no upsampling.

Two registered models:

* ``segnet``: VGG16-BN encoder (13 convs, torchvision keys under ``encoder.features``) and the
  mirrored 13-conv decoder of the authors' ``segnet_train.prototxt`` (SegNet-Tutorial). The
  decoder unpools with the encoder's max-pool indices, so ``encoder=`` takes only encoders that
  provide them (:attr:`Encoder.pool_indices`: VGG16-BN and VGG16).
* ``segnet_basic``: the paper's small model trained from scratch on CamVid (
  ``segnet_basic_train.prototxt``): local response normalisation of the input, 4 encoder levels
  ``[conv 7x7 64 -> BN -> ReLU -> max pool 2x2]``, 4 decoder levels ``[unpool -> conv 7x7 64
  -> BN]`` with no ReLU in the decoder, and a 1x1 classifier.
"""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn import functional as F

from pixelwise.encoders import Encoder, VGGEncoder
from pixelwise.layers.conv_norm_act import ConvNormAct
from pixelwise.layers.upsampling import max_unpool
from pixelwise.models._encoders import DefaultEncoder, EncoderSpec, Weights, resolve_encoder
from pixelwise.models.base import SegmentationModel
from pixelwise.registry import register_model

DEFAULT_ENCODER = DefaultEncoder("vgg16_bn")

# Parameters the paper reports for SegNet ("29.5M"), for the docs and tests.
PAPER_PARAMETERS = 29_500_000

# Decoder convs per stage, deepest stage first: (in, out) of each conv, mirroring VGG16.
_DECODER_STAGES: tuple[tuple[tuple[int, int], ...], ...] = (
    ((512, 512), (512, 512), (512, 512)),
    ((512, 512), (512, 512), (512, 256)),
    ((256, 256), (256, 256), (256, 128)),
    ((128, 128), (128, 64)),
    ((64, 64),),  # followed by the classifier conv (conv1_1_D)
)


class SegNet(SegmentationModel):
    """SegNet with a VGG16-BN encoder (``encoder``: another encoder with pool indices and
    VGG16's channels, e.g. VGG16 without BN).

    Decoder stage ``k`` (deepest first): max-unpool with the encoder's pool-``k`` indices to the
    pre-pool size, then 3x3 ``conv -> BN -> ReLU`` layers mirroring the encoder's block; the
    last block ends with a 3x3 conv to ``num_classes`` logits (the prototxt's ``conv1_1_D``).

    Shapes: ``(N, in_channels, H, W) -> (N, num_classes, H, W)`` for any H, W (the encoder's
    ceil-mode pools and unpooling to the recorded sizes restore odd sizes exactly).
    """

    def __init__(
        self,
        *,
        num_classes: int,
        in_channels: int = 3,
        encoder_weights: Weights = None,
        encoder: Encoder | None = None,
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.in_channels = in_channels
        if encoder is None:
            encoder = VGGEncoder(
                16, batch_norm=True, in_channels=in_channels, weights=encoder_weights
            )
        if not encoder.pool_indices or tuple(encoder.out_channels) != (64, 128, 256, 512, 512):
            raise ValueError(
                "SegNet's decoder mirrors VGG16: the encoder must provide pool indices and "
                f"VGG16's channels, got {type(encoder).__name__} {tuple(encoder.out_channels)}"
            )
        self.encoder = encoder
        self.output_stride = self.encoder.output_stride
        self.decoder = nn.ModuleList(
            nn.Sequential(*(ConvNormAct(c_in, c_out, 3) for c_in, c_out in stage))
            for stage in _DECODER_STAGES
        )
        self.classifier = nn.Conv2d(64, num_classes, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        features, pool_records = self.encoder.forward_with_indices(x)
        for stage, (indices, size) in zip(self.decoder, reversed(pool_records)):
            features = stage(max_unpool(features, indices, size))
        return self.classifier(features)


class _BasicEncoderLevel(nn.Module):
    """``conv 7x7 -> BN -> ReLU -> max pool 2x2`` returning the pooled map, the pool indices and
    the pre-pool size. Shapes: ``(N, C, H, W) -> (N, 64, ceil(H/2), ceil(W/2))``."""

    def __init__(self, in_channels: int, width: int) -> None:
        super().__init__()
        self.conv = ConvNormAct(in_channels, width, 7)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, tuple[int, ...]]:
        features = self.conv(x)
        pooled, indices = F.max_pool2d(features, 2, 2, ceil_mode=True, return_indices=True)
        return pooled, indices, tuple(features.shape[-2:])


class SegNetBasic(SegmentationModel):
    """SegNet-Basic (the paper; the authors' ``segnet_basic_train.prototxt``).

    ``input -> LRN(5, alpha=1e-4, beta=0.75) -> 4 x [conv 7x7 width -> BN -> ReLU -> pool]
    -> 4 x [unpool -> conv 7x7 width -> BN] -> conv 1x1 -> logits``. The convolutions followed
    by BatchNorm have no bias (the prototxt's biases are cancelled by BN's mean subtraction).

    Shapes: ``(N, in_channels, H, W) -> (N, num_classes, H, W)``; output stride 16.
    """

    def __init__(
        self,
        *,
        num_classes: int,
        in_channels: int = 3,
        width: int = 64,
        depth: int = 4,
        input_lrn: bool = True,
    ) -> None:
        super().__init__()
        if depth < 1 or width < 1:
            raise ValueError(f"depth and width must be >= 1, got depth={depth}, width={width}")
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.output_stride = 2**depth
        self.input_norm = (
            nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75) if input_lrn else nn.Identity()
        )
        self.encoder = nn.ModuleList(
            _BasicEncoderLevel(in_channels if level == 0 else width, width)
            for level in range(depth)
        )
        self.decoder = nn.ModuleList(ConvNormAct(width, width, 7, act=None) for _ in range(depth))
        self.classifier = nn.Conv2d(width, num_classes, 1)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):  # the prototxt's "msra" filler
                nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")

    def forward(self, x: Tensor) -> Tensor:
        features = self.input_norm(x)
        pool_records: list[tuple[Tensor, tuple[int, ...]]] = []
        for level in self.encoder:
            features, indices, size = level(features)
            pool_records.append((indices, size))
        for conv, (indices, size) in zip(self.decoder, reversed(pool_records)):
            features = conv(max_unpool(features, indices, size))
        return self.classifier(features)


@register_model(
    "segnet",
    paper="Badrinarayanan, Kendall and Cipolla, TPAMI 2017",
    default_encoder=DEFAULT_ENCODER,
)
def build_segnet(
    *,
    num_classes: int,
    in_channels: int = 3,
    encoder: EncoderSpec = DEFAULT_ENCODER,
    encoder_weights: Weights = None,
) -> SegNet:
    """SegNet on ``encoder``: VGG16-BN (the paper), VGG16 or an :class:`Encoder` object with
    pool indices (``forward_with_indices``) and VGG16's channels. ``encoder_weights``: None,
    ``"imagenet"`` or a path to a torchvision state dict (see
    :func:`pixelwise.encoders.load_weights`)."""
    built = resolve_encoder(
        encoder,
        in_channels=in_channels,
        output_stride=32,
        weights=encoder_weights,
        model="segnet",
        strides=(32,),
        pool_indices=True,
    )
    return SegNet(num_classes=num_classes, in_channels=in_channels, encoder=built)


@register_model("segnet_basic", paper="Badrinarayanan, Kendall and Cipolla, TPAMI 2017")
def build_segnet_basic(
    *,
    num_classes: int,
    in_channels: int = 3,
    width: int = 64,
    depth: int = 4,
    input_lrn: bool = True,
) -> SegNetBasic:
    """SegNet-Basic; the defaults are the paper's (64 channels, 4 levels, 7x7 kernels)."""
    return SegNetBasic(
        num_classes=num_classes,
        in_channels=in_channels,
        width=width,
        depth=depth,
        input_lrn=input_lrn,
    )
