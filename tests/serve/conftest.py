"""A tiny model trained once per session on the embedded synthetic scenes, and apps around it."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient  # the [serve] extra: part of [dev], never skipped
from serve_helpers import make_client

from pixelwise.record import TilingOptions
from pixelwise.training import (
    Config,
    DataConfig,
    ModelConfig,
    OptimConfig,
    TrainConfig,
    Trainer,
    load_trained_model,
)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 5-class U-Net (8 base channels, depth 2), 32 steps: a few seconds on a CPU."""
    out = tmp_path_factory.mktemp("serve-model")
    config = Config(
        model=ModelConfig("unet", {"base_channels": 8, "depth": 2}),
        data=DataConfig(
            dataset="synthetic",
            train_samples=32,
            val_samples=4,
            image_size=(64, 64),
            batch_size=8,
        ),
        optim=OptimConfig(name="adamw", lr=1e-2, schedule="constant"),
        train=TrainConfig(epochs=8, output_dir=str(out / "run"), progress=False, plots=False),
        tiling=TilingOptions(tile=256, overlap=32, blend="gaussian", batch_size=4),
    ).validate()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a shared 2-core machine: one thread does not collapse under load
    try:
        trainer = Trainer(config)
        trainer.fit()
    finally:
        torch.set_num_threads(threads)
    return trainer.output_dir / "best.pt"


@pytest.fixture(scope="session")
def tiny_loaded(tiny_checkpoint: Path):  # type: ignore[no-untyped-def]
    return load_trained_model(tiny_checkpoint)


@pytest.fixture()
def upload_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The folder every temporary file of a request lands in (the app's private upload
    folders, and Starlette's spooled uploads through ``tempfile.tempdir``)."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


@pytest.fixture()
def client(tiny_loaded, upload_root: Path) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with make_client(tiny_loaded, upload_root) as test_client:
        yield test_client
