"""Geometry and hashing of the permutohedral lattice, vectorised over all points.

Adams, Baek and Davis, "Fast High-Dimensional Filtering Using the Permutohedral Lattice",
Eurographics 2010, section 3-4, following Krähenbühl's ``permutohedral.cpp`` (densecrf 2.2,
pydensecrf) step for step: elevation onto the hyperplane ``x_0 + ... + x_d = 0``, rounding to the
nearest remainder-0 point, ranking the residual (same tie-breaking), barycentric weights and the
``d + 1`` vertex keys. Instead of a hash table, points are first grouped by their simplex (one
sort of ``N`` int64 codes; neighbouring pixels mostly share simplices), then the vertex keys of
the distinct simplices are packed into int64 codes (mixed radix with a margin, so that a
neighbour's code is the vertex code plus a constant) and deduplicated with a second, smaller
sort; too wide a key range falls back to ``torch.unique(dim=0)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["LatticeIndex", "build_lattice_index"]

_MAX_CODE = 2**62


@dataclass(frozen=True)
class LatticeIndex:
    """Where each point lands on the lattice, for ``N`` points, ``S`` distinct simplices and
    ``M`` lattice vertices.

    ``barycentric`` ``(N, d + 1)``: weights of the enclosing simplex's corners (sum to 1);
    ``simplex`` ``(N,)``: each point's simplex in ``[0, S)``; ``by_simplex`` ``(N,)``: the points
    sorted by simplex (increasing point index within one); ``simplex_counts`` ``(S,)``;
    ``simplex_vertices`` ``(S, d + 1)``: vertex index in ``[0, M)`` of each simplex corner;
    ``neighbours`` ``(d + 1, M, 2)``: the minus/plus neighbour of each vertex along each lattice
    direction, ``-1`` where that vertex holds no point.
    """

    barycentric: Tensor
    simplex: Tensor
    by_simplex: Tensor
    simplex_counts: Tensor
    simplex_vertices: Tensor
    neighbours: Tensor

    @property
    def num_vertices(self) -> int:
        return int(self.neighbours.shape[1])

    @property
    def offsets(self) -> Tensor:
        """Vertex index ``(N, d + 1)`` of each point's simplex corners."""
        return self.simplex_vertices[self.simplex]


def build_lattice_index(features: Tensor, *, force_row_hash: bool = False) -> LatticeIndex:
    """Locate points ``(N, d)`` (float, already divided by the kernel widths) on the lattice."""
    elevated = _elevate(features)
    rem0, rank = _enclosing_simplex(elevated)
    barycentric = _barycentric(elevated, rem0, rank)
    base = rem0[:, :-1].round().long()  # the last coordinate follows from sum = 0

    simplex, by_simplex, counts = _group_simplices(base, rank, force_row_hash)
    first = by_simplex[_group_starts(counts)]  # one representative point per simplex
    base, rank = base[first], rank[first]
    packed = None if force_row_hash else _hash_packed(base, rank)
    simplex_vertices, neighbours = packed if packed is not None else _hash_rows(base, rank)
    return LatticeIndex(barycentric, simplex, by_simplex, counts, simplex_vertices, neighbours)


def _elevate(features: Tensor) -> Tensor:
    """Project ``(N, d)`` positions onto the lattice hyperplane: ``(N, d + 1)`` (paper p.5)."""
    d = features.shape[1]
    # Expected standard deviation of the lattice filter, so that it approximates exp(-|df|^2/2).
    inv_std = math.sqrt(2.0 / 3.0) * (d + 1)
    index = torch.arange(d, device=features.device, dtype=features.dtype)
    scaled = features * (inv_std / torch.sqrt((index + 2) * (index + 1)))
    suffix = scaled.flip(1).cumsum(1).flip(1)  # suffix[:, k] = sum_{m >= k} scaled[:, m]
    after = torch.cat([suffix[:, 1:], torch.zeros_like(suffix[:, :1])], dim=1)
    return torch.cat([suffix[:, :1], after - (index + 1) * scaled], dim=1)


def _enclosing_simplex(elevated: Tensor) -> tuple[Tensor, Tensor]:
    """Nearest remainder-0 point ``rem0`` (float, multiples of d+1) and ``rank`` (int64)."""
    n, d1 = elevated.shape
    scaled = elevated / d1
    up = torch.ceil(scaled) * d1
    down = torch.floor(scaled) * d1
    rem0 = torch.where(up - elevated < elevated - down, up, down)
    coord_sum = torch.round(rem0.sum(1) / d1).long()

    # Rank of each residual in decreasing order; ties go to the lower index, as in the C code:
    # rank_i = #{j > i: r_j > r_i} + #{j < i: r_j >= r_i}.
    residual = (elevated - rem0).T.contiguous()  # (d + 1, N): one row per coordinate
    ranks = torch.zeros(d1, n, dtype=torch.int16, device=elevated.device)
    for i in range(d1 - 1):
        later_is_larger = residual[i + 1 :] > residual[i]
        ranks[i] += later_is_larger.sum(0, dtype=torch.int16)
        ranks[i + 1 :] += ~later_is_larger
    rank = ranks.T.long()

    # Bring the point back onto the plane (sum != 0): a cyclic shift of the ranks.
    shifted = rank + coord_sum.unsqueeze(1)  # in [-(d + 1), 2 d + 1]
    wraps = torch.div(shifted, d1, rounding_mode="floor")  # -1, 0 or 1
    return rem0 - d1 * wraps, shifted - d1 * wraps


