"""Raster sinks: where tiled inference writes its output, band of rows by band of rows.

A :class:`RasterSink` is opened with the output geometry (:class:`SinkMeta`), receives the
finished rows top to bottom and returns the written paths from :meth:`RasterSink.close`.

* :class:`ArraySink`: keeps the result in memory (used by ``predict_tensor``).
* ``geotiff_sink.GeoTiffSink``: tiled, deflate-compressed GeoTIFF through rasterio, keeping the
  input's CRS and geotransform; labels as uint8 with a colour table, probabilities as K bands.
* ``tiff_sink.TiffSink``: the same layout through tifffile (no georeferencing, no rasterio).
* ``tiff_sink.PngSink``: a palette PNG of the labels for small images (probabilities: a TIFF).

Output nodata: labels 255 (65535 when there are more than 255 classes); uint8 probabilities are
quantised as ``round(254 * p)`` with 255 as nodata (the band scale 1/254 is recorded in
GeoTIFFs); float32 probabilities use NaN.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from pixelwise.tiling.engine import RowBlock
from pixelwise.tiling.outputs import OutputConverter, palette

__all__ = ["ArraySink", "FileSink", "RasterSink", "SinkMeta", "palette"]


@dataclass(frozen=True)
class SinkMeta:
    """Geometry of the output: size, classes, the blended space and the input's georeferencing."""

    height: int
    width: int
    num_classes: int
    space: Literal["probs", "logits"] = "probs"
    crs: Any = None
    transform: Any = None


class RasterSink(ABC):
    """Receives finished output rows in order."""

    @abstractmethod
    def open(self, meta: SinkMeta) -> None: ...

    @abstractmethod
    def write(self, block: RowBlock) -> None: ...

    @abstractmethod
    def close(self) -> list[Path]: ...


class ArraySink(RasterSink):
    """Assembles the blended values (``K x H x W``, on the inference device) in memory."""

    def __init__(self, labels: bool = False) -> None:
        self.values: torch.Tensor | None = None
        self.keep_labels = labels
        self.labels: torch.Tensor | None = None

    def open(self, meta: SinkMeta) -> None:
        self.meta = meta

    def write(self, block: RowBlock) -> None:
        rows = block.values.shape[1]
        if self.keep_labels:
            labels = OutputConverter(self.meta).labels(block)
            if self.labels is None:
                self.labels = torch.empty((self.meta.height, self.meta.width), dtype=torch.int64)
            self.labels[block.row0 : block.row0 + rows] = torch.from_numpy(labels)
            return
        if self.values is None:
            shape = (block.values.shape[0], self.meta.height, self.meta.width)
            self.values = block.values.new_empty(shape)
        self.values[:, block.row0 : block.row0 + rows] = block.values

    def close(self) -> list[Path]:
        return []


class _BlockRows:
    """Collects rows until whole block rows (``block`` rows) can be written in one go.

    Writing whole blocks avoids rewriting a compressed GeoTIFF tile twice (GDAL would append
    the second version and leave the first as dead space).
    """

    def __init__(self, block: int) -> None:
        self.block, self.row0, self.parts = block, 0, []  # type: ignore[var-annotated]
        self.pending = 0

    def add(self, array: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
        self.parts.append(array)
        self.pending += array.shape[-2]
        if self.pending >= self.block:
            yield from self._pop((self.pending // self.block) * self.block)

    def finish(self) -> Iterator[tuple[int, np.ndarray]]:
        if self.pending:
            yield from self._pop(self.pending)

    def _pop(self, rows: int) -> Iterator[tuple[int, np.ndarray]]:
        joined = np.concatenate(self.parts, axis=-2) if len(self.parts) > 1 else self.parts[0]
        yield self.row0, joined[..., :rows, :]
        rest = joined[..., rows:, :]
        self.parts = [rest] if rest.shape[-2] else []
        self.pending -= rows
        self.row0 += rows


class FileSink(RasterSink):
    """Shared logic: labels and/or probability outputs, converted and block-buffered."""

    def __init__(
        self,
        labels_path: str | Path | None,
        probs_path: str | Path | None = None,
        *,
        prob_dtype: Literal["uint8", "float32"] = "uint8",
        colors: Sequence[Sequence[int]] | None = None,
        blocksize: int = 256,
    ) -> None:
        if labels_path is None and probs_path is None:
            raise ValueError("give labels_path, probs_path or both")
        if prob_dtype not in ("uint8", "float32"):
            raise ValueError(f"prob_dtype must be 'uint8' or 'float32'; got {prob_dtype!r}")
        if blocksize % 16:
            raise ValueError(f"blocksize must be a multiple of 16 (TIFF tiles); got {blocksize}")
        self.paths = {
            key: Path(path)
            for key, path in (("labels", labels_path), ("probs", probs_path))
            if path is not None
        }
        self.prob_dtype, self.colors, self.blocksize = prob_dtype, colors, blocksize
        self._buffers = {key: _BlockRows(blocksize) for key in self.paths}

    def open(self, meta: SinkMeta) -> None:
        self.meta = meta
        self.converter = OutputConverter(meta, self.prob_dtype)
        for path in self.paths.values():
            path.parent.mkdir(parents=True, exist_ok=True)
        self._open_files()

    def write(self, block: RowBlock) -> None:
        for key, buffer in self._buffers.items():
            array = self.converter.labels(block) if key == "labels" else self.converter.probs(block)
            for row0, rows in buffer.add(array):
                self._write_rows(key, row0, rows)

    def close(self) -> list[Path]:
        for key, buffer in self._buffers.items():
            for row0, rows in buffer.finish():
                self._write_rows(key, row0, rows)
        self._close_files()
        return list(self.paths.values())

    @abstractmethod
    def _open_files(self) -> None: ...

    @abstractmethod
    def _write_rows(self, key: str, row0: int, rows: np.ndarray) -> None: ...

    @abstractmethod
    def _close_files(self) -> None: ...
