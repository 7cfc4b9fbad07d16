"""Uploads and gallery files -> checked ``(C, H, W)`` arrays, by the prediction reader.

Order of the checks, cheapest first, nothing decoded before the size is known:

1. the bytes: not empty, at most the upload limit (the app also stops reading a larger body);
2. the format, sniffed from the first bytes (PNG, JPEG, TIFF; the client's file name and
   content type are ignored);
3. the pixel count from the header only: Pillow's ``MAX_IMAGE_PIXELS`` check is turned into an
   error (its decompression-bomb warning) and the server's own ``max_pixels`` applies to every
   format, TIFF included;
4. the bytes go to a server-named file in a private temporary folder (``mkdtemp``: mode 0700),
   are read by :func:`pixelwise.io.open_source` exactly as ``pixelwise predict`` reads files,
   and the folder is removed before returning, whatever happens;
5. the band count against the record (after its band selection; an RGB or grey picture is
   accepted as is by a 3- or 1-band model) and the dtype (:func:`check_input_dtype`).
"""

from __future__ import annotations

import shutil
import tempfile
import warnings
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import numpy as np

from pixelwise.commands.predict import check_input_dtype
from pixelwise.io import open_source
from pixelwise.record import ModelRecord, Preprocessing
from pixelwise.serve.errors import ServeError

SUFFIXES = {"png": ".png", "jpeg": ".jpg", "tiff": ".tif"}
_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


def pillow_max_pixels() -> int:
    from PIL import Image

    return int(Image.MAX_IMAGE_PIXELS or 89_478_485)


@dataclass(frozen=True)
class Limits:
    """What the server accepts: upload bytes, image pixels, and pixels the dense CRF runs on."""

    max_upload_bytes: int = 32 * 2**20
    max_pixels: int = 0  # 0: Pillow's MAX_IMAGE_PIXELS
    crf_max_pixels: int = 4096 * 4096

    @property
    def pixels(self) -> int:
        return self.max_pixels or pillow_max_pixels()

    def to_json(self) -> dict[str, int]:
        return {
            "max_upload_bytes": self.max_upload_bytes,
            "max_pixels": self.pixels,
            "crf_max_pixels": self.crf_max_pixels,
        }


@dataclass
class Decoded:
    """A checked image: ``array`` ``(C, H, W)`` in the file's dtype after band selection,
    ``nodata`` (the record's override, else the file's), ``bands`` the file's band count."""

    array: np.ndarray
    nodata: float | None
    bands: int
    name: str

    @property
    def height(self) -> int:
        return int(self.array.shape[1])

    @property
    def width(self) -> int:
        return int(self.array.shape[2])


