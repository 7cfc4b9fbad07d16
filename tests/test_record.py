"""The model record: serialisation, validation, the upgrade of 0.1 checkpoints, and clear errors
for newer or foreign files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pixelwise.data import SYNTHETIC_CLASSES, ClassTable
from pixelwise.models.rescale import InputRescale
from pixelwise.record import (
    RECORD_VERSION,
    ModelRecord,
    Preprocessing,
    RecordError,
    TilingOptions,
    record_from_checkpoint,
)
from pixelwise.training import load_trained_model

FIXTURES = Path(__file__).parent / "fixtures"


def _record(**changes: object) -> ModelRecord:
    fields: dict[str, object] = {
        "architecture": "unet",
        "options": {"base_channels": 8},
        "num_outputs": 3,
        "classes": ClassTable.from_names(["a", "b", "c"], ignore_index=255),
        "preprocessing": Preprocessing(
            in_channels=4,
            dtype="uint16",
            scale=(1 / 65535,) * 4,
            mean=(0.5,) * 4,
            std=(0.25,) * 4,
            bands=(4, 3, 2, 1),
            nodata=0.0,
        ),  # fmt: skip
        "tiling": TilingOptions(tile=256, overlap=32, blend="crop"),
    }
    fields.update(changes)
    return ModelRecord(**fields)  # type: ignore[arg-type]


def test_json_round_trip_keeps_every_field() -> None:
    record = _record()
    again = ModelRecord.from_json(record.to_json())
    assert again == record
    assert again.preprocessing.bands == (4, 3, 2, 1) and again.tiling.blend == "crop"


def test_newer_record_says_which_version_and_what_to_do() -> None:
    data = _record().to_dict()
    data["version"] = RECORD_VERSION + 1
    data["pixelwise_version"] = "9.0"
    with pytest.raises(
        RecordError, match=r"version 3 was written by pixelwise 9\.0.*pip install -U"
    ):
        ModelRecord.from_dict(data, source="m.onnx")


def test_invalid_record_names_the_problem() -> None:
    data = _record().to_dict()
    data["preprocessing"]["mean"] = [0.5, 0.5]
    with pytest.raises(
        RecordError, match=r"m\.pt: invalid model record: preprocessing\.mean has 2"
    ):
        ModelRecord.from_dict(data, source="m.pt")
    with pytest.raises(ValueError, match="3 output channels but the class table has 2"):
        _record(classes=ClassTable.from_names(["a", "b"]))


def test_tiling_options_have_one_validity_rule() -> None:
    with pytest.raises(ValueError, match="smaller than twice the overlap"):
        TilingOptions(tile=100, overlap=60)
    with pytest.raises(ValueError, match="blend must be one of crop, mean, gaussian"):
        TilingOptions(blend="max")  # type: ignore[arg-type]
    assert TilingOptions().replace(tile=1024, overlap=None).tile == 1024


def test_binary_record_labels_background_then_the_class() -> None:
    record = _record(num_outputs=1, classes=ClassTable.from_names(["road"], [(9, 9, 9)]))
    assert record.labels.names == ["background", "road"]
    assert record.labels.colors == [(0, 0, 0), (9, 9, 9)]


def test_checkpoint_of_pixelwise_0_1_loads_through_the_upgrade_step() -> None:
    """``fixtures/checkpoint_v1.pt`` was written by main 1a87a5d (make_checkpoint_v1.py)."""
    loaded = load_trained_model(FIXTURES / "checkpoint_v1.pt")
    record = loaded.record
    assert record.upgraded_from == 1 and record.version == RECORD_VERSION
    assert record.classes == SYNTHETIC_CLASSES  # colours recovered from the built-in table
    assert record.preprocessing.scale == (1 / 255,) * 3 and record.preprocessing.dtype == "uint8"
    assert record.preprocessing.input_scale == 0.5 and isinstance(loaded.model, InputRescale)
    stored = torch.load(FIXTURES / "checkpoint_v1_logits.pt", weights_only=True)
    with torch.no_grad():
        logits = loaded.model(stored["image"])
    # the same model and weights: equal up to float rounding of the thread count (1 vs 2)
    torch.testing.assert_close(logits, stored["logits"], rtol=1e-5, atol=1e-6)


def test_newer_and_foreign_checkpoints_get_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(RecordError, match=r"pixelwise-checkpoint-7 file, written by a newer"):
        record_from_checkpoint({"format": "pixelwise-checkpoint-7"}, source="x.pt")
    plain = tmp_path / "weights.pt"
    torch.save(torch.nn.Conv2d(1, 1, 1).state_dict(), plain)
    with pytest.raises(RecordError, match="plain state_dict: build the model with"):
        load_trained_model(plain)
