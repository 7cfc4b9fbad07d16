"""Pairwise Gaussian kernels of the fully-connected CRF (Krähenbühl and Koltun, NIPS 2011).

Two kernels, with pydensecrf's feature conventions (``x`` = column, ``y`` = row, colours on the
0-255 scale):

* smoothness (``addPairwiseGaussian``): features ``(x / sxy, y / sxy)``;
* appearance (``addPairwiseBilateral``): features ``(x / sxy, y / sxy, r / srgb, g / srgb,
  b / srgb)``.

:class:`PairwiseKernel` filters label distributions with the normalised kernel. The default,
``"symmetric"``, is pydensecrf's ``NORMALIZE_SYMMETRIC``: ``D^-1/2 K D^-1/2 v`` with
``D = diag(K 1)``; ``"after"`` is the row-stochastic ``D^-1 K v``. Both are invariant to a global
scale of ``K``, which removes the permutohedral lattice's approximate scale. As in pydensecrf, the
centre pixel's own contribution (``k_ii``) is kept in the sum.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from pixelwise.crf.brute_force import DenseGaussianFilter
from pixelwise.crf.permutohedral import PermutohedralLattice

__all__ = ["PairwiseKernel", "bilateral_features", "gaussian_features"]

Method = Literal["lattice", "brute_force"]
Normalization = Literal["symmetric", "after"]


def _check_width(name: str, value: float) -> float:
    value = float(value)
    if not value > 0:
        raise ValueError(f"{name} must be a positive kernel width; got {value}")
    return value


def gaussian_features(
    height: int,
    width: int,
    sxy: float,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """Smoothness-kernel features ``(H * W, 2)``: ``(x / sxy, y / sxy)`` in row-major order."""
    sxy = _check_width("sxy", sxy)
    rows = torch.arange(height, device=device, dtype=dtype)
    cols = torch.arange(width, device=device, dtype=dtype)
    y, x = torch.meshgrid(rows, cols, indexing="ij")
    return torch.stack([x.reshape(-1), y.reshape(-1)], dim=1) / sxy


def bilateral_features(image: Tensor, sxy: float, srgb: float) -> Tensor:
    """Appearance-kernel features ``(H * W, 5)`` from ``image`` ``(H, W, 3)`` on the 0-255 scale."""
    srgb = _check_width("srgb", srgb)
    if image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(f"image must have shape (H, W, 3); got {tuple(image.shape)}")
    height, width, _ = image.shape
    dtype = image.dtype if image.dtype.is_floating_point else torch.float32
    position = gaussian_features(height, width, sxy, device=image.device, dtype=dtype)
    colour = image.reshape(-1, 3).to(dtype) / srgb
    return torch.cat([position, colour], dim=1)


class PairwiseKernel:
    """Normalised Gaussian filter over fixed ``features`` ``(N, d)``.

    ``method="lattice"`` uses the permutohedral lattice (``O(N)`` per call, approximate);
    ``"brute_force"`` the exact ``N x N`` matrix (small images only, used as the reference).
    :meth:`filter` maps label distributions ``(N, C)`` to messages ``(N, C)``.
    """

    def __init__(
        self,
        features: Tensor,
        *,
        method: Method = "lattice",
        normalization: Normalization = "symmetric",
    ) -> None:
        if normalization not in ("symmetric", "after"):
            raise ValueError(f"normalization must be 'symmetric' or 'after'; got {normalization!r}")
        raw: PermutohedralLattice | DenseGaussianFilter
        if method == "lattice":
            raw = PermutohedralLattice(features)
        elif method == "brute_force":
            raw = DenseGaussianFilter(features)
        else:
            raise ValueError(f"method must be 'lattice' or 'brute_force'; got {method!r}")
        self.method = method
        self.normalization = normalization
        ones = torch.ones(features.shape[0], 1, device=features.device, dtype=features.dtype)
        density = raw.filter(ones).squeeze(1)  # D = K 1
        # Lattice outputs can be ~0 (or slightly negative) far from any point: clamp like densecrf.
        density = density.clamp_min(1e-20)
        if normalization == "symmetric":
            pre = post = density.rsqrt()
            self.operator = raw.reweighted(pre, post)
        else:
            self.operator = raw.reweighted(None, density.reciprocal())
        # The filter's weights are non-negative, so its largest row sum bounds every message.
        self.max_row_sum = float(self.operator.filter(ones).max())

    def filter(self, values: Tensor) -> Tensor:
        """Normalised filtering of ``values`` ``(N, C)``; returns ``(N, C)`` in their dtype."""
        return self.operator.filter(values)
