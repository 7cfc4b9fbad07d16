"""What a model's output means, in one place: unwrapping, probabilities and labels.

Every consumer (evaluation, tiled prediction, the CRF, export checks) goes through these
functions, so the conventions cannot drift apart:

- **Unwrapping**: a model may return a tensor, a ``(logits, aux_logits)`` tuple (training mode)
  or torchvision's ``{"out": ..., "aux": ...}`` dict; :func:`main_logits` returns the logits.
- **The binary convention**: a model with one output channel predicts the foreground
  probability ``p = sigmoid(logit)``; its labels are 0 (background) and 1 (foreground), and a pixel
  is foreground when ``p > 0.5`` (``logit > 0``), exactly what ``argmax([1 - p, p])`` gives. With
  ``K >= 2`` channels probabilities are the softmax and labels the argmax (first maximum).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import torch
from torch import Tensor

Space = Literal["probs", "logits"]


def main_logits(
    output: Tensor | tuple[Tensor, ...] | list[Tensor] | Mapping[str, Tensor],
) -> Tensor:
    """The main logits ``(N, K, H, W)`` of a model's output (drops auxiliary outputs)."""
    if isinstance(output, Mapping):
        return output["out"]
    if isinstance(output, tuple | list):
        return output[0]
    return output


def num_labels(channels: int) -> int:
    """Labels a model with ``channels`` outputs predicts: 2 for one channel, else ``channels``."""
    return max(int(channels), 2)


def probabilities(logits: Tensor, dim: int = 1) -> Tensor:
    """Softmax over ``dim``, or the sigmoid for one channel (the foreground probability)."""
    logits = logits.float()
    return torch.sigmoid(logits) if logits.shape[dim] == 1 else torch.softmax(logits, dim=dim)


def label_probabilities(logits: Tensor, dim: int = 1) -> Tensor:
    """One probability per label: like :func:`probabilities`, but one channel ``p`` becomes the
    two channels ``[1 - p, p]`` (background, foreground) — what the CRF and metrics expect."""
    probs = probabilities(logits, dim)
    if probs.shape[dim] == 1:
        return torch.cat([1 - probs, probs], dim=dim)
    return probs


def labels(values: Tensor, *, space: Space = "logits", dim: int = 1) -> Tensor:
    """Integer labels (int64) from logits or probabilities along ``dim``.

    One channel: ``1`` where the foreground probability is above 0.5 (``logit > 0``), else ``0``.
    Several channels: the index of the first maximum.
    """
    if space not in ("probs", "logits"):
        raise ValueError(f"space must be 'probs' or 'logits'; got {space!r}")
    if values.shape[dim] == 1:
        threshold = 0.5 if space == "probs" else 0.0
        return (values.select(dim, 0) > threshold).long()
    # max().indices is argmax (first maximum) and about 5x faster on the CPU.
    return values.max(dim=dim).indices
