"""Exports carry the model record: an ONNX model runs in ONNX Runtime from its metadata alone and
gives ``pixelwise predict``'s labels; TorchScript carries the same record."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from trained_runs import TrainedRun

from pixelwise.cli import main


def _run_onnx_from_metadata_only(model_path: Path, image_path: Path) -> np.ndarray:
    """What a user without pixelwise does: read the record from the ONNX metadata, prepare the
    pixels with numpy as it says, run ONNX Runtime, take the argmax."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    record = json.loads(session.get_modelmeta().custom_metadata_map["pixelwise.record"])
    pre = record["preprocessing"]
    with rasterio.open(image_path) as src:
        bands = pre["bands"] or list(range(1, src.count + 1))
        raw = src.read(bands)
        nodata = pre["nodata"] if pre["nodata"] is not None else src.nodata
    assert raw.dtype == np.dtype(pre["dtype"])
    if nodata is not None:
        raw = np.where((raw == nodata).all(axis=0), 0, raw)
    per_band = [
        np.asarray(pre[k], dtype=np.float32).reshape(-1, 1, 1) for k in ("scale", "mean", "std")
    ]
    scale, mean, std = per_band
    inputs = ((raw.astype(np.float32) * scale - mean) / std)[None].astype(np.float32)
    (logits,) = session.run(["logits"], {"image": inputs})
    return logits[0].argmax(0)


def test_onnx_runs_from_its_record_and_matches_predict(
    uint16_run: TrainedRun, tmp_path: Path
) -> None:
    model_path = tmp_path / "model.onnx"
    assert main(["export", str(uint16_run.checkpoint), "--out", str(model_path),
                 "--size", "48", "64"]) == 0  # fmt: skip
    image = uint16_run.val_images[0]
    assert main(["predict", str(uint16_run.checkpoint), str(image),
                 "--out", str(tmp_path)]) == 0  # fmt: skip
    with rasterio.open(tmp_path / f"{image.stem}_labels.tif") as labels:
        from_predict = labels.read(1)
    from_onnx = _run_onnx_from_metadata_only(model_path, image)
    assert len(np.unique(from_predict)) >= 2
    np.testing.assert_array_equal(from_onnx, from_predict)


def test_torchscript_carries_the_record(uint16_run: TrainedRun, tmp_path: Path) -> None:
    path = tmp_path / "model.ts"
    assert main(["export", str(uint16_run.checkpoint), "--format", "torchscript",
                 "--out", str(path), "--size", "48", "64"]) == 0  # fmt: skip
    extra = {"pixelwise.record.json": ""}
    scripted = torch.jit.load(str(path), _extra_files=extra)
    record = json.loads(extra["pixelwise.record.json"])
    assert record["preprocessing"]["dtype"] == "uint16"
    assert record["classes"]["classes"][1]["color"] == [200, 20, 180]
    assert scripted(torch.zeros(1, 4, 48, 64)).shape == (1, 3, 48, 64)


def test_export_refuses_to_overwrite_its_checkpoint(uint16_run: TrainedRun) -> None:
    with pytest.raises(ValueError, match="is the checkpoint itself"):
        main(["export", str(uint16_run.checkpoint), "--out", str(uint16_run.checkpoint)])
