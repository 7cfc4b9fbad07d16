"""ParseNet (Liu, Rabinovich and Berg, "ParseNet: Looking Wider to See Better", ICLR 2016
workshop / arXiv:1506.04579): a fully convolutional VGG16 whose top features are augmented with
their image-level average ("global context"), both L2-normalised with learned scales before
they are concatenated and classified ("early fusion"). ``encoder=`` puts the same head on the
deepest map of any encoder."""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn import functional as F

from pixelwise.encoders import Encoder, VGGEncoder
from pixelwise.layers.image_pooling import GlobalContext
from pixelwise.models._encoders import DefaultEncoder, EncoderSpec, Weights, resolve_encoder
from pixelwise.models.base import BackboneModel
from pixelwise.registry import register_model

DEFAULT_ENCODER = DefaultEncoder("vgg16")


class ParseNet(BackboneModel):
    """ParseNet on the DeepLab-LargeFOV form of VGG16, as the paper's PASCAL VOC model (or on
    ``encoder``, any :class:`Encoder`: fc6 then sees its deepest map).

    Base network (explicitly): VGG16 at output stride 8 (pool4/pool5 3x3 stride 1, conv5
    dilated by 2, see :class:`VGGEncoder`), fc6 reduced to a 3x3 convolution of ``fc_channels``
    (1024) with dilation ``fc6_rate`` (12), fc7 a 1x1 convolution of ``fc_channels``, each
    followed by ReLU and dropout 0.5 (DeepLab-LargeFOV, Chen et al., ICLR 2015).
    Context module on fc7 (:class:`GlobalContext`): global average pool -> L2 norm with a
    learned per-channel scale -> replicate ("unpool") -> concatenate with the L2-normalised
    fc7, giving ``2 * fc_channels`` channels; then a 1x1 classifier and bilinear upsampling
    (``align_corners=False``) to the input size.

    Shapes: ``(N, in_channels, H, W) -> fc7 (N, fc_channels, ceil(H/8), ceil(W/8)) ->
    (N, 2 * fc_channels, ...) -> (N, num_classes, H, W)``.
    """

    def __init__(
        self,
        *,
        num_classes: int,
        in_channels: int = 3,
        fc_channels: int = 1024,
        fc6_rate: int = 12,
        dropout: float = 0.5,
        init_scale: float = 10.0,
        encoder_weights: Weights = None,
        encoder: Encoder | None = None,
    ) -> None:
        super().__init__()
        if fc_channels < 1 or fc6_rate < 1:
            raise ValueError(
                f"fc_channels and fc6_rate must be >= 1, got {fc_channels} and {fc6_rate}"
            )
        self.num_classes = num_classes
        self.in_channels = in_channels
        if encoder is None:
            encoder = VGGEncoder(
                16, in_channels=in_channels, output_stride=8, weights=encoder_weights
            )
        self.backbone = encoder
        self.output_stride = self.backbone.output_stride
        top_channels = encoder.out_channels[-1]
        self.fc6 = nn.Conv2d(top_channels, fc_channels, 3, padding=fc6_rate, dilation=fc6_rate)
        self.fc7 = nn.Conv2d(fc_channels, fc_channels, 1)
        self.drop6 = nn.Dropout(dropout)
        self.drop7 = nn.Dropout(dropout)
        self.context = GlobalContext(fc_channels, init_scale=init_scale)
        self.classifier = nn.Conv2d(self.context.out_channels, num_classes, 1)

    def scores(self, pool5: Tensor) -> Tensor:
        """Class scores at the encoder's output stride from its last map: fc6 -> fc7 -> context
        -> classifier. Shapes: ``(N, 512, h, w) -> (N, num_classes, h, w)`` on VGG16."""
        features = self.drop6(F.relu(self.fc6(pool5)))
        features = self.drop7(F.relu(self.fc7(features)))
        return self.classifier(self.context(features))

    def forward(self, x: Tensor) -> Tensor:
        scores = self.scores(self.backbone(x)[-1])
        return F.interpolate(scores, size=x.shape[-2:], mode="bilinear", align_corners=False)


@register_model(
    "parsenet",
    paper="Liu, Rabinovich and Berg, arXiv:1506.04579, 2015",
    default_encoder=DEFAULT_ENCODER,
)
def build_parsenet(
    *,
    num_classes: int,
    in_channels: int = 3,
    encoder: EncoderSpec = DEFAULT_ENCODER,
    output_stride: int = 8,
    fc_channels: int = 1024,
    fc6_rate: int = 12,
    dropout: float = 0.5,
    init_scale: float = 10.0,
    encoder_weights: Weights = None,
) -> ParseNet:
    """ParseNet (DeepLab-LargeFOV fc6/fc7, global context on fc7) on ``encoder`` (VGG16 as in
    the paper, any encoder name or an :class:`Encoder`) at ``output_stride`` (8 as in the
    paper). ``init_scale`` is the initial L2-norm scale of both branches; ``encoder_weights``:
    None, ``"imagenet"`` or a torchvision state-dict path."""
    built = resolve_encoder(
        encoder,
        in_channels=in_channels,
        output_stride=output_stride,
        weights=encoder_weights,
        model="parsenet",
    )
    return ParseNet(
        num_classes=num_classes,
        in_channels=in_channels,
        fc_channels=fc_channels,
        fc6_rate=fc6_rate,
        dropout=dropout,
        init_scale=init_scale,
        encoder=built,
    )
