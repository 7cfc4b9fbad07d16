"""TIFF window reads: every layout equals the whole image, pages are bands in tifffile's series
order, windows decode only the segments they touch, volumes are refused by name."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from pixelwise.io import TiffSource, TiffWindowReader, UnreadableRasterError, open_source


def _image(height: int = 150, width: int = 110, bands: int = 3) -> np.ndarray:
    """Smooth uint8 bands with some texture, ``(bands, H, W)``."""
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[:height, :width]
    base = [np.sin(yy / (7 + b)) + np.cos(xx / (5 + b)) for b in range(bands)]
    noisy = (np.stack(base) + 2) * 50 + rng.integers(0, 40, (bands, height, width))
    return noisy.clip(0, 255).astype(np.uint8)


def _series_bands(path: Path) -> np.ndarray:
    """tifffile's ``series[0].asarray()`` with the sample axis moved next to the page axis,
    flattened to ``(bands, H, W)``: the order the readers must follow."""
    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        array, axes = series.asarray(), series.axes
    if axes.endswith("S"):
        array = np.moveaxis(array, -1, -3)
    return array.reshape(-1, *array.shape[-2:])


WINDOWS = [(0, 150, 0, 110), (31, 70, 5, 99), (149, 150, 0, 1), (10, 90, 3, 20)]


@pytest.mark.parametrize(
    "layout",
    [
        {"tile": (32, 48), "compression": "zlib"},
        {"rowsperstrip": 7, "compression": "zlib", "predictor": True},
        {"tile": (16, 16), "planarconfig": "separate"},
        {},  # uncompressed, contiguous: read row by row
    ],
    ids=["tiled", "strips", "planar", "contiguous"],
)
def test_tiff_windows_equal_the_whole_image(tmp_path: Path, layout: dict) -> None:
    image = _image()
    path = tmp_path / "image.tif"
    data = image if layout.get("planarconfig") == "separate" else np.moveaxis(image, 0, -1)
    tifffile.imwrite(path, data, photometric="rgb", **layout)
    source = TiffSource(path)
    assert (source.count, source.height, source.width) == (3, 150, 110)
    for row0, row1, col0, col1 in WINDOWS:
        np.testing.assert_array_equal(
            source.read(row0, row1, col0, col1), image[:, row0:row1, col0:col1]
        )
    np.testing.assert_array_equal(TiffSource(path, bands=[3, 1]).read(10, 20), image[[2, 0], 10:20])
    source.close()


@pytest.mark.parametrize(
    ("shape", "kwargs", "count"),
    [
        ((4, 150, 110), {"photometric": "minisblack"}, 4),  # 'QYX': one band per page
        ((4, 150, 110), {"photometric": "minisblack", "tile": (32, 32), "compression": "zlib"}, 4),
        ((4, 150, 110), {"photometric": "minisblack", "rowsperstrip": 9, "compression": "zlib"}, 4),
        ((2, 150, 110, 3), {"photometric": "rgb"}, 6),  # 'QYXS': pages of interleaved samples
        ((2, 150, 110, 3), {"photometric": "rgb", "tile": (16, 32), "compression": "zlib"}, 6),
        ((2, 3, 150, 110), {"photometric": "minisblack", "planarconfig": "separate"}, 6),  # QSYX
        ((4, 1, 150, 110), {"photometric": "minisblack"}, 4),  # 'QQYX' with a unit axis
    ],
)
def test_pages_are_bands_in_series_order(tmp_path: Path, shape, kwargs, count) -> None:
    rng = np.random.default_rng(2)
    data = rng.integers(0, 65535, shape, dtype=np.uint16)
    path = tmp_path / "pages.tif"
    tifffile.imwrite(path, data, **kwargs)
    expected = _series_bands(path)
    reader = TiffWindowReader(path)
    assert (reader.count, reader.height, reader.width, reader.dtype) == (count, 150, 110, "uint16")
    for row0, row1, col0, col1 in WINDOWS:
        np.testing.assert_array_equal(
            reader.read(row0, row1, col0, col1), expected[:, row0:row1, col0:col1]
        )
    reader.close()
    with open_source(path) as source:  # auto: tifffile even when rasterio is installed
        assert isinstance(source, TiffSource) and source.count == count
        np.testing.assert_array_equal(source.read(5, 9, 7, 11), expected[:, 5:9, 7:11])
    with TiffSource(path, bands=[count, 1]) as source:
        np.testing.assert_array_equal(source.read(0, 150), expected[[count - 1, 0]])


@pytest.mark.parametrize(
    ("shape", "axes"), [((4, 20, 30), "ZYX"), ((2, 3, 20, 30), "ZCYX"), ((2, 3, 20, 30), "TCYX")]
)
def test_volumes_and_hyperstacks_name_the_file_and_axes(tmp_path: Path, shape, axes) -> None:
    path = tmp_path / "stack.tif"
    tifffile.imwrite(path, np.zeros(shape, np.uint8), imagej=True, metadata={"axes": axes})
    with pytest.raises(UnreadableRasterError, match=rf"stack\.tif.*axes '{axes}'"):
        open_source(path)


def test_a_window_decodes_only_the_tiles_it_touches(tmp_path: Path, monkeypatch) -> None:
    rng = np.random.default_rng(3)
    data = rng.integers(0, 65535, (4, 256, 256), dtype=np.uint16)
    path = tmp_path / "tiled.tif"
    tifffile.imwrite(path, data, photometric="minisblack", tile=(64, 64), compression="zlib")
    requested: list[int] = []
    read_segments = tifffile.FileHandle.read_segments

    def counting(self, offsets, bytecounts, *args, **kwargs):
        requested.extend(offsets)
        return read_segments(self, offsets, bytecounts, *args, **kwargs)

    monkeypatch.setattr(tifffile.FileHandle, "read_segments", counting)
    reader = TiffWindowReader(path)
    # rows 70..100 and cols 10..60 lie in tile (1, 0) of each of the 4 pages (64 tiles in all)
    np.testing.assert_array_equal(reader.read(70, 100, 10, 60), data[:, 70:100, 10:60])
    assert reader.segments_decoded == 4 and len(requested) == 4
    # the next rows start in the kept tile row: only tile row 2 is decoded, cols 0..1
    np.testing.assert_array_equal(reader.read(100, 140, 10, 70), data[:, 100:140, 10:70])
    assert reader.segments_decoded == 4 + 4 * 3 and len(requested) == 16
    reader.close()
