"""Decoding PNG/JPEG/BMP/GIF with Pillow into arrays, the same way for every caller.

Images (:func:`read_pillow`): palette (``P``/``PA``), CMYK, YCbCr and other colour modes become
RGB; alpha is dropped (``LA`` -> grey, ``RGBA`` -> RGB); 16-bit PNGs stay ``uint16`` (Pillow
reads 16-bit *colour* PNGs as 8-bit RGB: store such images as TIFF); ``1`` gives ``bool``,
``I`` ``int32`` and ``F`` ``float32``.

Masks (``as_mask=True``): palette PNGs keep their *indices* (those are the labels, e.g. PASCAL
VOC), ``PA``/``LA`` keep their first channel, ``RGBA`` drops alpha, other modes as stored.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pixelwise.io.base import UNREADABLE_HINT, RasterNotFoundError, UnreadableRasterError

PILLOW_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
_KEPT_IMAGE_MODES = ("L", "RGB", "I", "F", "1")
_UINT16_MODES = ("I;16", "I;16B", "I;16L", "I;16N")


def read_pillow(path: str | Path, *, as_mask: bool = False) -> np.ndarray:
    """Decode ``path`` fully into ``(H, W)`` or ``(H, W, C)`` (see the module docstring).

    Raises:
        OSError, ValueError, SyntaxError: Pillow's errors for a truncated or non-image file
            (callers turn them into an error naming the file).
    """
    from PIL import Image

    with Image.open(path) as image:
        image.load()  # decode now: Pillow raises OSError here on a truncated file
        if image.mode in _UINT16_MODES:
            return np.asarray(image).astype(np.uint16)
        if image.mode == "I" and image.format == "PNG":  # older Pillow: 16-bit grey PNG as "I"
            return np.asarray(image).astype(np.uint16)
        if image.mode in ("LA", "PA") and (as_mask or image.mode == "LA"):
            return np.asarray(image.getchannel(0))  # drop alpha; "PA" masks keep indices
        if as_mask:
            return np.asarray(image.convert("RGB") if image.mode == "RGBA" else image)
        if image.mode not in _KEPT_IMAGE_MODES:  # palette, RGBA (alpha dropped), CMYK, YCbCr
            return np.asarray(image.convert("RGB"))
        return np.asarray(image)


def pillow_array(path: str | Path, *, as_mask: bool = False) -> np.ndarray:
    """:func:`~pixelwise.io.pillow.read_pillow`, with errors that name the file.

    Raises:
        RasterNotFoundError: ``path`` does not exist.
        UnreadableRasterError: the file is truncated or not an image.
    """
    path = Path(path)
    if not path.is_file():
        raise RasterNotFoundError(f"input raster {path} does not exist")
    try:
        return read_pillow(path, as_mask=as_mask)
    except (OSError, ValueError, SyntaxError) as err:
        raise UnreadableRasterError(f"cannot read image {path}: {err}. {UNREADABLE_HINT}") from err
