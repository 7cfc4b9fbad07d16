"""One model record from training to prediction: ``pixelwise evaluate`` and ``pixelwise predict``
give the same label map, pixel for pixel, on 4-band uint16 and float32-with-nodata GeoTIFFs, and
predict paints with the class table's colours."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from PIL import Image
from trained_runs import CLASS_COLORS, TrainedRun

from pixelwise.cli import main
from pixelwise.training import load_trained_model


def _evaluate_and_predict(run: TrainedRun, tmp_path: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """(evaluate's labels, predict's labels) for each validation image."""
    evaluated, predicted = tmp_path / "evaluated", tmp_path / "predicted"
    out_json = tmp_path / "eval.json"
    assert main(["evaluate", str(run.checkpoint), "--predictions", str(evaluated),
                 "--out", str(out_json)]) == 0  # fmt: skip
    assert main(["predict", str(run.checkpoint), *map(str, run.val_images),
                 "--out", str(predicted)]) == 0  # fmt: skip
    pairs = []
    for image in run.val_images:
        from_eval = np.asarray(Image.open(evaluated / f"{image.stem}_labels.png"))
        with rasterio.open(predicted / f"{image.stem}_labels.tif") as labels:
            from_predict = labels.read(1)
            colormap = labels.colormap(1)
            assert labels.crs.to_epsg() == 32633  # georeferencing carried through
        assert [tuple(colormap[i][:3]) for i in range(3)] == CLASS_COLORS
        pairs.append((from_eval, from_predict))
    return pairs


def test_record_carries_dtype_scale_bands_classes_and_tiling(uint16_run: TrainedRun) -> None:
    record = load_trained_model(uint16_run.checkpoint).record
    pre = record.preprocessing
    assert pre.dtype == "uint16" and pre.in_channels == 4
    assert pre.scale == pytest.approx((1 / 65535,) * 4)
    assert pre.mean == pytest.approx((0.3, 0.3, 0.3, 0.2))
    assert record.classes.colors == CLASS_COLORS and record.classes.ignore_index == 255
    assert (record.tiling.tile, record.tiling.overlap) == (256, 32)
    assert record.architecture == "unet" and record.options == {"base_channels": 8, "depth": 2}


def test_uint16_evaluate_and_predict_agree_pixel_for_pixel(
    uint16_run: TrainedRun, tmp_path: Path
) -> None:
    pairs = _evaluate_and_predict(uint16_run, tmp_path)
    for (from_eval, from_predict), mask in zip(pairs, uint16_run.val_masks):
        assert from_eval.shape == from_predict.shape == (48, 64)
        assert len(np.unique(from_eval)) >= 2  # a trained model, not a constant map
        np.testing.assert_array_equal(from_eval, from_predict)
        with rasterio.open(mask) as truth:  # it learned from the right pixel values
            assert (from_predict == truth.read(1)).mean() > 0.8


def test_float32_with_nodata_agrees_and_marks_nodata(
    float32_run: TrainedRun, tmp_path: Path
) -> None:
    record = load_trained_model(float32_run.checkpoint).record
    assert record.preprocessing.dtype == "float32" and record.preprocessing.scale == (1.0,) * 4
    # no mean/std in the config: measured on the training images, nodata pixels left out
    train = [rasterio.open(p).read() for p in sorted((float32_run.root / "ti").glob("*.tif"))]
    valid = np.concatenate([t[:, t[0] != -9999.0] for t in train], axis=1).astype(np.float64)
    assert record.preprocessing.mean == pytest.approx(valid.mean(axis=1).tolist(), rel=1e-6)
    assert record.preprocessing.std == pytest.approx(valid.std(axis=1).tolist(), rel=1e-5)
    for from_eval, from_predict in _evaluate_and_predict(float32_run, tmp_path):
        nodata = np.zeros((48, 64), dtype=bool)
        nodata[:6, :10] = True
        assert (from_predict[nodata] == 255).all()  # predict writes its nodata value there
        np.testing.assert_array_equal(from_eval[~nodata], from_predict[~nodata])
    import json

    scored = json.loads((tmp_path / "eval.json").read_text())
    matrix = np.asarray(scored["confusion_matrix"])
    assert matrix.sum() == 2 * (48 * 64 - 60)  # nodata pixels were ignored, not scored


def test_predict_refuses_pixels_of_another_dtype(uint16_run: TrainedRun, tmp_path: Path) -> None:
    image = np.asarray(rasterio.open(uint16_run.val_images[0]).read())
    eight_bit = tmp_path / "eight.tif"
    import tifffile

    tifffile.imwrite(eight_bit, (image >> 8).astype(np.uint8), photometric="minisblack")
    with pytest.raises(ValueError, match=r"uint8 pixels but the model was trained on uint16"):
        main(["predict", str(uint16_run.checkpoint), str(eight_bit), "--out", str(tmp_path)])
