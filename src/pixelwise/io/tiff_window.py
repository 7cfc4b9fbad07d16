"""Window reads from a TIFF/BigTIFF with tifffile, without loading the whole image.

The image is the file's first series (``tifffile.TiffFile.series[0]``): one page, or several
pages of the same shape stacked along one axis (e.g. ``tifffile.imwrite(path, bands)`` with
``bands`` of shape ``(4, H, W)`` writes four pages, axes ``'QYX'``). Its bands are
``pages x samples``, in the order of ``series.asarray()`` with the band axes first (page-major,
then the samples of each page).

``tifffile.imread`` and ``TiffPage.asarray`` decode every strip or tile of a page; here only the
segments (tiles or strips) of each page that intersect the requested window are read from the
file and decoded, one at a time, with tifffile's own per-page decoder (``TiffPage.decode``), so
every compression tifffile supports (deflate/zlib natively, the rest through imagecodecs) works.
Uncompressed contiguous pages are read row by row with ``os.pread``: no memory map, whose
file-backed pages would count toward the resident size.

The decoded segments of the last segment row of a read are kept, because the next band of tile
rows starts inside them (tiles overlap).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import tifffile

GDAL_NODATA_TAG = 42113
VOLUME_AXES = "Z"  # a stack of pages along one of these is a volume, not bands


class TiffLayoutError(ValueError):
    """The TIFF decodes, but its first series is not one 2-D image with bands (the message
    names the file and tifffile's axes)."""


def parse_gdal_nodata(text: Any) -> float | None:
    """The GDAL_NODATA tag's value (ASCII, e.g. ``'-9999'`` or ``'nan'``) as a float."""
    value = str(text).strip().strip("\x00").strip()
    if not value:
        return None
    return float("nan") if value.lower() == "nan" else float(value)


def _stack_layout(path: Path, series: Any, page: Any) -> int:
    """Number of pages stacked as bands; raises on volumetric or ambiguous layouts."""
    axes, shape = str(series.axes), tuple(series.shape)
    page_shape = tuple(page.shape)
    stack = len(shape) - len(page_shape)
    pages = list(series.pages)
    if page.shaped[1] != 1:
        raise TiffLayoutError(
            f"{path}: volumetric TIFF pages (depth {page.shaped[1]}, series axes {axes!r}) are "
            "unsupported; save the bands as pages or samples of 2-D images"
        )
    if stack < 0 or shape[stack:] != page_shape or math.prod(shape[:stack]) != len(pages):
        raise TiffLayoutError(
            f"{path}: cannot map the TIFF series (axes {axes!r}, shape {shape}) onto "
            f"{len(pages)} page(s) of shape {page_shape}"
        )
    stack_axes = "".join(a for a, n in zip(axes[:stack], shape[:stack]) if n > 1)
    if len(stack_axes) > 1 or any(a in VOLUME_AXES for a in stack_axes):
        raise TiffLayoutError(
            f"{path}: the TIFF series has axes {axes!r} (shape {shape}): its pages form a "
            f"volume or a hyperstack ({stack_axes!r}), not one set of bands; export one 2-D "
            "image with its bands as pages or samples"
        )
    return len(pages)


class TiffWindowReader:
    """Reads ``(C, rows, cols)`` windows of the first series of a TIFF file.

    Attributes:
        height, width: image size.
        count: number of bands, ``pages x samples per page``.
        dtype: numpy dtype of the samples.
        nodata: value of the GDAL_NODATA tag, if any.
        axes: tifffile's axes of the series (e.g. ``'YXS'``, ``'QYX'``).
        segments_decoded: how many tiles/strips were decoded so far (all pages together).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._tiff = tifffile.TiffFile(self.path)
        try:
            self._open()
        except Exception:
            self._tiff.close()
            raise

    def _open(self) -> None:
        series = self._tiff.series[0]
        key = series.keyframe
        self.axes = str(series.axes)
        n_pages = _stack_layout(self.path, series, key)
        pages = [p for p in series.pages if p is not None]
        if len(pages) != n_pages:
            raise TiffLayoutError(f"{self.path}: the TIFF series misses some of its pages")
        self._page = key
        planes, _, height, width, samples = key.shaped
        self.height, self.width = int(height), int(width)
        self._planes, self._samples = int(planes), int(samples)
        self._n_pages = n_pages
        self._per_page = self._planes * self._samples
        self.count = self._n_pages * self._per_page
        self.dtype = np.dtype(key.dtype)
        self._offsets = [tuple(int(o) for o in p.dataoffsets) for p in pages]
        self._bytecounts = [tuple(int(c) for c in p.databytecounts) for p in pages]
        nodata_tag = key.tags.get(GDAL_NODATA_TAG)
        self.nodata = parse_gdal_nodata(nodata_tag.value) if nodata_tag is not None else None
        self.segments_decoded = 0
        self._cache: dict[tuple[int, int], np.ndarray] = {}
        plane_bytes = self.height * self.width * self._samples * self.dtype.itemsize
        self._raw_rows = (
            key.compression == 1
            and key.fillorder == 1
            and key.bitspersample in (8, 16, 32, 64)
            and key.predictor == 1
            and all(_contiguous(o, c, plane_bytes * self._planes) for o, c in self._raw_layout())
        )
        if key.is_tiled:
            self._seg_h, self._seg_w = int(key.tilelength), int(key.tilewidth)
        else:
            self._seg_h = int(min(key.rowsperstrip or self.height, self.height))
            self._seg_w = self.width
        self._segs_y = math.ceil(self.height / self._seg_h)
        self._segs_x = math.ceil(self.width / self._seg_w)

    def _raw_layout(self) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
        return list(zip(self._offsets, self._bytecounts))

    def close(self) -> None:
        self._tiff.close()

    def read(self, row0: int, row1: int, col0: int = 0, col1: int | None = None) -> np.ndarray:
        """Pixels ``[row0:row1, col0:col1]`` of every band as ``(C, rows, cols)``."""
        col1 = self.width if col1 is None else col1
        if not (0 <= row0 < row1 <= self.height and 0 <= col0 < col1 <= self.width):
            raise ValueError(
                f"window rows [{row0}, {row1}) cols [{col0}, {col1}) is outside the "
                f"{self.height} x {self.width} image {self.path}"
            )
        if self._raw_rows:
            return self._read_raw_rows(row0, row1, col0, col1)
        return self._read_segments(row0, row1, col0, col1)

    def _read_raw_rows(self, row0: int, row1: int, col0: int, col1: int) -> np.ndarray:
        """Uncompressed contiguous pages: one ``pread`` per plane (full rows) or per row."""
        dtype = self.dtype.newbyteorder(self._tiff.byteorder)
        pixel = self._samples * dtype.itemsize
        row_bytes, rows, cols = self.width * pixel, row1 - row0, col1 - col0
        out = np.empty((self._n_pages, self._planes, rows, cols, self._samples), self.dtype)
        fd = self._tiff.filehandle.fileno()
        full_rows = 2 * cols >= self.width  # else read only each row's span
        for page, offsets in enumerate(self._offsets):
            for plane in range(self._planes):
                start = offsets[0] + plane * self.height * row_bytes + row0 * row_bytes
                if full_rows:
                    raw = os.pread(fd, rows * row_bytes, start)
                    block = np.frombuffer(raw, dtype).reshape(rows, self.width, self._samples)
                    out[page, plane] = block[:, col0:col1]
                    continue
                for r in range(rows):
                    raw = os.pread(fd, cols * pixel, start + r * row_bytes + col0 * pixel)
                    out[page, plane, r] = np.frombuffer(raw, dtype).reshape(cols, self._samples)
        return out.transpose(0, 1, 4, 2, 3).reshape(self.count, rows, cols)

    def _read_segments(self, row0: int, row1: int, col0: int, col1: int) -> np.ndarray:
        shape = (self._n_pages, self._planes, self._samples, row1 - row0, col1 - col0)
        out = np.empty(shape, dtype=self.dtype)
        sy0, sy1 = row0 // self._seg_h, (row1 - 1) // self._seg_h + 1
        sx0, sx1 = col0 // self._seg_w, (col1 - 1) // self._seg_w + 1
        per_plane = self._segs_y * self._segs_x
        wanted = [
            (page, plane * per_plane + sy * self._segs_x + sx)
            for page in range(self._n_pages)
            for plane in range(self._planes)
            for sy in range(sy0, sy1)
            for sx in range(sx0, sx1)
        ]
        decoded = {key: self._cache[key] for key in wanted if key in self._cache}
        missing = [key for key in wanted if key not in decoded]
        if missing:
            decoded.update(self._decode(missing))
        next_cache: dict[tuple[int, int], np.ndarray] = {}
        for page, index in wanted:
            plane, rest = divmod(index, per_plane)
            sy, sx = divmod(rest, self._segs_x)
            y, x = sy * self._seg_h, sx * self._seg_w
            segment = decoded[(page, index)]
            ys0, ys1 = max(row0, y), min(row1, y + segment.shape[0], self.height)
            xs0, xs1 = max(col0, x), min(col1, x + segment.shape[1], self.width)
            block = segment[ys0 - y : ys1 - y, xs0 - x : xs1 - x]  # (rows, cols, samples)
            out[page, plane, :, ys0 - row0 : ys1 - row0, xs0 - col0 : xs1 - col0] = np.moveaxis(
                block, -1, 0
            )
            if y + self._seg_h > row1:  # the next band of rows starts in this segment
                next_cache[(page, index)] = segment
        self._cache = next_cache
        return out.reshape(self.count, row1 - row0, col1 - col0)

    def _decode(self, keys: list[tuple[int, int]]) -> dict[tuple[int, int], np.ndarray]:
        """Read and decode the segments ``(page, segment index)`` in file order."""
        page = self._page
        offsets = [self._offsets[p][i] for p, i in keys]
        counts = [self._bytecounts[p][i] for p, i in keys]
        decode = page.decode  # every page of the series shares the key page's layout
        result: dict[tuple[int, int], np.ndarray] = {}
        for data, position in self._tiff.filehandle.read_segments(
            offsets, counts, indices=list(range(len(keys))), sort=True
        ):
            assert isinstance(position, int)
            key = keys[position]
            segment, _, _ = decode(data, key[1], _fullsize=page.is_tiled)
            if segment is None:  # sparse file: an empty segment is zeros
                segment = np.zeros((1, self._seg_h, self._seg_w, self._samples), self.dtype)
            result[key] = segment[0]
            self.segments_decoded += 1
        return result


def _contiguous(offsets: tuple[int, ...], counts: tuple[int, ...], size: int) -> bool:
    """True when the segments follow each other in the file and hold ``size`` bytes."""
    follows = all(o + c == n for o, c, n in zip(offsets, counts, offsets[1:]))
    return follows and sum(counts) == size and len(offsets) > 0
