"""Correlation-maximised structural similarity loss (Zhao et al., arXiv:1910.08711, 2019;
survey eq. 10)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from pixelwise.losses._functional import class_log_probs
from pixelwise.losses.base import SegmentationLoss
from pixelwise.losses.registry import register_loss


def _local_mean(values: Tensor, mask: Tensor, counts: Tensor, window: int) -> Tensor:
    """Mean over the valid pixels of a ``window x window`` neighbourhood, ``(N, K, H, W)``."""
    summed = F.avg_pool2d(values * mask, window, stride=1, padding=window // 2) * window**2
    return summed / counts


@register_loss("structural_similarity")
class StructuralSimilarityLoss(SegmentationLoss):
    """Structural similarity loss: cross-entropy re-weighted by a structural error and limited to
    hard pixels,

    ``e_ci = |(y_ci - mu_y) / (sigma_y + C4) - (p_ci - mu_p) / (sigma_p + C4)|``,
    ``f_ci = [e_ci > beta * e_max]``, ``L = 1/M sum_{c,i} e_ci f_ci (-y_ci log p_ci)``,

    where ``y`` is the one-hot target, ``p`` the class probabilities ``(N, K, H, W)`` (K = C, or
    2 in binary mode), ``M`` the number of selected pixels (true-class entries with ``f = 1``)
    and ``e_max`` the largest error of each image. The survey leaves ``mu`` and ``sigma``
    undefined; as in the original paper they are local statistics, here over a
    ``window x window`` neighbourhood of valid pixels (default 3). Defaults ``C4 = 0.01``,
    ``beta = 0.1`` from the paper. The gradient flows through ``e`` and the cross-entropy; the
    selection ``f`` is piecewise constant. ``sigma`` is computed as ``sqrt(var + 1e-12)`` so its
    derivative stays finite on constant windows.
    """

    def __init__(
        self,
        window: int = 3,
        c4: float = 0.01,
        beta: float = 0.1,
        *,
        ignore_index: int | None = None,
    ) -> None:
        super().__init__(ignore_index=ignore_index)
        if window < 1 or window % 2 == 0:
            raise ValueError(f"window must be a positive odd integer; got {window}")
        if c4 <= 0 or not 0.0 <= beta < 1.0:
            raise ValueError(f"need c4 > 0 and 0 <= beta < 1; got c4={c4}, beta={beta}")
        self.window = window
        self.c4 = float(c4)
        self.beta = float(beta)

    def structural_error(self, probs: Tensor, onehot: Tensor, valid: Tensor) -> Tensor:
        """``e`` ``(N, K, H, W)``, zero at ignored pixels."""
        mask = valid.unsqueeze(1).to(probs.dtype)
        counts = (
            F.avg_pool2d(mask, self.window, stride=1, padding=self.window // 2) * self.window**2
        ).clamp_min(1.0)

        def standardised(values: Tensor) -> Tensor:
            mean = _local_mean(values, mask, counts, self.window)
            second = _local_mean(values * values, mask, counts, self.window)
            std = ((second - mean * mean).clamp_min(0.0) + 1e-12).sqrt()
            return (values - mean) / (std + self.c4)

        return (standardised(onehot) - standardised(probs)).abs() * mask

    def _loss(self, logits: Tensor, target: Tensor, valid: Tensor) -> Tensor:
        log_probs = class_log_probs(logits)
        onehot = F.one_hot(target, log_probs.shape[1]).permute(0, 3, 1, 2).to(logits.dtype)
        onehot = onehot * valid.unsqueeze(1).to(logits.dtype)
        error = self.structural_error(log_probs.exp(), onehot, valid)
        with torch.no_grad():
            largest = error.flatten(1).amax(1).view(-1, 1, 1, 1)
            hard = (error > self.beta * largest).to(logits.dtype) * onehot
            selected = hard.sum().clamp_min(1.0)
        return -(error * hard * log_probs).sum() / selected
