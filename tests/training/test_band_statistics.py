"""Per-band statistics for 16-bit and float images, checked against numpy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pixelwise.training.data_setup import band_statistics


def test_band_statistics_match_numpy_and_skip_ignored_pixels() -> None:
    rng = np.random.default_rng(0)
    images = [rng.normal(loc=[[[0.1]], [[0.5]], [[2.0]]], scale=0.3, size=(3, 8, 9))
              for _ in range(5)]  # fmt: skip
    masks = [rng.integers(0, 3, size=(8, 9)) for _ in range(5)]
    for mask in masks:
        mask[:2] = 255  # ignored (e.g. nodata): left out of the statistics
    dataset = [
        (torch.tensor(i, dtype=torch.float32), torch.tensor(m)) for i, m in zip(images, masks)
    ]
    mean, std = band_statistics(dataset, 255)  # type: ignore[arg-type]
    valid = np.concatenate(
        [i.astype(np.float32)[:, m != 255] for i, m in zip(images, masks)], axis=1
    ).astype(np.float64)
    assert mean == pytest.approx(valid.mean(axis=1).tolist(), rel=1e-9)
    assert std == pytest.approx(valid.std(axis=1).tolist(), rel=1e-9)


def test_band_statistics_refuse_an_all_ignored_set() -> None:
    dataset = [(torch.zeros(2, 4, 4), torch.full((4, 4), 255))]
    with pytest.raises(ValueError, match="set data.mean and data.std"):
        band_statistics(dataset, 255)  # type: ignore[arg-type]
