"""Overlap statistics and reductions shared by the region losses (Dice, Tversky, ...)."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from pixelwise.losses._functional import (
    channel_probs,
    class_log_probs,
    num_categories,
    one_hot_channels,
)

ClassAverage = Literal["all", "present"]


def check_classes(classes: str) -> ClassAverage:
    if classes not in ("all", "present"):
        raise ValueError(f"classes must be 'all' or 'present'; got {classes!r}")
    return classes  # type: ignore[return-value]


def region_inputs(
    logits: Tensor, target: Tensor, valid: Tensor, two_class: bool = False
) -> tuple[Tensor, Tensor]:
    """``(probs, onehot)``, both ``(N, C, H, W)`` and zero at ignored pixels. ``two_class``
    turns binary mode into the channels ``[background, foreground]``."""
    mask = valid.unsqueeze(1).to(logits.dtype)
    if two_class:
        probs = class_log_probs(logits).exp() * mask
        onehot = one_hot_channels(target, valid, num_categories(logits), logits.dtype)
        return probs, onehot
    probs = channel_probs(logits) * mask
    onehot = one_hot_channels(target, valid, logits.shape[1], logits.dtype)
    return probs, onehot


def region_sums(
    probs: Tensor, onehot: Tensor, per_image: bool, squared: bool = False
) -> tuple[Tensor, Tensor, Tensor]:
    """``(tp, sum_pred, sum_target)``, each ``(1, C)`` over the whole batch or ``(N, C)``
    per image. ``squared`` sums ``p**2`` and ``t**2`` in the denominators (Milletari et al.)."""
    dims = (2, 3)
    tp = (probs * onehot).sum(dims)
    sum_pred = (probs * probs).sum(dims) if squared else probs.sum(dims)
    sum_target = onehot.sum(dims)  # one-hot, so t**2 == t
    if not per_image:
        return tuple(x.sum(0, keepdim=True) for x in (tp, sum_pred, sum_target))  # type: ignore[return-value]
    return tp, sum_pred, sum_target


def reduce_classes(
    per_class: Tensor, sum_target: Tensor, rows_valid: Tensor, classes: ClassAverage
) -> Tensor:
    """Average an ``(R, C)`` table of per-class losses into a scalar.

    Rows (images, or the single batch row) with no valid pixel are skipped. ``classes="all"``
    averages every class; ``"present"`` only classes present in the row's target (0 if none).
    """
    include = rows_valid.unsqueeze(1).expand_as(per_class)
    if classes == "present":
        include = include & (sum_target > 0)
    kept = torch.where(include, per_class, torch.zeros_like(per_class)).sum()
    return kept / include.sum().clamp_min(1).to(per_class.dtype)


def rows_with_pixels(valid: Tensor, per_image: bool) -> Tensor:
    """Boolean ``(R,)``: which rows of the statistics saw at least one valid pixel."""
    if per_image:
        return valid.flatten(1).any(1)
    return valid.any().reshape(1)
