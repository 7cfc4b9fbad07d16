"""Raster sources: where tiled inference reads its input, one window at a time.

A :class:`RasterSource` has a size, a band count, a dtype, an optional nodata value and, for
georeferenced files, a CRS and a geotransform; :meth:`RasterSource.read` returns a window as
``(C, rows, cols)`` in the file's dtype (normalisation happens later, per window).

Backends: :class:`ArraySource` (numpy array or torch tensor, ``CHW`` or ``HWC``),
:class:`TiffSource` (tifffile, reads only the tiles/strips a window touches; bands are the pages
x samples of the file's first series), :class:`RasterioSource` (GeoTIFF and anything GDAL reads;
needs ``pixelwise[geo]``) and :func:`open_source`, which picks one from the file name
(PNG/JPEG/BMP/GIF go through Pillow, whole image, see :mod:`pixelwise.io.pillow`).

``bands`` are 1-based (GDAL numbering) on every backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from pixelwise.io.base import (
    UNREADABLE_HINT,
    RasterNotFoundError,
    RasterSource,
    UnreadableRasterError,
    select_bands,
)
from pixelwise.io.geo import GDAL_CACHE_MB, RasterioSource, gdal_env, require_rasterio
from pixelwise.io.pillow import PILLOW_SUFFIXES, pillow_array
from pixelwise.io.tiff_window import TiffLayoutError, TiffWindowReader

TIFF_SUFFIXES = (".tif", ".tiff", ".gtiff", ".btf", ".tf8")


class ArraySource(RasterSource):
    """An in-memory image.

    Args:
        image: numpy array or torch tensor, ``(C, H, W)`` for ``layout="CHW"`` (the default, the
            torch convention), ``(H, W, C)`` for ``layout="HWC"`` (numpy/PIL), or ``(H, W)``.
            Kept as a view (a memory map is not loaded).
        nodata: optional nodata value.
        bands: 1-based bands to read (default: all).
        name: how errors name the image (e.g. the file it came from).
    """

    def __init__(
        self,
        image: np.ndarray | torch.Tensor,
        *,
        layout: Literal["CHW", "HWC"] = "CHW",
        nodata: float | None = None,
        bands: Sequence[int] | None = None,
        name: str = "array",
    ) -> None:
        self.name = name
        if isinstance(image, torch.Tensor):
            image = image.detach().cpu().numpy()
        array = np.asarray(image)
        if layout not in ("CHW", "HWC"):
            raise ValueError(f"layout must be 'CHW' or 'HWC'; got {layout!r}")
        if array.ndim == 2:
            array = array[None]
        elif array.ndim == 3 and layout == "HWC":
            array = np.moveaxis(array, -1, 0)
        elif array.ndim != 3:
            raise ValueError(
                f"image must be 2-D (H, W) or 3-D ({layout}); got shape {tuple(array.shape)}"
            )
        self._array = array  # a view: a memory map stays a memory map
        self._bands = None if bands is None else select_bands(array.shape[0], bands, self.name)
        self.count = array.shape[0] if self._bands is None else len(self._bands)
        self.height, self.width = array.shape[1:]
        self.dtype = array.dtype
        self.nodata = nodata
        self.layout = layout

    def read(self, row0: int, row1: int, col0: int = 0, col1: int | None = None) -> np.ndarray:
        window = self._array[:, row0:row1, col0 : self.width if col1 is None else col1]
        return window if self._bands is None else window[self._bands]


class TiffSource(RasterSource):
    """A TIFF/BigTIFF read window by window with tifffile (no rasterio needed).

    Bands are the pages x samples of the file's first series (a 4-page TIFF of ``(H, W)`` pages
    has 4 bands), see :class:`~pixelwise.io.tiff_window.TiffWindowReader`. The GDAL_NODATA tag
    is honoured; georeferencing is not read (use :class:`RasterioSource`).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        bands: Sequence[int] | None = None,
        nodata: float | None = None,
    ) -> None:
        self.path = Path(path)
        self.name = str(self.path)
        if not self.path.is_file():
            raise RasterNotFoundError(f"input raster {self.path} does not exist")
        try:
            self._reader = TiffWindowReader(self.path)
        except TiffLayoutError as err:  # decodable, but not one image with bands
            raise UnreadableRasterError(str(err)) from err
        except (OSError, ValueError, IndexError, KeyError) as err:
            raise UnreadableRasterError(
                f"cannot read TIFF {self.path}: {err}. {UNREADABLE_HINT}"
            ) from err
        self._bands = select_bands(self._reader.count, bands, str(self.path))
        self.count = len(self._bands)
        self.height, self.width = self._reader.height, self._reader.width
        self.dtype = self._reader.dtype
        self.nodata = nodata if nodata is not None else self._reader.nodata

    @property
    def window_reader(self) -> TiffWindowReader:
        """The underlying reader (e.g. for its ``segments_decoded`` count)."""
        return self._reader

    def read(self, row0: int, row1: int, col0: int = 0, col1: int | None = None) -> np.ndarray:
        window = self._reader.read(row0, row1, col0, col1)
        return window if self._bands == list(range(window.shape[0])) else window[self._bands]

    def close(self) -> None:
        self._reader.close()


