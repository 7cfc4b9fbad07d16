"""Blending weights for overlapping tiles: ``crop``, ``mean`` and ``gaussian``.

Every weight is separable, ``w(y, x) = w_rows(y) * w_cols(x)``, so the per-pixel normaliser
``sum_tiles w`` is the outer product of two 1-D sums and never needs a full-size accumulator.

* ``crop``: 1 on the part of the tile that it owns (its centre is the nearest, see
  :mod:`pixelwise.tiling.grid`), 0 elsewhere. The owned parts partition the image, so the weights
  sum to exactly one and every output pixel comes from a single tile.
* ``mean``: 1 everywhere; overlapping predictions are averaged.
* ``gaussian``: ``exp(-d^2 / (2 sigma^2))`` with ``sigma = tile / 8`` (nnU-Net, Isensee et al.
  2021; MONAI ``BlendMode.GAUSSIAN``), distance ``d`` from the tile centre. It stays above
  ``exp(-8)`` per axis at the tile edge, so it is strictly positive everywhere; that is what lets
  the image corners, which only one tile covers, be normalised.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from pixelwise.tiling.grid import AxisTiling, check_tile_overlap

BlendMode = Literal["crop", "mean", "gaussian"]
BLEND_MODES: tuple[str, ...] = ("crop", "mean", "gaussian")
GAUSSIAN_SIGMA_SCALE = 1.0 / 8.0


def check_blend_mode(mode: str) -> None:
    if mode not in BLEND_MODES:
        raise ValueError(f"blend mode must be one of {BLEND_MODES}; got {mode!r}")


def gaussian_window(size: int, sigma_scale: float = GAUSSIAN_SIGMA_SCALE) -> Tensor:
    """1-D Gaussian over ``size`` pixels centred on ``(size - 1) / 2``, peak 1, float32."""
    sigma = max(size * sigma_scale, 1e-6)
    position = torch.arange(size, dtype=torch.float64) - (size - 1) / 2.0
    window = torch.exp(-(position**2) / (2.0 * sigma**2))
    # Floor far below any relevant value: keeps the window > 0 even for huge tiles in float32.
    return window.clamp_min(1e-6).to(torch.float32)


def _interior_crop_window(tile: int, overlap: int) -> Tensor:
    stride = tile - overlap
    lo = (tile - 1 - stride) // 2 + 1  # split with the neighbour that starts at -stride
    hi = (tile + stride - 1) // 2 + 1  # split with the neighbour that starts at +stride
    window = torch.zeros(tile, dtype=torch.float32)
    window[lo:hi] = 1.0
    return window


def axis_window(mode: str, tile: int, overlap: int) -> Tensor:
    """1-D weight of a tile of an unbounded regular grid (for ``crop``: an interior tile)."""
    check_blend_mode(mode)
    check_tile_overlap(tile, overlap)
    if mode == "crop":
        return _interior_crop_window(tile, overlap)
    if mode == "mean":
        return torch.ones(tile, dtype=torch.float32)
    return gaussian_window(tile)


def blend_weights(mode: str, tile: int | tuple[int, int], overlap: int | tuple[int, int]) -> Tensor:
    """2-D weight ``(tile_h, tile_w)`` of one tile for ``mode`` in ``crop | mean | gaussian``.

    For ``crop`` this is the owned part of an interior tile of a regular grid (the margins of
    ``overlap / 2`` on each side are zero); tiles at the image border and the clamped last tile
    own more, see :func:`grid_axis_weights`.
    """
    tile_h, tile_w = (tile, tile) if isinstance(tile, int) else tile
    over_h, over_w = (overlap, overlap) if isinstance(overlap, int) else overlap
    return torch.outer(axis_window(mode, tile_h, over_h), axis_window(mode, tile_w, over_w))


def grid_axis_weights(axis: AxisTiling, mode: str) -> list[Tensor]:
    """The 1-D weight of every tile along ``axis`` (length ``axis.tile`` each)."""
    check_blend_mode(mode)
    if mode != "crop":
        window = axis_window(mode, axis.tile, axis.overlap)
        return [window for _ in axis.starts]
    weights = []
    for index, start in enumerate(axis.starts):
        lo, hi = axis.owned(index)
        window = torch.zeros(axis.tile, dtype=torch.float32)
        window[lo - start : hi - start] = 1.0
        weights.append(window)
    return weights


def grid_axis_norm(axis: AxisTiling, weights: list[Tensor]) -> Tensor:
    """``sum_i weights[i]`` placed at each tile's start: the per-pixel normaliser along ``axis``."""
    norm = torch.zeros(axis.padded_size, dtype=torch.float32)
    for start, window in zip(axis.starts, weights, strict=True):
        norm[start : start + axis.tile] += window
    return norm


def crop_interval(window: Tensor) -> tuple[int, int]:
    """``[lo, hi)`` of the ones in a ``crop`` window (its owned part, relative to the tile)."""
    nonzero = torch.nonzero(window).flatten()
    if nonzero.numel() == 0:
        return 0, 0
    return int(nonzero[0]), int(nonzero[-1]) + 1
