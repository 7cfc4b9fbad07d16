"""``torchrun --nproc_per_node=2`` (gloo, CPU) matches one process with the same global batch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch
import yaml

from pixelwise.training.checkpoint import load_checkpoint
from training_helpers import tiny_config


def _write(tmp_path: Path, name: str) -> Path:
    config = tiny_config(
        tmp_path / name,
        # No BatchNorm: per-rank batch statistics would differ from the global batch's.
        model={"name": "unet", "options": {"base_channels": 4, "depth": 2, "batch_norm": False}},
        data={"train_samples": 16, "val_samples": 6, "batch_size": 8},
        optim={"name": "sgd", "lr": 0.05},
        train={"epochs": 2, "plots": False},
    )
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_two_processes_match_one(tmp_path: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    single = subprocess.run(
        [sys.executable, "-m", "pixelwise", "train", str(_write(tmp_path, "single"))],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert single.returncode == 0, single.stderr
    ddp = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            "-m",
            "pixelwise",
            "train",
            str(_write(tmp_path, "ddp")),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    one = load_checkpoint(tmp_path / "single" / "last.pt")
    two = load_checkpoint(tmp_path / "ddp" / "last.pt")
    assert one["state"]["global_step"] == two["state"]["global_step"] == 4
    # Same samples per step; DDP averages the two half-batch gradients, which equals the
    # full-batch mean because both halves hold the same number of (unignored) pixels. Only the
    # floating-point summation order differs: 1e-5 bounds that after 4 SGD steps.
    for key, value in one["model"].items():
        torch.testing.assert_close(two["model"][key], value, atol=1e-5, rtol=1e-4)
    history_one = [r["mean_iou"] for r in _log(tmp_path / "single")]
    history_two = [r["mean_iou"] for r in _log(tmp_path / "ddp")]
    assert history_one == __import__("pytest").approx(history_two, abs=1e-3)


def _log(run: Path) -> list[dict]:
    import json

    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
