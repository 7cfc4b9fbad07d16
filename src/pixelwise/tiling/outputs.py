"""From blended values to what is written: labels, quantised probabilities, nodata, colours."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import torch

from pixelwise.data.classes import Color, default_palette
from pixelwise.outputs import labels as output_labels
from pixelwise.outputs import probabilities

if TYPE_CHECKING:
    from pixelwise.tiling.engine import RowBlock
    from pixelwise.tiling.sinks import SinkMeta

PROB_SCALE = 254  # uint8 probabilities are round(254 * p); 255 is left for nodata


def palette(num_labels: int, colors: Sequence[Sequence[int]] | None = None) -> list[Color]:
    """RGB colour per label: ``colors`` if given (e.g. a class table's), else
    :func:`pixelwise.data.classes.default_palette` (the one palette of the package)."""
    if colors is None:
        return default_palette(num_labels)
    rgb = [tuple(int(v) for v in color) for color in colors]
    valid = all(len(c) == 3 and all(0 <= v < 256 for v in c) for c in rgb)
    if len(rgb) < num_labels or not valid:
        raise ValueError(
            f"colors must give {num_labels} RGB triples in 0..255; got {len(rgb)} entries"
        )
    return [(c[0], c[1], c[2]) for c in rgb[:num_labels]]


def save_label_png(
    path: str | Path, labels: np.ndarray, colors: Sequence[Sequence[int]] | None = None
) -> Path:
    """An H x W label map as a palette PNG (label ``i`` shown in ``colors[i]``)."""
    from PIL import Image

    count = int(labels.max()) + 1 if labels.size else 1
    image = Image.fromarray(np.asarray(labels, dtype=np.uint8), mode="L")
    rgb = palette(max(count, len(colors) if colors is not None else count), colors)
    image.putpalette([c for color in rgb for c in color])
    image.save(path)
    return Path(path)


class OutputConverter:
    """Turns a :class:`RowBlock` into label and probability arrays with the nodata applied."""

    def __init__(self, meta: SinkMeta, prob_dtype: Literal["uint8", "float32"] = "uint8") -> None:
        self.meta = meta
        wide = meta.num_classes > 255
        self.label_dtype = np.dtype(np.uint16 if wide else np.uint8)
        self.label_nodata = 65535 if wide else 255
        self.prob_dtype = np.dtype(prob_dtype)
        self.prob_nodata: float = 255 if self.prob_dtype == np.uint8 else float("nan")

    def _probabilities(self, values: torch.Tensor) -> torch.Tensor:
        if self.meta.space == "probs":
            return values
        return probabilities(values, dim=0)

    def labels(self, block: RowBlock) -> np.ndarray:
        """``(rows, W)`` labels by :func:`pixelwise.outputs.labels` (argmax; one channel:
        foreground where p > 0.5)."""
        labels = output_labels(block.values, space=self.meta.space, dim=0)
        array = labels.cpu().numpy().astype(self.label_dtype)
        if block.nodata is not None:
            array[block.nodata] = self.label_nodata
        return array

    def probs(self, block: RowBlock) -> np.ndarray:
        """``(K, rows, W)`` probabilities, float32 or uint8 ``round(254 p)``."""
        probs = self._probabilities(block.values).cpu()
        if self.prob_dtype == np.uint8:
            array = (probs * PROB_SCALE).round_().to(torch.uint8).numpy()
        else:
            array = probs.numpy().astype(np.float32, copy=True)
        if block.nodata is not None:
            array[:, block.nodata] = self.prob_nodata
        return array
