"""Several permutohedral-lattice Gaussian filters over the same points, fused into one.

The dense CRF's Potts model sums a smoothness and an appearance kernel (Krähenbühl and Koltun
2011). :class:`LatticeSum` stacks the lattices' sparse matrices (:mod:`pixelwise.crf.permutohedral`)
into one chain, so one call reads the values and writes the messages once, whatever the number of
kernels: splat matrices stacked, blurs block-diagonal, weighted slice matrices side by side.
"""

from __future__ import annotations

import torch
from torch import Tensor

from pixelwise.crf.permutohedral import PermutohedralLattice, _apply, _csr

__all__ = ["LatticeSum"]


def _stack_rows(matrices: list[Tensor], column_offsets: list[int], num_columns: int) -> Tensor:
    """Block matrix: CSR ``matrices[k]`` stacked vertically, shifted right by its offset."""
    crows, cols, values = [matrices[0].crow_indices().long()[:1]], [], []
    nnz = 0
    for matrix, offset in zip(matrices, column_offsets):
        crows.append(matrix.crow_indices().long()[1:] + nnz)
        cols.append(matrix.col_indices().long() + offset)
        values.append(matrix.values())
        nnz += matrix.values().numel()
    num_rows = sum(m.shape[0] for m in matrices)
    return _csr(torch.cat(crows), torch.cat(cols), torch.cat(values), (num_rows, num_columns))


def _identity(size: int, like: Tensor) -> Tensor:
    index = torch.arange(size + 1, device=like.device)
    ones = torch.ones(size, dtype=like.dtype, device=like.device)
    return _csr(index, index[:-1], ones, (size, size))


def _offsets(sizes: list[int]) -> list[int]:
    starts = [0]
    for size in sizes:
        starts.append(starts[-1] + size)
    return starts


class LatticeSum:
    """``filter(v) = sum_k w_k K_k v`` for lattices ``K_k`` built over the same ``N`` points.

    ``max_row_sum`` bounds ``|filter(Q)|`` for ``0 <= Q <= 1`` (used by mean field), from each
    lattice's largest row sum (``max_row_sums`` when the caller knows them, else one filtering of
    ones per lattice).
    """

    def __init__(
        self,
        lattices: list[PermutohedralLattice],
        weights: list[float],
        max_row_sums: list[float] | None = None,
    ) -> None:
        if not lattices or len(lattices) != len(weights):
            raise ValueError(
                f"need one weight per lattice; got {len(lattices)} lattices, {len(weights)} weights"
            )
        num_points = lattices[0].num_points
        if any(lattice.num_points != num_points for lattice in lattices):
            raise ValueError("all lattices must be built over the same points")
        self.num_points = num_points
        self.dtype = lattices[0].dtype
        vertex_starts = _offsets([lattice.num_vertices for lattice in lattices])
        splat = _stack_rows(
            [lattice._splat[0] for lattice in lattices], [0] * len(lattices), num_points
        )
        blurs = []
        for direction in range(max(lattice.dim + 1 for lattice in lattices)):
            blocks = [
                lattice._blur[direction]
                if direction < len(lattice._blur)
                else _identity(lattice.num_vertices, lattice._blur[0])
                for lattice in lattices
            ]
            blurs.append(_stack_rows(blocks, vertex_starts[:-1], vertex_starts[-1]))

        columns, values = [], []
        for lattice, start, weight in zip(lattices, vertex_starts, weights):
            interpolate = lattice._slice[-1]
            columns.append(interpolate.col_indices().long().view(num_points, -1) + start)
            values.append(interpolate.values().view(num_points, -1) * float(weight))
        per_row = sum(lattice.dim + 1 for lattice in lattices)
        crow = torch.arange(0, num_points * per_row + 1, per_row, device=splat.device)
        interpolate = _csr(
            crow,
            torch.cat(columns, 1).reshape(-1),
            torch.cat(values, 1).reshape(-1),
            (num_points, vertex_starts[-1]),
        )
        self._matrices = [splat, *blurs, interpolate]

        # |filter(Q)| <= sum_k |w_k| max_row_sum_k for 0 <= Q <= 1 (non-negative lattices).
        if max_row_sums is None:
            ones = torch.ones(num_points, 1, dtype=self.dtype, device=splat.device)
            max_row_sums = [float(lattice.filter(ones).max()) for lattice in lattices]
        bounds = max_row_sums
        self.max_row_sum = sum(abs(float(w)) * b for w, b in zip(weights, bounds))

    def filter(self, values: Tensor) -> Tensor:
        """``sum_k w_k K_k values`` for ``values`` ``(N, C)``; returns ``(N, C)``."""
        if values.ndim != 2 or values.shape[0] != self.num_points:
            raise ValueError(
                f"values must have shape ({self.num_points}, C); got {tuple(values.shape)}"
            )
        return _apply(self._matrices, values, self.dtype)
