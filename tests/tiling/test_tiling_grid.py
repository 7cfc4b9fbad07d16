"""TileGrid and blending weights, checked against brute force and MONAI's importance map."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pixelwise.tiling import TileGrid, blend_weights
from pixelwise.tiling.weights import grid_axis_norm, grid_axis_weights


def test_starts_stay_inside_and_last_is_clamped() -> None:
    grid = TileGrid(100, 70, tile=32, overlap=8)
    assert grid.rows.starts == (0, 24, 48, 68)  # 72 would run off: clamped to 100 - 32
    assert grid.cols.starts == (0, 24, 38)
    assert len(grid) == 12
    for tile in grid:
        assert 0 <= tile.y <= 100 - 32 and 0 <= tile.x <= 70 - 32


def test_stride_is_tile_minus_overlap() -> None:
    by_stride = TileGrid(257, 130, tile=64, stride=48)
    by_overlap = TileGrid(257, 130, tile=64, overlap=16)
    assert by_stride.rows.starts == by_overlap.rows.starts
    assert by_stride.cols.starts == by_overlap.cols.starts


def test_one_pixel_remainder_gets_a_clamped_tile() -> None:
    grid = TileGrid(24 * 3 + 8 + 1, 32, tile=32, overlap=8)  # one row past a regular grid
    assert grid.rows.starts[-1] == grid.height - 32
    assert grid.rows.starts[-2] == 48 and grid.rows.starts[-1] == 49


def test_image_smaller_than_tile_is_one_padded_tile() -> None:
    grid = TileGrid(5, 40, tile=32, overlap=8)
    assert grid.rows.starts == (0,) and grid.padded_shape == (32, 40)


@pytest.mark.parametrize("tile,overlap", [(16, 9), (10, 6)])
def test_tile_smaller_than_twice_the_overlap_is_refused(tile: int, overlap: int) -> None:
    with pytest.raises(ValueError, match=rf"tile size.*{tile}.*twice the overlap {overlap}"):
        TileGrid(100, 100, tile=tile, overlap=overlap)


@pytest.mark.parametrize(
    "size,tile,overlap", [(100, 32, 8), (81, 32, 8), (33, 32, 16), (200, 64, 32), (97, 20, 0)]
)
def test_crop_owner_is_the_tile_where_the_pixel_is_furthest_inside(size, tile, overlap) -> None:
    axis = TileGrid(size, size, tile=tile, overlap=overlap).rows
    weights = grid_axis_weights(axis, "crop")
    owner = np.full(size, -1)
    for index, (start, window) in enumerate(zip(axis.starts, weights, strict=True)):
        ones = np.flatnonzero(window.numpy()) + start
        assert (owner[ones] == -1).all(), "a pixel is owned twice"
        owner[ones] = index
    # brute force: distance to the nearest tile edge, largest wins (ties to the earlier tile)
    starts = np.array(axis.starts)
    pixels = np.arange(size)[:, None]
    depth = np.minimum(pixels - starts, starts + tile - 1 - pixels).astype(float)
    depth[(pixels < starts) | (pixels >= starts + tile)] = -np.inf
    assert (owner == depth.argmax(axis=1)).all()


@pytest.mark.parametrize("mode", ["crop", "mean", "gaussian"])
@pytest.mark.parametrize("shape", [(100, 70), (81, 33), (5, 40), (57, 57)])
def test_normalised_weights_sum_to_one_everywhere(mode: str, shape: tuple[int, int]) -> None:
    grid = TileGrid(*shape, tile=32, overlap=8)
    row_w, col_w = grid_axis_weights(grid.rows, mode), grid_axis_weights(grid.cols, mode)
    norm = torch.outer(grid_axis_norm(grid.rows, row_w), grid_axis_norm(grid.cols, col_w))
    total = torch.zeros(grid.padded_shape, dtype=torch.float64)
    for tile in grid:  # brute force over full-size maps
        weight = torch.outer(row_w[tile.row], col_w[tile.col]).double()
        total[tile.y : tile.y + 32, tile.x : tile.x + 32] += (
            weight / norm[tile.y : tile.y + 32, tile.x : tile.x + 32]
        )
        assert (weight >= 0).all()
    assert torch.allclose(total, torch.ones_like(total), atol=1e-6)
    if mode == "crop":  # the owned parts partition the image: the raw weights already sum to 1
        assert torch.equal(norm, torch.ones_like(norm))
    else:
        assert (norm > 0).all()


def test_gaussian_matches_monai_importance_map() -> None:
    from monai.data.utils import compute_importance_map

    reference = compute_importance_map((48, 32), mode="gaussian", sigma_scale=0.125)
    ours = blend_weights("gaussian", (48, 32), 8)
    ours, reference = ours / ours.max(), reference / reference.max()
    unclamped = reference > 2e-3  # MONAI floors its map (at 1e-3); ours only stays > 0
    assert unclamped.float().mean() > 0.5
    assert torch.allclose(ours[unclamped], reference[unclamped], rtol=1e-4, atol=1e-6)
    assert ours.min() > 0


def test_crop_weights_of_an_interior_tile_drop_half_the_overlap_each_side() -> None:
    weights = blend_weights("crop", 32, 8)
    assert torch.equal(weights[4:28, 4:28], torch.ones(24, 24))
    assert weights.sum() == 24 * 24
    assert torch.equal(blend_weights("mean", (8, 6), 2), torch.ones(8, 6))
    with pytest.raises(ValueError, match="blend mode"):
        blend_weights("median", 32, 8)
