"""The ``encoder=`` contract of the models: names and Encoder objects, the deprecated
``backbone=`` alias, ``model.encoder``, one-line errors, encoders without a stride-2 map."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import Tensor, nn

from pixelwise import create_model, list_models, model_info, validate_model_options
from pixelwise.encoders import Encoder, create_encoder
from pixelwise.models._encoders import resolve_encoder
from pixelwise.models.deeplab_v3 import build_deeplab_v3
from pixelwise.models.encoder_unet import EncoderUNet

ENCODER_MODELS = [name for name in list_models() if name != "segnet_basic"]
# Built-in contracting paths that are not Encoder objects (see SegmentationModel's docstring).
BUILT_IN_ENCODER = {"unet": type(None), "resunet": nn.ModuleList, "segnet_basic": nn.ModuleList}


class ToyEncoder(Encoder):
    """A tiny encoder with any reductions, e.g. ConvNeXt's (4, 8, 16, 32) with no stride-2 map;
    strides between maps that repeat a reduction (dilated) are 1."""

    def __init__(
        self, reductions: tuple[int, ...] = (4, 8, 16, 32), *, in_channels: int = 3
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.reductions = reductions
        self.out_channels = tuple(8 * (index + 1) for index in range(len(reductions)))
        stages, previous, reduction = [], in_channels, 1
        for channels, target in zip(self.out_channels, reductions):
            stride = target // reduction
            stages.append(nn.Conv2d(previous, channels, stride + 2 - stride % 2, stride, 1))
            previous, reduction = channels, target
        self.stages = nn.ModuleList(stages)

    def forward(self, x: Tensor) -> list[Tensor]:
        features = []
        for stage in self.stages:
            x = torch.relu(stage(x))
            features.append(x)
        return features


@pytest.mark.parametrize("name", list_models())
def test_every_model_exposes_its_encoder(name: str) -> None:
    with torch.device("meta"):
        model = create_model(name, num_classes=3)
    expected = BUILT_IN_ENCODER.get(name, Encoder)
    assert isinstance(model.encoder, expected), type(model.encoder)
    if hasattr(model, "backbone"):
        assert model.encoder is model.backbone  # torchvision's name kept for the keys
    assert (model_info(name).default_encoder is None) == (name in BUILT_IN_ENCODER)


def test_backbone_is_a_deprecated_alias_of_encoder() -> None:
    torch.manual_seed(0)
    with pytest.warns(DeprecationWarning, match=r"'deeplab_v3': backbone= is deprecated; use "):
        old = create_model("deeplab_v3", num_classes=2, backbone="resnet18")
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        new = create_model("deeplab_v3", num_classes=2, encoder="resnet18")
    assert old.state_dict().keys() == new.state_dict().keys()
    for key, value in new.state_dict().items():
        torch.testing.assert_close(old.state_dict()[key], value, rtol=0, atol=0)
    # Saved configs keep validating (and checking types) without building anything.
    validate_model_options("pspnet", {"backbone": "resnet18"})


@pytest.mark.parametrize("encoder", ["resnet50", "resnet18"])
def test_encoder_and_backbone_together_is_an_error(encoder: str) -> None:
    with pytest.raises(ValueError, match=r"give encoder= only .*got both encoder '"):
        create_model("fcn", num_classes=2, encoder=encoder, backbone="resnet18")


def test_an_encoder_object_is_used_as_given() -> None:
    encoder = create_encoder("resnet18", in_channels=4, output_stride=16, multi_grid=(1, 2))
    model = create_model("deeplab_v3plus", num_classes=2, in_channels=4, encoder=encoder)
    assert model.encoder is encoder and model.output_stride == 16
    assert model.skip_index == 1  # ResNet layer1, the first stride-4 map
    assert model(torch.randn(1, 4, 33, 45)).shape == (1, 2, 33, 45)


GIVEN = r"^model 'deeplab_v3': the given ResNetEncoder "


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"output_stride": 8}, GIVEN + r"has output_stride 16 .* or pass output_stride=16$"),
        ({"in_channels": 3}, GIVEN + r"takes 4 input channels but in_channels=3; build it"),
        ({"encoder_weights": "imagenet"}, r"^model 'deeplab_v3': encoder_weights applies to"),
        ({"multi_grid": (1, 2, 4)}, r"^model 'deeplab_v3': multi_grid applies to encoder names"),
    ],
)
def test_encoder_object_that_does_not_fit(options: dict[str, object], message: str) -> None:
    encoder = create_encoder("resnet18", in_channels=4, output_stride=16)
    kwargs = {"in_channels": 4, "output_stride": 16, **options}
    with pytest.raises(ValueError, match=message):
        create_model("deeplab_v3", num_classes=2, encoder=encoder, **kwargs)


def test_not_an_encoder_is_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"'deeplab_v3': encoder must be an encoder name"):
        build_deeplab_v3(num_classes=2, encoder=nn.Conv2d(3, 3, 1))  # type: ignore[arg-type]


def test_segnet_needs_pool_indices() -> None:
    with pytest.raises(ValueError) as error:
        create_model("segnet", num_classes=2, encoder="resnet50")
    assert str(error.value) == (
        "model 'segnet': encoder 'resnet50' provides no max-pool indices (forward_with_indices), "
        "which the unpooling decoder of segnet needs; encoders that do: vgg16, vgg16_bn"
    )
    with pytest.raises(ValueError, match="the given ToyEncoder provides no max-pool indices"):
        create_model("segnet", num_classes=2, encoder=ToyEncoder((2, 4, 8, 16, 32)))
    with torch.device("meta"):
        model = create_model("segnet", num_classes=2, encoder="vgg16")
    assert not model.encoder.batch_norm and model.encoder.pool_indices


def test_unknown_encoder_names_the_model_and_the_choices() -> None:
    with pytest.raises(ValueError) as error:
        create_model("unet", num_classes=2, encoder="resnet152")
    assert str(error.value) == (
        "model 'unet': unknown encoder 'resnet152'; choose one of mobilenet_v2, resnet101, "
        "resnet18, resnet34, resnet50, vgg16, vgg16_bn or 'tu-<timm model>' (needs timm)"
    )


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("unet", {"encoder_weights": "imagenet"}, "encoder_weights and decoder_channels need"),
        ("resunet", {"decoder_channels": (8, 8)}, "encoder_weights and decoder_channels need"),
        ("unet", {"encoder": "resnet18", "padding": "valid"}, "depth, base_channels and padding"),
        ("resunet", {"encoder": "resnet18", "base_channels": 8}, "base_channels applies to the"),
        ("unet", {"encoder": "resnet18", "decoder_channels": (8, 8)}, "must hold 4 positive"),
        ("deeplab_v3plus", {"encoder": ToyEncoder((8, 16))}, "needs a stride-4 feature map"),
    ],
)
def test_options_that_do_not_apply_are_explained(
    name: str, options: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        create_model(name, num_classes=2, **options)


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("unet", {"decoder_channels": (16, 8, 8)}),
        ("unet", {"upsampling": "bilinear", "batch_norm": False}),
        ("resunet", {}),
        ("deeplab_v3plus", {"output_stride": 32}),
        ("deeplab_v3", {"aux": True, "output_stride": 32}),
        ("pspnet", {"aux": True, "output_stride": 32}),
        ("fcn", {"output_stride": 32}),
        ("parsenet", {"output_stride": 32}),
    ],
)
def test_an_encoder_without_a_stride_2_map(name: str, options: dict[str, object]) -> None:
    """ConvNeXt-like reductions (4, 8, 16, 32), odd sizes that the encoder does not divide:
    logits at the input size and gradients into the encoder."""
    torch.manual_seed(0)
    encoder = ToyEncoder()
    model = create_model(name, num_classes=3, encoder=encoder, **options).train()
    if isinstance(model, EncoderUNet):
        assert len(model.decoder) == 3
    output = model(torch.randn(2, 3, 45, 61))
    logits = output[0] if isinstance(output, tuple) else output
    assert logits.shape == (2, 3, 45, 61)
    logits.square().mean().backward()
    assert encoder.stages[0].weight.grad is not None and encoder.stages[0].weight.grad.any()


def test_resolve_encoder_checks_the_output_strides_of_the_model() -> None:
    with pytest.raises(ValueError, match=r"^model 'deeplab_v1': output_stride must be 8, got 16$"):
        resolve_encoder("vgg16", in_channels=3, output_stride=16, model="deeplab_v1", strides=(8,))
    encoder = resolve_encoder("mobilenet_v2", in_channels=2, output_stride=8)
    assert encoder.in_channels == 2 and encoder.reductions == (2, 4, 8, 8, 8)
