"""timm encoders (``create_timm_encoder``, ``encoder="tu-<name>"``): timm's ResNet-50 against
pixelwise's, the Encoder contract for a CNN and ConvNeXt, output strides, local weights, errors,
and every encoder-based model training one step on a timm encoder.

Every test here needs timm (and torchvision): they are marked ``timm``, which the default
pytest run deselects; ``.ci/run`` runs them in the second environment (``.venv-timm``) with
``python -m pytest -m timm``. timm is imported inside the tests, so the file is collected
without it.
"""

from __future__ import annotations

import importlib
import math
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import Tensor, nn

import pixelwise
from pixelwise.encoders import adapt_input_channels, create_encoder
from pixelwise.encoders.timm_adapter import TimmEncoder, create_timm_encoder
from pixelwise.outputs import main_logits

pytestmark = pytest.mark.timm

ENCODER_MODELS = (
    "fcn",
    "unet",
    "resunet",
    "parsenet",
    "deeplab_v1",
    "deeplab_v2",
    "deeplab_v3",
    "deeplab_v3plus",
    "pspnet",
)


@pytest.fixture(scope="module")
def timm() -> Any:
    return importlib.import_module("timm")


def _randomise(module: nn.Module, seed: int) -> None:
    """Random weights everywhere, BatchNorm statistics and affine parameters included, so that
    equal outputs mean equal computations (default BN is nearly the identity in eval mode)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for submodule in module.modules():
            if isinstance(submodule, nn.BatchNorm2d):
                size = submodule.num_features
                submodule.weight.copy_(0.5 + 0.5 * torch.rand(size, generator=generator))
                submodule.bias.copy_(0.1 * torch.randn(size, generator=generator))
                assert submodule.running_mean is not None and submodule.running_var is not None
                submodule.running_mean.copy_(0.1 * torch.randn(size, generator=generator))
                submodule.running_var.copy_(0.5 + torch.rand(size, generator=generator))


def _shapes(features: list[Tensor]) -> list[tuple[int, ...]]:
    return [tuple(feature.shape) for feature in features]


def _expected_shapes(
    encoder: TimmEncoder, batch: int, height: int, width: int
) -> list[tuple[int, ...]]:
    return [
        (batch, channels, math.ceil(height / reduction), math.ceil(width / reduction))
        for channels, reduction in zip(encoder.out_channels, encoder.reductions)
    ]


# --- timm's ResNet-50 computes what pixelwise's does --------------------------------------


@pytest.mark.parametrize("output_stride", [32, 16, 8])
def test_resnet50_matches_pixelwise(output_stride: int) -> None:
    """Same (random) weights, torchvision key names on both sides: timm's ResNet-50 feature maps
    equal pixelwise's at output stride 32, and at 8, where both dilate layer3/layer4 by the
    same rule (the strided conv keeps the previous rate)."""
    torch.manual_seed(0)
    reference = create_encoder("resnet50", output_stride=output_stride)
    _randomise(reference, seed=1)
    encoder = create_timm_encoder("resnet50", output_stride=output_stride)
    encoder.model.load_state_dict(reference.state_dict(), strict=True)  # identical key names
    assert encoder.out_channels == reference.out_channels
    assert encoder.reductions == reference.reductions
    reference.eval()
    encoder.eval()
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected, actual = reference(x), encoder(x)
    assert _shapes(actual) == _shapes(expected)
    differences = [(a - e).abs().max().item() for a, e in zip(actual, expected)]
    largest = max(e.abs().max().item() for e in expected)
    print(f"OS {output_stride}: max abs diff {max(differences):.1e} (max |value| {largest:.2f})")
    assert max(differences) < 1e-5


# --- the Encoder contract -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "reductions"),
    [
        ("resnet18", (2, 4, 8, 16, 32)),
        ("efficientnet_b0", (2, 4, 8, 16, 32)),
        ("convnext_tiny", (4, 8, 16, 32)),  # no stride-2 map
    ],
)
def test_channels_reductions_and_shapes(timm: Any, name: str, reductions: tuple[int, ...]) -> None:
    encoder = create_timm_encoder(name, in_channels=4)
    with torch.device("meta"):
        reference = timm.create_model(name, features_only=True)
    assert encoder.out_channels == tuple(reference.feature_info.channels())
    assert encoder.reductions == tuple(reference.feature_info.reduction()) == reductions
    assert encoder.output_stride == 32 and encoder.in_channels == 4
    # Sizes divisible by 32: below that, the rounding of odd sizes is the model's own (ConvNeXt's
    # 2x2 stride-2 downsampling floors, ResNet's padded 3x3 convs ceil).
    features = encoder(torch.randn(2, 4, 64, 96))
    assert _shapes(features) == _expected_shapes(encoder, 2, 64, 96)
    assert all(torch.isfinite(feature).all() for feature in features)


@pytest.mark.parametrize(
    ("name", "output_stride", "reductions"),
    [
        ("resnet18", 16, (2, 4, 8, 16, 16)),
        ("resnet18", 8, (2, 4, 8, 8, 8)),
        ("convnext_tiny", 16, (4, 8, 16, 16)),
    ],
)
def test_output_stride(name: str, output_stride: int, reductions: tuple[int, ...]) -> None:
    encoder = create_timm_encoder(name, output_stride=output_stride)
    assert encoder.reductions == reductions and encoder.output_stride == output_stride
    assert _shapes(encoder(torch.randn(1, 3, 64, 64))) == _expected_shapes(encoder, 1, 64, 64)


@pytest.mark.parametrize("name", ["densenet121", "vit_tiny_patch16_224"])
def test_unsupported_output_stride_is_a_one_line_error(name: str) -> None:
    with pytest.raises(ValueError, match=rf"'{name}'.*output_stride=16.*output_stride 32") as info:
        create_timm_encoder(name, output_stride=16)
    assert "\n" not in str(info.value)


# --- weights ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["resnet18", "convnext_tiny"])
def test_local_weights_adapt_the_first_conv(timm: Any, name: str, tmp_path: Path) -> None:
    """A state dict of timm's classifier (any class count: the classifier is dropped) loads
    strictly; with 4 bands the first conv is ``adapt_input_channels`` of the file's; with 3
    bands the maps equal those of timm's own loader (``pretrained_cfg_overlay=dict(file=)``)."""
    torch.manual_seed(0)
    source = timm.create_model(name, num_classes=10)
    _randomise(source, seed=3)
    path = tmp_path / f"{name}.pth"
    torch.save(source.state_dict(), path)
    first_conv = source.pretrained_cfg["first_conv"] + ".weight"
    source_state = source.state_dict()

    encoder = create_timm_encoder(name, in_channels=4, weights=path)
    loaded = encoder.model.state_dict()
    flat_first_conv = first_conv if first_conv in loaded else first_conv.replace(".", "_", 1)
    assert torch.equal(loaded[flat_first_conv], adapt_input_channels(source_state[first_conv], 4))
    assert len(loaded) > 10
    for key, value in loaded.items():  # every other tensor is the file's (keys may be flattened)
        if key != flat_first_conv:
            source_key = key if key in source_state else key.replace("_", ".", 1)
            assert torch.equal(value, source_state[source_key]), key
    assert _shapes(encoder(torch.randn(2, 4, 64, 64))) == _expected_shapes(encoder, 2, 64, 64)

    rgb = create_timm_encoder(name, weights=str(path)).eval()
    reference = timm.create_model(
        name, features_only=True, pretrained=True, pretrained_cfg_overlay={"file": str(path)}
    ).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for actual, expected in zip(rgb(x), reference(x)):
            assert torch.equal(actual, expected)


