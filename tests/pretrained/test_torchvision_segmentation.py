"""torchvision's COCO-with-VOC-labels segmentation weights load strictly into pixelwise models.

State dicts are made locally with random tensors of exactly torchvision's keys and shapes (the
``torchvision_keys`` fixtures); downloads go to ``file://`` URLs: nothing touches the network.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from torch import Tensor

from pixelwise import create_model
from pixelwise.pretrained import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    TORCHVISION_SEGMENTATION,
    VOC_CLASS_NAMES,
    WeightsMismatchError,
    download_state_dict,
    load_torchvision_segmentation,
    torchvision_record,
)
from pixelwise.pretrained.state_dicts import build_untrained
from torchvision_fixtures import random_state_dict, torchvision_shapes

WITH_FIXTURE = ("deeplabv3_resnet50", "deeplabv3_resnet101", "fcn_resnet50")
# What the brief's hand-built models are (torchvision's layouts, built without the table).
BY_HAND: dict[str, tuple[str, dict[str, object]]] = {
    "deeplabv3_resnet50": ("deeplab_v3", {"encoder": "resnet50", "output_stride": 8}),
    "deeplabv3_resnet101": ("deeplab_v3", {"encoder": "resnet101", "output_stride": 8}),
    "fcn_resnet50": ("fcn", {"encoder": "resnet50"}),
}


@pytest.fixture(scope="module")
def weight_file(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """A torchvision-layout ``.pth`` per fixture name, written once (resnet101's is 240 MB)."""
    folder = tmp_path_factory.mktemp("torchvision_weights")

    def make(name: str) -> Path:
        path = folder / f"{name}.pth"
        if not path.exists():
            torch.save(random_state_dict(torchvision_shapes(name)), path)
        return path

    return make


def _logits(model: torch.nn.Module) -> Tensor:
    images = torch.randn(1, 3, 41, 37, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        return model.eval()(images)


def test_table_holds_torchvisions_four_files() -> None:
    assert sorted(TORCHVISION_SEGMENTATION) == sorted([*WITH_FIXTURE, "fcn_resnet101"])
    for name, weights in TORCHVISION_SEGMENTATION.items():
        assert re.fullmatch(
            rf"https://download\.pytorch\.org/models/{name}_coco-[0-9a-f]{{8}}\.pth", weights.url
        )
        assert weights.sha256_prefix == weights.url[-12:-4]
        assert 0.5 < float(weights.metrics["mean_iou"]) < 0.7
        with torch.device("meta"):
            model = build_untrained(torchvision_record(name))
        assert sum(p.numel() for p in model.parameters()) == weights.num_params


@pytest.mark.parametrize("name", WITH_FIXTURE)
def test_loads_strictly_and_gives_the_hand_built_models_logits(
    name: str, weight_file: Callable[[str], Path]
) -> None:
    path = weight_file(name)
    model, record = load_torchvision_segmentation(name, path=path)
    assert not model.training
    state_dict = torch.load(path, weights_only=True)
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == torchvision_shapes(name)
    for key, value in model.state_dict().items():
        assert torch.equal(value, state_dict[key]), key

    architecture, options = BY_HAND[name]
    by_hand = create_model(architecture, num_classes=21, aux=True, **options)
    result = by_hand.load_state_dict(state_dict, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert torch.equal(_logits(model), _logits(by_hand))

    assert record.architecture == architecture and record.options == {**options, "aux": True}
    assert record.classes.names == list(VOC_CLASS_NAMES) and record.num_outputs == 21
    pre = record.preprocessing
    assert (pre.in_channels, pre.dtype, pre.scale) == (3, "uint8", (1 / 255,) * 3)
    assert (pre.mean, pre.std) == (IMAGENET_MEAN, IMAGENET_STD)


def test_without_aux_drops_the_auxiliary_head(weight_file: Callable[[str], Path]) -> None:
    with_aux, _ = load_torchvision_segmentation("fcn_resnet50", path=weight_file("fcn_resnet50"))
    model, record = load_torchvision_segmentation(
        "fcn_resnet50", path=weight_file("fcn_resnet50"), aux=False
    )
    assert record.options["aux"] is False
    assert not any(key.startswith("aux_classifier.") for key in model.state_dict())
    assert torch.equal(_logits(model), _logits(with_aux))


def test_fcn_resnet101_has_torchvisions_keys() -> None:
    """No fixture of its own: ResNet-101's keys (without fc) under ``backbone.``, then the
    heads of fcn_resnet50 (the same FCNHead(2048) and FCNHead(1024))."""
    expected = {f"backbone.{k}": v for k, v in torchvision_shapes("resnet101").items()}
    expected = {k: v for k, v in expected.items() if not k.startswith("backbone.fc.")}
    expected |= {k: v for k, v in torchvision_shapes("fcn_resnet50").items() if "classifier" in k}
    with torch.device("meta"):
        model = build_untrained(torchvision_record("fcn_resnet101"))
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == expected


def test_a_wrong_file_is_named_with_the_keys_that_differ(
    weight_file: Callable[[str], Path], tmp_path: Path
) -> None:
    state_dict = torch.load(weight_file("fcn_resnet50"), weights_only=True)
    del state_dict["classifier.1.running_mean"]
    state_dict["head.extra.weight"] = torch.zeros(2)
    state_dict["classifier.4.weight"] = torch.zeros(20, 512, 1, 1)
    path = tmp_path / "edited.pth"
    torch.save(state_dict, path)
    with pytest.raises(WeightsMismatchError) as caught:
        load_torchvision_segmentation("fcn_resnet50", path=path)
    message = str(caught.value)
    for part in (
        str(path),
        "fcn_resnet50",
        "1 missing keys: classifier.1.running_mean",
        "1 unexpected keys: head.extra.weight",
        "classifier.4.weight (expected (21, 512, 1, 1), got (20, 512, 1, 1))",
    ):
        assert part in message


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown torchvision segmentation weights") as caught:
        load_torchvision_segmentation("deeplabv3_resnet18")
    for name in TORCHVISION_SEGMENTATION:
        assert name in str(caught.value)


def _serve(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, name: str, payload: Path, prefix: str
) -> Path:
    """Point ``name``'s URL at a local ``file://`` copy of ``payload`` named with ``prefix``,
    and the torch hub cache at ``tmp_path/hub``."""
    served = tmp_path / "served" / f"{name}_coco-{prefix}.pth"
    served.parent.mkdir(exist_ok=True)
    served.write_bytes(payload.read_bytes())
    entry = replace(TORCHVISION_SEGMENTATION[name], url=served.as_uri())
    monkeypatch.setitem(TORCHVISION_SEGMENTATION, name, entry)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    return tmp_path / "hub" / "checkpoints" / served.name


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_download_checks_the_hash(
    weight_file: Callable[[str], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = weight_file("fcn_resnet50")
    cached = _serve(monkeypatch, tmp_path, "fcn_resnet50", source, _sha256(source)[:8])
    model, _ = load_torchvision_segmentation("fcn_resnet50", progress=False)
    assert cached.is_file()
    expected = torch.load(source, weights_only=True)
    assert all(torch.equal(v, expected[k]) for k, v in model.state_dict().items())


def test_download_rejects_a_file_whose_hash_does_not_match(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    payload = tmp_path / "small.pth"
    torch.save({"weight": torch.ones(3)}, payload)
    wrong = "0" * 8 if not _sha256(payload).startswith("0" * 8) else "f" * 8
    cached = _serve(monkeypatch, tmp_path, "deeplabv3_resnet50", payload, wrong)
    with pytest.raises(RuntimeError, match=rf"hash check.*must start with {wrong}"):
        load_torchvision_segmentation("deeplabv3_resnet50", progress=False)
    assert not cached.exists()
    # The same file under its true prefix passes the check.
    _serve(monkeypatch, tmp_path, "deeplabv3_resnet50", payload, _sha256(payload)[:8])
    assert torch.equal(download_state_dict("deeplabv3_resnet50")["weight"], torch.ones(3))


def test_voc_colours_are_the_devkit_colour_map() -> None:
    def bitget(label: int) -> tuple[int, int, int]:
        r = g = b = 0
        for shift in range(7, -1, -1):
            r |= (label & 1) << shift
            g |= ((label >> 1) & 1) << shift
            b |= ((label >> 2) & 1) << shift
            label >>= 3
        return r, g, b

    record = torchvision_record("deeplabv3_resnet50")
    assert record.classes.colors == [bitget(label) for label in range(21)]
    assert record.classes.ignore_index == 255
    assert math.isclose(record.preprocessing.scale[0], 1 / 255)
