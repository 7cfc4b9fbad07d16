"""The tile grid: where overlapping tiles sit on an H x W image and which pixels each one owns.

Tiles never run off the image: along each axis the starts are ``0, stride, 2 * stride, ...`` and
the last one is clamped to ``size - tile`` so that it ends exactly on the edge. An axis shorter
than the tile gets a single tile over the reflect-padded axis (``padded_size == tile``), and the
result is cropped back to ``size`` afterwards.

For ``crop`` blending each pixel belongs to exactly one tile: the tile whose centre is nearest,
which is the tile in which the pixel lies furthest from every edge. Along an axis the split
between neighbours ``i`` and ``i + 1`` is therefore the midpoint of their centres,
``floor((start[i] + start[i + 1] + tile - 1) / 2) + 1``; it is computed from the actual starts, so
the clamped last tile (which overlaps its neighbour by more than ``overlap``) is handled exactly.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

from pixelwise.record import check_tile_overlap


def _pair(value: int | tuple[int, int], name: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) for v in pair):
        raise TypeError(f"{name} must be an int or a pair of ints; got {value!r}")
    return int(pair[0]), int(pair[1])


@dataclass(frozen=True)
class AxisTiling:
    """Tile positions along one axis of length ``size`` (see the module docstring)."""

    size: int
    tile: int
    overlap: int
    starts: tuple[int, ...] = field(init=False)
    splits: tuple[int, ...] = field(init=False)

    def __post_init__(self) -> None:
        if self.size <= 0:
            raise ValueError(f"image size must be positive; got {self.size}")
        check_tile_overlap(self.tile, self.overlap)
        stride = self.tile - self.overlap
        if self.size <= self.tile:
            starts: tuple[int, ...] = (0,)
        else:
            count = math.ceil((self.size - self.tile) / stride) + 1
            starts = tuple(i * stride for i in range(count - 1)) + (self.size - self.tile,)
        splits = tuple(
            (a + b + self.tile - 1) // 2 + 1 for a, b in zip(starts[:-1], starts[1:], strict=True)
        )
        object.__setattr__(self, "starts", starts)
        object.__setattr__(self, "splits", splits)

    @property
    def padded_size(self) -> int:
        """``size``, or ``tile`` when the axis is shorter than a tile (reflect-padded)."""
        return max(self.size, self.tile)

    @property
    def count(self) -> int:
        return len(self.starts)

    def owned(self, index: int) -> tuple[int, int]:
        """Image interval ``[lo, hi)`` that tile ``index`` owns under ``crop`` blending."""
        lo = 0 if index == 0 else self.splits[index - 1]
        hi = self.padded_size if index == self.count - 1 else self.splits[index]
        return lo, hi


@dataclass(frozen=True)
class Tile:
    """One tile: its row/column index in the grid and its top-left pixel."""

    row: int
    col: int
    y: int
    x: int


class TileGrid:
    """Overlapping tiles over an ``height x width`` image.

    Args:
        height, width: image size in pixels.
        tile: tile size, an int or ``(tile_h, tile_w)``.
        overlap: pixels shared by neighbouring tiles, an int or a pair. Mutually exclusive with
            ``stride`` (``overlap = tile - stride``).
    Raises:
        ValueError: when ``tile < 2 * overlap`` (naming both numbers) or sizes are not positive.
    """

    def __init__(
        self,
        height: int,
        width: int,
        tile: int | tuple[int, int] = 512,
        overlap: int | tuple[int, int] | None = None,
        *,
        stride: int | tuple[int, int] | None = None,
    ) -> None:
        tile_h, tile_w = _pair(tile, "tile")
        if overlap is not None and stride is not None:
            raise ValueError("give either overlap or stride, not both")
        if stride is not None:
            stride_h, stride_w = _pair(stride, "stride")
            if stride_h <= 0 or stride_w <= 0:
                raise ValueError(f"stride must be positive; got {stride}")
            over_h, over_w = tile_h - stride_h, tile_w - stride_w
        else:
            over_h, over_w = _pair(0 if overlap is None else overlap, "overlap")
        check_tile_overlap(tile_h, over_h, "height")
        check_tile_overlap(tile_w, over_w, "width")
        self.rows = AxisTiling(int(height), tile_h, over_h)
        self.cols = AxisTiling(int(width), tile_w, over_w)

    @property
    def height(self) -> int:
        return self.rows.size

    @property
    def width(self) -> int:
        return self.cols.size

    @property
    def tile_size(self) -> tuple[int, int]:
        return self.rows.tile, self.cols.tile

    @property
    def overlap(self) -> tuple[int, int]:
        return self.rows.overlap, self.cols.overlap

    @property
    def padded_shape(self) -> tuple[int, int]:
        return self.rows.padded_size, self.cols.padded_size

    @property
    def shape(self) -> tuple[int, int]:
        """Number of tiles ``(rows, cols)``."""
        return self.rows.count, self.cols.count

    def __len__(self) -> int:
        return self.rows.count * self.cols.count

    def __iter__(self) -> Iterator[Tile]:
        """Tiles in raster order (row by row), the order in which they are processed."""
        for row, y in enumerate(self.rows.starts):
            for col, x in enumerate(self.cols.starts):
                yield Tile(row, col, y, x)

    def owned_box(self, tile: Tile) -> tuple[int, int, int, int]:
        """``(y0, y1, x0, x1)`` in image pixels that ``tile`` owns under ``crop`` blending."""
        y0, y1 = self.rows.owned(tile.row)
        x0, x1 = self.cols.owned(tile.col)
        return y0, y1, x0, x1

    def __repr__(self) -> str:
        return (
            f"TileGrid(height={self.height}, width={self.width}, tile={self.tile_size}, "
            f"overlap={self.overlap}, tiles={self.shape})"
        )