def sniff(data: bytes) -> str | None:
    """``png``, ``jpeg`` or ``tiff`` from the magic bytes, else ``None``."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data[:4] in _TIFF_MAGIC:
        return "tiff"
    return None


def _undecodable(name: str, error: object) -> ServeError:
    return ServeError(
        422,
        "the image cannot be decoded",
        {"file": name, "reason": str(error) or type(error).__name__},
    )


def header_size(data: bytes, fmt: str, name: str) -> tuple[int, int]:
    """``(height, width)`` read from the header only (nothing decoded)."""
    from PIL import Image

    try:
        if fmt == "tiff":
            import tifffile

            with tifffile.TiffFile(BytesIO(data)) as tif:
                page = tif.pages[0]
                if not isinstance(page, tifffile.TiffPage):
                    raise ValueError("the TIFF has no image page")
                return int(page.imagelength), int(page.imagewidth)
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(BytesIO(data), formats=[fmt.upper()]) as image:
                width, height = image.size
                return int(height), int(width)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise ServeError(
            413,
            "image has too many pixels (decompression bomb check)",
            {"file": name, "reason": str(error), "max_pixels": pillow_max_pixels()},
        ) from error
    except Exception as error:  # any decoder failure on untrusted bytes is the client's
        raise _undecodable(name, error) from error


def check_pixels(height: int, width: int, limits: Limits, name: str) -> None:
    if height <= 0 or width <= 0:
        raise ServeError(422, "the image is empty", {"file": name, "height": height})
    if height * width > limits.pixels:
        raise ServeError(
            413,
            "image has too many pixels",
            {
                "file": name,
                "height": height,
                "width": width,
                "pixels": height * width,
                "max_pixels": limits.pixels,
            },
        )


def choose_bands(count: int, pre: Preprocessing, name: str) -> list[int] | None:
    """1-based bands to keep (``None``: all): the record's selection when the file has those
    bands, else the file as it is when its band count is the model's (RGB for a 3-band model,
    grey for a 1-band one)."""
    need = pre.in_channels
    if pre.bands is not None and max(pre.bands) <= count:
        return list(pre.bands)
    if count == need and (pre.bands is None or need in (1, 3)):
        return None
    raise ServeError(
        422,
        "the image has the wrong number of bands for this model",
        {
            "file": name,
            "bands": count,
            "expected": need,
            "record_bands": None if pre.bands is None else list(pre.bands),
        },
    )


def read_checked(path: Path, record: ModelRecord, limits: Limits, name: str) -> Decoded:
    """Read ``path`` (a server-side path) with the prediction reader and check it against
    ``record``; errors name the image ``name``, never the server path."""
    pre = record.preprocessing
    try:
        source = open_source(path, nodata=pre.nodata)
    except FileNotFoundError as error:
        raise ServeError(404, "image not found", {"file": name}) from error
    except Exception as error:
        raise _undecodable(name, str(error).replace(str(path), name)) from error
    with source:
        check_pixels(source.height, source.width, limits, name)
        bands = choose_bands(source.count, pre, name)
        try:
            check_input_dtype(record, np.dtype(source.dtype), name)
        except ValueError as error:
            raise ServeError(
                422,
                "the image's pixel type does not match the model",
                {"file": name, "dtype": np.dtype(source.dtype).name, "reason": str(error)},
            ) from error
        try:
            array = np.asarray(source.read(0, source.height))
        except Exception as error:
            raise _undecodable(name, str(error).replace(str(path), name)) from error
        count, nodata = source.count, source.nodata
    if bands is not None:
        array = array[[band - 1 for band in bands]]
    return Decoded(np.ascontiguousarray(array), nodata, count, name)


def decode_upload(
    data: bytes,
    record: ModelRecord,
    limits: Limits,
    *,
    name: str = "upload",
    tmp_root: Path | None = None,
) -> Decoded:
    """Check and decode uploaded bytes (see the module docstring); nothing stays on disk."""
    if not data:
        raise ServeError(422, "the upload is empty", {"file": name})
    if len(data) > limits.max_upload_bytes:
        raise ServeError(
            413,
            "upload too large",
            {"bytes": len(data), "max_upload_bytes": limits.max_upload_bytes},
        )
    fmt = sniff(data)
    if fmt is None:
        raise ServeError(
            415,
            "not a PNG, JPEG or TIFF image",
            {"file": name, "accepted": ["image/png", "image/jpeg", "image/tiff"]},
        )
    height, width = header_size(data, fmt, name)
    check_pixels(height, width, limits, name)
    folder = Path(tempfile.mkdtemp(prefix="pixelwise-upload-", dir=tmp_root))
    try:
        path = folder / f"image{SUFFIXES[fmt]}"  # the server's name, never the client's
        path.write_bytes(data)
        return read_checked(path, record, limits, name)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def display_rgb(array: np.ndarray) -> np.ndarray:
    """``H x W x 3`` uint8 for display: the first three bands (one band repeated); uint8 as
    stored, other types stretched band by band between their 2nd and 98th percentiles."""
    bands = array[:3] if array.shape[0] >= 3 else np.repeat(array[:1], 3, axis=0)
    if bands.dtype == np.uint8:
        return np.ascontiguousarray(bands.transpose(1, 2, 0))
    values = bands.astype(np.float32)
    out = np.empty(values.shape, dtype=np.uint8)
    step = max(1, int(np.sqrt(values.shape[1] * values.shape[2] / 250_000)))
    for index, band in enumerate(values):
        sample = band[::step, ::step]
        sample = sample[np.isfinite(sample)]
        low, high = np.percentile(sample, (2, 98)) if sample.size else (0.0, 1.0)
        span = float(high - low) or 1.0
        unit = np.nan_to_num((band - low) / span, nan=0.0).clip(0, 1)
        out[index] = (unit * 255).round().astype(np.uint8)
    return np.ascontiguousarray(out.transpose(1, 2, 0))
