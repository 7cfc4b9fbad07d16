"""The streaming tiled-inference loop: read a band of rows, run tiles in batches, blend, flush.

Tiles are visited in raster order and batched across tile rows. Two row buffers follow the
tiles down the image: the raw input rows that the pending tiles need, and the blending
accumulator ``(K, rows, W)``. When the last tile of tile row ``r`` is blended, no later tile
touches the rows above ``start[r + 1]``, so they are normalised, yielded as a :class:`RowBlock`
and dropped; the overlap with the next tile row stays in the buffers. Memory is therefore a few
rows of tiles (``tile + stride`` rows plus one batch) whatever the image height.

Probabilities are blended (softmax over classes, or sigmoid when the model has one output
channel) unless ``space="logits"``, which blends logits.

Nodata pixels (all bands equal to the source's nodata value) are set to 0 in the *raw* values,
before normalisation (:func:`pixelwise.io.fill_nodata`, the rule the training datasets use), and
their mask is handed to the sink with each :class:`RowBlock`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from pixelwise.io.raster import fill_nodata, nodata_mask
from pixelwise.io.sources import ArraySource, RasterSource
from pixelwise.outputs import main_logits, probabilities
from pixelwise.record import Blend, TilingOptions
from pixelwise.tiling.grid import Tile, TileGrid
from pixelwise.tiling.weights import crop_interval, grid_axis_norm, grid_axis_weights

DEFAULTS = TilingOptions()  # the one set of tiling defaults (also the record's)

Model = Callable[[Tensor], Tensor]
TTA_FLIPS: dict[str, tuple[tuple[int, ...], ...]] = {
    "none": ((),),
    "hflip": ((), (3,)),
    "flips": ((), (3,), (2,)),
    "all": ((), (3,), (2,), (2, 3)),
}
FLUSH_ROWS = 256  # output rows normalised and handed to the sink at a time


@dataclass
class RowBlock:
    """Finished output rows ``[row0, row0 + rows)`` over the full image width.

    ``values``: ``(K, rows, W)`` blended probabilities (or logits), on the inference device.
    ``nodata``: ``(rows, W)`` bool, True where every input band equals the nodata value.
    """

    row0: int
    values: Tensor
    nodata: np.ndarray | None


def tta_flips(tta: bool | str) -> tuple[tuple[int, ...], ...]:
    """Flips for ``tta``: False/"none", "hflip", "flips" (id, h, v), True/"all" (id, h, v, hv)."""
    key = {False: "none", True: "all"}.get(tta, tta) if isinstance(tta, bool) else tta
    if key not in TTA_FLIPS:
        raise ValueError(f"tta must be a bool or one of {tuple(TTA_FLIPS)}; got {tta!r}")
    return TTA_FLIPS[key]


def model_in_channels(model: Model) -> int | None:
    """``model.in_channels``, else the input channels of its first ``Conv2d``, else None."""
    channels = getattr(model, "in_channels", None)
    if isinstance(channels, int):
        return channels
    if isinstance(model, nn.Module):
        for module in model.modules():
            if isinstance(module, nn.Conv2d):
                return int(module.in_channels)
    return None


def check_bands(source: RasterSource, model: Model, in_channels: int | None) -> None:
    expected = in_channels if in_channels is not None else model_in_channels(model)
    if expected is None or expected == source.count:
        return
    hint = "; select bands with bands=[...] (1-based)"
    if isinstance(source, ArraySource) and source.layout == "CHW":
        hint += ", or pass layout='HWC' if the array is H x W x C"
    raise ValueError(
        f"input {source.name} has {source.count} bands but the model expects {expected} input "
        f"channels{hint}"
    )


def _shift_rows(buffer: Any, drop: int, keep: int) -> None:
    """Move rows ``[drop, drop + keep)`` of ``buffer`` (axis 1) to ``[0, keep)`` in place,
    in chunks of ``drop`` rows so that no single copy overlaps itself."""
    if drop <= 0:
        return
    for first in range(0, keep, drop):
        rows = min(drop, keep - first)
        buffer[:, first : first + rows] = buffer[:, drop + first : drop + first + rows]


class _InputRows:
    """Raw input rows ``[top, bottom)`` of the padded image in a fixed buffer of ``capacity``
    rows, read from the source on demand (each row once)."""

    def __init__(self, source: RasterSource, grid: TileGrid, capacity: int) -> None:
        self.source, self.grid = source, grid
        self.top = self.bottom = 0
        self.rows = np.empty((source.count, capacity, grid.padded_shape[1]), dtype=source.dtype)

    def _read(self, row0: int, row1: int) -> np.ndarray:
        source, (_, padded_w) = self.source, self.grid.padded_shape
        if source.height < self.grid.padded_shape[0]:  # one tile row over the reflect-padded image
            block = source.read(0, source.height)
            pad_rows = self.grid.padded_shape[0] - source.height
            block = np.pad(block, ((0, 0), (0, pad_rows), (0, 0)), mode="reflect")[:, row0:row1]
        else:
            block = source.read(row0, row1)
        if source.width < padded_w:
            block = np.pad(block, ((0, 0), (0, 0), (0, padded_w - source.width)), mode="reflect")
        return block

    def ensure(self, bottom: int) -> None:
        if bottom > self.bottom:
            fresh = self._read(self.bottom, bottom)
            self.rows[:, self.bottom - self.top : bottom - self.top] = fresh
            self.bottom = bottom

    def drop_before(self, row: int) -> None:
        drop = row - self.top
        if drop > 0:
            _shift_rows(self.rows, drop, max(self.bottom - row, 0))
            self.top = row
            self.bottom = max(self.bottom, row)

    def window(self, y: int, x: int, h: int, w: int) -> np.ndarray:
        return self.rows[:, y - self.top : y - self.top + h, x : x + w]


def _buffer_rows(grid: TileGrid, batch_size: int) -> int:
    """Rows the buffers must hold: for each batch, from the first unfinished tile row (the
    first tile's row) to the bottom of its lowest tile."""
    tiles = list(grid)
    tile_h = grid.tile_size[0]
    return max(
        max(t.y for t in tiles[i : i + batch_size]) + tile_h - tiles[i].y
        for i in range(0, len(tiles), batch_size)
    )


def _forward(model: Model, batch: Tensor) -> Tensor:
    output = main_logits(model(batch))  # (logits, aux) tuples, torchvision's {"out": ...}
    if output.ndim != 4 or output.shape[0] != batch.shape[0] or output.shape[2:] != batch.shape[2:]:
        raise ValueError(
            f"the model must map (B, C, h, w) to logits (B, K, h, w) at input resolution; "
            f"got {tuple(output.shape)} for input {tuple(batch.shape)}"
        )
    return output.float()


def _activate(logits: Tensor, space: str) -> Tensor:
    return logits if space == "logits" else probabilities(logits, dim=1)


def _predict_batch(model: Model, batch: Tensor, flips: Sequence[tuple[int, ...]], space: str):
    total = None
    for dims in flips:
        flipped = batch.flip(dims) if dims else batch
        values = _activate(_forward(model, flipped), space)
        values = values.flip(dims) if dims else values
        total = values if total is None else total + values
    assert total is not None
    return total / len(flips) if len(flips) > 1 else total


def iter_blocks(
    model: Model,
    source: RasterSource,
    *,
    tile: int | tuple[int, int] = DEFAULTS.tile,
    overlap: int | tuple[int, int] = DEFAULTS.overlap,
    blend: Blend = DEFAULTS.blend,
    batch_size: int = DEFAULTS.batch_size,
    tta: bool | str = False,
    device: str | torch.device = "cpu",
    normalization: Callable[[Tensor], Tensor] | None = None,
    space: Literal["probs", "logits"] = "probs",
    in_channels: int | None = None,
    progress: bool = True,
) -> Iterator[RowBlock]:
    """Run ``model`` over ``source`` tile by tile and yield finished rows, top to bottom."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1; got {batch_size}")
    if space not in ("probs", "logits"):
        raise ValueError(f"space must be 'probs' or 'logits'; got {space!r}")
    flips = tta_flips(tta)
    check_bands(source, model, in_channels)
    grid = TileGrid(source.height, source.width, tile, overlap)
    device = torch.device(device)
    tile_h, tile_w = grid.tile_size
    row_w, col_w = grid_axis_weights(grid.rows, blend), grid_axis_weights(grid.cols, blend)
    row_norm, col_norm = grid_axis_norm(grid.rows, row_w), grid_axis_norm(grid.cols, col_w)
    row_norm, col_norm = row_norm.to(device), col_norm.to(device)
    gaussian = torch.outer(row_w[0], col_w[0]).to(device)  # the same window for every tile
    inputs = _InputRows(source, grid, _buffer_rows(grid, batch_size))
    acc: Tensor | None = None  # (K, capacity, padded_w): rows [inputs.top, inputs.bottom)
    done_in_row = [0] * grid.shape[0]
    n_cols = grid.shape[1]
    tiles = list(grid)
    was_training = isinstance(model, nn.Module) and model.training
    if isinstance(model, nn.Module):
        model.eval()
    bar = tqdm(total=len(tiles), disable=not progress, unit="tile", desc="tiles")
    try:
        for first in range(0, len(tiles), batch_size):
            batch_tiles: list[Tile] = tiles[first : first + batch_size]
            inputs.ensure(max(t.y for t in batch_tiles) + tile_h)
            # nodata pixels are set to 0 in the raw values, before normalisation, exactly as
            # the training datasets do (pixelwise.io.fill_nodata)
            raw = np.stack(
                [
                    fill_nodata(inputs.window(t.y, t.x, tile_h, tile_w), source.nodata)[0]
                    for t in batch_tiles
                ]
            )
            batch = torch.from_numpy(np.ascontiguousarray(raw)).to(device)
            batch = normalization(batch) if normalization is not None else batch.float()
            with torch.inference_mode():
                values = _predict_batch(model, batch, flips, space)
            if acc is None:
                shape = (values.shape[1], inputs.rows.shape[1], grid.padded_shape[1])
                acc = torch.zeros(shape, dtype=torch.float32, device=device)
            for t, tile_values in zip(batch_tiles, values, strict=True):
                y = t.y - inputs.top
                if blend == "crop":
                    y0, y1 = crop_interval(row_w[t.row])
                    x0, x1 = crop_interval(col_w[t.col])
                    acc[:, y + y0 : y + y1, t.x + x0 : t.x + x1] = tile_values[:, y0:y1, x0:x1]
                else:
                    target = acc[:, y : y + tile_h, t.x : t.x + tile_w]
                    if blend == "mean":
                        target += tile_values
                    else:
                        target.addcmul_(tile_values, gaussian)
                done_in_row[t.row] += 1
                if done_in_row[t.row] == n_cols:
                    yield from _flush(acc, inputs, grid, t.row, blend, row_norm, col_norm)
            bar.update(len(batch_tiles))
    finally:
        bar.close()
        if was_training:
            model.train(True)  # type: ignore[attr-defined]  # was_training implies nn.Module


def _flush(
    acc: Tensor,
    inputs: _InputRows,
    grid: TileGrid,
    row: int,
    blend: str,
    row_norm: Tensor,
    col_norm: Tensor,
    chunk: int | None = None,
) -> Iterator[RowBlock]:
    """Yield the rows finished by tile row ``row`` (in chunks of ``chunk`` rows, to bound the
    temporaries), then drop them from both buffers."""
    chunk = chunk or FLUSH_ROWS
    starts = grid.rows.starts
    end = starts[row + 1] if row + 1 < len(starts) else grid.padded_shape[0]
    top = inputs.top
    stop = min(end, grid.height)  # never emit the reflect padding
    for row0 in range(top, stop, chunk):
        row1 = min(row0 + chunk, stop)
        values = acc[:, row0 - top : row1 - top, : grid.width]
        if blend != "crop":  # crop weights partition the image: the sum is exactly one
            values = values / torch.outer(row_norm[row0:row1], col_norm[: grid.width])
        raw = inputs.rows[:, row0 - top : row1 - top, : grid.width]
        yield RowBlock(row0, values, nodata_mask(raw, inputs.source.nodata))
    live = inputs.bottom - top
    drop = end - top
    _shift_rows(acc, drop, max(live - drop, 0))
    acc[:, max(live - drop, 0) : live].zero_()
    inputs.drop_before(end)
