"""Every CamVid benchmark config validates against the real data and builds a model that runs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pixelwise.data import CAMVID_CLASSES, CAMVID_SEGNET_CLASS_WEIGHTS
from pixelwise.registry import create_model
from pixelwise.training.config import load_config
from shared_paths import REPO, SHARED_DATA

CONFIGS = sorted((REPO / "benchmarks/camvid/configs").glob("*.yaml"))


def test_there_are_configs() -> None:
    assert len(CONFIGS) >= 6, [p.name for p in CONFIGS]


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_config_builds_a_camvid_model(path: Path) -> None:
    config = load_config(path, [f"data.root={SHARED_DATA / 'camvid'}"])
    assert config.data.dataset == "camvid"
    # Class weights, when given, are the SegNet authors' median-frequency ones, never a guess.
    weights = config.loss.class_weights
    assert weights is None or tuple(weights) == CAMVID_SEGNET_CLASS_WEIGHTS
    num_classes = len(CAMVID_CLASSES.names)
    model = create_model(config.model.name, num_classes=num_classes, **config.model.options)
    model.eval()
    with torch.no_grad():
        logits = model(torch.randn(1, 3, 96, 128))
    assert logits.shape == (1, num_classes, 96, 128)
    assert torch.isfinite(logits).all()
