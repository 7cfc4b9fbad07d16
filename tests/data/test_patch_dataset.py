from __future__ import annotations

import pickle

import numpy as np
import pytest
import tifffile
import torch

from pixelwise.data import (
    SYNTHETIC_CLASSES,
    PatchDataset,
    RasterReader,
    grid_starts,
    synthetic_raster,
)


@pytest.fixture(scope="module")
def scene() -> tuple[np.ndarray, np.ndarray]:
    return synthetic_raster(384, 384, seed=0)


def test_grid_starts_by_hand():
    assert grid_starts(10, 4, 4) == [0, 4, 6]  # last window flush with the end
    assert grid_starts(8, 4, 4) == [0, 4]
    assert grid_starts(10, 4, 3) == [0, 3, 6]
    assert grid_starts(3, 4, 4) == [0]  # shorter than the patch: one padded window


def test_grid_mode_covers_every_pixel_and_patches_match_the_raster(scene):
    image, mask = scene[0][:300, :260], scene[1][:300, :260]
    dataset = PatchDataset([image], [mask], patch_size=64, mode="grid", stride=(50, 64))
    assert len(dataset) == len(grid_starts(300, 64, 50)) * len(grid_starts(260, 64, 64))
    covered = np.zeros(mask.shape, dtype=int)
    for index in range(len(dataset)):
        _, top, left = dataset.locate(index)
        patch_image, patch_mask = dataset[index]
        assert patch_image.shape == (3, 64, 64) and patch_mask.dtype == torch.int64
        expected = image[top : top + 64, left : left + 64].transpose(2, 0, 1) / 255
        np.testing.assert_allclose(patch_image.numpy(), expected, atol=1e-6)
        np.testing.assert_array_equal(patch_mask.numpy(), mask[top : top + 64, left : left + 64])
        covered[top : top + 64, left : left + 64] += 1
    assert covered.min() >= 1


def _class_share(dataset: PatchDataset, label: int) -> float:
    masks = torch.stack([dataset[i][1] for i in range(len(dataset))])
    return float((masks == label).float().mean())


def test_class_aware_sampling_raises_the_rare_class_share(scene):
    image, mask = scene
    common = dict(patch_size=32, mode="random", patches_per_epoch=200, seed=1)
    uniform = PatchDataset([image], [mask], **common)
    weights = 1.0 / np.bincount(mask.ravel(), minlength=5)  # inverse frequency
    aware = PatchDataset([image], [mask], class_weights=weights, **common)
    car_uniform, car_aware = _class_share(uniform, 4), _class_share(aware, 4)
    assert car_aware > 3 * car_uniform
    # With all weight on cars, every patch contains a car pixel.
    only_cars = PatchDataset([image], [mask], class_weights=[0, 0, 0, 0, 1], **common)
    assert all((only_cars[i][1] == 4).any() for i in range(50))


def test_random_windows_depend_on_seed_epoch_and_index(scene):
    dataset = PatchDataset([scene[0]], [scene[1]], patch_size=48, patches_per_epoch=20, seed=3)
    first = [dataset.locate(i) for i in range(20)]
    assert first == [dataset.locate(i) for i in range(20)]
    assert all(0 <= y <= 384 - 48 and 0 <= x <= 384 - 48 for _, y, x in first)
    dataset.set_epoch(1)
    assert first != [dataset.locate(i) for i in range(20)]


@pytest.mark.parametrize("planar", [False, True])
def test_uncompressed_tiff_is_read_window_by_window(tmp_path, scene, planar):
    image, mask = scene
    path = tmp_path / "scene.tif"
    if planar:
        tifffile.imwrite(path, image.transpose(2, 0, 1), photometric="minisblack")
    else:
        tifffile.imwrite(path, image)
    np.save(tmp_path / "mask.npy", mask)
    dataset = PatchDataset([path], [tmp_path / "mask.npy"], patch_size=40, mode="grid")
    assert dataset.images[0].windowed and dataset.masks[0].memory_mapped
    _, top, left = dataset.locate(7)
    patch_image, patch_mask = dataset[7]
    expected = image[top : top + 40, left : left + 40].transpose(2, 0, 1) / 255
    np.testing.assert_allclose(patch_image.numpy(), expected, atol=1e-6)
    np.testing.assert_array_equal(patch_mask.numpy(), mask[top : top + 40, left : left + 40])


@pytest.mark.parametrize("planar", [False, True])
def test_compressed_tiff_is_read_by_window_too(tmp_path, scene, planar):
    # Formerly a whole decode with a warning; now tifffile decodes only the window's strips.
    path = tmp_path / "c.tif"
    image = scene[0][:64, :64]
    if planar:
        tifffile.imwrite(
            path, image.transpose(2, 0, 1), photometric="minisblack", compression="zlib"
        )
    else:
        tifffile.imwrite(path, image, compression="zlib")
    reader = RasterReader(path)
    assert reader.windowed and not reader.memory_mapped and reader.shape == (64, 64)
    np.testing.assert_array_equal(reader.read(5, 6, 10, 12), image[5:15, 6:18])


def test_small_rasters_are_padded_with_ignore_index(scene):
    image, mask = scene[0][:20, :30], scene[1][:20, :30]
    with pytest.raises(ValueError, match="smaller than the patch"):
        PatchDataset([image], [mask], patch_size=32)
    dataset = PatchDataset([image], [mask], patch_size=32, mode="grid", ignore_index=255)
    patch_image, patch_mask = dataset[0]
    assert torch.all(patch_mask[20:] == 255) and torch.all(patch_mask[:, 30:] == 255)
    assert torch.all(patch_image[:, 20:] == 0)
    np.testing.assert_array_equal(patch_mask[:20, :30].numpy(), mask)


def test_bad_inputs_are_reported(scene):
    image, mask = scene
    with pytest.raises(ValueError, match=r"384x384 .* but mask .* 384x383"):
        PatchDataset([image], [mask[:, :383]], patch_size=32)
    with pytest.raises(ValueError, match="one mask per image"):
        PatchDataset([image, image], [mask], patch_size=32)
    with pytest.raises(ValueError, match="2 class_weights for 5 classes"):
        PatchDataset(
            [image], [mask], patch_size=32, class_weights=[1, 1], classes=SYNTHETIC_CLASSES
        )
    bad = mask.copy()
    bad[0, 0] = 9
    dataset = PatchDataset([image], [bad], patch_size=32, mode="grid", classes=SYNTHETIC_CLASSES)
    with pytest.raises(ValueError, match=r"window y=0 x=0.*9 \(1 px\)"):
        dataset[0]


def test_pickling_reopens_the_memory_map_instead_of_copying(tmp_path, scene):
    np.save(tmp_path / "image.npy", scene[0])
    np.save(tmp_path / "mask.npy", scene[1])
    dataset = PatchDataset([tmp_path / "image.npy"], [tmp_path / "mask.npy"], patch_size=32, seed=2)
    payload = pickle.dumps(dataset)
    assert len(payload) < scene[0].nbytes // 10
    restored = pickle.loads(payload)
    assert restored.images[0].memory_mapped
    assert torch.equal(restored[5][0], dataset[5][0]) and torch.equal(restored[5][1], dataset[5][1])
