"""Lovasz-softmax loss (Berman, Rannen Triki & Blaschko, CVPR 2018)."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from pixelwise.losses._functional import class_log_probs
from pixelwise.losses._region import check_classes
from pixelwise.losses.base import SegmentationLoss
from pixelwise.losses.registry import register_loss


def lovasz_jaccard_gradient(foreground_sorted: Tensor) -> Tensor:
    """Gradient of the Lovasz extension of the Jaccard loss w.r.t. errors sorted in decreasing
    order (Berman et al., Alg. 1): ``g_i = J(pi_1..i) - J(pi_1..i-1)``, along the last dim."""
    positives = foreground_sorted.sum(-1, keepdim=True)
    intersection = positives - foreground_sorted.cumsum(-1)
    union = positives + (1.0 - foreground_sorted).cumsum(-1)
    jaccard = 1.0 - intersection / union
    return torch.cat([jaccard[..., :1], jaccard[..., 1:] - jaccard[..., :-1]], dim=-1)


def lovasz_softmax_flat(probs: Tensor, labels: Tensor, classes: str) -> Tensor:
    """Lovasz-softmax on flattened valid pixels: ``probs`` ``(P, K)``, ``labels`` ``(P,)``.
    All classes are sorted in one call; returns the mean over the selected classes."""
    foreground = F.one_hot(labels, probs.shape[1]).to(probs.dtype).t()  # (K, P)
    errors = (foreground - probs.t()).abs()
    errors_sorted, order = torch.sort(errors, dim=1, descending=True)
    gradient = lovasz_jaccard_gradient(foreground.gather(1, order))
    per_class = (errors_sorted * gradient).sum(1)
    if classes == "all":
        return per_class.mean()
    present = foreground.sum(1) > 0
    return torch.where(present, per_class, 0.0).sum() / present.sum().clamp_min(1)


@register_loss("lovasz")
class LovaszSoftmaxLoss(SegmentationLoss):
    """Lovasz-softmax loss: the Lovasz extension of the per-class Jaccard loss applied to the
    errors ``m_i(c) = |[y_i = c] - p_i(c)|`` (Berman et al. 2018, eq. 8-12).

    ``logits`` ``(N, C, H, W)``, ``target`` ``(N, H, W)``. Binary mode uses the two-class
    probabilities ``[1 - sigmoid, sigmoid]`` (Lovasz-softmax over background and foreground).
    ``classes``: ``"present"`` (default, as the authors) averages over classes present in the
    target, ``"all"`` over all classes. ``per_image`` [False]: one loss over the batch, or the
    mean of per-image losses (the authors' ``per_image`` flag). Piecewise linear in ``p``.
    """

    def __init__(
        self,
        *,
        classes: Literal["all", "present"] = "present",
        per_image: bool = False,
        ignore_index: int | None = None,
    ) -> None:
        super().__init__(ignore_index=ignore_index)
        self.classes = check_classes(classes)
        self.per_image = per_image

    def _loss(self, logits: Tensor, target: Tensor, valid: Tensor) -> Tensor:
        probs = class_log_probs(logits).exp()
        pixels = probs.permute(0, 2, 3, 1)  # (N, H, W, K)
        if not self.per_image:
            return lovasz_softmax_flat(pixels[valid], target[valid], self.classes)
        losses = [
            lovasz_softmax_flat(pixels[n][valid[n]], target[n][valid[n]], self.classes)
            for n in range(logits.shape[0])
            if bool(valid[n].any())
        ]
        return torch.stack(losses).mean()
