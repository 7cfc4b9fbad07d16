"""save_pretrained -> from_pretrained: identical logits, the same record, a model card naming
every class; from a model + record, from a real training checkpoint, from the CLI and from a
(monkeypatched, offline) Hugging Face Hub download."""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from safetensors.torch import load_file

from pixelwise import create_model
from pixelwise.cli import main
from pixelwise.data.classes import ClassTable
from pixelwise.models.rescale import InputRescale, with_input_scale
from pixelwise.pretrained import (
    CARD_FILE,
    RECORD_FILE,
    WEIGHTS_FILE,
    WeightsMismatchError,
    from_pretrained,
    save_pretrained,
)
from pixelwise.record import ModelRecord, Preprocessing, RecordError, TilingOptions
from pixelwise.training import Trainer, config_from_dict, load_trained_model
from pixelwise.training.checkpoint import load_checkpoint
from training_helpers import tiny_config

CLASS_NAMES = ["water", "crop land", "forest"]
CLASS_COLORS = [(10, 60, 200), (230, 200, 20), (20, 120, 40)]


def _record(input_scale: float = 1.0) -> ModelRecord:
    return ModelRecord(
        architecture="unet",
        options={"base_channels": 8, "depth": 2},
        num_outputs=3,
        classes=ClassTable.from_names(
            CLASS_NAMES, CLASS_COLORS, ignore_index=255, ignore_color=(255, 255, 255)
        ),
        preprocessing=Preprocessing(
            in_channels=4,
            dtype="uint16",
            scale=(1 / 65535,) * 4,
            mean=(0.1, 0.2, 0.3, 0.4),
            std=(0.05, 0.06, 0.07, 0.08),
            bands=(3, 2, 1, 4),
            nodata=0.0,
            input_scale=input_scale,
        ),
        tiling=TilingOptions(tile=256, overlap=32, blend="crop", tta="hflip"),
    )


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return create_model("unet", num_classes=3, in_channels=4, base_channels=8, depth=2).eval()


def _images() -> torch.Tensor:
    return torch.randn(2, 4, 36, 44, generator=torch.Generator().manual_seed(1))


def _front_matter(card: str) -> dict[str, Any]:
    assert card.startswith("---\n")
    return yaml.safe_load(card.split("---\n")[1])  # type: ignore[no-any-return]


@pytest.mark.parametrize("input_scale", [1.0, 0.5])
def test_round_trip_gives_identical_logits(tmp_path: Path, input_scale: float) -> None:
    model, record = _model(), _record(input_scale)
    folder = save_pretrained(model, tmp_path / "pretrained", record=record)
    assert {p.name for p in folder.iterdir()} == {CARD_FILE, RECORD_FILE, WEIGHTS_FILE}

    loaded = from_pretrained(folder)
    assert loaded.record == record and loaded.config == {}
    assert not loaded.model.training
    assert isinstance(loaded.model, InputRescale) == (input_scale != 1)
    with torch.no_grad():
        assert torch.equal(loaded.model(_images()), with_input_scale(model, input_scale)(_images()))
    # The folder is readable without pixelwise: plain JSON and a plain safetensors file.
    assert json.loads((folder / RECORD_FILE).read_text()) == record.to_dict()
    weights = load_file(str(folder / WEIGHTS_FILE))
    assert all(torch.equal(weights[k], v) for k, v in model.state_dict().items())


def test_model_card_describes_the_model(tmp_path: Path) -> None:
    folder = save_pretrained(
        _model(),
        tmp_path / "card",
        record=_record(),
        metrics={"mean_iou": 0.61234, "pixel_accuracy": 0.9, "dataset": "val"},
        command="pixelwise train configs/land.yaml --set optim.lr=0.01",
    )
    card = (folder / CARD_FILE).read_text()
    meta = _front_matter(card)
    assert meta["library_name"] == "pixelwise"
    assert meta["pipeline_tag"] == "image-segmentation"
    assert {"pixelwise", "semantic-segmentation", "unet"} <= set(meta["tags"])
    for index, (name, (r, g, b)) in enumerate(zip(CLASS_NAMES, CLASS_COLORS)):
        assert f"| {index} | {name} | `#{r:02x}{g:02x}{b:02x}` ({r}, {g}, {b}) |" in card
    assert "| 255 | (ignored) |" in card
    for text in (
        "| base_channels | `8` |",
        "| bands (1-based) | 3, 2, 1, 4 |",
        "| dtype | `uint16` |",
        "| mean | 0.1, 0.2, 0.3, 0.4 |",
        "| nodata | 0.0 |",
        "Tiles of 256 px with 32 px overlap, `crop` blending",
        "| mean_iou | 0.6123 |",
        "pixelwise train configs/land.yaml --set optim.lr=0.01",
        "from pixelwise.pretrained import from_pretrained",
    ):
        assert text in card, text


def test_a_loaded_or_wrapped_model_saves_without_its_wrapper(tmp_path: Path) -> None:
    model = _model()
    first = from_pretrained(save_pretrained(model, tmp_path / "a", record=_record(0.5)))
    assert isinstance(first.model, InputRescale)
    again = from_pretrained(save_pretrained(first, tmp_path / "b"))
    with torch.no_grad():
        assert torch.equal(again.model(_images()), first.model(_images()))


