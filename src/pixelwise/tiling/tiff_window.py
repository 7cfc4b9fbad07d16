"""Window reads from a TIFF/BigTIFF with tifffile, without loading the whole image.

``tifffile.imread`` and ``TiffPage.asarray`` decode every strip or tile of a page; here only the
segments (tiles or strips) that intersect the requested window are read from the file and
decoded, one at a time, with tifffile's own per-page decoder (``TiffPage.decode``), so every
compression tifffile supports (deflate/zlib natively, the rest through imagecodecs) works.
Uncompressed contiguous pages are read row by row with ``os.pread``: no memory map, whose
file-backed pages would count toward the resident size.

The decoded segments of the last segment row of a read are kept, because the next band of tile
rows starts inside them (tiles overlap).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import tifffile

GDAL_NODATA_TAG = 42113


class TiffWindowReader:
    """Reads ``(C, rows, cols)`` windows of page ``page`` of a TIFF file.

    Attributes:
        height, width, count: image size and number of bands (samples).
        dtype: numpy dtype of the samples.
        nodata: value of the GDAL_NODATA tag, if any.
    """

    def __init__(self, path: str | Path, page: int = 0) -> None:
        self.path = Path(path)
        self._tiff = tifffile.TiffFile(self.path)
        self._page = self._tiff.pages[page]
        planes, depth, height, width, samples = self._page.shaped
        if depth != 1:
            raise ValueError(f"{self.path}: volumetric TIFF pages (depth {depth}) are unsupported")
        self.height, self.width = int(height), int(width)
        self._planes, self._samples = int(planes), int(samples)
        self.count = self._planes * self._samples
        self.dtype = np.dtype(self._page.dtype)
        nodata_tag = self._page.tags.get(GDAL_NODATA_TAG)
        self.nodata: float | None = None
        if nodata_tag is not None:
            text = str(nodata_tag.value).strip().strip("\x00")
            if text and text.lower() != "nan":
                self.nodata = float(text)
            elif text:
                self.nodata = float("nan")
        self._cache: dict[int, np.ndarray] = {}
        page_ = self._page
        self._raw_rows = (
            page_.compression == 1
            and page_.is_contiguous
            and page_.fillorder == 1
            and page_.bitspersample in (8, 16, 32, 64)
            and page_.predictor == 1
        )
        if page_.is_tiled:
            self._seg_h, self._seg_w = int(page_.tilelength), int(page_.tilewidth)
        else:
            self._seg_h, self._seg_w = int(min(page_.rowsperstrip or height, height)), self.width
        self._segs_y = math.ceil(self.height / self._seg_h)
        self._segs_x = math.ceil(self.width / self._seg_w)

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
            return self._read_raw_rows(row0, row1)[:, :, col0:col1]
        return self._read_segments(row0, row1, col0, col1)

    def _read_raw_rows(self, row0: int, row1: int) -> np.ndarray:
        offset = int(self._page.dataoffsets[0])  # contiguous: segments follow each other
        dtype = self.dtype.newbyteorder(self._tiff.byteorder)
        row_items = self.width * self._samples
        rows = row1 - row0
        out = np.empty((self._planes, rows, self.width, self._samples), dtype=self.dtype)
        plane_bytes = self.height * row_items * dtype.itemsize
        fd = self._tiff.filehandle.fileno()
        for plane in range(self._planes):
            start = offset + plane * plane_bytes + row0 * row_items * dtype.itemsize
            raw = os.pread(fd, rows * row_items * dtype.itemsize, start)
            out[plane] = np.frombuffer(raw, dtype=dtype).reshape(rows, self.width, self._samples)
        return out.transpose(0, 3, 1, 2).reshape(self.count, rows, self.width)

    def _read_segments(self, row0: int, row1: int, col0: int, col1: int) -> np.ndarray:
        out = np.empty((self._planes, self._samples, row1 - row0, col1 - col0), dtype=self.dtype)
        sy0, sy1 = row0 // self._seg_h, (row1 - 1) // self._seg_h + 1
        sx0, sx1 = col0 // self._seg_w, (col1 - 1) // self._seg_w + 1
        wanted = [
            plane * self._segs_y * self._segs_x + sy * self._segs_x + sx
            for plane in range(self._planes)
            for sy in range(sy0, sy1)
            for sx in range(sx0, sx1)
        ]
        decoded = {index: self._cache[index] for index in wanted if index in self._cache}
        missing = [index for index in wanted if index not in decoded]
        page = self._page
        if missing:
            offsets = [page.dataoffsets[i] for i in missing]
            counts = [page.databytecounts[i] for i in missing]
            decode = page.decode
            for data, index in self._tiff.filehandle.read_segments(
                offsets, counts, indices=missing, sort=True
            ):
                segment, _, _ = decode(data, index, _fullsize=page.is_tiled)
                if segment is None:  # sparse file: an empty segment is zeros
                    segment = np.zeros((1, self._seg_h, self._seg_w, self._samples), self.dtype)
                decoded[index] = segment[0]
        next_cache: dict[int, np.ndarray] = {}
        for index in wanted:
            plane, rest = divmod(index, self._segs_y * self._segs_x)
            sy, sx = divmod(rest, self._segs_x)
            y, x = sy * self._seg_h, sx * self._seg_w
            segment = decoded[index]
            ys0, ys1 = max(row0, y), min(row1, y + segment.shape[0], self.height)
            xs0, xs1 = max(col0, x), min(col1, x + segment.shape[1], self.width)
            block = segment[ys0 - y : ys1 - y, xs0 - x : xs1 - x]  # (rows, cols, samples)
            out[plane, :, ys0 - row0 : ys1 - row0, xs0 - col0 : xs1 - col0] = np.moveaxis(
                block, -1, 0
            )
            if y + self._seg_h > row1:  # the next band of rows starts in this segment
                next_cache[index] = segment
        self._cache = next_cache
        return out.reshape(self.count, row1 - row0, col1 - col0)
