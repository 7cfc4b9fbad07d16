"""Training, evaluation and prediction read the same bands, scale them the same way and treat
nodata the same way (raw value 0 before normalisation)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image
from torch import nn

from pixelwise.data import ClassTable, FolderDataset, PatchDataset
from pixelwise.io import TiffSource, open_source, read_raster
from pixelwise.tiling import Normalization, predict_file, predict_tensor

THREE = ClassTable.from_names(["a", "b", "c"], ignore_index=255, ignore_color=(0, 0, 0))


class Recorder(nn.Module):
    """Records each input batch; predicts class 0 everywhere."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.inputs: list[torch.Tensor] = []

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        self.inputs.append(batch.detach().clone())
        return torch.zeros(batch.shape[0], 2, *batch.shape[2:])


def _four_pages(tmp_path: Path) -> tuple[np.ndarray, Path, Path]:
    """A 4-band uint16 TIFF stored as 4 pages (``'QYX'``) and a matching mask folder."""
    data = np.random.default_rng(0).integers(0, 65536, (4, 40, 48), dtype=np.uint16)
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    tifffile.imwrite(tmp_path / "images" / "s.tif", data, photometric="minisblack")
    Image.fromarray(np.ones((40, 48), np.uint8)).save(tmp_path / "masks" / "s.png")
    return data, tmp_path / "images", tmp_path / "masks"


def test_four_page_uint16_tiff_is_four_bands_on_every_path(tmp_path: Path) -> None:
    data, images, masks = _four_pages(tmp_path)
    path = images / "s.tif"
    with tifffile.TiffFile(path) as tif:
        assert len(tif.series[0].pages) == 4  # really one band per page
    np.testing.assert_array_equal(read_raster(path).array, data)
    with TiffSource(path) as source:
        np.testing.assert_array_equal(source.read(0, 17), data[:, :17])
        np.testing.assert_array_equal(source.read(17, 40, 5, 31), data[:, 17:40, 5:31])
    with open_source(path) as source:  # the predict side
        assert source.count == 4 and source.dtype == np.uint16
    dataset = FolderDataset(images, masks, classes=THREE)
    assert dataset.input_dtype == np.uint16
    image, _ = dataset[0]
    assert image.shape == (4, 40, 48) and image.dtype == torch.float32
    np.testing.assert_allclose(image.numpy(), data / 65535.0, rtol=1e-6)
    recorder = Recorder(4)  # predict no longer fails on the band count, and sees the same input
    predict_file(recorder, path, tmp_path / "out", tile=(40, 48), overlap=0, progress=False,
                 normalization=Normalization(scale=1 / 65535))  # fmt: skip
    torch.testing.assert_close(recorder.inputs[0][0], image)


def test_band_selection_is_the_same_on_both_paths(tmp_path: Path) -> None:
    data, images, masks = _four_pages(tmp_path)
    path = images / "s.tif"
    item, _ = FolderDataset(images, masks, classes=THREE, bands=[3, 1])[0]
    np.testing.assert_allclose(item.numpy(), data[[2, 0]] / 65535.0, rtol=1e-6)
    patches = PatchDataset([path], [masks / "s.png"], patch_size=(40, 48), mode="grid",
                           bands=[3, 1])  # fmt: skip
    torch.testing.assert_close(patches[0][0], item)
    with open_source(path, bands=[3, 1]) as source:
        np.testing.assert_array_equal(source.read(0, 40), data[[2, 0]])
    recorder = Recorder(2)
    predict_file(recorder, path, tmp_path / "out", tile=(40, 48), overlap=0, bands=[3, 1],
                 normalization=Normalization(scale=1 / 65535), progress=False)  # fmt: skip
    torch.testing.assert_close(recorder.inputs[0][0], item)


@pytest.mark.parametrize("nodata", [-9999.0, float("nan")])
def test_tiled_prediction_feeds_raw_zero_at_nodata(nodata: float) -> None:
    image = torch.rand(2, 40, 50) + 1
    image[:, 5:15, 10:20] = nodata
    image[0, 30, 30] = nodata  # one band only: data, normalised as it is
    norm = Normalization(scale=1.0, mean=(0.5, 0.25), std=(0.25, 0.5))
    recorder = Recorder(2)
    predict_tensor(recorder, image, tile=(40, 50), overlap=0, nodata=nodata, normalization=norm)
    seen = recorder.inputs[0][0]
    zero = torch.tensor([-0.5 / 0.25, -0.25 / 0.5])
    assert torch.equal(seen[:, 5:15, 10:20], zero[:, None, None].expand(2, 10, 10))
    expected = (image[:, 20:, 30:] - torch.tensor([0.5, 0.25])[:, None, None]) / torch.tensor(
        [0.25, 0.5]
    )[:, None, None]
    if nodata == nodata:
        torch.testing.assert_close(seen[:, 20:, 30:], expected)
    else:
        assert torch.isnan(seen[0, 30, 30]) and not torch.isnan(seen[1, 30, 30])


def test_tiled_prediction_from_a_geotiff_with_nodata(tmp_path: Path) -> None:
    rasterio = pytest.importorskip("rasterio")
    image = np.random.default_rng(4).uniform(1, 2, (2, 64, 64)).astype(np.float32)
    image[:, :8, :] = -9999
    from affine import Affine

    profile = {"driver": "GTiff", "height": 64, "width": 64, "count": 2, "dtype": "float32",
               "nodata": -9999, "tiled": True, "blockxsize": 32, "blockysize": 32,
               "crs": "EPSG:32633", "transform": Affine(1.0, 0, 5e5, 0, -1.0, 5.2e6)}  # fmt: skip
    with rasterio.open(tmp_path / "g.tif", "w", **profile) as dataset:
        dataset.write(image)
    recorder = Recorder(2)
    norm = Normalization(scale=1.0, mean=(1.0, 1.0), std=(2.0, 2.0))
    predict_file(recorder, tmp_path / "g.tif", tmp_path / "out", tile=32, overlap=8,
                 normalization=norm, progress=False)  # fmt: skip
    first = recorder.inputs[0][0]  # the top-left tile
    assert torch.equal(first[:, :8], torch.full((2, 8, 32), -0.5))
    assert (first[:, 8:] > -0.5).all()
