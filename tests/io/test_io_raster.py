"""Whole-image reads, Pillow modes, masks, 1-based bands, and the nodata and scaling rules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from pixelwise.data import ImageReadError, read_array
from pixelwise.io import (
    RasterNotFoundError,
    UnreadableRasterError,
    dtype_scale,
    fill_nodata,
    nodata_mask,
    read_mask_array,
    read_raster,
)

PALETTE = [10, 20, 30, 200, 100, 50, 7, 8, 9] + [0] * (768 - 9)
INDICES = np.array([[0, 1, 2], [2, 1, 0]], dtype=np.uint8)


def _palette_image(path: Path) -> Path:
    picture = Image.fromarray(INDICES, mode="P")
    picture.putpalette(PALETTE)
    picture.save(path)
    return path


def test_dtype_scale_rule() -> None:
    assert dtype_scale(np.uint8) == pytest.approx(1 / 255)
    assert dtype_scale("uint16") == pytest.approx(1 / 65535)
    for dtype in (bool, np.float32, np.float64, np.int16, np.uint32, np.int32):
        assert dtype_scale(dtype) == 1.0


def test_a_pixel_is_nodata_only_when_all_bands_are() -> None:
    array = np.ones((3, 4, 5), dtype=np.float32)
    array[:, 1, 2] = -9999
    array[0, 3, 3] = -9999  # one band only: data
    original = array.copy()
    filled, mask = fill_nodata(array, -9999)
    assert mask is not None and mask.sum() == 1 and mask[1, 2]
    assert (filled[:, 1, 2] == 0).all() and filled[0, 3, 3] == -9999
    np.testing.assert_array_equal(array, original)  # the input is not modified
    array[:, 0, 0] = np.nan
    array[1, 2, 2] = np.nan
    filled, mask = fill_nodata(array, float("nan"))
    assert mask is not None and mask.sum() == 1 and mask[0, 0] and (filled[:, 0, 0] == 0).all()
    assert np.isnan(filled[1, 2, 2])
    same, none = fill_nodata(array, None)
    assert same is array and none is None
    assert not nodata_mask(np.zeros((1, 2, 2), np.uint8), float("nan")).any()
    assert not nodata_mask(np.zeros((1, 2, 2), np.uint8), -9999).any()


def test_read_raster_keeps_dtype_bands_and_file_nodata(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    data = rng.normal(size=(3, 20, 30)).astype(np.float32)
    data[:, :2, :3] = -9999
    path = tmp_path / "f.tif"
    extratags = [(42113, "s", 0, "-9999", True)]
    tifffile.imwrite(path, data, photometric="minisblack", extratags=extratags)
    for backend in ("auto", "tifffile"):
        image = read_raster(path, backend=backend)
        assert image.dtype == np.float32 and image.nodata == -9999 and image.shape == (20, 30)
        np.testing.assert_array_equal(image.array, data)
        assert image.nodata_mask is not None and image.nodata_mask.sum() == 6
    picked = read_raster(path, bands=[3, 1], nodata=5.0)
    np.testing.assert_array_equal(picked.array, data[[2, 0]])
    assert picked.nodata == 5.0 and not picked.nodata_mask.any()


def test_bands_are_one_based_and_errors_name_file_and_range(tmp_path: Path) -> None:
    tifffile.imwrite(tmp_path / "two.tif", np.zeros((2, 8, 8), np.uint8), photometric="minisblack")
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "rgb.png")
    for name, count in (("two.tif", 2), ("rgb.png", 3)):
        for bad in ([0], [count + 1]):
            with pytest.raises(ValueError, match=rf"{name}.*valid bands are 1\.\.{count}"):
                read_raster(tmp_path / name, bands=bad)


def test_pillow_modes(tmp_path: Path) -> None:
    image = read_raster(_palette_image(tmp_path / "p.png"))
    assert image.array.shape == (3, 2, 3) and image.array[:, 0, 1].tolist() == [200, 100, 50]
    gif = read_raster(_palette_image(tmp_path / "p.gif"))
    np.testing.assert_array_equal(gif.array, image.array)
    rgba = np.random.default_rng(1).integers(0, 256, (4, 5, 4), dtype=np.uint8)
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    np.testing.assert_array_equal(
        read_raster(tmp_path / "rgba.png").array, np.moveaxis(rgba[..., :3], -1, 0)
    )
    Image.fromarray(rgba[..., :2].copy(), mode="LA").save(tmp_path / "la.png")
    np.testing.assert_array_equal(read_raster(tmp_path / "la.png").array, rgba[None, ..., 0])
    deep = (np.arange(20).reshape(4, 5) * 3000).astype(np.uint16)
    Image.fromarray(deep).save(tmp_path / "deep.png")
    sixteen = read_raster(tmp_path / "deep.png")
    assert sixteen.dtype == np.uint16
    np.testing.assert_array_equal(sixteen.array[0], deep)


def test_masks_keep_palette_indices(tmp_path: Path) -> None:
    for suffix in (".png", ".gif"):
        path = _palette_image(tmp_path / f"m{suffix}")
        np.testing.assert_array_equal(read_mask_array(path), INDICES)
        np.testing.assert_array_equal(read_array(path, as_mask=True), INDICES)
    tifffile.imwrite(tmp_path / "m.tif", INDICES)
    np.testing.assert_array_equal(read_mask_array(tmp_path / "m.tif"), INDICES)


def test_missing_and_broken_files_name_the_path(tmp_path: Path) -> None:
    with pytest.raises(RasterNotFoundError, match="nowhere.tif") as error:
        read_raster(tmp_path / "nowhere.tif")
    assert isinstance(error.value, FileNotFoundError) and isinstance(error.value, ImageReadError)
    (tmp_path / "bad.png").write_bytes(b"not a png")
    (tmp_path / "bad.tif").write_bytes(b"II*\x00 not a tiff")
    for name in ("bad.png", "bad.tif"):
        with pytest.raises(UnreadableRasterError, match=rf"{name}.*not an image"):
            read_raster(tmp_path / name)
        with pytest.raises(ImageReadError, match=name):
            read_array(tmp_path / name)
