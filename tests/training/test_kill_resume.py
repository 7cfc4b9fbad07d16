"""A training process killed mid-epoch by a real SIGKILL resumes to the same final weights."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch
import yaml

from pixelwise.training.checkpoint import load_checkpoint
from training_helpers import tiny_config


def _env() -> dict[str, str]:
    # One thread each: CPU float reductions then run in one fixed order in both processes.
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _config(tmp_path: Path, name: str) -> Path:
    config = tiny_config(
        tmp_path / name,
        data={"train_samples": 48, "batch_size": 4},  # 12 steps per epoch
        train={"epochs": 3, "checkpoint_every_steps": 2, "plots": False},
        model={"name": "unet", "options": {"base_channels": 4, "depth": 2}},
    )
    # Dropout makes the run consume the global RNG, so its state must be restored exactly.
    config["loss"] = {"terms": [{"name": "ce"}, {"name": "dice", "weight": 0.5}]}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _train(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "pixelwise", "train", *args],
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_killed_run_resumes_to_identical_weights(tmp_path: Path) -> None:
    reference = _train(str(_config(tmp_path, "reference")))
    killed = _train(str(_config(tmp_path, "killed")))
    last = tmp_path / "killed" / "last.pt"
    deadline = time.monotonic() + 300
    # Kill as soon as a mid-epoch checkpoint of the second epoch exists.
    while time.monotonic() < deadline:
        if last.exists():
            state = load_checkpoint(last)["state"]
            if state["epoch"] == 1 and state["step_in_epoch"] >= 2:
                break
        assert killed.poll() is None, killed.stderr.read().decode() if killed.stderr else ""
        time.sleep(0.05)
    killed.send_signal(signal.SIGKILL)
    killed.wait()
    assert killed.returncode == -signal.SIGKILL
    interrupted = load_checkpoint(last)["state"]
    assert interrupted["epoch"] < 3, "the run finished before it could be killed"

    resumed = _train("--resume", str(tmp_path / "killed"))
    assert resumed.wait(timeout=600) == 0, resumed.stderr.read().decode()  # type: ignore[union-attr]
    assert reference.wait(timeout=600) == 0, reference.stderr.read().decode()  # type: ignore[union-attr]

    final = load_checkpoint(last)
    expected = load_checkpoint(tmp_path / "reference" / "last.pt")
    assert final["state"]["epoch"] == expected["state"]["epoch"] == 3
    assert final["state"]["global_step"] == expected["state"]["global_step"] == 36
    for key, value in expected["model"].items():
        assert torch.equal(final["model"][key], value), f"{key} differs after resume"
    for group_a, group_b in zip(
        final["optimizer"]["state"].values(), expected["optimizer"]["state"].values()
    ):
        assert torch.equal(group_a["exp_avg"], group_b["exp_avg"])
    # No temporary files are left behind as checkpoints.
    assert not [p for p in (tmp_path / "killed").iterdir() if p.name.startswith(".last.pt")] or all(
        p.suffix == ".tmp" for p in (tmp_path / "killed").iterdir() if p.name.startswith(".")
    )
