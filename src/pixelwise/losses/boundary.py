"""The survey's boundary-based losses, built on distance transforms of the labels (SciPy needed,
``pip install scipy``): distance-map penalised CE (Caliva et al., MIDL 2019), shape-aware loss
(survey eq. 15, after Hayder et al. 2017) and the distance-transform Hausdorff loss
(Karimi & Salcudean, IEEE TMI 2019).

The distance maps are computed per image on the CPU with
``scipy.ndimage.distance_transform_edt`` from the target and from the arg-max prediction; they
carry no gradient.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from pixelwise.losses._distance import (
    distance_to_boundary,
    distance_to_set,
    label_contour,
    require_scipy,
)
from pixelwise.losses._functional import channel_probs, masked_mean, one_hot_channels
from pixelwise.losses.base import SegmentationLoss
from pixelwise.losses.cross_entropy import true_class_log_prob
from pixelwise.losses.registry import register_loss


def _as_numpy(target: Tensor, valid: Tensor) -> tuple[np.ndarray, np.ndarray]:
    return target.detach().cpu().numpy(), valid.detach().cpu().numpy()


def _predicted_labels(logits: Tensor) -> Tensor:
    if logits.shape[1] == 1:
        return (logits[:, 0] > 0).long()
    return logits.argmax(dim=1)


@register_loss("distance_map")
class DistanceMapPenaltyLoss(SegmentationLoss):
    """Distance-map-penalised cross-entropy (Caliva et al. 2019; survey eq. 5):
    ``L = 1/N sum_i (1 + Phi_i) CE_i``.

    ``Phi`` is the inverted distance map of the ground truth, so that pixels near object
    boundaries weigh more: per image ``Phi = scale * (1 - D / max D)``, where ``D`` is the
    Euclidean distance to the nearest target contour pixel (a valid pixel with a differently
    labelled valid 4-neighbour). The survey leaves ``Phi``'s normalisation open; Caliva et al.
    invert the distance transform, and we normalise it to ``[0, scale]`` per image so the
    weight stays between 1 and ``1 + scale``. Images without a contour get ``Phi = 0``.
    Logits ``(N, C, H, W)``, target ``(N, H, W)``.
    """

    def __init__(self, scale: float = 1.0, *, ignore_index: int | None = None) -> None:
        super().__init__(ignore_index=ignore_index)
        if scale < 0:
            raise ValueError(f"scale must be >= 0; got {scale}")
        self.scale = float(scale)

    def penalty(self, target: Tensor, valid: Tensor) -> Tensor:
        """``Phi`` ``(N, H, W)`` on the target's device and in float64."""
        ndimage = require_scipy(type(self).__name__)
        labels, mask = _as_numpy(target, valid)
        maps = np.zeros(labels.shape, dtype=np.float64)
        for n in range(labels.shape[0]):
            distance = distance_to_set(ndimage, label_contour(labels[n], mask[n]))
            if distance is None:
                continue
            largest = distance[mask[n]].max()
            maps[n] = 1.0 if largest == 0 else 1.0 - distance / largest
        return torch.from_numpy(maps * self.scale).to(target.device)

    def _loss(self, logits: Tensor, target: Tensor, valid: Tensor) -> Tensor:
        weights = 1.0 + self.penalty(target, valid).to(logits.dtype)
        return masked_mean(-weights * true_class_log_prob(logits, target), valid)


@register_loss("shape_aware")
class ShapeAwareLoss(SegmentationLoss):
    """Shape-aware loss (survey eq. 15): ``L = 1/N sum_i (1 + E_i) CE_i``.

    ``E_i = D(C_pred, C_gt)`` is the Euclidean distance from a point of the predicted contour to
    the ground-truth contour. Following the survey's description ("points around the curve of
    the predicted segmentation"), ``E_i`` is the distance from pixel i to the nearest target
    contour pixel when pixel i lies on the contour of the arg-max prediction, and 0 elsewhere,
    so cross-entropy is up-weighted where the predicted boundary strays from the true one
    (distances in pixels). Contours are computed among valid pixels only. Images whose target
    has no contour get ``E = 0`` (plain cross-entropy).
    """

    def shape_error(self, logits: Tensor, target: Tensor, valid: Tensor) -> Tensor:
        """``E`` ``(N, H, W)`` in float64 on the target's device."""
        ndimage = require_scipy(type(self).__name__)
        labels, mask = _as_numpy(target, valid)
        predicted = _predicted_labels(logits).detach().cpu().numpy()
        errors = np.zeros(labels.shape, dtype=np.float64)
        for n in range(labels.shape[0]):
            to_true_contour = distance_to_set(ndimage, label_contour(labels[n], mask[n]))
            if to_true_contour is None:
                continue
            predicted_contour = label_contour(predicted[n], mask[n])
            errors[n] = np.where(predicted_contour, to_true_contour, 0.0)
        return torch.from_numpy(errors).to(target.device)

    def _loss(self, logits: Tensor, target: Tensor, valid: Tensor) -> Tensor:
        weights = 1.0 + self.shape_error(logits, target, valid).to(logits.dtype)
        return masked_mean(-weights * true_class_log_prob(logits, target), valid)


@register_loss("hausdorff_dt")
class HausdorffDTLoss(SegmentationLoss):
    """Distance-transform Hausdorff loss (Karimi & Salcudean 2019, eq. 8; survey eq. 16):
    ``L = 1/|Omega| sum_Omega (p - q)^2 (d_p^alpha + d_q^alpha)``, averaged over channels.

    ``q`` is the one-hot target and ``p`` the softmax probability per class channel (sigmoid
    foreground in binary mode); ``d_q`` and ``d_p`` are unsigned distances to the boundary of
    the target mask and of the arg-max prediction's mask of that class (both sides of the
    boundary; 0 if the mask is empty or fills the image). ``alpha`` defaults to 2, the paper's
    choice. Distances are in pixels.
    """

    def __init__(self, alpha: float = 2.0, *, ignore_index: int | None = None) -> None:
        super().__init__(ignore_index=ignore_index)
        if alpha <= 0:
            raise ValueError(f"alpha must be > 0; got {alpha}")
        self.alpha = float(alpha)

    def distance_maps(self, labels: Tensor, valid: Tensor, channels: int) -> Tensor:
        """``(N, channels, H, W)`` float64 boundary distances of each class mask."""
        ndimage = require_scipy(type(self).__name__)
        label_array, mask = _as_numpy(labels, valid)
        maps = np.zeros((label_array.shape[0], channels, *label_array.shape[1:]))
        classes = [1] if channels == 1 else range(channels)
        for n in range(label_array.shape[0]):
            for k, c in enumerate(classes):
                member = mask[n] & (label_array[n] == c)
                other = mask[n] & (label_array[n] != c)
                maps[n, k] = distance_to_boundary(ndimage, member, other)
        return torch.from_numpy(maps).to(labels.device)

    def _loss(self, logits: Tensor, target: Tensor, valid: Tensor) -> Tensor:
        channels = logits.shape[1]
        probs = channel_probs(logits)
        onehot = one_hot_channels(target, valid, channels, logits.dtype)
        target_maps = self.distance_maps(target, valid, channels)
        predicted_maps = self.distance_maps(_predicted_labels(logits), valid, channels)
        weights = (target_maps**self.alpha + predicted_maps**self.alpha).to(logits.dtype)
        per_pixel = ((probs - onehot) ** 2 * weights).mean(dim=1)
        return masked_mean(per_pixel, valid)
