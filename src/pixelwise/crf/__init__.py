"""Conditional random fields for segmentation refinement.

* :func:`dense_crf` / :class:`DenseCRF`: DeepLab v1/v2's fully-connected CRF post-processing
  (Krähenbühl and Koltun 2011), mean-field inference with the permutohedral lattice
  (Adams, Baek and Davis 2010) in pure torch; pydensecrf's parameters and conventions.
* :class:`ConvCRF` / :func:`conv_crf`: a trainable local-window CRF layer (ConvCRF, CRF-as-RNN).
* :class:`PermutohedralLattice` and :class:`DenseGaussianFilter`: the fast and the exact
  Gaussian filters underneath.

Stands alone: imports only torch (and the standard library).
"""

from __future__ import annotations

from pixelwise.crf.brute_force import DenseGaussianFilter
from pixelwise.crf.conv_crf import ConvCRF, conv_crf
from pixelwise.crf.dense_crf import DenseCRF, dense_crf, image_to_hwc255, unary_from_probs
from pixelwise.crf.kernels import PairwiseKernel, bilateral_features, gaussian_features
from pixelwise.crf.mean_field import free_energy, mean_field
from pixelwise.crf.permutohedral import PermutohedralLattice

__all__ = [
    "ConvCRF",
    "DenseCRF",
    "DenseGaussianFilter",
    "PairwiseKernel",
    "PermutohedralLattice",
    "bilateral_features",
    "conv_crf",
    "dense_crf",
    "free_energy",
    "gaussian_features",
    "image_to_hwc255",
    "mean_field",
    "unary_from_probs",
]
