"""Fully-connected CRF post-processing, as in DeepLab v1/v2.

Krähenbühl and Koltun, "Efficient Inference in Fully Connected CRFs with Gaussian Edge
Potentials", NIPS 2011; Chen et al., DeepLab (ICLR 2015, TPAMI 2018). A drop-in for pydensecrf's
``DenseCRF2D`` built on :class:`~pixelwise.crf.permutohedral.PermutohedralLattice` (pure torch:
CPU or GPU, float32 or float64). Defaults are pydensecrf's and DeepLab's:
``addPairwiseGaussian(sxy=3, compat=3)`` and ``addPairwiseBilateral(sxy=80, srgb=13,
compat=10)``, 10 mean-field iterations, unary ``-log(clip(p, 1e-5, 1))``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from pixelwise.crf.kernels import (
    Method,
    Normalization,
    PairwiseKernel,
    bilateral_features,
    gaussian_features,
)
from pixelwise.crf.lattice_sum import LatticeSum
from pixelwise.crf.mean_field import Compatibility, Filter, free_energy, mean_field

__all__ = ["DenseCRF", "dense_crf", "image_to_hwc255", "unary_from_probs"]


def unary_from_probs(probs: Tensor, clip: float = 1e-5) -> Tensor:
    """Unary energy ``-log(clip(p, clip, 1))`` (pydensecrf's ``unary_from_softmax``)."""
    if not 0.0 < clip < 1.0:
        raise ValueError(f"clip must be in (0, 1); got {clip}")
    if not probs.dtype.is_floating_point:
        raise ValueError(f"probs must be a floating-point tensor; got dtype {probs.dtype}")
    return -torch.log(probs.clamp(clip, 1.0))


def image_to_hwc255(image: Any, size: tuple[int, int] | None = None) -> Tensor:
    """Image ``(3, H, W)`` or ``(H, W, 3)`` as a float ``(H, W, 3)`` tensor on the 0-255 scale.

    Integer images are read as 0-255; floating-point images must lie in ``[0, 1]``.
    ``size = (H, W)``, when known, settles the layout of a ``(3, H, 3)`` image.
    """
    image = torch.as_tensor(image)
    if image.ndim != 3 or 3 not in (image.shape[0], image.shape[-1]):
        raise ValueError(f"image must have shape (3, H, W) or (H, W, 3); got {tuple(image.shape)}")
    channels_first = image.shape[0] == 3
    if channels_first and image.shape[-1] == 3 and size is not None:
        channels_first = tuple(image.shape[1:]) == tuple(size)
    hwc = image.permute(1, 2, 0) if channels_first else image
    if size is not None and tuple(hwc.shape[:2]) != tuple(size):
        raise ValueError(f"image is {tuple(hwc.shape[:2])} (H, W) but the scores are {size}")
    if image.dtype.is_floating_point:
        low, high = float(hwc.min()), float(hwc.max())
        if low < -1e-6 or high > 1.0 + 1e-6:
            raise ValueError(
                f"a floating-point image must lie in [0, 1]; got values in [{low:.3g}, "
                f"{high:.3g}]: pass a uint8 image or divide by 255 (undo any normalisation)"
            )
        return hwc * 255.0
    if image.dtype == torch.bool or int(hwc.min()) < 0 or int(hwc.max()) > 255:
        raise ValueError(f"an integer image must lie in 0..255; got dtype {image.dtype}")
    return hwc.to(torch.float32)


class DenseCRF:
    """Fully-connected CRF over one image, like pydensecrf's ``DenseCRF2D``.

    >>> crf = DenseCRF(image).add_gaussian(sxy=3, compat=3)
    >>> crf = crf.add_bilateral(sxy=80, srgb=13, compat=10)
    >>> probs = crf.inference(unary, iterations=10)  # unary (C, H, W) -> probs (C, H, W)

    Each ``add_*`` builds its lattice once; :meth:`inference` reuses it for every iteration and
    filters all labels at once. ``compat`` is a float (Potts weight, pydensecrf's convention) or
    a ``(C, C)`` penalty matrix ``mu(l, l')`` (the paper's; pydensecrf's matrix ``M`` is
    ``mu = -M``). ``method="brute_force"`` uses the exact ``O(N^2)`` kernel (tests only).
    The lattices live on the image's device, in float64 for a float64 image, else float32.
    """

    def __init__(
        self,
        image: Any,
        *,
        method: Method = "lattice",
        normalization: Normalization = "symmetric",
        size: tuple[int, int] | None = None,
    ) -> None:
        self.image = image_to_hwc255(image, size)
        self.height, self.width = int(self.image.shape[0]), int(self.image.shape[1])
        self.method = method
        self.normalization = normalization
        self.potentials: list[tuple[PairwiseKernel, Compatibility]] = []
        self._fused: LatticeSum | None = None

    def _add(self, features: Tensor, compat: Compatibility) -> DenseCRF:
        if isinstance(compat, Tensor):
            if compat.ndim != 2 or compat.shape[0] != compat.shape[1]:
                raise ValueError(f"compat matrix must be square (C, C); got {tuple(compat.shape)}")
            if not torch.allclose(compat, compat.T):
                raise ValueError("compat matrix must be symmetric (mu(l, l') = mu(l', l))")
        kernel = PairwiseKernel(features, method=self.method, normalization=self.normalization)
        self.potentials.append((kernel, compat))
        self._fused = None
        self._inference_potentials()  # fuse the Potts lattices now, once
        return self

    def add_gaussian(self, sxy: float = 3.0, compat: Compatibility = 3.0) -> DenseCRF:
        """Smoothness kernel ``exp(-|p_i - p_j|^2 / (2 sxy^2))``; returns ``self``."""
        features = gaussian_features(
            self.height, self.width, sxy, device=self.image.device, dtype=self.image.dtype
        )
        return self._add(features, compat)

    def add_bilateral(
        self, sxy: float = 80.0, srgb: float = 13.0, compat: Compatibility = 10.0
    ) -> DenseCRF:
        """Appearance kernel ``exp(-|p_i-p_j|^2/(2 sxy^2) - |I_i-I_j|^2/(2 srgb^2))``."""
        return self._add(bilateral_features(self.image, sxy, srgb), compat)

    def _inference_potentials(self) -> list[tuple[Filter, Compatibility]]:
        """Potts lattice kernels fused into one :class:`LatticeSum` (one splat, one slice)."""
        potts = all(not isinstance(compat, Tensor) for _, compat in self.potentials)
        if self.method != "lattice" or not potts or len(self.potentials) < 2:
            return list(self.potentials)
        if self._fused is None:
            lattices = [kernel.operator for kernel, _ in self.potentials]
            weights = [float(compat) for _, compat in self.potentials]
            bounds = [kernel.max_row_sum for kernel, _ in self.potentials]
            self._fused = LatticeSum(lattices, weights, bounds)  # type: ignore[arg-type]
        return [(self._fused, 1.0)]

    def _flat_unary(self, unary: Tensor) -> Tensor:
        if unary.ndim != 3 or tuple(unary.shape[1:]) != (self.height, self.width):
            raise ValueError(
                f"unary must have shape (C, {self.height}, {self.width}); got {tuple(unary.shape)}"
            )
        return unary.reshape(unary.shape[0], -1).T.contiguous()

    def inference(self, unary: Tensor, iterations: int = 10) -> Tensor:
        """Mean-field marginals ``(C, H, W)`` for the unary energy ``(C, H, W)``."""
        flat = self._flat_unary(unary)
        q = mean_field(flat, self._inference_potentials(), iterations)
        return q.T.reshape(unary.shape).contiguous()

    def energy(self, q: Tensor, unary: Tensor) -> float:
        """Mean-field free energy of marginals ``q`` ``(C, H, W)`` (see ``mean_field``)."""
        flat_q = q.reshape(q.shape[0], -1).T.contiguous()
        return free_energy(flat_q, self._flat_unary(unary), self.potentials)


def dense_crf(
    probs: Tensor,
    image: Any,
    *,
    iterations: int = 10,
    sxy_gaussian: float = 3.0,
    compat_gaussian: float = 3.0,
    sxy_bilateral: float = 80.0,
    srgb: float = 13.0,
    compat_bilateral: float = 10.0,
    clip: float = 1e-5,
) -> Tensor:
    """Refine class probabilities with DeepLab's dense CRF; returns refined probabilities.

    ``probs``: ``(C, H, W)`` or ``(N, C, H, W)`` softmax outputs. ``image``: ``(3, H, W)`` or
    ``(H, W, 3)`` (or ``(N, 3, H, W)`` / ``(N, H, W, 3)`` for a batch), uint8 on 0-255 or float in
    ``[0, 1]``. The result has the shape, dtype and device of ``probs``; the computation runs on
    that device (float64 stays float64, everything else runs in float32).
    """
    if probs.ndim not in (3, 4):
        raise ValueError(f"probs must have shape (C, H, W) or (N, C, H, W); got {probs.shape}")
    if probs.ndim == 3:
        return dense_crf(
            probs.unsqueeze(0),
            torch.as_tensor(image).unsqueeze(0),
            iterations=iterations,
            sxy_gaussian=sxy_gaussian,
            compat_gaussian=compat_gaussian,
            sxy_bilateral=sxy_bilateral,
            srgb=srgb,
            compat_bilateral=compat_bilateral,
            clip=clip,
        ).squeeze(0)
    images = torch.as_tensor(image)
    if images.ndim != 4 or images.shape[0] != probs.shape[0]:
        raise ValueError(
            f"for probs of shape {tuple(probs.shape)} the image must be (N, 3, H, W) or "
            f"(N, H, W, 3) with N={probs.shape[0]}; got {tuple(images.shape)}"
        )
    work_dtype = torch.float64 if probs.dtype == torch.float64 else torch.float32
    size = (int(probs.shape[2]), int(probs.shape[3]))
    refined = []
    for sample_probs, sample_image in zip(probs, images):
        hwc = image_to_hwc255(sample_image.to(probs.device), size).to(work_dtype)
        crf = DenseCRF(hwc / 255.0, size=size)
        crf.add_gaussian(sxy_gaussian, compat_gaussian)
        crf.add_bilateral(sxy_bilateral, srgb, compat_bilateral)
        unary = unary_from_probs(sample_probs.to(work_dtype), clip)
        refined.append(crf.inference(unary, iterations))
    return torch.stack(refined).to(probs.dtype)
