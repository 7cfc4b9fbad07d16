"""Shared input handling for the metrics: label maps vs. scores, dtypes and target validation."""

from __future__ import annotations

import torch

_UNSIGNED_WIDE = {torch.uint16, torch.uint32, torch.uint64}


def integer_tensor(values: torch.Tensor, name: str) -> torch.Tensor:
    """Return ``values`` in a dtype all integer kernels support (bool -> uint8, uint16+ -> int64).

    Raises ``TypeError`` for floating or complex tensors: class indices must be integers.
    """
    if values.dtype == torch.bool:
        return values.view(torch.uint8)
    if values.dtype in _UNSIGNED_WIDE:
        return values.to(torch.int64)
    if values.is_floating_point() or values.is_complex():
        raise TypeError(
            f"{name} must hold integer class indices; got dtype {values.dtype}. Fix: cast it with "
            f".long(), or pass scores/logits with a class dimension (N x C x H x W)."
        )
    return values


def class_dim(scores_shape: torch.Size, target_shape: torch.Size) -> int | None:
    """The dimension of ``scores_shape`` that holds classes, or None if it is not ``target + 1``.

    ``(N, C, H, W)`` with target ``(N, H, W)`` -> 1; unbatched ``(C, H, W)`` with ``(H, W)`` -> 0.
    """
    if len(scores_shape) != len(target_shape) + 1:
        return None
    if len(scores_shape) >= 2 and scores_shape[:1] + scores_shape[2:] == target_shape:
        return 1
    if scores_shape[1:] == target_shape:
        return 0
    return None


def check_same_device(pred: torch.Tensor, target: torch.Tensor) -> None:
    if pred.device != target.device:
        raise ValueError(
            f"pred is on {pred.device} but target is on {target.device}; move both to one device."
        )


def labels_from_prediction(
    pred: torch.Tensor, target: torch.Tensor, num_classes: int
) -> tuple[torch.Tensor, bool]:
    """Turn a prediction into a label map shaped like ``target``.

    Returns ``(labels, trusted)``: ``trusted`` is True when the labels come from an argmax over
    the class dimension (always in ``[0, num_classes)``), False for label maps that still need a
    range check.
    """
    check_same_device(pred, target)
    if pred.shape == target.shape:
        return integer_tensor(pred, "pred"), False
    dim = class_dim(pred.shape, target.shape)
    if dim is None:
        raise ValueError(
            f"pred shape {tuple(pred.shape)} does not match target shape {tuple(target.shape)}; "
            f"expected the same shape (label map) or the target shape with a class dimension of "
            f"size {num_classes} (N x C x H x W scores)."
        )
    if pred.shape[dim] != num_classes:
        raise ValueError(
            f"pred has {pred.shape[dim]} channels in its class dimension (shape "
            f"{tuple(pred.shape)}) but num_classes={num_classes}; they must agree."
        )
    return pred.argmax(dim=dim), True


def invalid_target_error(value: int, num_classes: int, ignore_index: int | None) -> ValueError:
    return ValueError(
        f"target contains class index {value}, outside [0, {num_classes}) and not "
        f"ignore_index ({ignore_index}). Fix: remap those pixels to a class in "
        f"[0, {num_classes}), raise num_classes, or pass ignore_index={value} to skip them."
    )


def invalid_pred_error(value: int, num_classes: int) -> ValueError:
    return ValueError(
        f"pred contains class index {value}, outside [0, {num_classes}). Fix: predictions must be "
        f"class indices in [0, {num_classes}) (or pass N x C x H x W scores to be argmax-ed)."
    )


def check_target_values(target: torch.Tensor, num_classes: int, ignore_index: int | None) -> None:
    """Raise ``ValueError`` naming the first target value outside ``[0, C)`` that is not ignored."""
    if target.numel() == 0:
        return
    invalid = (target < 0) | (target >= num_classes)
    if ignore_index is not None:
        invalid &= target != ignore_index
    if bool(invalid.any()):
        raise invalid_target_error(int(target[invalid][0].item()), num_classes, ignore_index)


def valid_mask(target: torch.Tensor, ignore_index: int | None) -> torch.Tensor | None:
    """Boolean mask of pixels that count (None when nothing is ignored)."""
    if ignore_index is None:
        return None
    return target != ignore_index
