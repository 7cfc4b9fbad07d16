"""create_encoder / list_encoders."""

from __future__ import annotations

import pytest

from pixelwise import encoders
from pixelwise.encoders import (
    Encoder,
    MobileNetV2Encoder,
    ResNetEncoder,
    VGGEncoder,
    create_encoder,
    list_encoders,
)

NAMES = ["mobilenet_v2", "resnet101", "resnet18", "resnet34", "resnet50", "vgg16", "vgg16_bn"]


def test_list_encoders() -> None:
    assert list_encoders() == NAMES


def test_unknown_name_lists_valid_names() -> None:
    with pytest.raises(KeyError) as error:
        create_encoder("resnet152")
    message = str(error.value)
    assert "resnet152" in message
    assert all(name in message for name in NAMES)


def test_create_encoder_builds_the_right_class() -> None:
    resnet = create_encoder("resnet34", in_channels=4, output_stride=16, multi_grid=(1, 2, 4))
    assert isinstance(resnet, ResNetEncoder) and resnet.depth == 34
    assert resnet.conv1.in_channels == 4 and resnet.output_stride == 16
    assert resnet.multi_grid == (1, 2, 4)
    vgg = create_encoder("vgg16_bn", output_stride=8)
    assert isinstance(vgg, VGGEncoder) and vgg.batch_norm and vgg.output_stride == 8
    assert not create_encoder("vgg16").batch_norm
    mobilenet = create_encoder("mobilenet_v2", in_channels=1)
    assert isinstance(mobilenet, MobileNetV2Encoder) and isinstance(mobilenet, Encoder)
    with pytest.raises(TypeError):
        create_encoder("vgg16", multi_grid=(1, 2, 4))


def test_package_exports() -> None:
    for name in encoders.__all__:
        assert hasattr(encoders, name), name
