"""Raster sources: where tiled inference reads its input, one window at a time.

A :class:`RasterSource` has a size, a band count, a dtype, an optional nodata value and, for
georeferenced files, a CRS and a geotransform; :meth:`RasterSource.read` returns a window as
``(C, rows, cols)`` in the file's dtype (normalisation happens later, per window).

Backends: :class:`ArraySource` (numpy array or torch tensor, ``CHW`` or ``HWC``),
:class:`TiffSource` (tifffile, reads only the tiles/strips a window touches),
:class:`RasterioSource` (GeoTIFF and anything GDAL reads; needs ``pixelwise[geo]``) and
:func:`open_source`, which picks one from the file name (PNG/JPEG go through Pillow, whole image).
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from pixelwise.tiling.tiff_window import TiffWindowReader

TIFF_SUFFIXES = (".tif", ".tiff", ".gtiff", ".btf", ".tf8")
PILLOW_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


class UnreadableRasterError(OSError):
    """A raster file exists but cannot be opened or decoded."""


def require_rasterio() -> Any:
    """Import rasterio or explain how to get it."""
    try:
        import rasterio
    except ImportError as err:  # pragma: no cover - rasterio is installed in the dev venv
        raise ImportError(
            "GeoTIFF input/output needs rasterio, which is not installed: "
            "pip install pixelwise[geo]"
        ) from err
    return rasterio


GDAL_CACHE_MB = 64


def gdal_env() -> Any:
    """A rasterio environment with a small GDAL block cache (the default is 5 % of the RAM,
    which would make the resident size grow with the image). Entered around each GDAL call."""
    return require_rasterio().Env(GDAL_CACHEMAX=GDAL_CACHE_MB)


class RasterSource(ABC):
    """A ``count x height x width`` raster read window by window.

    Attributes:
        height, width, count: size and number of bands (after band selection).
        dtype: numpy dtype of :meth:`read`'s output.
        nodata: pixels whose bands all equal this value are "no data" (``None``: none).
        crs, transform: georeferencing (``None`` for plain images); ``transform`` is an
            ``affine.Affine`` when read with rasterio.
    """

    height: int
    width: int
    count: int
    dtype: np.dtype
    nodata: float | None = None
    crs: Any = None
    transform: Any = None
    name: str = "array"

    @abstractmethod
    def read(self, row0: int, row1: int, col0: int = 0, col1: int | None = None) -> np.ndarray:
        """Window ``[row0:row1, col0:col1]`` as ``(count, rows, cols)``."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release file handles."""

    def __enter__(self) -> RasterSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _select_bands(count: int, bands: Sequence[int] | None, name: str) -> list[int]:
    """0-based band indices from 1-based ``bands`` (GDAL numbering)."""
    if bands is None:
        return list(range(count))
    chosen = [int(b) - 1 for b in bands]
    bad = [b + 1 for b in chosen if not 0 <= b < count]
    if bad or not chosen:
        raise ValueError(f"bands {list(bands)} are not in 1..{count} of {name}")
    return chosen


class ArraySource(RasterSource):
    """An in-memory image.

    Args:
        image: numpy array or torch tensor, ``(C, H, W)`` for ``layout="CHW"`` (the default, the
            torch convention), ``(H, W, C)`` for ``layout="HWC"`` (numpy/PIL), or ``(H, W)``.
        nodata: optional nodata value.
    """

    def __init__(
        self,
        image: np.ndarray | torch.Tensor,
        *,
        layout: Literal["CHW", "HWC"] = "CHW",
        nodata: float | None = None,
        bands: Sequence[int] | None = None,
    ) -> None:
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
        self._array = array[_select_bands(array.shape[0], bands, "the array")]
        self.count, self.height, self.width = self._array.shape
        self.dtype = self._array.dtype
        self.nodata = nodata
        self.layout = layout

    def read(self, row0: int, row1: int, col0: int = 0, col1: int | None = None) -> np.ndarray:
        return self._array[:, row0:row1, col0 : self.width if col1 is None else col1]


