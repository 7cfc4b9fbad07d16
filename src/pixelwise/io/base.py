"""The :class:`RasterSource` interface, band selection and the errors every reader raises."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np

UNREADABLE_HINT = (
    "The file is truncated or not an image; re-download or re-export it "
    "(or remove it from the dataset)."
)


class UnreadableRasterError(OSError):
    """A raster file cannot be opened or decoded (the message names the file)."""


class RasterNotFoundError(UnreadableRasterError, FileNotFoundError):
    """The raster file does not exist."""


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


def select_bands(count: int, bands: Sequence[int] | None, name: str) -> list[int]:
    """0-based band indices from 1-based ``bands`` (GDAL numbering).

    Raises:
        ValueError: naming ``name`` and the valid range when a band is out of range.
    """
    if bands is None:
        return list(range(count))
    chosen = [int(b) - 1 for b in bands]
    bad = [b + 1 for b in chosen if not 0 <= b < count]
    if bad or not chosen:
        raise ValueError(
            f"bands {list(bands)} do not exist in {name}: it has {count} band(s), valid bands "
            f"are 1..{count} (1-based, GDAL numbering)"
        )
    return chosen