def test_local_weights_are_strict(timm: Any, tmp_path: Path) -> None:
    state = timm.create_model("resnet18").state_dict()
    missing, unexpected = dict(state), dict(state)
    del missing["layer2.0.conv1.weight"]
    unexpected["layer1.2.conv1.weight"] = state["layer1.1.conv1.weight"]
    for label, broken in (("missing", missing), ("unexpected", unexpected)):
        path = tmp_path / f"{label}.pth"
        torch.save(broken, path)
        with pytest.raises(RuntimeError, match=label):
            create_timm_encoder("resnet18", weights=path)
    with pytest.raises(FileNotFoundError, match="neither 'imagenet'"):
        create_timm_encoder("resnet18", weights=tmp_path / "absent.pth")


def test_imagenet_download_failure_says_network_and_local_file(
    timm: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = timm.create_model

    def offline(name: str, pretrained: bool = False, **kwargs: Any) -> Any:
        if pretrained:
            raise OSError("Temporary failure in name resolution")
        return original(name, pretrained=False, **kwargs)

    monkeypatch.setattr(timm, "create_model", offline)
    with pytest.raises(RuntimeError, match=r"needs the network.*local path as weights="):
        create_timm_encoder("resnet18", weights="imagenet")


# --- errors -------------------------------------------------------------------------------


def test_missing_timm_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "timm", None)  # "import timm" now raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'pixelwise\[timm\]'.*torchvision"):
        create_timm_encoder("resnet18")


def test_unknown_model_and_reserved_options() -> None:
    with pytest.raises(KeyError, match="no_such_net"):
        create_timm_encoder("no_such_net")
    with pytest.raises(ValueError, match="in_channels"):
        create_timm_encoder("resnet18", in_chans=4)


# --- through the factory and the models -----------------------------------------------------


def test_factory_builds_tu_names() -> None:
    encoder = create_encoder("tu-resnet18", in_channels=4, output_stride=16)
    assert isinstance(encoder, TimmEncoder) and encoder.name == "resnet18"
    assert encoder.in_channels == 4 and encoder.reductions == (2, 4, 8, 16, 16)


@pytest.mark.parametrize("encoder", ["tu-resnet18", "tu-convnext_atto"])
@pytest.mark.parametrize("model_name", ENCODER_MODELS)
def test_model_trains_one_step_on_a_timm_encoder(model_name: str, encoder: str) -> None:
    torch.manual_seed(0)
    model = pixelwise.create_model(model_name, num_classes=3, encoder=encoder)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randn(2, 3, 64, 64)
    target = torch.randint(0, 3, (2, 64, 64))
    logits = main_logits(model(x))
    assert logits.shape == (2, 3, 64, 64)
    loss = nn.functional.cross_entropy(logits, target)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    assert torch.isfinite(loss)
