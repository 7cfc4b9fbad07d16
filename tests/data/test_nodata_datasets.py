"""Training datasets read through pixelwise.io: nodata -> image 0 and mask ignore_index, one
input dtype, window reads of compressed rasters."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image

from pixelwise.data import ClassTable, FolderDataset, PatchDataset, RasterReader

THREE = ClassTable.from_names(["a", "b", "c"], ignore_index=255, ignore_color=(0, 0, 0))
NO_IGNORE = ClassTable.from_names(["a", "b", "c"])
NODATA = -9999.0


def _scene() -> tuple[np.ndarray, np.ndarray]:
    """A float32 3-band image with a nodata block and a lone one-band nodata value, and ids."""
    rng = np.random.default_rng(0)
    image = rng.uniform(0.1, 1.0, (3, 48, 64)).astype(np.float32)
    image[:, 4:12, 8:20] = NODATA
    image[1, 30, 30] = NODATA  # one band only: data
    mask = rng.integers(0, 3, (48, 64), dtype=np.uint8)
    return image, mask


def _write_rasterio(path: Path, image: np.ndarray) -> None:
    rasterio = pytest.importorskip("rasterio")
    from affine import Affine

    profile = {
        "driver": "GTiff", "height": image.shape[1], "width": image.shape[2],
        "count": image.shape[0], "dtype": "float32", "nodata": NODATA, "crs": "EPSG:32633",
        "transform": Affine(1.0, 0.0, 500000.0, 0.0, -1.0, 5200000.0), "tiled": True,
        "blockxsize": 16, "blockysize": 16, "compress": "deflate",
    }  # fmt: skip
    with rasterio.open(path, "w", **profile) as dataset:
        dataset.write(image)


def _write_tag(path: Path, image: np.ndarray) -> None:
    tifffile.imwrite(path, image, photometric="minisblack", planarconfig="separate",
                     extratags=[(42113, "s", 0, "-9999", True)])  # fmt: skip


@pytest.fixture(params=["rasterio", "gdal_nodata_tag"])
def folders(request, tmp_path: Path) -> tuple[Path, Path, np.ndarray, np.ndarray]:
    image, mask = _scene()
    (tmp_path / "i").mkdir()
    (tmp_path / "m").mkdir()
    write = _write_rasterio if request.param == "rasterio" else _write_tag
    write(tmp_path / "i" / "s.tif", image)
    Image.fromarray(mask).save(tmp_path / "m" / "s.png")
    return tmp_path / "i", tmp_path / "m", image, mask


def _check_item(image_t: torch.Tensor, mask_t: torch.Tensor, image, mask) -> None:
    nodata = np.zeros(mask.shape, bool)
    nodata[4:12, 8:20] = True
    assert (mask_t.numpy()[nodata] == 255).all()
    np.testing.assert_array_equal(mask_t.numpy()[~nodata], mask[~nodata])
    assert (image_t.numpy()[:, nodata] == 0).all()  # raw 0; floats are not rescaled
    np.testing.assert_array_equal(image_t.numpy()[:, ~nodata], image[:, ~nodata])
    assert image_t[1, 30, 30] == NODATA


def test_folder_dataset_nodata_becomes_ignore_index_and_zero(folders) -> None:
    images, masks, image, mask = folders
    dataset = FolderDataset(images, masks, classes=THREE)
    assert dataset.input_dtype == np.float32
    _check_item(*dataset[0], image, mask)


def test_patch_dataset_nodata_becomes_ignore_index_and_zero(folders) -> None:
    images, masks, image, mask = folders
    dataset = PatchDataset([images / "s.tif"], [masks / "s.png"], patch_size=(48, 64),
                           mode="grid", classes=THREE)  # fmt: skip
    assert dataset.images[0].nodata == NODATA and dataset.input_dtype == np.float32
    _check_item(*dataset[0], image, mask)
    small = PatchDataset([images / "s.tif"], [masks / "s.png"], patch_size=16, mode="grid",
                         classes=THREE)  # fmt: skip
    _, top, left = small.locate(1)  # rows 0..16, cols 16..32: partly nodata
    patch_image, patch_mask = small[1]
    assert (top, left) == (0, 16)
    assert (patch_mask[4:12, :4] == 255).all() and (patch_image[:, 4:12, :4] == 0).all()
    assert (patch_mask[12:] != 255).all()


def test_nodata_without_ignore_index_names_file_value_and_fix(folders) -> None:
    images, masks, _, _ = folders
    with pytest.raises(ValueError, match=r"s\.tif.*-9999.*set ignore_index in the class table"):
        FolderDataset(images, masks, classes=NO_IGNORE)[0]
    patches = PatchDataset([images / "s.tif"], [masks / "s.png"], patch_size=(48, 64),
                           mode="grid", classes=NO_IGNORE)  # fmt: skip
    with pytest.raises(ValueError, match=r"s\.tif.*-9999.*ignore_index"):
        patches[0]


def test_nodata_argument_overrides_the_file(tmp_path: Path) -> None:
    image, mask = _scene()
    (tmp_path / "i").mkdir()
    (tmp_path / "m").mkdir()
    tifffile.imwrite(tmp_path / "i" / "s.tif", image, photometric="minisblack")  # no tag
    Image.fromarray(mask).save(tmp_path / "m" / "s.png")
    plain = FolderDataset(tmp_path / "i", tmp_path / "m", classes=THREE)
    assert (plain[0][1] != 255).all()
    _check_item(*FolderDataset(tmp_path / "i", tmp_path / "m", classes=THREE, nodata=NODATA)[0],
                image, mask)  # fmt: skip


def test_mixed_image_dtypes_name_both_files(tmp_path: Path) -> None:
    (tmp_path / "i").mkdir()
    (tmp_path / "m").mkdir()
    tifffile.imwrite(tmp_path / "i" / "a.tif", np.zeros((8, 8), np.uint8))
    tifffile.imwrite(tmp_path / "i" / "b.tif", np.zeros((8, 8), np.uint16))
    for stem in "ab":
        Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "m" / f"{stem}.png")
    dataset = FolderDataset(tmp_path / "i", tmp_path / "m", classes=THREE)
    assert dataset.input_dtype == np.uint8
    dataset[0]
    with pytest.raises(ValueError, match=r"b\.tif stores uint16.*a\.tif stores uint8"):
        dataset[1]
    rasters = [tmp_path / "i" / f"{stem}.tif" for stem in "ab"]
    labels = [tmp_path / "m" / f"{stem}.png" for stem in "ab"]
    with pytest.raises(ValueError, match=r"b\.tif stores uint16.*a\.tif stores uint8"):
        PatchDataset(rasters, labels, patch_size=8)


def test_raster_reader_decodes_only_the_window_of_a_compressed_tiff(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, (512, 512, 3), dtype=np.uint8)
    path = tmp_path / "big.tif"
    tifffile.imwrite(path, image, photometric="rgb", tile=(64, 64), compression="zlib")
    reader = RasterReader(path, backend="tifffile")
    np.testing.assert_array_equal(reader.read(100, 200, 40, 50), image[100:140, 200:250])
    assert reader.windowed and not reader.memory_mapped
    assert reader.raster_source.window_reader.segments_decoded == 2  # of 64 tiles
    restored = pickle.loads(pickle.dumps(reader))  # DataLoader workers reopen the file
    np.testing.assert_array_equal(restored.read(500, 500, 40, 40), image[500:, 500:])
    np.testing.assert_array_equal(restored.read_rows(3, 5), image[3:5, :, 0])
    auto = RasterReader(path)  # rasterio when installed: GDAL block reads
    assert auto.windowed and auto.nodata is None
    np.testing.assert_array_equal(auto.read(7, 9, 30, 20), image[7:37, 9:29])
