"""Backbones with torchvision's state-dict keys, following the :class:`Encoder` contract."""

from pixelwise.encoders.base import Encoder, EncoderInfo
from pixelwise.encoders.factory import (
    create_encoder,
    encoder_info,
    encoder_table,
    list_encoders,
)
from pixelwise.encoders.mobilenet import MobileNetV2Encoder
from pixelwise.encoders.resnet import ResNetEncoder
from pixelwise.encoders.vgg import VGGEncoder, vgg_fc_to_conv
from pixelwise.encoders.weights import (
    IMAGENET_URLS,
    TorchvisionEncoder,
    adapt_input_channels,
    load_weights,
)

__all__ = [
    "IMAGENET_URLS",
    "Encoder",
    "EncoderInfo",
    "MobileNetV2Encoder",
    "ResNetEncoder",
    "TorchvisionEncoder",
    "VGGEncoder",
    "adapt_input_channels",
    "create_encoder",
    "encoder_info",
    "encoder_table",
    "list_encoders",
    "load_weights",
    "vgg_fc_to_conv",
]
