"""Reading images and masks for the datasets: a thin layer over :mod:`pixelwise.io`, the reader
tiled prediction uses, so training and prediction see the same bands, dtype and nodata.

Arrays are channels-last (H x W x C, or H x W for single-band); :func:`image_to_tensor` turns them
into the C x H x W float32 tensors that the datasets return, scaled by
:func:`pixelwise.io.dtype_scale` (``uint8`` / 255, ``uint16`` / 65535, others unchanged).
:class:`RasterReader` reads windows of rasters too large for memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from pixelwise.io import (
    PILLOW_SUFFIXES,
    ArraySource,
    RasterNotFoundError,
    RasterSource,
    UnreadableRasterError,
    dtype_scale,
    open_source,
    read_mask_array,
    read_raster,
)

TIFF_SUFFIXES = (".tif", ".tiff")

ImageReadError = UnreadableRasterError
"""A file could not be decoded (missing, truncated, or not an image); the message names it.
The same class as :class:`pixelwise.io.UnreadableRasterError` (a missing file raises its
subclass :class:`pixelwise.io.RasterNotFoundError`, also a ``FileNotFoundError``)."""


def read_array(path: str | Path, *, as_mask: bool = False) -> np.ndarray:
    """Decode ``path`` fully into an H x W or H x W x C array (dtype as stored).

    Images go through :func:`pixelwise.io.read_raster` (palette and other colour modes become
    RGB, alpha is dropped, multi-page TIFFs give one band per page and sample). Masks
    (``as_mask=True``) through :func:`pixelwise.io.read_mask_array`: palette PNGs give their
    indices, grey masks their values.

    Raises:
        ImageReadError: naming the file when it is missing, truncated or not decodable.
    """
    if as_mask:
        return read_mask_array(path)
    array = read_raster(path).array
    return array[0] if array.shape[0] == 1 else np.moveaxis(array, 0, -1)


def image_to_tensor(array: np.ndarray) -> torch.Tensor:
    """H x W (x C) array -> C x H x W float32, multiplied by :func:`pixelwise.io.dtype_scale`
    (the factor inference uses): uint8 / uint16 to [0, 1] by their dtype's maximum, bool to
    {0, 1}, floats and other integers kept as they are (e.g. reflectance)."""
    if array.ndim == 2:
        array = array[:, :, None]
    scaled = array.astype(np.float32)
    scale = dtype_scale(array.dtype)
    if scale != 1.0:
        scaled *= np.float32(scale)
    return torch.from_numpy(np.ascontiguousarray(scaled.transpose(2, 0, 1)))


def create_tiff_memmap(
    path: str | Path, shape: tuple[int, ...], dtype: np.dtype | type
) -> np.memmap:
    """Create an uncompressed TIFF of ``shape`` (H x W or H x W x C, channels interleaved) and
    return it memory-mapped for writing window by window (BigTIFF above 2 GiB)."""
    import tifffile

    nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    layout: dict[str, Any] = {"photometric": "rgb"} if len(shape) == 3 and shape[2] == 3 else {}
    if len(shape) == 3 and shape[2] != 3:
        layout = {"photometric": "minisblack", "planarconfig": "contig"}
    return tifffile.memmap(path, shape=shape, dtype=dtype, bigtiff=nbytes > 2**31, **layout)


class RasterReader:
    """Windowed reads from a large raster through :mod:`pixelwise.io` sources.

    ``source`` is an array (``np.ndarray``/``np.memmap``, H x W or H x W x C), a ``.npy`` file
    (memory-mapped), a TIFF (tifffile reads only the tiles/strips a window touches, compressed
    or not; bands = pages x samples), a GeoTIFF or other GDAL raster (rasterio windows), or a
    PNG/JPEG/BMP/GIF (decoded once: fine for small files). Masks (``as_mask=True``) are read as
    their first band (palette PNGs as indices).

    Args:
        bands: 1-based bands of an image to read (default all).
        nodata: overrides the file's nodata value (exposed as :attr:`nodata`).
        backend: :func:`pixelwise.io.open_source` backend for files.
    """

    def __init__(
        self,
        source: str | Path | np.ndarray,
        *,
        as_mask: bool = False,
        bands: Sequence[int] | None = None,
        nodata: float | None = None,
        backend: Literal["auto", "rasterio", "tifffile", "pillow"] = "auto",
    ) -> None:
        self.source, self.as_mask, self.backend = source, as_mask, backend
        self.bands = [1] if as_mask else (None if bands is None else [int(b) for b in bands])
        self.nodata_override = nodata
        self.name = str(source) if isinstance(source, str | Path) else "<array>"
        self._raster, self._memory_mapped, hwc_array = self._open(source)
        self.height, self.width = self._raster.height, self._raster.width
        self.count, self.dtype = self._raster.count, np.dtype(self._raster.dtype)
        self._squeeze = self.count == 1 and not hwc_array  # H x W windows for one band

    def _open(self, source: str | Path | np.ndarray) -> tuple[RasterSource, bool, bool]:
        """``(source, memory mapped, a 3-D array)``."""
        array: np.ndarray | None = None
        if isinstance(source, np.ndarray):
            array = source
        else:
            path = Path(source)
            if not path.exists():
                raise RasterNotFoundError(f"{path}: file not found")
            suffix = path.suffix.lower()
            if suffix == ".npy":
                array = np.load(path, mmap_mode="r")
            elif self.as_mask and suffix in PILLOW_SUFFIXES:
                array = read_mask_array(path)
            else:
                opened = open_source(
                    path, bands=self.bands, nodata=self.nodata_override, backend=self.backend
                )
                return opened, False, False
        if array.ndim not in (2, 3):
            raise ValueError(f"{self.name}: expected H x W (x C), got shape {array.shape}")
        opened = ArraySource(
            array, layout="HWC", bands=self.bands, nodata=self.nodata_override, name=self.name
        )
        return opened, isinstance(array, np.memmap), array.ndim == 3

    def __getstate__(self) -> dict[str, Any]:
        # Pickled into DataLoader workers (spawn): reopen the file there instead of copying it.
        state = self.__dict__.copy()
        if not isinstance(self.source, np.ndarray):
            state["_raster"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if self._raster is None:
            self._raster = self._open(self.source)[0]

    @property
    def raster_source(self) -> RasterSource:
        """The :class:`pixelwise.io.RasterSource` the windows come from."""
        return self._raster

    @property
    def nodata(self) -> float | None:
        """The nodata value (the override, else the file's; ``None``: none)."""
        return self._raster.nodata

    @property
    def memory_mapped(self) -> bool:
        """True for ``.npy`` files and ``np.memmap`` arrays."""
        return self._memory_mapped

    @property
    def windowed(self) -> bool:
        """True when a window read touches only that window's data (memory map, TIFF tiles or
        strips, GDAL blocks), False when the whole image was decoded into memory."""
        return self._memory_mapped or not isinstance(self._raster, ArraySource)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.height, self.width)

    def read(self, y0: int, x0: int, height: int, width: int) -> np.ndarray:
        """The window ``[y0:y0+height, x0:x0+width]`` (clipped to the raster), channels last
        (H x W for a single-band file or a 2-D array)."""
        y1, x1 = min(y0 + height, self.height), min(x0 + width, self.width)
        window = self._raster.read(y0, y1, x0, x1)
        if self._squeeze:
            return np.array(window[0], order="C", subok=False)
        return np.array(np.moveaxis(window, 0, -1), order="C", subok=False)

    def read_rows(self, y0: int, y1: int) -> np.ndarray:
        """Rows ``y0:y1`` of the first band, H x W (for building a per-class pixel index)."""
        return np.array(self._raster.read(y0, y1)[0], order="C", subok=False)

    def close(self) -> None:
        """Release the file handle (reads reopen nothing: make a new reader)."""
        self._raster.close()


__all__ = [
    "TIFF_SUFFIXES",
    "ImageReadError",
    "RasterReader",
    "create_tiff_memmap",
    "image_to_tensor",
    "read_array",
]
