"""Brute-force ``O(N^2)`` Gaussian filtering: the exact reference for the permutohedral lattice.

Krähenbühl and Koltun, "Efficient Inference in Fully Connected CRFs with Gaussian Edge
Potentials", NIPS 2011, eq. (3): ``k(f_i, f_j) = exp(-|f_i - f_j|^2 / 2)`` for features that are
already divided by the kernel widths. Only for small images (the kernel matrix is ``N x N``).
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor

__all__ = ["DenseGaussianFilter", "MAX_BRUTE_FORCE_POINTS"]

MAX_BRUTE_FORCE_POINTS = 20_000


class DenseGaussianFilter:
    """Exact Gaussian filter over points ``features`` of shape ``(N, d)`` (self included).

    :meth:`filter` maps values ``(N, C)`` to ``out_i = sum_j exp(-|f_i - f_j|^2 / 2) v_j``.
    """

    def __init__(self, features: Tensor) -> None:
        if features.ndim != 2 or features.shape[0] == 0:
            raise ValueError(f"features must have shape (N, d); got {tuple(features.shape)}")
        num_points = features.shape[0]
        if num_points > MAX_BRUTE_FORCE_POINTS:
            raise ValueError(
                f"brute-force filtering needs an N x N matrix; got N={num_points} points, "
                f"limit {MAX_BRUTE_FORCE_POINTS}: use the permutohedral lattice instead"
            )
        dtype = torch.float64 if features.dtype == torch.float64 else torch.float32
        features = features.to(dtype)
        squared = torch.cdist(features, features).square()
        self.matrix = torch.exp(-0.5 * squared)  # (N, N), symmetric positive semi-definite
        self.num_points = num_points

    def reweighted(self, pre: Tensor | None, post: Tensor | None) -> DenseGaussianFilter:
        """Filter with matrix ``diag(post) K diag(pre)`` for per-point ``(N,)`` weights."""
        other = copy.copy(self)
        matrix = self.matrix
        if pre is not None:
            matrix = matrix * pre.to(matrix.dtype).unsqueeze(0)
        if post is not None:
            matrix = matrix * post.to(matrix.dtype).unsqueeze(1)
        other.matrix = matrix
        return other

    def filter(self, values: Tensor) -> Tensor:
        """Exact Gaussian filtering of ``values`` ``(N, C)``; returns ``(N, C)``."""
        if values.ndim != 2 or values.shape[0] != self.num_points:
            raise ValueError(
                f"values must have shape ({self.num_points}, C); got {tuple(values.shape)}"
            )
        return (self.matrix @ values.to(self.matrix.dtype)).to(values.dtype)