class TiffSource(RasterSource):
    """A TIFF/BigTIFF read window by window with tifffile (no rasterio needed).

    The GDAL_NODATA tag is honoured; georeferencing is not read (use :class:`RasterioSource`).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        bands: Sequence[int] | None = None,
        nodata: float | None = None,
        page: int = 0,
    ) -> None:
        self.path = Path(path)
        self.name = str(self.path)
        try:
            self._reader = TiffWindowReader(self.path, page=page)
        except (OSError, ValueError, IndexError) as err:
            raise UnreadableRasterError(f"cannot read TIFF {self.path}: {err}") from err
        self._bands = _select_bands(self._reader.count, bands, str(self.path))
        self.count = len(self._bands)
        self.height, self.width = self._reader.height, self._reader.width
        self.dtype = self._reader.dtype
        self.nodata = nodata if nodata is not None else self._reader.nodata

    def read(self, row0: int, row1: int, col0: int = 0, col1: int | None = None) -> np.ndarray:
        window = self._reader.read(row0, row1, col0, col1)
        return window if len(self._bands) == window.shape[0] else window[self._bands]

    def close(self) -> None:
        self._reader.close()


class RasterioSource(RasterSource):
    """A raster read window by window with rasterio (GeoTIFF and other GDAL formats).

    Keeps the CRS, geotransform and nodata of the file (``nodata`` overrides the file's value).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        bands: Sequence[int] | None = None,
        nodata: float | None = None,
    ) -> None:
        rasterio = require_rasterio()
        self.path = Path(path)
        self.name = str(self.path)
        try:
            with warnings.catch_warnings(), gdal_env():
                warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
                self._dataset = rasterio.open(self.path)
        except rasterio.errors.RasterioIOError as err:
            raise UnreadableRasterError(f"cannot read raster {self.path}: {err}") from err
        self._indexes = [b + 1 for b in _select_bands(self._dataset.count, bands, self.name)]
        self.count = len(self._indexes)
        self.height, self.width = self._dataset.height, self._dataset.width
        self.dtype = np.dtype(self._dataset.dtypes[self._indexes[0] - 1])
        self.nodata = nodata if nodata is not None else self._dataset.nodata
        self.crs, self.transform = self._dataset.crs, self._dataset.transform

    def read(self, row0: int, row1: int, col0: int = 0, col1: int | None = None) -> np.ndarray:
        from rasterio.windows import Window

        col1 = self.width if col1 is None else col1
        window = Window(col0, row0, col1 - col0, row1 - row0)  # type: ignore[call-arg]
        with gdal_env():
            return self._dataset.read(self._indexes, window=window)

    def close(self) -> None:
        with gdal_env():
            self._dataset.close()


def _pillow_source(path: Path, bands: Sequence[int] | None, nodata: float | None) -> ArraySource:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            if image.mode in ("P", "PA", "CMYK", "YCbCr"):
                image = image.convert("RGB")
            array = np.asarray(image)
    except (UnidentifiedImageError, OSError) as err:
        raise UnreadableRasterError(f"cannot read image {path}: {err}") from err
    source = ArraySource(array, layout="HWC", nodata=nodata, bands=bands)
    source.name = str(path)
    return source


def open_source(
    path: str | Path,
    *,
    backend: Literal["auto", "rasterio", "tifffile", "pillow"] = "auto",
    bands: Sequence[int] | None = None,
    nodata: float | None = None,
) -> RasterSource:
    """Open ``path`` for window reads.

    ``auto`` uses rasterio for TIFFs when it is installed (georeferencing kept), else tifffile;
    Pillow for PNG/JPEG/BMP; rasterio for anything else.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        UnreadableRasterError: the file exists but cannot be decoded (names the path).
        ImportError: rasterio is needed but missing (``pip install pixelwise[geo]``).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"input raster {path} does not exist")
    suffix = path.suffix.lower()
    if backend == "auto":
        if suffix in PILLOW_SUFFIXES:
            backend = "pillow"
        elif suffix in TIFF_SUFFIXES:
            try:
                require_rasterio()
                backend = "rasterio"
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
