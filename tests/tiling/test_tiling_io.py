"""Files on disk: streaming equals in-memory, GeoTIFF round trip, clear errors (TIFF window
reads themselves are tested in tests/io/test_io_tiff_window.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
from tiling_helpers import conv_net

from pixelwise.tiling import (
    GeoTiffSink,
    Normalization,
    TiffSink,
    TiffSource,
    UnreadableRasterError,
    open_source,
    predict_file,
    predict_large,
    predict_tensor,
)

rasterio = pytest.importorskip("rasterio")  # the [geo] extra is part of the dev environment


def _image(height: int = 150, width: int = 110, bands: int = 3) -> np.ndarray:
    """Smooth uint8 bands with some texture, ``(bands, H, W)``."""
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[:height, :width]
    base = [np.sin(yy / (7 + b)) + np.cos(xx / (5 + b)) for b in range(bands)]
    noisy = (np.stack(base) + 2) * 50 + rng.integers(0, 40, (bands, height, width))
    return noisy.clip(0, 255).astype(np.uint8)


def test_streaming_from_a_tiled_tiff_equals_in_memory(tmp_path: Path) -> None:
    image = _image(300, 170)
    path = tmp_path / "big.tif"
    tifffile.imwrite(path, np.moveaxis(image, 0, -1), tile=(64, 64), compression="zlib")
    net, norm = conv_net(), Normalization(scale=1 / 255, mean=(0.5,) * 3, std=(0.25,) * 3)
    kwargs = {"tile": 64, "overlap": 16, "blend": "gaussian", "batch_size": 3}
    in_memory = predict_tensor(net, image, normalization=norm, **kwargs)
    labels_path = tmp_path / "out" / "labels.tif"
    probs_path = tmp_path / "out" / "probs.tif"
    with TiffSource(path) as source:
        sink = TiffSink(labels_path, probs_path, prob_dtype="float32", blocksize=32)
        written = predict_large(net, source, sink, normalization=norm, progress=False, **kwargs)
    assert written == [labels_path, probs_path]
    np.testing.assert_array_equal(tifffile.imread(labels_path), in_memory.argmax(0).numpy())
    np.testing.assert_allclose(
        tifffile.imread(probs_path), in_memory.permute(1, 2, 0).numpy(), rtol=1e-6, atol=1e-7
    )
    with tifffile.TiffFile(labels_path) as written_tiff:
        page = written_tiff.pages[0]
        assert page.is_tiled and page.compression == 8 and page.photometric == 3  # palette


def _write_geotiff(path: Path, image: np.ndarray, nodata: float) -> tuple:
    from affine import Affine
    from rasterio.crs import CRS

    crs, transform = CRS.from_epsg(32633), Affine(0.5, 0.0, 500000.0, 0.0, -0.5, 5200000.0)
    profile = {
        "driver": "GTiff",
        "height": image.shape[1],
        "width": image.shape[2],
        "count": image.shape[0],
        "dtype": "uint8",
        "crs": crs,
        "transform": transform,
        "nodata": nodata,
        "tiled": True,
        "blockxsize": 64,
        "blockysize": 64,
        "compress": "deflate",
    }
    with rasterio.open(path, "w", **profile) as dataset:
        dataset.write(image)
    return crs, transform


def test_geotiff_round_trip_keeps_crs_transform_and_nodata(tmp_path: Path) -> None:
    image = _image(200, 130)
    image[image == 0] = 1
    image[:, 40:80, 20:60] = 0  # the nodata area
    crs, transform = _write_geotiff(tmp_path / "scene.tif", image, nodata=0)
    net, norm = conv_net(), Normalization(scale=1 / 255)
    written = predict_file(
        net, tmp_path / "scene.tif", tmp_path / "pred", tile=64, overlap=16, blend="crop",
        output="both", normalization=norm, progress=False,
    )  # fmt: skip
    assert [p.name for p in written] == ["scene_labels.tif", "scene_probs.tif"]
    expected = predict_tensor(net, image, tile=64, overlap=16, blend="crop", normalization=norm,
                              nodata=0)  # fmt: skip
    with rasterio.open(written[0]) as labels:
        assert labels.crs == crs and labels.transform == transform
        assert labels.nodata == 255 and labels.dtypes == ("uint8",)
        assert labels.profile["tiled"] and labels.compression.value == "DEFLATE"
        # no colours given: the package's one palette (data.classes.default_palette, which
        # leaves black to void pixels)
        assert labels.colormap(1)[0][:3] == (128, 0, 0) and labels.colormap(1)[1][:3] == (0, 128, 0)
        values = labels.read(1)
    assert (values[40:80, 20:60] == 255).all()
    valid = np.ones(values.shape, bool)
    valid[40:80, 20:60] = False
    np.testing.assert_array_equal(values[valid], expected.argmax(0).numpy()[valid])
    with rasterio.open(written[1]) as probs:
        assert probs.count == 4 and probs.nodata == 255 and probs.crs == crs
        quantised = probs.read()
    assert (quantised[:, 40:80, 20:60] == 255).all()
    np.testing.assert_array_equal(
        quantised[:, valid], np.round(expected.numpy()[:, valid] * 254).astype(np.uint8)
    )


def test_geotiff_sink_float_probabilities_use_nan_nodata(tmp_path: Path) -> None:
    image = _image(90, 70)
    image[:, :10] = 7
    _write_geotiff(tmp_path / "in.tif", image, nodata=7)
    with open_source(tmp_path / "in.tif") as source:
        assert source.nodata == 7 and source.crs.to_epsg() == 32633
        sink = GeoTiffSink(None, tmp_path / "p.tif", prob_dtype="float32")
        predict_large(conv_net(), source, sink, tile=32, overlap=8, progress=False)
    with rasterio.open(tmp_path / "p.tif") as probs:
        values = probs.read()
        assert np.isnan(probs.nodata) and probs.dtypes[0] == "float32"
    assert np.isnan(values[:, :10]).all() and not np.isnan(values[:, 10:]).any()
    np.testing.assert_allclose(values[:, 10:].sum(axis=0), 1.0, rtol=1e-5)


def test_png_in_palette_png_out(tmp_path: Path) -> None:
    from PIL import Image

    image = _image(45, 60)
    Image.fromarray(np.moveaxis(image, 0, -1)).save(tmp_path / "small.png")
    net = conv_net()
    (written,) = predict_file(net, tmp_path / "small.png", tmp_path, tile=32, overlap=8,
                              blend="crop", progress=False, colors=[(1, 2, 3)] * 4)  # fmt: skip
    with Image.open(written) as result:
        assert result.mode == "P" and result.getpalette()[:3] == [1, 2, 3]
        labels = np.asarray(result)
    expected = predict_tensor(net, image, tile=32, overlap=8, blend="crop").argmax(0)
    np.testing.assert_array_equal(labels, expected.numpy())


def test_unreadable_and_missing_files_name_the_path(tmp_path: Path) -> None:
    broken = tmp_path / "broken.tif"
    broken.write_bytes(b"II*\x00 this is not a tiff")
    for backend in ("tifffile", "rasterio"):
        with pytest.raises(UnreadableRasterError, match="broken.tif"):
            open_source(broken, backend=backend)
    with pytest.raises(UnreadableRasterError, match="broken.png"):
        (tmp_path / "broken.png").write_bytes(b"not a png")
        open_source(tmp_path / "broken.png")
    with pytest.raises(FileNotFoundError, match="nowhere.tif"):
        predict_file(conv_net(), tmp_path / "nowhere.tif", tmp_path)


def test_file_band_count_mismatch_names_both_numbers(tmp_path: Path) -> None:
    tifffile.imwrite(tmp_path / "four.tif", np.moveaxis(_image(40, 40, bands=4), 0, -1))
    with pytest.raises(ValueError, match=r"four.tif has 4 bands but the model expects 3"):
        predict_file(conv_net(), tmp_path / "four.tif", tmp_path, tile=32, overlap=8)
    written = predict_file(conv_net(), tmp_path / "four.tif", tmp_path / "o", tile=32, overlap=8,
                           bands=[1, 2, 3], progress=False)  # fmt: skip
    assert written[0].exists()


def test_predict_file_passes_num_classes_check(tmp_path: Path) -> None:
    tifffile.imwrite(tmp_path / "rgb.tif", np.moveaxis(_image(40, 40), 0, -1))
    with pytest.raises(ValueError, match=r"outputs 4 channels but num_classes=6"):
        predict_file(conv_net(), tmp_path / "rgb.tif", tmp_path, tile=32, overlap=8,
                     num_classes=6, progress=False)  # fmt: skip


@pytest.mark.parametrize("dtype", ["uint16", "int16", "float32"])
def test_other_sample_types_stream_like_in_memory(tmp_path: Path, dtype: str) -> None:
    image = (_image(70, 50).astype(np.float32) * 100 - 3000).astype(dtype)
    if dtype == "uint16":
        image = (image.astype(np.int64) + 5000).astype(dtype)
    tifffile.imwrite(tmp_path / "x.tif", np.moveaxis(image, 0, -1), tile=(32, 32),
                     photometric="minisblack", planarconfig="contig")  # fmt: skip
    norm = Normalization(scale=1e-3)
    with TiffSource(tmp_path / "x.tif") as source:
        assert source.dtype == np.dtype(dtype)
        sink = TiffSink(None, tmp_path / "p.tif", prob_dtype="float32", blocksize=16)
        predict_large(conv_net(), source, sink, tile=32, overlap=8, normalization=norm,
                      progress=False)  # fmt: skip
    expected = predict_tensor(conv_net(), image.astype(np.float64).astype(np.float32), tile=32,
                              overlap=8, normalization=norm)  # fmt: skip
    np.testing.assert_allclose(
        tifffile.imread(tmp_path / "p.tif"), expected.permute(1, 2, 0).numpy(), atol=1e-6
    )
