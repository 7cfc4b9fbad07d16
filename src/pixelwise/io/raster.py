"""Whole-image reads and the two rules every path shares: nodata and scaling.

* :func:`read_raster` reads a file through :func:`~pixelwise.io.sources.open_source` (the reader
  tiled prediction uses, window by window) with one full-size window, so training, evaluation
  and prediction see the same bands in the same order and dtype.
* Nodata: a pixel is nodata when *all* its bands equal the nodata value (or are NaN when the
  nodata value is NaN) (:func:`nodata_mask`). :func:`fill_nodata` sets those pixels to 0 in the
  *raw* values, before any scaling or normalisation.
* Scaling: :func:`dtype_scale` maps the file's dtype to the factor that brings raw values to the
  model's input range (``uint8`` / 255, ``uint16`` / 65535, everything else unchanged).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from pixelwise.io.pillow import PILLOW_SUFFIXES
from pixelwise.io.sources import open_source, pillow_array

Backend = Literal["auto", "rasterio", "tifffile", "pillow"]


@dataclass
class RasterImage:
    """A whole raster in memory.

    Attributes:
        array: ``(C, H, W)`` in the file's dtype (after band selection).
        nodata_mask: ``(H, W)`` bool, True at nodata pixels; ``None`` when there is no nodata
            value.
        dtype: ``array.dtype``.
        nodata: the nodata value used (the override, else the file's; ``None``: none).
        crs, transform: georeferencing (``None`` for plain images).
        path: the file it was read from.
    """

    array: np.ndarray
    nodata_mask: np.ndarray | None
    dtype: np.dtype
    nodata: float | None = None
    crs: Any = None
    transform: Any = None
    path: Path | None = None

    @property
    def count(self) -> int:
        return int(self.array.shape[0])

    @property
    def shape(self) -> tuple[int, int]:
        """``(H, W)``."""
        return int(self.array.shape[1]), int(self.array.shape[2])


def read_raster(
    path: str | Path,
    *,
    bands: Sequence[int] | None = None,
    nodata: float | None = None,
    backend: Backend = "auto",
) -> RasterImage:
    """Read all of ``path`` with the prediction reader (:func:`open_source`) and one full read.

    Args:
        path: TIFF/GeoTIFF (rasterio when installed, tifffile for multi-page TIFFs or without
            rasterio), PNG/JPEG/BMP/GIF (Pillow: palette, CMYK and YCbCr become RGB, alpha is
            dropped, 16-bit PNGs stay ``uint16``), or anything GDAL reads.
        bands: 1-based bands to keep (GDAL numbering), in this order; default all.
        nodata: overrides the file's nodata value.
        backend: as for :func:`open_source`.

    Raises:
        RasterNotFoundError, UnreadableRasterError: naming the file.
        ValueError: ``bands`` out of range (names the file and the valid range).
    """
    with open_source(path, bands=bands, nodata=nodata, backend=backend) as source:
        array = np.asarray(source.read(0, source.height))
        used_nodata, crs, transform = source.nodata, source.crs, source.transform
    return RasterImage(
        array=array,
        nodata_mask=nodata_mask(array, used_nodata),
        dtype=array.dtype,
        nodata=used_nodata,
        crs=crs,
        transform=transform,
        path=Path(path),
    )


def read_mask_array(path: str | Path) -> np.ndarray:
    """Decode a label mask into ``(H, W)`` or ``(H, W, C)`` (values as stored).

    Palette PNGs give their *indices* (the labels), grey masks their values, ``LA``/``PA`` their
    first channel and ``RGBA`` its RGB channels (colour-coded masks). TIFFs and other rasters go
    through :func:`read_raster` (one band -> ``(H, W)``, several -> channels last).

    Raises:
        RasterNotFoundError, UnreadableRasterError: naming the file.
    """
    path = Path(path)
    if path.suffix.lower() in PILLOW_SUFFIXES:
        return pillow_array(path, as_mask=True)
    array = read_raster(path).array
    return array[0] if array.shape[0] == 1 else np.moveaxis(array, 0, -1)


def nodata_mask(array: np.ndarray, nodata: float | None) -> np.ndarray | None:
    """``(H, W)`` True where *all* bands of ``array`` ``(C, H, W)`` equal ``nodata`` (or are NaN
    when ``nodata`` is NaN); ``None`` when ``nodata`` is ``None``."""
    if nodata is None:
        return None
    if math.isnan(nodata):
        if array.dtype.kind not in "fc":
            return np.zeros(array.shape[1:], dtype=bool)
        return np.isnan(array).all(axis=0)
    return (array == nodata).all(axis=0)


def fill_nodata(array: np.ndarray, nodata: float | None) -> tuple[np.ndarray, np.ndarray | None]:
    """Set the nodata pixels of ``array`` ``(C, H, W)`` to 0 (raw value, before any scaling).

    Returns:
        ``(filled, mask)``: ``filled`` is ``array`` itself when no pixel is nodata, else a copy
        (the input is never modified); ``mask`` is :func:`nodata_mask`'s ``(H, W)`` bool mask, or
        ``None`` when ``nodata`` is ``None``.
    """
    mask = nodata_mask(array, nodata)
    if mask is None or not mask.any():
        return array, mask
    filled = np.array(array, copy=True)
    filled[:, mask] = 0
    return filled, mask


def dtype_scale(dtype: np.dtype | type | str) -> float:
    """The factor that maps raw pixel values of ``dtype`` to the model's input range.

    ``uint8`` -> 1/255 and ``uint16`` -> 1/65535 (to [0, 1]); ``bool`` -> 1 ({0, 1}); floats ->
    1.0 (kept as they are, e.g. reflectance); other integers (``int16``, ``uint32``, ...) -> 1.0
    (their range is sensor-specific: normalise them with mean/std).
    """
    dtype = np.dtype(dtype)
    if dtype == np.uint8:
        return 1.0 / 255.0
    if dtype == np.uint16:
        return 1.0 / 65535.0
    return 1.0
