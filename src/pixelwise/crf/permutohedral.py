"""Permutohedral lattice for fast high-dimensional Gaussian filtering.

Adams, Baek and Davis, "Fast High-Dimensional Filtering Using the Permutohedral Lattice",
Eurographics 2010, in the variant of Krähenbühl's ``permutohedral.cpp`` (densecrf 2.2, as used by
pydensecrf): splat with barycentric weights, blur with ``[1/2, 1, 1/2]`` along each of the
``d + 1`` lattice directions, slice with barycentric weights times Adams' constant
``1 / (1 + 2^-d)``. The lattice (:mod:`pixelwise.crf.lattice_index`) is built once per set of
positions; every step is then a precomputed sparse CSR matrix (splat ``(M, N)``, ``d + 1``
blurs ``(M, M)``, slice ``(N, M)``), applied to all ``C`` channels at once.

One :meth:`PermutohedralLattice.filter` costs ``O((N + M) (d + 1) C)`` for ``N`` points and
``M`` lattice vertices: linear in the number of pixels instead of ``O(N^2)``.
The result approximates ``out_i = sum_j exp(-|f_i - f_j|^2 / 2) v_j`` (the point ``j = i``
included) up to a global scale and a few per cent error (more for sparse, high-dimensional
points); :class:`~pixelwise.crf.kernels.PairwiseKernel` normalises, which removes the scale.
"""

from __future__ import annotations

import copy
import warnings

import torch
from torch import Tensor

from pixelwise.crf.lattice_index import build_lattice_index

__all__ = ["PermutohedralLattice"]


def _csr(crow: Tensor, col: Tensor, values: Tensor, shape: tuple[int, ...]) -> Tensor:
    index_dtype = torch.int32 if max(col.numel(), *shape) < 2**31 - 1 else torch.long
    with warnings.catch_warnings():  # "sparse CSR support is in beta state"
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(
            crow.to(index_dtype), col.to(index_dtype), values, shape, check_invariants=False
        )


def _crow(counts: Tensor) -> Tensor:
    crow = torch.zeros(counts.shape[0] + 1, dtype=torch.long, device=counts.device)
    crow[1:] = counts.cumsum(0)
    return crow


class PermutohedralLattice:
    """Lattice built from fixed positions ``features`` of shape ``(N, d)``.

    :meth:`filter` maps values ``(N, C)`` to ``(N, C)``, all channels at once. Construction and
    filtering run on the device of ``features`` (pure torch: CPU or CUDA); float64 features give
    a float64 lattice, any other dtype float32. Not differentiable (an inference-time filter).
    """

    def __init__(self, features: Tensor, *, _force_row_hash: bool = False) -> None:
        if features.ndim != 2 or features.shape[0] == 0 or features.shape[1] == 0:
            raise ValueError(
                f"features must have shape (N, d) with N, d >= 1; got {tuple(features.shape)}"
            )
        if not torch.isfinite(features).all():
            raise ValueError("features contain NaN or inf; positions must be finite")
        dtype = torch.float64 if features.dtype == torch.float64 else torch.float32
        features = features.detach().to(dtype)
        num_points, d = features.shape
        self.num_points = num_points
        self.dim = d
        self.device = features.device
        self.dtype = dtype
        index = build_lattice_index(features, force_row_hash=_force_row_hash)
        self.index = index
        self.num_vertices = index.num_vertices
        self.alpha = 1.0 / (1.0 + 2.0 ** (-d))  # Adams' constant for the splat-slice scale
        self._splat, self._slice = self._splat_slice_matrices()
        self._blur = [self._blur_matrix(direction) for direction in range(d + 1)]

    def _splat_slice_matrices(self) -> tuple[list[Tensor], list[Tensor]]:
        """Splat ``[S (M, N)]`` and slice ``[T (N, M)]``: barycentric weights, ``T`` times alpha."""
        index = self.index
        d1 = self.dim + 1
        n = self.num_points
        device = self.device
        # Slice: point n reads its simplex's corners; sort the corners of each simplex once.
        corner_vertices, corner_order = index.simplex_vertices.sort(dim=1)
        columns = corner_vertices[index.simplex].reshape(-1)
        weights = index.barycentric.gather(1, corner_order[index.simplex]).reshape(-1)
        crow = torch.arange(0, n * d1 + 1, d1, device=device)
        interpolate = _csr(crow, columns, weights * self.alpha, (n, self.num_vertices))
        # Splat: vertex m collects the points that have it as a corner, in increasing order.
        index_dtype = torch.int32 if self.num_vertices < 2**31 else torch.long
        by_vertex = torch.sort(columns.to(index_dtype), stable=True).indices
        counts = torch.bincount(columns, minlength=self.num_vertices)
        splat = _csr(
            _crow(counts),
            by_vertex // d1,
            weights[by_vertex],
            (self.num_vertices, n),
        )
        return [splat], [interpolate]

    def _blur_matrix(self, direction: int) -> Tensor:
        """``(M, M)``: ``v_m + (v_minus + v_plus) / 2`` along one lattice direction."""
        num_vertices = self.num_vertices
        vertex = torch.arange(num_vertices, device=self.device)
        columns = torch.cat([vertex[:, None], self.index.neighbours[direction]], dim=1)
        weights = torch.tensor([1.0, 0.5, 0.5], dtype=self.dtype, device=self.device)
        weights = weights.expand(num_vertices, 3)
        valid = columns >= 0
        columns, order = torch.where(valid, columns, num_vertices).sort(dim=1)
        weights = weights.gather(1, order)
        valid = valid.gather(1, order)
        crow = _crow(valid.sum(1))
        return _csr(crow, columns[valid], weights[valid], (num_vertices, num_vertices))

    def reweighted(self, pre: Tensor | None, post: Tensor | None) -> PermutohedralLattice:
        """Lattice whose :meth:`filter` is ``post * K (pre * v)`` for per-point ``(N,)`` weights.

        Folds a kernel normalisation (or a constant weight) into the splat and slice matrices,
        so it costs nothing per call; shares every other tensor with ``self``.
        """
        other = copy.copy(self)
        if pre is not None:
            gather = self._splat[0]
            weights = gather.values() * pre.to(gather.dtype)[gather.col_indices().long()]
            rows, cols = gather.crow_indices(), gather.col_indices()
            other._splat = [_csr(rows, cols, weights, gather.shape), *self._splat[1:]]
        if post is not None:
            last = self._slice[-1]
            weights = last.values().view(self.num_points, -1) * post.to(last.dtype)[:, None]
            rows, cols = last.crow_indices(), last.col_indices()
            other._slice = [*self._slice[:-1], _csr(rows, cols, weights.reshape(-1), last.shape)]
        return other

    def filter(self, values: Tensor) -> Tensor:
        """Gaussian-filter ``values`` of shape ``(N, C)``; returns ``(N, C)`` in their dtype."""
        if values.ndim != 2 or values.shape[0] != self.num_points:
            raise ValueError(
                f"values must have shape ({self.num_points}, C); got {tuple(values.shape)}"
            )
        return _apply(self._splat + self._blur + self._slice, values, self.dtype)


def _apply(matrices: list[Tensor], values: Tensor, dtype: torch.dtype) -> Tensor:
    """``matrices[-1] @ ... @ matrices[0] @ values`` in ``dtype``, returned in the input dtype."""
    result = values.detach().to(device=matrices[0].device, dtype=dtype).contiguous()
    for matrix in matrices:
        result = matrix @ result
    return result.to(values.dtype)
