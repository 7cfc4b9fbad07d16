"""Tensor helpers shared by the losses: input checks, ignore masks, probabilities, safe maths.

Conventions used by every loss in :mod:`pixelwise.losses`:

- Multiclass mode: ``logits`` ``(N, C, H, W)`` with ``C >= 2``, read through a softmax over ``C``;
  ``target`` ``(N, H, W)`` integer labels in ``[0, C)``.
- Binary mode: ``logits`` ``(N, 1, H, W)`` read through a sigmoid (foreground probability);
  ``target`` ``(N, H, W)`` in ``{0, 1}``.
- Pixels whose label equals ``ignore_index`` contribute nothing to value or gradient.

Two views of the class probabilities are used. The *categorical* view (``class_log_probs``) has
``max(C, 2)`` channels: in binary mode it is ``[background, foreground]``, so per-pixel
categorical losses (cross-entropy, focal, Lovasz) see a proper two-class distribution. The
*channel* view (``channel_probs``) has ``C`` channels: in binary mode only the foreground, as
region losses (Dice, Tversky, ...) conventionally measure the overlap of the object alone.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def num_categories(logits: Tensor) -> int:
    """Number of categorical classes: ``C``, or 2 in binary mode."""
    return max(int(logits.shape[1]), 2)


def check_inputs(logits: Tensor, target: Tensor) -> None:
    """Raise a clear error unless ``logits`` is ``(N, C, H, W)`` float and ``target`` is an
    ``(N, H, W)`` integer tensor (label values are checked by :func:`check_labels`)."""
    if logits.ndim != 4:
        raise ValueError(
            f"logits must have shape (N, C, H, W); got {tuple(logits.shape)}. "
            "Use C=1 for binary segmentation."
        )
    if not logits.is_floating_point():
        raise TypeError(f"logits must be a floating-point tensor; got {logits.dtype}")
    n, _, h, w = logits.shape
    if target.ndim == 4 and target.shape[1] == 1:
        raise ValueError(
            f"target must have shape (N, H, W) = {(n, h, w)}; got {tuple(target.shape)}. "
            "Use target.squeeze(1)."
        )
    if tuple(target.shape) != (n, h, w):
        raise ValueError(
            f"target must have shape (N, H, W) = {(n, h, w)} to match logits "
            f"{tuple(logits.shape)}; got {tuple(target.shape)}"
        )
    if target.is_floating_point() or target.is_complex() or target.dtype == torch.bool:
        raise TypeError(
            f"target must hold integer class indices; got dtype {target.dtype}. Use target.long()."
        )


def check_labels(cleaned: Tensor, logits: Tensor, ignore_index: int | None) -> None:
    """Raise unless every label of ``cleaned`` (ignored pixels already set to 0) lies in
    ``[0, max(C, 2))``; one ``aminmax`` pass."""
    categories = num_categories(logits)
    low, high = torch.aminmax(cleaned)
    if int(low) >= 0 and int(high) < categories:
        return
    label = int(low) if int(low) < 0 else int(high)
    mode = "; binary mode (C=1) expects labels {0, 1}" if logits.shape[1] == 1 else ""
    raise ValueError(
        f"target holds label {label}, outside [0, {categories}){mode}; ignore_index is "
        f"{ignore_index}. Pass ignore_index={label} if it marks void pixels."
    )


def valid_mask(target: Tensor, ignore_index: int | None) -> Tensor:
    """Boolean ``(N, H, W)`` mask of the pixels that count."""
    if ignore_index is None:
        return torch.ones_like(target, dtype=torch.bool)
    return target != ignore_index


def clean_target(target: Tensor, valid: Tensor) -> Tensor:
    """Labels as ``int64`` with ignored pixels set to 0, safe for ``gather``/``one_hot``."""
    return torch.where(valid, target, 0).long()


def zero_loss(logits: Tensor) -> Tensor:
    """A finite 0 that is still connected to ``logits`` (so ``backward`` works)."""
    return logits.sum() * 0.0


def class_log_probs(logits: Tensor) -> Tensor:
    """Categorical log-probabilities ``(N, max(C, 2), H, W)``; binary mode gives
    ``[log(1 - sigmoid(z)), log(sigmoid(z))]``."""
    if logits.shape[1] == 1:
        return torch.cat([F.logsigmoid(-logits), F.logsigmoid(logits)], dim=1)
    return F.log_softmax(logits, dim=1)


def channel_probs(logits: Tensor) -> Tensor:
    """Per-channel probabilities ``(N, C, H, W)``: softmax, or sigmoid in binary mode."""
    if logits.shape[1] == 1:
        return torch.sigmoid(logits)
    return torch.softmax(logits, dim=1)


def log1m_softmax(logits: Tensor) -> Tensor:
    """``log(1 - softmax(logits))`` over dim 1 without cancellation when a probability is ~1.

    ``1 - p_c = sum_{j != c} exp(z_j - m) / sum_j exp(z_j - m)``. For the arg-max class the
    numerator is summed over the other classes directly, so it never subtracts two near-equal
    numbers; for the others ``S - e_c`` keeps the (dominant) arg-max term.
    """
    shifted = logits - logits.amax(dim=1, keepdim=True).detach()
    exp = shifted.exp()
    total = exp.sum(dim=1, keepdim=True)
    is_max = F.one_hot(logits.argmax(dim=1), logits.shape[1]).permute(0, 3, 1, 2).bool()
    others_of_max = torch.where(is_max, torch.zeros_like(exp), exp).sum(dim=1, keepdim=True)
    others = torch.where(is_max, others_of_max, total - exp)
    tiny = torch.finfo(logits.dtype).tiny
    return others.clamp_min(tiny).log() - total.log()


def channel_log_probs(logits: Tensor) -> tuple[Tensor, Tensor]:
    """``(log p, log(1 - p))`` per channel, both ``(N, C, H, W)`` and finite."""
    if logits.shape[1] == 1:
        return F.logsigmoid(logits), F.logsigmoid(-logits)
    return F.log_softmax(logits, dim=1), log1m_softmax(logits)


def one_hot_channels(target: Tensor, valid: Tensor, channels: int, dtype: torch.dtype) -> Tensor:
    """One-hot ``(N, channels, H, W)`` of a cleaned target, zero at ignored pixels; with one
    channel it is the foreground indicator ``target == 1``."""
    if channels == 1:
        hot = (target == 1).unsqueeze(1)
    else:
        hot = F.one_hot(target, channels).permute(0, 3, 1, 2).bool()
    return (hot & valid.unsqueeze(1)).to(dtype)


def masked_mean(values: Tensor, valid: Tensor) -> Tensor:
    """Mean of ``values`` ``(N, H, W)`` over valid pixels (0 with a graph if there are none)."""
    total = torch.where(valid, values, torch.zeros_like(values)).sum()
    return total / valid.sum().clamp_min(1).to(values.dtype)


def safe_ratio(numerator: Tensor, denominator: Tensor, empty_value: float) -> Tensor:
    """``numerator / denominator`` with ``empty_value`` where the denominator is 0, with no NaN
    in the forward or backward pass."""
    nonzero = denominator != 0
    safe_denominator = torch.where(nonzero, denominator, torch.ones_like(denominator))
    ratio = numerator / safe_denominator
    return torch.where(nonzero, ratio, torch.full_like(ratio, empty_value))


def shifted_power(base: Tensor, exponent: float, eps: float = 1e-6) -> Tensor:
    """``base ** exponent`` for ``base >= 0``. For ``exponent < 1`` the power is exact for
    ``base >= eps`` and continued linearly to 0 below ``eps``, so the gradient at a perfect
    prediction stays finite (slope ``eps ** (exponent - 1)``) instead of infinite."""
    base = base.clamp_min(0.0)
    if exponent >= 1.0:
        return base**exponent
    above = base.clamp_min(eps) ** exponent
    below = base * eps ** (exponent - 1.0)
    return torch.where(base >= eps, above, below)


def class_weight_tensor(
    weights: Tensor | list[float] | tuple[float, ...] | None, categories: int, like: Tensor
) -> Tensor | None:
    """Validate per-class weights against the number of categorical classes."""
    if weights is None:
        return None
    tensor = torch.as_tensor(weights, dtype=like.dtype, device=like.device).flatten()
    if tensor.numel() != categories:
        raise ValueError(
            f"class weights have {tensor.numel()} entries; expected {categories} "
            "(one per class; binary mode uses (w_neg, w_pos))"
        )
    if bool((tensor < 0).any()):
        raise ValueError(f"class weights must be >= 0; got {tensor.tolist()}")
    return tensor
