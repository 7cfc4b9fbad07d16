"""create_encoder / list_encoders / encoder_info / encoder_table, and the ``tu-`` (timm) names."""

from __future__ import annotations

import sys
import types

import pytest
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from pixelwise import encoders
from pixelwise.encoders import (
    IMAGENET_URLS,
    Encoder,
    EncoderInfo,
    MobileNetV2Encoder,
    ResNetEncoder,
    VGGEncoder,
    create_encoder,
    encoder_info,
    encoder_table,
    list_encoders,
)

NAMES = ["mobilenet_v2", "resnet101", "resnet18", "resnet34", "resnet50", "vgg16", "vgg16_bn"]


def test_list_encoders() -> None:
    assert list_encoders() == NAMES


def test_unknown_name_lists_valid_names() -> None:
    with pytest.raises(KeyError) as error:
        create_encoder("resnet152")
    message = str(error.value)
    assert "resnet152" in message and "'tu-<timm model>'" in message
    assert all(name in message for name in NAMES)
    with pytest.raises(KeyError, match="resnet152"):
        encoder_info("resnet152")


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


def test_encoder_info_of_a_name() -> None:
    info = encoder_info("vgg16_bn")
    assert info == EncoderInfo(
        name="vgg16_bn",
        family="vgg",
        out_channels=(64, 128, 256, 512, 512),
        reductions=(2, 4, 8, 16, 32),
        output_strides=(8, 16, 32),
        multi_grid=False,
        pool_indices=True,
        weights=(("imagenet", IMAGENET_URLS["vgg16_bn"]), info.weights[1]),
    )
    assert info.weights[1][0] == "file"
    assert encoder_info("resnet50").multi_grid and not encoder_info("resnet50").pool_indices
    with pytest.raises(AttributeError):
        info.name = "x"  # type: ignore[misc]


def test_encoder_table_has_a_line_per_name() -> None:
    lines = encoder_table().splitlines()
    assert lines[0].split()[:2] == ["encoder", "family"]
    for name in NAMES:
        (line,) = [line for line in lines if line.split()[0] == name]
        info = encoder_info(name)
        assert line.split()[1] == info.family
        assert ",".join(map(str, info.out_channels)) in line
        assert ("yes" if info.pool_indices else "no") in line.split()
        assert line.endswith("imagenet, file")


class _FakeTimmEncoder(Encoder):
    def __init__(self, in_channels: int, output_stride: int) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.conv = nn.Conv2d(in_channels, 8, 3, stride=4, padding=1)
        self.out_channels = (8, 8)
        self.reductions = (4, output_stride)  # no stride-2 map, as a ConvNeXt

    def forward(self, x: Tensor) -> list[Tensor]:
        first = self.conv(x)
        step = self.output_stride // 4
        return [first, F.avg_pool2d(first, step, ceil_mode=True)]


@pytest.fixture
def fake_timm(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, object]]:
    """``pixelwise.encoders.timm_adapter`` replaced by a stand-in that records its calls and
    supports output strides 32 and 8 only."""
    calls: list[dict[str, object]] = []

    def create_timm_encoder(name: str, **kwargs: object) -> Encoder:
        calls.append({"name": name, **kwargs})
        stride = kwargs["output_stride"]
        if stride == 16:
            raise ValueError(f"timm model {name!r} does not support output_stride=16")
        assert isinstance(stride, int) and isinstance(kwargs["in_channels"], int)
        return _FakeTimmEncoder(kwargs["in_channels"], stride)

    module = types.ModuleType("pixelwise.encoders.timm_adapter")
    module.create_timm_encoder = create_timm_encoder  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "pixelwise.encoders.timm_adapter", module)
    return calls


def test_tu_names_are_built_by_the_timm_adapter(fake_timm: list[dict[str, object]]) -> None:
    encoder = create_encoder("tu-convnext_tiny", in_channels=4, output_stride=8, weights=None)
    assert isinstance(encoder, _FakeTimmEncoder)
    assert fake_timm == [
        {"name": "convnext_tiny", "in_channels": 4, "output_stride": 8, "weights": None}
    ]
    assert "tu-convnext_tiny" not in list_encoders()


def test_encoder_info_of_a_timm_name(fake_timm: list[dict[str, object]]) -> None:
    info = encoder_info("tu-convnext_tiny")
    assert info.family == "timm" and info.out_channels == (8, 8)
    assert info.reductions == (4, 32) and info.output_strides == (8, 32)
    assert not info.multi_grid and not info.pool_indices
    assert {call["output_stride"] for call in fake_timm} == {8, 16, 32}


def test_a_model_on_a_timm_name(fake_timm: list[dict[str, object]]) -> None:
    from pixelwise import create_model

    model = create_model("unet", num_classes=2, encoder="tu-convnext_tiny")
    assert model(torch.randn(1, 3, 19, 23)).shape == (1, 2, 19, 23)
    with pytest.raises(ValueError, match=r"^model 'pspnet': encoder 'tu-x': timm model 'x' does "):
        create_model("pspnet", num_classes=2, encoder="tu-x", output_stride=16)


def test_encoders_command_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    from pixelwise.cli import main

    assert main(["encoders"]) == 0
    assert capsys.readouterr().out.strip() == encoder_table()
