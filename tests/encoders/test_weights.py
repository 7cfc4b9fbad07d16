"""Pretrained weights: local files, the torch.hub path (mocked), first-conv adaptation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from pixelwise.encoders import IMAGENET_URLS, adapt_input_channels, create_encoder
from pixelwise.encoders.weights import imagenet_state_dict
from torchvision_fixtures import ENCODER_NAMES, random_state_dict, torchvision_shapes

# torchvision's IMAGENET1K_V1 files (torchvision.models.*_Weights.IMAGENET1K_V1.url).
TORCHVISION_FILES = {
    "resnet18": "resnet18-f37072fd.pth",
    "resnet34": "resnet34-b627a593.pth",
    "resnet50": "resnet50-0676ba61.pth",
    "resnet101": "resnet101-63fe2227.pth",
    "vgg16": "vgg16-397923af.pth",
    "vgg16_bn": "vgg16_bn-6c64b313.pth",
    "mobilenet_v2": "mobilenet_v2-b0353104.pth",
}


def _fixture_state(name: str, seed: int = 0) -> dict[str, torch.Tensor]:
    classifier = ("fc.",) if name.startswith("resnet") else ("classifier.",)
    return random_state_dict(torchvision_shapes(name), seed, placeholder_prefixes=classifier)


@pytest.mark.parametrize("name", ["resnet18", "vgg16_bn", "mobilenet_v2"])
def test_weights_from_local_file(name: str, tmp_path: Path) -> None:
    state = _fixture_state(name, seed=3)
    path = tmp_path / f"{name}.pth"
    torch.save(state, path)
    encoder = create_encoder(name, weights=str(path))
    loaded = encoder.state_dict()
    for key in loaded:
        assert torch.equal(loaded[key], state[key]), key


def test_weights_file_wrapped_in_state_dict_key(tmp_path: Path) -> None:
    state = _fixture_state("resnet18", seed=4)
    path = tmp_path / "checkpoint.pth"
    torch.save({"state_dict": state, "epoch": 3}, path)
    encoder = create_encoder("resnet18", weights=path)
    assert torch.equal(encoder.conv1.weight, state["conv1.weight"])


def test_missing_weights_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        create_encoder("resnet18", weights=str(tmp_path / "nope.pth"))


def _record_hub_calls(
    monkeypatch: pytest.MonkeyPatch, state: dict[str, torch.Tensor]
) -> list[tuple[str, dict[str, Any]]]:
    calls: list[tuple[str, dict[str, Any]]] = []

    def fake_load_state_dict_from_url(url: str, **kwargs: Any) -> dict[str, torch.Tensor]:
        calls.append((url, kwargs))
        return state

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", fake_load_state_dict_from_url)
    return calls


@pytest.mark.parametrize("name", ENCODER_NAMES)
def test_imagenet_url_table(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _record_hub_calls(monkeypatch, {})
    imagenet_state_dict(name)
    assert calls == [
        (
            f"https://download.pytorch.org/models/{TORCHVISION_FILES[name]}",
            {"map_location": "cpu", "progress": True, "check_hash": True},
        )
    ]
    assert IMAGENET_URLS[name] == calls[0][0]


@pytest.mark.parametrize("name", ["resnet18", "vgg16", "mobilenet_v2"])
def test_imagenet_uses_torch_hub_with_hash_check(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = _fixture_state(name, seed=5)
    calls = _record_hub_calls(monkeypatch, state)
    encoder = create_encoder(name, weights="imagenet")
    assert len(calls) == 1
    url, kwargs = calls[0]
    assert url == f"https://download.pytorch.org/models/{TORCHVISION_FILES[name]}"
    assert url == IMAGENET_URLS[name]
    assert kwargs.get("check_hash") is True
    first_key = next(iter(encoder.state_dict()))
    assert torch.equal(encoder.state_dict()[first_key], state[first_key])


def test_adapt_input_channels_formula() -> None:
    rgb = torch.tensor([1.0, 10.0, 100.0]).reshape(1, 3, 1, 1).repeat(2, 1, 1, 1)
    assert adapt_input_channels(rgb, 3) is rgb
    assert adapt_input_channels(rgb, 1).flatten().tolist() == [111.0, 111.0]
    four = adapt_input_channels(rgb, 4)  # R, G, B, R scaled by 3/4
    assert four[0].flatten().tolist() == [0.75, 7.5, 75.0, 0.75]
    six = adapt_input_channels(rgb, 6)  # R, G, B, R, G, B scaled by 1/2
    assert six[0].flatten().tolist() == [0.5, 5.0, 50.0, 0.5, 5.0, 50.0]
    two = adapt_input_channels(rgb, 2)
    assert two[0].flatten().tolist() == [1.5, 15.0]
    with pytest.raises(ValueError, match="4-D"):
        adapt_input_channels(torch.zeros(3, 3), 1)


@pytest.mark.parametrize("in_channels", [1, 6])
def test_adapted_encoder_sees_grey_images_like_rgb(in_channels: int, tmp_path: Path) -> None:
    """Summed (1 channel) or tiled-and-scaled (6 channels) kernels give, on an image whose
    channels are all equal, the RGB network's features on the same grey image."""
    torch.manual_seed(0)
    state = _fixture_state("resnet18", seed=6)
    path = tmp_path / "rgb.pth"
    torch.save(state, path)
    rgb_encoder = create_encoder("resnet18", weights=str(path)).eval()
    adapted = create_encoder("resnet18", in_channels=in_channels, weights=str(path)).eval()
    assert adapted.conv1.weight.shape[1] == in_channels
    grey = torch.rand(1, 1, 29, 31)
    with torch.no_grad():
        expected = rgb_encoder(grey.expand(1, 3, 29, 31))
        features = adapted(grey.expand(1, in_channels, 29, 31))
    for feature, reference in zip(features, expected):
        torch.testing.assert_close(feature, reference, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", ["vgg16", "vgg16_bn", "mobilenet_v2"])
def test_first_conv_adapted_on_every_backbone(name: str) -> None:
    state = _fixture_state(name, seed=7)
    encoder = create_encoder(name, in_channels=1)
    encoder.load_torchvision_state_dict(state)
    first_conv = encoder.state_dict()[encoder.first_conv_key]
    torch.testing.assert_close(first_conv, state[encoder.first_conv_key].sum(1, keepdim=True))
