"""Reading images and masks (Pillow for PNG/JPEG, tifffile for multi-band TIFF) and windowed
access to rasters too large for memory (:class:`RasterReader`).

Arrays are channels-last (H x W x C, or H x W for single-band); :func:`image_to_tensor` turns them
into the C x H x W float32 tensors in [0, 1] that the datasets return.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image

TIFF_SUFFIXES = (".tif", ".tiff")


class ImageReadError(OSError):
    """A file could not be decoded (missing, truncated, or not an image)."""


def _read_tiff(path: Path) -> np.ndarray:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        array = series.asarray()
        axes = series.axes
    # tifffile names axes: Y/X spatial, S samples (interleaved), C/I/Q planes: move bands last.
    if array.ndim == 3 and axes[-2:] == "YX":
        array = np.moveaxis(array, 0, -1)
    elif array.ndim > 3:
        raise ImageReadError(f"{path}: expected a 2-D image with bands, got axes {axes!r}")
    return array


def _pillow_array(image: Image.Image, as_mask: bool) -> np.ndarray:
    if image.mode in ("I;16", "I;16B", "I;16L"):
        return np.asarray(image).astype(np.uint16)
    if image.mode in ("LA", "PA"):  # drop alpha; for "PA" masks keep the palette indices
        image = image.getchannel(0)
    if as_mask:
        # Palette ("P") masks keep their indices: those are the labels (e.g. PASCAL VOC).
        return np.asarray(image.convert("RGB") if image.mode == "RGBA" else image)
    if image.mode not in ("L", "RGB", "I", "F", "1"):
        image = image.convert("RGB")  # palette, RGBA (alpha dropped), CMYK, YCbCr, ...
    return np.asarray(image)


def read_array(path: str | Path, *, as_mask: bool = False) -> np.ndarray:
    """Decode ``path`` fully into an H x W or H x W x C array (dtype as stored).

    Images: palette and other colour modes become RGB and alpha is dropped. Masks
    (``as_mask=True``): palette PNGs give their indices, grey masks their values.

    Raises:
        ImageReadError: naming the file when it is missing, truncated or not decodable.
    """
    path = Path(path)
    try:
        if path.suffix.lower() in TIFF_SUFFIXES:
            return _read_tiff(path)
        with Image.open(path) as image:
            image.load()  # decode now: Pillow raises OSError here on a truncated file
            return _pillow_array(image, as_mask)
    except ImageReadError:
        raise
    except FileNotFoundError as error:
        raise ImageReadError(f"{path}: file not found") from error
    except (OSError, ValueError, SyntaxError) as error:
        raise ImageReadError(
            f"cannot read image {path}: {error}. The file is truncated or not an image; "
            "re-download or re-export it (or remove it from the dataset)."
        ) from error


def image_to_tensor(array: np.ndarray) -> torch.Tensor:
    """H x W (x C) array -> C x H x W float32; uint8 / uint16 are scaled to [0, 1] by their
    dtype's maximum, bool to {0, 1}, floats are kept as they are (e.g. reflectance)."""
    if array.ndim == 2:
        array = array[:, :, None]
    if array.dtype == np.uint8:
        scaled = array.astype(np.float32) / 255.0
    elif array.dtype == np.uint16:
        scaled = array.astype(np.float32) / 65535.0
    elif array.dtype == bool:
        scaled = array.astype(np.float32)
    else:
        scaled = array.astype(np.float32)
    return torch.from_numpy(np.ascontiguousarray(scaled.transpose(2, 0, 1)))


def create_tiff_memmap(
    path: str | Path, shape: tuple[int, ...], dtype: np.dtype | type
) -> np.memmap:
    """Create an uncompressed TIFF of ``shape`` (H x W or H x W x C, channels interleaved) and
    return it memory-mapped for writing window by window (BigTIFF above 2 GiB)."""
    import tifffile

    nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    layout = {"photometric": "rgb"} if len(shape) == 3 and shape[2] == 3 else {}
    if len(shape) == 3 and shape[2] != 3:
        layout = {"photometric": "minisblack", "planarconfig": "contig"}
    return tifffile.memmap(path, shape=shape, dtype=dtype, bigtiff=nbytes > 2**31, **layout)


class RasterReader:
    """Windowed reads from a large raster without decoding all of it per window.

    ``source`` is an array (``np.ndarray``/``np.memmap``, H x W or H x W x C), a ``.npy`` file
    (memory-mapped), an uncompressed TIFF (``tifffile.memmap``: only the window's pages are
    touched) or any other image file (decoded once and cached: fine for small files; compressed
    TIFFs fall back to this with a warning, since tifffile without zarr cannot read a window).
    """

    def __init__(self, source: str | Path | np.ndarray, *, as_mask: bool = False) -> None:
        self.source, self.as_mask = source, as_mask
        self.name = str(source) if isinstance(source, str | Path) else "<array>"
        self._channels_first = False  # set by _open for memory-mapped planar TIFFs
        self._array = self._open(source)
        shape = self._array.shape
        if self._array.ndim not in (2, 3):
            raise ValueError(f"{self.name}: expected H x W (x C), got shape {shape}")
        self.height, self.width = shape[1:3] if self._channels_first else shape[:2]

    @staticmethod
    def _tiff_is_planar(path: Path) -> bool:
        import tifffile

        with tifffile.TiffFile(path) as tif:
            axes = tif.series[0].axes
        return len(axes) == 3 and axes[-2:] == "YX"

    def _open(self, source: str | Path | np.ndarray) -> np.ndarray:
        if isinstance(source, np.ndarray):
            return source
        path = Path(source)
        if not path.exists():
            raise ImageReadError(f"{path}: file not found")
        if path.suffix.lower() == ".npy":
            return np.load(path, mmap_mode="r")
        if path.suffix.lower() in TIFF_SUFFIXES:
            import tifffile

            try:
                array = tifffile.memmap(path, mode="r")
                self._channels_first = self._tiff_is_planar(path)
                return array
            except ValueError:
                warnings.warn(
                    f"{path} is compressed or tiled and cannot be memory-mapped; decoding it "
                    "fully once. Save it uncompressed (tifffile.imwrite) for windowed reads.",
                    stacklevel=3,
                )
                return read_array(path, as_mask=self.as_mask)
        return read_array(path, as_mask=self.as_mask)

    def __getstate__(self) -> dict:
        # Pickled into DataLoader workers (spawn): reopen the file there instead of copying it.
        state = self.__dict__.copy()
        if not isinstance(self.source, np.ndarray):
            state["_array"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if self._array is None:
            self._array = self._open(self.source)

    @property
    def memory_mapped(self) -> bool:
        return isinstance(self._array, np.memmap)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.height, self.width)

    def read(self, y0: int, x0: int, height: int, width: int) -> np.ndarray:
        """The window ``[y0:y0+height, x0:x0+width]`` (clipped to the raster), channels last."""
        if self._channels_first:
            window = self._array[:, y0 : y0 + height, x0 : x0 + width]
            return np.ascontiguousarray(np.moveaxis(window, 0, -1))
        return np.array(self._array[y0 : y0 + height, x0 : x0 + width])

    def read_rows(self, y0: int, y1: int) -> np.ndarray:
        """Rows ``y0:y1`` of the first band, H x W (for building a per-class pixel index)."""
        if self._channels_first:
            return np.array(self._array[0, y0:y1])
        rows = self._array[y0:y1]
        return np.array(rows if rows.ndim == 2 else rows[..., 0])
