"""The CamVid benchmark script runs end to end on two real CamVid images for one step."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from shared_paths import REPO, SHARED_DATA

CAMVID = SHARED_DATA / "camvid"


def _load_script():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("camvid_run", REPO / "benchmarks/camvid/run.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_script_end_to_end(tmp_path: Path) -> None:
    script = _load_script()
    record = script.main(
        [
            "--config",
            str(REPO / "benchmarks/camvid/configs/segnet_basic.yaml"),
            "--name",
            "smoke",
            "--root",
            str(CAMVID),
            "--set",
            "data.limit_train=2",
            "--set",
            "data.limit_val=2",
            "--set",
            "data.batch_size=2",
            "--set",
            "train.epochs=1",
            "--set",
            "train.max_steps_per_epoch=1",
            "--set",
            "loss.class_weights=null",
            "--limit-test",
            "2",
            "--runs",
            str(tmp_path / "runs"),
            "--results",
            str(tmp_path / "results"),
            "--quiet",
            "--crf",
            "--crf-search",
            "1",
        ]
    )
    assert record["epochs"] == 1 and record["test_images"] == 2
    for key in ("G", "C", "mIoU", "BF"):
        assert 0.0 <= record["plain"][key] <= 100.0
    assert set(record["plain"]["per_class_iou"]) == {
        "Sky",
        "Building",
        "Pole",
        "Road",
        "Pavement",
        "Tree",
        "SignSymbol",
        "Fence",
        "Car",
        "Pedestrian",
        "Bicyclist",
    }
    stored = json.loads((tmp_path / "results" / "smoke.json").read_text())
    assert stored["gflops_360x480"] > 0
    table = (tmp_path / "results" / "results.md").read_text()
    assert "| smoke | no |" in table and "SegNet-Basic, median-frequency balancing" in table
    assert (tmp_path / "results" / "smoke_class_iou.png").is_file()
    assert (tmp_path / "results" / "class_iou_all.png").is_file()
    # The CRF row uses parameters picked on val from the whole grid (plus the no-CRF baseline).
    assert 0.0 <= record["crf"]["mIoU"] <= 100.0
    assert len(stored["crf_search_val"]) == 19 and stored["crf_params"] in [
        r["params"] for r in stored["crf_search_val"]
    ]
    assert "| smoke | yes |" in table and "| 0.5 |" in table

    # Re-evaluating the trained run keeps the row's training command and does not train.
    again = script.main([
        "--config", str(REPO / "benchmarks/camvid/configs/segnet_basic.yaml"), "--name", "smoke",
        "--root", str(CAMVID), "--set", "data.limit_val=2", "--limit-test", "2",
        "--runs", str(tmp_path / "runs"), "--results", str(tmp_path / "results"), "--quiet",
        "--eval-only",
    ])  # fmt: skip
    assert again["command"] == record["command"] and "--eval-only" in again["eval_command"]
    assert again["epochs"] == 1 and again["plain"]["mIoU"] == record["plain"]["mIoU"]
