"""Mean-field inference and its free energy for the fully-connected CRF.

Krähenbühl and Koltun, NIPS 2011, Algorithm 1, in pydensecrf's form (``DenseCRF::inference``)::

    Q = softmax(-U)
    repeat:  Q = softmax(-U - sum_k mu_k (K~_k Q))

with ``U`` the unary ``(N, C)``, ``K~_k`` the normalised Gaussian kernels
(:class:`~pixelwise.crf.kernels.PairwiseKernel`) and ``mu_k`` the label compatibility, a penalty
matrix ``(C, C)`` as in the paper. A float ``w`` is the Potts model: it stands for ``mu = -w I``
(pydensecrf's ``PottsCompatibility(w)``), which differs from the paper's ``w [l != l']`` only by
a constant per pixel, so both give the same ``Q``.

The update is the parallel fixed-point iteration of the mean-field free energy (KL divergence up
to a constant)::

    F(Q) = <Q, U> + 1/2 sum_k <Q, mu_k (K~_k Q)> + <Q, log Q>

For the Potts model with a positive semi-definite kernel (exact Gaussian, symmetric
normalisation) the pairwise term is concave, the update is a concave-convex procedure step and
``F`` never increases (Krähenbühl and Koltun, ICML 2013).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Protocol

import torch
from torch import Tensor

__all__ = [
    "Compatibility",
    "Filter",
    "free_energy",
    "mean_field",
    "pairwise_logits",
    "softmax_rows",
]

Compatibility = float | Tensor


class Filter(Protocol):
    """A linear filter ``(N, C) -> (N, C)``. Filters with non-negative weights may also expose
    ``max_row_sum`` (the largest row sum), which lets mean field skip its overflow guard."""

    def filter(self, values: Tensor) -> Tensor: ...


def _check_compat(compat: Compatibility, num_labels: int) -> None:
    if isinstance(compat, Tensor) and compat.shape != (num_labels, num_labels):
        raise ValueError(
            f"compatibility matrix must have shape ({num_labels}, {num_labels}); "
            f"got {tuple(compat.shape)}"
        )


def _pairwise_update(
    base: Tensor, q: Tensor, potentials: Sequence[tuple[Filter, Compatibility]]
) -> Tensor:
    """``base - sum_k mu_k (K~_k Q)`` as a new tensor (``base`` is left untouched)."""
    logits = base
    for kernel, compat in potentials:
        message = kernel.filter(q)
        if isinstance(compat, Tensor):
            logits = torch.addmm(logits, message, compat.to(q).T, alpha=-1.0)
        elif logits is base:
            logits = torch.add(base, message, alpha=float(compat))  # Potts: mu = -w I
        else:
            logits.add_(message, alpha=float(compat))
    return logits.clone() if logits is base else logits


def pairwise_logits(q: Tensor, potentials: Sequence[tuple[Filter, Compatibility]]) -> Tensor:
    """``-sum_k mu_k (K~_k Q)``: the pairwise part of the next logits, ``(N, C)``."""
    return _pairwise_update(torch.zeros_like(q), q, potentials)


def softmax_rows(logits: Tensor, *, subtract_max: bool = True) -> Tensor:
    """Softmax over the last dimension of ``(N, C)`` logits, in place (overwrites ``logits``).

    For few classes this beats ``torch.softmax(dim=1)``, whose CPU kernel is slow on short rows.
    ``subtract_max=False`` skips the overflow guard; only for logits known to be in a safe range.
    """
    if subtract_max:
        logits.sub_(logits.amax(dim=1, keepdim=True))
    logits.exp_()
    total = logits @ torch.ones(logits.shape[1], 1, dtype=logits.dtype, device=logits.device)
    return logits.div_(total)


def _message_bound(potentials: Sequence[tuple[Filter, Compatibility]]) -> float:
    """Upper bound on ``|sum_k mu_k (K~_k Q)|`` over all ``Q``, from the filters' row sums."""
    bound = 0.0
    for kernel, compat in potentials:
        row_sum = getattr(kernel, "max_row_sum", math.inf)
        if isinstance(compat, Tensor):
            bound += row_sum * float(compat.abs().sum(1).max())
        else:
            bound += row_sum * abs(float(compat))
    return bound


# exp() of logits in [-B, B] (after the unary's row maximum is removed) cannot overflow, and the
# best label keeps exp() >= exp(-B), far from underflow, in float32 and float64.
_SAFE_LOGIT_RANGE = 40.0


def mean_field(
    unary: Tensor,
    potentials: Sequence[tuple[Filter, Compatibility]],
    iterations: int,
    *,
    callback: Callable[[int, Tensor], None] | None = None,
) -> Tensor:
    """Run ``iterations`` mean-field updates from ``softmax(-unary)``; returns ``Q`` ``(N, C)``.

    ``callback(i, q)`` is called with the marginals after ``i`` updates (``i = 0`` first).
    """
    if unary.ndim != 2:
        raise ValueError(f"unary must have shape (N, C); got {tuple(unary.shape)}")
    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 0:
        raise ValueError(f"iterations must be a non-negative int; got {iterations!r}")
    for _, compat in potentials:
        _check_compat(compat, unary.shape[1])
    # softmax is shift-invariant per pixel: remove the unary's row maximum once, up front.
    negative_unary = -unary
    negative_unary = negative_unary - negative_unary.amax(dim=1, keepdim=True)
    guard = _message_bound(potentials) >= _SAFE_LOGIT_RANGE
    q = softmax_rows(negative_unary.clone(), subtract_max=False)
    if callback is not None:
        callback(0, q)
    for step in range(1, iterations + 1):
        logits = _pairwise_update(negative_unary, q, potentials)
        q = softmax_rows(logits, subtract_max=guard)
        if callback is not None:
            callback(step, q)
    return q


def free_energy(
    q: Tensor, unary: Tensor, potentials: Sequence[tuple[Filter, Compatibility]]
) -> float:
    """Mean-field free energy ``F(Q)`` (see the module docstring), summed over pixels."""
    entropy_term = torch.special.xlogy(q, q).sum()
    pairwise = -0.5 * (q * pairwise_logits(q, potentials)).sum()
    return float((q * unary).sum() + pairwise + entropy_term)
