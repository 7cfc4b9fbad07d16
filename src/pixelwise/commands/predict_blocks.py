"""Block-wise prediction: the output is cut into fixed blocks, each predicted on its own.

Each block is predicted from its input window enlarged by a halo on every side (clipped at the
raster edge) with the record's tiling, and only the block's own pixels are kept. A block's
result is therefore a pure function of (image, block index, settings): it does not depend on
which process computes it, nor on what was computed before, which makes sharding over ranks
and resuming after a kill exact.

Finished blocks are written atomically (temporary name, then ``os.replace``) into a parts
folder; the existence of ``block_<row>_<col>.npy`` is the journal.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from pixelwise.io import RasterSource
from pixelwise.io.sources import ArraySource
from pixelwise.record import TilingOptions
from pixelwise.tiling import predict_large
from pixelwise.tiling.engine import RowBlock
from pixelwise.tiling.outputs import OutputConverter
from pixelwise.tiling.sinks import RasterSink, SinkMeta
from pixelwise.training import LoadedModel

ProbDtype = Literal["uint8", "float16"]


@dataclass(frozen=True)
class Block:
    """Block ``(row, col)`` of the output grid: pixels ``[row0:row1, col0:col1]``."""

    index: int
    row: int
    col: int
    row0: int
    row1: int
    col0: int
    col1: int

    @property
    def name(self) -> str:
        return f"block_{self.row}_{self.col}"


def block_grid(height: int, width: int, block: int) -> list[Block]:
    """The output's blocks, row-major; the last row and column may be smaller."""
    if block < 16 or block % 16:
        raise ValueError(f"--block must be a multiple of 16 (>= 16); got {block}")
    blocks: list[Block] = []
    for row, row0 in enumerate(range(0, height, block)):
        for col, col0 in enumerate(range(0, width, block)):
            row1, col1 = min(row0 + block, height), min(col0 + block, width)
            blocks.append(Block(len(blocks), row, col, row0, row1, col0, col1))
    return blocks


def halo_for(tiling: TilingOptions) -> int:
    """Context added around each block: the tiling overlap (an eighth of a tile when 0)."""
    return tiling.overlap if tiling.overlap > 0 else max(tiling.tile // 8, 16)


class _WindowSink(RasterSink):
    """Collects one window's labels (and probabilities) in memory, converted as the file sinks
    convert them (nodata 255/65535, uint8 probabilities ``round(254 p)`` with 255 nodata)."""

    def __init__(self, probs: ProbDtype | None) -> None:
        self.prob_dtype = probs
        self.labels: np.ndarray | None = None
        self.probs: np.ndarray | None = None

    def open(self, meta: SinkMeta) -> None:
        self.converter = OutputConverter(
            meta, prob_dtype="uint8" if self.prob_dtype == "uint8" else "float32"
        )
        self.labels = np.empty((meta.height, meta.width), dtype=self.converter.label_dtype)
        if self.prob_dtype is not None:
            dtype = np.uint8 if self.prob_dtype == "uint8" else np.float16
            self.probs = np.empty((meta.num_classes, meta.height, meta.width), dtype=dtype)

    def write(self, block: RowBlock) -> None:
        assert self.labels is not None
        rows = slice(block.row0, block.row0 + block.values.shape[1])
        self.labels[rows] = self.converter.labels(block)
        if self.probs is not None:
            self.probs[:, rows] = self.converter.probs(block)

    def close(self) -> list[Path]:
        return []


@dataclass
class BlockPredictor:
    """Predicts blocks of one source with one model and one set of settings."""

    loaded: LoadedModel
    tiling: TilingOptions
    halo: int
    probs: ProbDtype | None
    device: torch.device

    def predict(self, source: RasterSource, block: Block) -> tuple[np.ndarray, np.ndarray | None]:
        """``(rows, cols)`` labels and ``(K, rows, cols)`` probabilities of ``block``."""
        from pixelwise.commands.predict import fit_tiling, normalization

        r0, c0 = max(block.row0 - self.halo, 0), max(block.col0 - self.halo, 0)
        r1 = min(block.row1 + self.halo, source.height)
        c1 = min(block.col1 + self.halo, source.width)
        window = source.read(r0, r1, c0, c1)
        tile, overlap = fit_tiling(self.tiling, r1 - r0, c1 - c0)
        sink = _WindowSink(self.probs)
        record = self.loaded.record
        predict_large(
            self.loaded.model,
            ArraySource(window, nodata=source.nodata),
            sink,
            tile=tile,
            overlap=overlap,
            blend=self.tiling.blend,
            batch_size=self.tiling.batch_size,
            tta=self.tiling.tta,
            device=self.device,
            normalization=normalization(record),
            num_classes=record.num_outputs,
            progress=False,
        )
        assert sink.labels is not None
        keep = (
            slice(block.row0 - r0, block.row1 - r0),
            slice(block.col0 - c0, block.col1 - c0),
        )
        labels = np.ascontiguousarray(sink.labels[keep])
        probs = sink.probs
        if probs is not None:
            probs = np.ascontiguousarray(probs[(slice(None), *keep)])
        return labels, probs


def save_atomic(path: Path, array: np.ndarray) -> None:
    """``np.save`` under a temporary name, fsync, then rename into place (never half-visible)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        np.save(handle, array)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def block_paths(parts: Path, block: Block) -> tuple[Path, Path]:
    """``(labels, probabilities)`` files of ``block``; the labels file is the journal entry."""
    return parts / f"{block.name}.npy", parts / f"{block.name}_probs.npy"


def run_blocks(
    predictor: BlockPredictor,
    source: RasterSource,
    parts: Path,
    blocks: list[Block],
    mine: list[int],
) -> tuple[int, int]:
    """Predict this rank's blocks (``mine``, indices into ``blocks``) that the journal lacks;
    returns ``(predicted, skipped)``."""
    done = skipped = 0
    for index in mine:
        block = blocks[index]
        labels_path, probs_path = block_paths(parts, block)
        if labels_path.exists():
            skipped += 1
            continue
        labels, probs = predictor.predict(source, block)
        if probs is not None:  # probabilities first: the labels file marks the block done
            save_atomic(probs_path, probs)
        save_atomic(labels_path, labels)
        done += 1
    return done, skipped


def check_manifest(parts: Path, manifest: dict[str, object]) -> None:
    """Write the run's settings into ``parts`` or check that they match the ones found (blocks
    of another block size, tiling or model must not be mixed into this output)."""
    path = parts / "manifest.json"
    text = json.dumps(manifest, sort_keys=True, indent=1)
    if path.exists():
        found = json.loads(path.read_text())
        if found != json.loads(text):
            changed = sorted(k for k in manifest if found.get(k) != manifest[k])
            raise ValueError(
                f"{parts} holds blocks of another run (different {', '.join(changed)}); "
                "delete it or rerun with the same settings"
            )
        return
    tmp = path.with_name(f".manifest.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