def _barycentric(elevated: Tensor, rem0: Tensor, rank: Tensor) -> Tensor:
    """Barycentric weights ``(N, d + 1)`` of the simplex vertices (paper p.10)."""
    n, d1 = elevated.shape
    d = d1 - 1
    v = (elevated - rem0) / d1
    bary = elevated.new_zeros(n, d1 + 1)
    bary.scatter_add_(1, d - rank, v)
    bary.scatter_add_(1, d - rank + 1, -v)
    bary[:, 0] += 1.0 + bary[:, d1]
    return bary[:, :d1].contiguous()


def _direction_deltas(d: int, device: torch.device) -> Tensor:
    """Key change ``(d + 1, d)`` to the minus-side neighbour along each lattice direction."""
    deltas = torch.full((d + 1, d), -1, dtype=torch.long, device=device)
    index = torch.arange(d, device=device)
    deltas[index, index] = d
    return deltas


def _group_starts(counts: Tensor) -> Tensor:
    starts = torch.zeros_like(counts)
    starts[1:] = counts.cumsum(0)[:-1]
    return starts


def _group_sorted(sorted_values: Tensor, order: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Group of every original entry, the first-of-group mask and group sizes from a sort."""
    is_new = torch.ones_like(sorted_values, dtype=torch.bool)
    is_new[1:] = sorted_values[1:] != sorted_values[:-1]
    group = is_new.long().cumsum(0) - 1
    inverse = torch.empty_like(group)
    inverse[order] = group
    return inverse, is_new, torch.bincount(group)


def _group_simplices(base: Tensor, rank: Tensor, force_rows: bool) -> tuple[Tensor, Tensor, Tensor]:
    """Simplex of each point, points ordered by simplex, and points per simplex."""
    d1 = rank.shape[1]
    low = base.min(0).values
    extent = base.max(0).values - low + 1
    radix = [int(e) for e in extent.tolist()] + [d1] * (d1 - 1)
    if force_rows or math.prod(radix) >= _MAX_CODE:
        _, simplex = torch.unique(torch.cat([base, rank], 1), dim=0, return_inverse=True)
        by_simplex = torch.argsort(simplex, stable=True)
        return simplex, by_simplex, torch.bincount(simplex)
    digits = torch.cat([base - low, rank[:, :-1]], dim=1)  # rank is a permutation: drop one
    strides = torch.tensor(radix, device=base.device).cumprod(0).roll(1)
    strides[0] = 1
    codes = (digits * strides).sum(1)
    sorted_codes, by_simplex = torch.sort(codes, stable=True)
    simplex, _, counts = _group_sorted(sorted_codes, by_simplex)
    return simplex, by_simplex, counts


def _vertex_keys(base: Tensor, rank: Tensor) -> Tensor:
    """Integer keys ``(S, d + 1, d)`` of the simplex corners: ``base + r - (d+1) [rank+r > d]``."""
    d1 = rank.shape[1]
    remainder = torch.arange(d1, device=rank.device).view(1, d1, 1)
    wraps = (rank[:, None, :-1] + remainder) > d1 - 1
    return base[:, None, :] + remainder - d1 * wraps.long()


def _hash_packed(base: Tensor, rank: Tensor) -> tuple[Tensor, Tensor] | None:
    """Vertices via int64 codes of the keys; ``None`` if the key range is too wide."""
    d1 = rank.shape[1]
    d = d1 - 1
    device = rank.device
    low = base.min(0).values - 2 * d1  # margin: corners and blur neighbours stay inside
    extent = base.max(0).values + 2 * d1 - low + 1
    if math.prod(int(e) for e in extent.tolist()) >= _MAX_CODE:
        return None
    strides = torch.ones(d, dtype=torch.long, device=device)
    if d > 1:
        strides[1:] = torch.cumprod(extent[:-1], 0)
    codes = ((_vertex_keys(base, rank) - low) * strides).sum(-1)  # (S, d + 1)

    sorted_codes, order = torch.sort(codes.reshape(-1))
    vertex, is_new, _ = _group_sorted(sorted_codes, order)
    unique_codes = sorted_codes[is_new]
    num_vertices = unique_codes.shape[0]

    step = (_direction_deltas(d, device) * strides).sum(1)  # (d + 1,)
    query = torch.stack(
        [unique_codes[None] + step[:, None], unique_codes[None] - step[:, None]], dim=2
    )  # (d + 1, M, 2)
    found = torch.searchsorted(unique_codes, query).clamp_(max=num_vertices - 1)
    neighbours = torch.where(unique_codes[found] == query, found, -1)
    return vertex.view_as(codes), neighbours


def _hash_rows(base: Tensor, rank: Tensor) -> tuple[Tensor, Tensor]:
    """Same as :func:`_hash_packed` with row-wise ``torch.unique`` (any key range, slower)."""
    d1 = rank.shape[1]
    d = d1 - 1
    device = rank.device
    keys = _vertex_keys(base, rank)
    unique_keys, vertex = torch.unique(keys.reshape(-1, d), dim=0, return_inverse=True)
    num_vertices = unique_keys.shape[0]
    deltas = _direction_deltas(d, device)
    query = torch.stack([unique_keys[None] + deltas[:, None], unique_keys[None] - deltas[:, None]])
    together = torch.cat([unique_keys, query.reshape(-1, d)], dim=0)
    _, inverse = torch.unique(together, dim=0, return_inverse=True)
    vertex_of_group = torch.full((int(inverse.max()) + 1,), -1, dtype=torch.long, device=device)
    vertex_of_group[inverse[:num_vertices]] = torch.arange(num_vertices, device=device)
    found = vertex_of_group[inverse[num_vertices:]].view(2, d1, num_vertices)
    return vertex.view(-1, d1), found.permute(1, 2, 0).contiguous()