def _pillow_source(path: Path, bands: Sequence[int] | None, nodata: float | None) -> ArraySource:
    return ArraySource(pillow_array(path), layout="HWC", nodata=nodata, bands=bands, name=str(path))


def _is_band_stack(path: Path) -> bool:
    """True when tifffile sees the TIFF's first series as several pages (bands that GDAL would
    not see: it reads the first page only); False when it is one page or unreadable."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            return len(tif.series[0].pages) > 1
    except Exception:  # let the chosen backend report the error
        return False


def open_source(
    path: str | Path,
    *,
    backend: Literal["auto", "rasterio", "tifffile", "pillow"] = "auto",
    bands: Sequence[int] | None = None,
    nodata: float | None = None,
) -> RasterSource:
    """Open ``path`` for window reads.

    ``auto`` uses rasterio for TIFFs when it is installed (georeferencing kept), else tifffile;
    a TIFF whose first series stacks several pages always goes through tifffile, which gives
    every page's bands (GDAL would give the first page's only). Pillow for PNG/JPEG/BMP/GIF;
    rasterio for anything else. ``bands`` are 1-based; ``nodata`` overrides the file's value.

    Raises:
        RasterNotFoundError: ``path`` does not exist (a ``FileNotFoundError``).
        UnreadableRasterError: the file exists but cannot be decoded (names the path).
        ValueError: ``bands`` out of range (names the file and the valid range).
        ImportError: rasterio is needed but missing (``pip install pixelwise[geo]``).
    """
    path = Path(path)
    if not path.is_file():
        raise RasterNotFoundError(f"input raster {path} does not exist")
    suffix = path.suffix.lower()
    if backend == "auto":
        if suffix in PILLOW_SUFFIXES:
            backend = "pillow"
        elif suffix in TIFF_SUFFIXES:
            try:
                require_rasterio()
                backend = "tifffile" if _is_band_stack(path) else "rasterio"
            except ImportError:
                backend = "tifffile"
        else:
            backend = "rasterio"
    if backend == "pillow":
        return _pillow_source(path, bands, nodata)
    if backend == "tifffile":
        return TiffSource(path, bands=bands, nodata=nodata)
    if backend == "rasterio":
        return RasterioSource(path, bands=bands, nodata=nodata)
    raise ValueError(f"backend must be auto, rasterio, tifffile or pillow; got {backend!r}")


__all__ = [
    "GDAL_CACHE_MB",
    "PILLOW_SUFFIXES",
    "TIFF_SUFFIXES",
    "ArraySource",
    "RasterNotFoundError",
    "RasterSource",
    "RasterioSource",
    "TiffSource",
    "UnreadableRasterError",
    "gdal_env",
    "open_source",
    "pillow_array",
    "require_rasterio",
    "select_bands",
]
