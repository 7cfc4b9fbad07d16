"""L1 and L2 losses for real-valued outputs (lecture, "Loss functions for regression")."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class _MaskedRegressionLoss(nn.Module):
    power: int = 1

    def forward(self, prediction: Tensor, target: Tensor, mask: Tensor | None = None) -> Tensor:
        if prediction.shape != target.shape:
            raise ValueError(
                f"prediction and target must have the same shape; got {tuple(prediction.shape)} "
                f"and {tuple(target.shape)}"
            )
        difference = (prediction - target.to(prediction.dtype)).abs()
        values = difference if self.power == 1 else difference**2
        if mask is None:
            return values.mean()
        try:
            keep = torch.broadcast_to(mask.bool(), values.shape)
        except RuntimeError as error:
            raise ValueError(
                f"mask of shape {tuple(mask.shape)} does not broadcast to {tuple(values.shape)}"
            ) from error
        total = torch.where(keep, values, torch.zeros_like(values)).sum()
        return total / keep.sum().clamp_min(1).to(values.dtype)


class L1Loss(_MaskedRegressionLoss):
    """``L1 = 1/N sum_i |y_i - y_hat_i|`` over the N elements selected by ``mask``.

    ``prediction`` and ``target`` have the same shape (e.g. ``(N, C, H, W)`` real-valued maps);
    ``mask`` is boolean and broadcastable to it (e.g. ``(N, 1, H, W)``); masked-out elements
    contribute nothing, and an all-false mask gives a finite 0.
    """

    power = 1


class L2Loss(_MaskedRegressionLoss):
    """``L2 = 1/N sum_i |y_i - y_hat_i|^2`` (mean squared error) over the elements selected by
    ``mask``; shapes as :class:`L1Loss`."""

    power = 2