def test_a_model_needs_a_record_that_fits_it(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="record="):
        save_pretrained(_model(), tmp_path / "x")
    wrong = replace(_record(), options={"base_channels": 8, "depth": 3})
    with pytest.raises(WeightsMismatchError, match="missing keys"):
        save_pretrained(_model(), tmp_path / "x", record=wrong)
    assert not (tmp_path / "x" / WEIGHTS_FILE).exists()


def test_folders_without_a_readable_record_are_explained(tmp_path: Path) -> None:
    folder = save_pretrained(_model(), tmp_path / "p", record=_record())
    data = json.loads((folder / RECORD_FILE).read_text())
    (folder / RECORD_FILE).write_text(json.dumps({**data, "version": 99}))
    with pytest.raises(RecordError, match="version 99.*newer"):
        from_pretrained(folder)
    (folder / RECORD_FILE).unlink()
    with pytest.raises(RecordError, match=f"no {RECORD_FILE}"):
        from_pretrained(folder)
    with pytest.raises(FileNotFoundError, match="neither a folder nor"):
        from_pretrained(tmp_path / "no" / "such" / "folder")
    with pytest.raises(RecordError, match="load_trained_model"):
        from_pretrained(folder / WEIGHTS_FILE)


def test_hub_ids_download_with_snapshot_download(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub

    model = _model()
    folder = save_pretrained(model, tmp_path / "snapshot", record=_record())
    calls: list[dict[str, Any]] = []

    def fake_snapshot_download(**kwargs: Any) -> str:
        calls.append(kwargs)
        return str(folder)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    monkeypatch.chdir(tmp_path)  # "someone/land-cover" is not a local folder here
    loaded = from_pretrained("someone/land-cover", revision="v1")
    assert calls[0]["repo_id"] == "someone/land-cover" and calls[0]["revision"] == "v1"
    assert set(calls[0]["allow_patterns"]) == {RECORD_FILE, WEIGHTS_FILE, CARD_FILE}
    with torch.no_grad():
        assert torch.equal(loaded.model(_images()), model(_images()))

    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # not installed
    with pytest.raises(ImportError, match=r"pip install 'pixelwise\[hub\]'"):
        from_pretrained("someone/land-cover")


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One epoch of a 2-level U-Net on 32x32 synthetic scenes (tests/training's tiny_config)."""
    run = tmp_path_factory.mktemp("trained") / "run"
    config = tiny_config(run, train={"epochs": 1})
    Trainer(config_from_dict(config)).fit()
    return run


@pytest.mark.parametrize("name", ["last.pt", "best.pt"])
def test_from_a_training_checkpoint(trained_run: Path, tmp_path: Path, name: str) -> None:
    path = trained_run / name
    checkpoint = load_checkpoint(path)
    history = json.loads(checkpoint["state"]["history_json"])
    mean_iou = history[-1]["mean_iou"] if history else checkpoint["state"]["best_miou"]
    assert checkpoint["state"]["best_miou"] == pytest.approx(mean_iou)  # one epoch: the best

    folder = save_pretrained(path, tmp_path / "from_checkpoint")
    card = (folder / CARD_FILE).read_text()
    assert f"| mean_iou | {mean_iou:.4f} |" in card
    assert checkpoint["command"] in card
    trained = load_trained_model(path)
    loaded = from_pretrained(folder)
    assert loaded.record == trained.record
    for class_name in trained.record.classes.names:
        assert f"| {class_name} |" in card
    images = torch.rand(1, trained.in_channels, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded.model(images), trained.model(images))


def test_export_command_writes_a_pretrained_folder(trained_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "exported"
    assert main(["export", str(trained_run / "last.pt"), "--format", "pretrained",
                 "--out", str(out)]) == 0  # fmt: skip
    loaded = from_pretrained(out)
    assert loaded.record == load_trained_model(trained_run / "last.pt").record
    assert "| mean_iou |" in (out / CARD_FILE).read_text()


def test_pretrained_imports_point_one_way() -> None:
    """pixelwise.pretrained uses the record, registry, models and the inference side of
    training; never tiling, the CRF, the commands or the CLI."""
    import ast

    import pixelwise.pretrained as package

    forbidden = ("pixelwise.tiling", "pixelwise.crf", "pixelwise.commands", "pixelwise.cli")
    offenders = []
    for path in Path(package.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.startswith(forbidden)]
    assert not offenders


def test_a_pixelwise_0_1_checkpoint_is_upgraded_on_the_way(tmp_path: Path) -> None:
    fixtures = Path(__file__).resolve().parents[1] / "fixtures"
    folder = save_pretrained(fixtures / "checkpoint_v1.pt", tmp_path / "v1")
    loaded = from_pretrained(folder)
    assert loaded.record.upgraded_from == 1
    expected = torch.load(fixtures / "checkpoint_v1_logits.pt", weights_only=True)
    with torch.no_grad():  # stored with 2 threads; equal up to the thread count's rounding
        logits = loaded.model(expected["image"])
    torch.testing.assert_close(logits, expected["logits"], rtol=1e-5, atol=1e-6)
