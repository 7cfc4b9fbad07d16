"""rasterio (GDAL) reads: GeoTIFF and every other format GDAL knows, window by window, with the
file's CRS, geotransform and nodata. Needs ``pixelwise[geo]``."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pixelwise.io.base import UNREADABLE_HINT, RasterSource, UnreadableRasterError, select_bands


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
            raise UnreadableRasterError(
                f"cannot read raster {self.path}: {err}. {UNREADABLE_HINT}"
            ) from err
        try:
            indexes = select_bands(self._dataset.count, bands, self.name)
        except ValueError:
            self.close()
            raise
        self._indexes = [b + 1 for b in indexes]
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
