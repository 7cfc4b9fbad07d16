from __future__ import annotations

import numpy as np
import pytest
import tifffile
import torch
from scipy import ndimage
from sklearn.metrics import accuracy_score, recall_score
from sklearn.naive_bayes import GaussianNB

from pixelwise.data import (
    SYNTHETIC_CLASSES,
    RasterReader,
    SyntheticSegmentation,
    sample_seed,
    synthetic_raster,
    synthetic_raster_block,
    write_synthetic_raster,
)


def _pixels(seed: int, count: int, size: int = 128) -> tuple[np.ndarray, np.ndarray]:
    images, masks = zip(
        *(synthetic_raster_block(0, 0, size, size, sample_seed(seed, i)) for i in range(count))
    )
    return np.stack(images).reshape(-1, 3) / 255.0, np.stack(masks).ravel()


def test_items_are_deterministic_per_seed_and_index():
    first = SyntheticSegmentation(4, size=(40, 56), seed=3)
    again = SyntheticSegmentation(9, size=(40, 56), seed=3)  # dataset length is irrelevant
    image, mask = first[2]
    assert image.shape == (3, 40, 56) and image.dtype == torch.float32
    assert mask.shape == (40, 56) and mask.dtype == torch.int64
    assert 0.0 <= float(image.min()) and float(image.max()) <= 1.0
    for index in (2, 0):  # reading in another order changes nothing
        assert torch.equal(first[index][0], again[index][0])
        assert torch.equal(first[index][1], again[index][1])
    assert not torch.equal(first[1][0], first[2][0])
    assert not torch.equal(first[2][0], SyntheticSegmentation(4, size=(40, 56), seed=4)[2][0])
    with pytest.raises(IndexError):
        first[4]


def test_blocks_tile_seamlessly_into_the_same_scene():
    whole, mask = synthetic_raster(200, 230, seed=5, tile=512)
    tiled, tiled_mask = synthetic_raster(200, 230, seed=5, tile=64)
    np.testing.assert_array_equal(whole, tiled)
    np.testing.assert_array_equal(mask, tiled_mask)
    # Any window equals the same window of a larger rendering, also at negative offsets.
    block, block_mask = synthetic_raster_block(37, 51, 100, 90, seed=5)
    np.testing.assert_array_equal(block, whole[37:137, 51:141])
    np.testing.assert_array_equal(block_mask, mask[37:137, 51:141])
    shifted, shifted_mask = synthetic_raster_block(-20, -30, 60, 70, seed=5)
    np.testing.assert_array_equal(shifted[20:, 30:], whole[:40, :40])
    np.testing.assert_array_equal(shifted_mask[20:, 30:], mask[:40, :40])


def test_class_frequencies_are_strongly_imbalanced():
    _, labels = _pixels(seed=0, count=32)
    share = np.bincount(labels, minlength=5) / labels.size
    assert 0.55 < share[0] < 0.75  # background
    assert 0.14 < share[1] < 0.30  # field
    assert 0.05 < share[2] < 0.12  # building
    assert 0.015 < share[3] < 0.06  # road
    assert 0.002 < share[4] < 0.012  # car
    assert list(np.argsort(-share)) == [0, 1, 2, 3, 4]
    assert SYNTHETIC_CLASSES.names == ["background", "field", "building", "road", "car"]


def test_roads_are_thin_and_cars_small():
    _, mask = synthetic_raster(256, 256, seed=1)
    road = mask == 3
    # An opening with a 4 x 4 square removes anything thinner than 4 px: (almost) all road pixels.
    assert road.sum() > 500
    assert ndimage.binary_opening(road, np.ones((4, 4))).sum() < 0.05 * road.sum()
    cars, count = ndimage.label(mask == 4)
    sizes = ndimage.sum(np.ones_like(mask), cars, range(1, count + 1))
    assert count > 5 and np.median(sizes) <= 16


def test_colour_alone_is_informative_but_ambiguous_and_balancing_matters():
    # Reference: scikit-learn's Gaussian naive Bayes on per-pixel RGB, trained on seed 0 scenes,
    # tested on seed 1 scenes, with empirical vs uniform class priors (= class balancing).
    features, labels = _pixels(seed=0, count=8)
    test_features, test_labels = _pixels(seed=1, count=8)
    majority = np.bincount(test_labels).max() / test_labels.size
    plain = GaussianNB().fit(features, labels).predict(test_features)
    balanced = GaussianNB(priors=[0.2] * 5).fit(features, labels).predict(test_features)
    accuracy = accuracy_score(test_labels, plain)
    assert majority + 0.05 < accuracy < 0.9  # learnable, but colour alone is far from enough
    plain_recall = recall_score(test_labels, plain, average="macro")
    balanced_recall = recall_score(test_labels, balanced, average="macro")
    assert balanced_recall > plain_recall + 0.03


def test_large_scenes_are_written_tile_by_tile_to_memory_mappable_tiffs(tmp_path):
    write_synthetic_raster(tmp_path / "i.tif", tmp_path / "m.tif", 150, 200, seed=2, tile=64)
    image, mask = RasterReader(tmp_path / "i.tif"), RasterReader(tmp_path / "m.tif", as_mask=True)
    assert image.windowed and mask.windowed and image.shape == (150, 200)
    expected_image, expected_mask = synthetic_raster(150, 200, seed=2)
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "i.tif"), expected_image)
    np.testing.assert_array_equal(mask.read(0, 0, 150, 200), expected_mask)
