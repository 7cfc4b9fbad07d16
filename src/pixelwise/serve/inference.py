"""One prediction, as ``pixelwise predict`` makes it, with progress the page can poll.

:class:`Predictor` runs the record's tiling (``fit_tiling``: an image no larger than a tile is
run whole) through :func:`pixelwise.tiling.predict_large` into a sink that keeps the labels
(``uint8``, nodata 255, by the tiling's own output converter) and, when asked or for the CRF,
the probabilities. Tiles done are counted by wrapping the model: each forward pass reports its
batch size, divided by the number of flips of the test-time augmentation.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from pixelwise.commands.crf import crf_rgb, refine_with_crf
from pixelwise.commands.predict import fit_tiling, normalization
from pixelwise.io import ArraySource
from pixelwise.outputs import labels as output_labels
from pixelwise.record import TTAS
from pixelwise.serve.errors import ServeError
from pixelwise.serve.optimize import optimize_for_cpu
from pixelwise.tiling import TileGrid, predict_large
from pixelwise.tiling.engine import tta_flips
from pixelwise.tiling.outputs import OutputConverter
from pixelwise.tiling.sinks import RasterSink, SinkMeta
from pixelwise.training import LoadedModel

if TYPE_CHECKING:
    from pixelwise.tiling.engine import RowBlock


@dataclass
class Progress:
    """Where a prediction stands; written by the worker thread, read by the event loop."""

    stage: str = "queued"  # queued, predicting, crf, rendering, done, error
    tiles_done: int = 0
    tiles_total: int = 0

    def to_json(self) -> dict[str, object]:
        return {"stage": self.stage, "tiles_done": self.tiles_done, "tiles_total": self.tiles_total}


@dataclass
class Prediction:
    """Labels ``(H, W)`` (nodata 255), the CRF's labels when it ran, probabilities ``(L, H, W)``
    per label when kept (after the CRF when it ran), and the seconds each step took."""

    labels: np.ndarray
    probs: Tensor | None
    crf_labels: np.ndarray | None
    tta: str
    tiles: int
    seconds: dict[str, float] = field(default_factory=dict)


class _CountingModel:
    """The model, counting the tiles it has seen into ``progress``."""

    def __init__(self, model: torch.nn.Module, progress: Progress, flips: int) -> None:
        self.model, self.progress, self.flips, self.seen = model, progress, flips, 0

    def __call__(self, batch: Tensor) -> Tensor:
        output = self.model(batch)
        self.seen += int(batch.shape[0])
        self.progress.tiles_done = min(self.seen // self.flips, self.progress.tiles_total)
        return output


class _Sink(RasterSink):
    """Labels as ``pixelwise predict`` writes them, and optionally the probabilities."""

    def __init__(self, keep_probs: bool) -> None:
        self.keep_probs = keep_probs
        self.labels: np.ndarray | None = None
        self.values: Tensor | None = None

    def open(self, meta: SinkMeta) -> None:
        self.converter = OutputConverter(meta)
        self.labels = np.empty((meta.height, meta.width), dtype=self.converter.label_dtype)
        if self.keep_probs:
            self.values = torch.empty((meta.num_classes, meta.height, meta.width))

    def write(self, block: RowBlock) -> None:
        assert self.labels is not None
        rows = slice(block.row0, block.row0 + block.values.shape[1])
        self.labels[rows] = self.converter.labels(block)
        if self.values is not None:
            self.values[:, rows] = block.values.cpu()

    def close(self) -> list[Path]:
        return []


class Predictor:
    """A loaded model and its record, ready to segment checked arrays (thread-safe: inference
    mode only reads the weights). On the CPU the model is served as
    :func:`~pixelwise.serve.optimize.optimize_for_cpu` makes it (``optimize=False``: as loaded)."""

    def __init__(
        self, loaded: LoadedModel, device: torch.device | str = "cpu", *, optimize: bool = True
    ) -> None:
        self.loaded = loaded
        self.record = loaded.record
        self.device = torch.device(device)
        self.model: torch.nn.Module = loaded.model
        if optimize and self.device.type == "cpu":
            self.model = optimize_for_cpu(loaded.model, self.record.in_channels)
        self.normalization = normalization(self.record)
        self.table = self.record.labels
        self.num_labels = self.table.num_classes

    def predict(
        self,
        image: np.ndarray,
        nodata: float | None,
        *,
        tta: str | None = None,
        crf: bool = False,
        keep_probs: bool = False,
        crf_max_pixels: int = 4096 * 4096,
        progress: Progress | None = None,
    ) -> Prediction:
        """Segment ``image`` ``(C, H, W)`` (raw pixels, already checked against the record)."""
        progress = progress or Progress()
        tiling = self.record.tiling.replace(tta=tta)
        if tiling.tta not in TTAS:
            raise ServeError(422, "unknown tta", {"tta": tta, "choices": list(TTAS)})
        _, height, width = image.shape
        if crf and height * width > crf_max_pixels:
            raise ServeError(
                422,
                "the image is too large for the dense CRF",
                {"pixels": height * width, "crf_max_pixels": crf_max_pixels},
            )
        tile, overlap = fit_tiling(tiling, height, width)
        grid = TileGrid(height, width, tile, overlap)
        progress.tiles_total, progress.tiles_done = grid.shape[0] * grid.shape[1], 0
        progress.stage = "predicting"
        flips = len(tta_flips(tiling.tta))
        sink = _Sink(keep_probs or crf)
        started = time.perf_counter()
        predict_large(
            _CountingModel(self.model, progress, flips),
            ArraySource(image, nodata=nodata),
            sink,
            tile=tile,
            overlap=overlap,
            blend=tiling.blend,
            batch_size=tiling.batch_size,
            tta=tiling.tta,
            device=self.device,
            normalization=self.normalization,
            in_channels=self.record.in_channels,
            progress=False,
        )
        seconds = {"predict": time.perf_counter() - started}
        assert sink.labels is not None
        probs = sink.values
        if probs is not None and probs.shape[0] == 1:  # one per label: [1 - p, p]
            probs = torch.cat([1 - probs, probs])
        crf_labels = None
        if crf and probs is not None:
            progress.stage = "crf"
            started = time.perf_counter()
            refined = refine_with_crf(probs, crf_rgb(image, self.record.preprocessing.scale))
            crf_labels = output_labels(refined, space="probs", dim=0).numpy()
            crf_labels = crf_labels.astype(sink.labels.dtype)
            nodata_label = 255 if sink.labels.dtype == np.uint8 else 65535
            crf_labels[sink.labels == nodata_label] = nodata_label
            seconds["crf"] = time.perf_counter() - started
            probs = refined
        return Prediction(
            sink.labels,
            probs if keep_probs else None,
            crf_labels,
            tiling.tta,
            progress.tiles_total,
            seconds,
        )
