"""Segmentation losses: the lecture's (cross-entropy, class-balanced CE, focal, balanced focal,
L1/L2), the fifteen of Jadon's survey (2020), generalised Dice and Lovasz-softmax.

Every segmentation loss takes ``logits`` ``(N, C, H, W)`` and an integer ``target``
``(N, H, W)``; ``C == 1`` is binary mode (sigmoid, targets in ``{0, 1}``). All honour
``ignore_index`` (ignored pixels add nothing to the value or the gradient; an all-ignored batch
gives a finite 0). Per-pixel categorical losses see binary mode as two classes
``[background, foreground]``; region losses (Dice family, Tversky, ...) use the foreground
channel only.

Survey name -> class (registry name):
binary CE -> :class:`BinaryCrossEntropyLoss` ("bce"); weighted CE ->
:class:`WeightedBinaryCrossEntropyLoss` ("weighted_bce"); balanced CE ->
:class:`BalancedBinaryCrossEntropyLoss` ("balanced_bce"); focal -> :class:`FocalLoss` ("focal");
distance map derived loss -> :class:`DistanceMapPenaltyLoss` ("distance_map"); Dice ->
:class:`DiceLoss` ("dice"); sensitivity-specificity -> :class:`SensitivitySpecificityLoss`;
Tversky -> :class:`TverskyLoss`; focal Tversky -> :class:`FocalTverskyLoss`; exponential
logarithmic -> :class:`ExponentialLogarithmicLoss` ("exp_log"); combo -> :class:`ComboLoss`;
shape-aware -> :class:`ShapeAwareLoss`; Hausdorff distance -> :class:`HausdorffDTLoss`
("hausdorff_dt"); correlation maximised structural similarity ->
:class:`StructuralSimilarityLoss` ("structural_similarity"); log-cosh Dice ->
:class:`LogCoshDiceLoss`. The lecture's class-balanced CE is :class:`BalancedCrossEntropyLoss`
("balanced_ce"), its balanced focal loss :class:`BalancedFocalLoss` ("balanced_focal").
The boundary losses need SciPy. The regression losses :class:`L1Loss` / :class:`L2Loss` take
real-valued maps and are not in the registry.
"""

from __future__ import annotations

from pixelwise.losses.base import SegmentationLoss
from pixelwise.losses.binary_cross_entropy import (
    BalancedBinaryCrossEntropyLoss,
    BinaryCrossEntropyLoss,
    WeightedBinaryCrossEntropyLoss,
)
from pixelwise.losses.boundary import DistanceMapPenaltyLoss, HausdorffDTLoss, ShapeAwareLoss
from pixelwise.losses.compose import CompositeLoss
from pixelwise.losses.compound import ComboLoss, ExponentialLogarithmicLoss
from pixelwise.losses.cross_entropy import BalancedCrossEntropyLoss, CrossEntropyLoss
from pixelwise.losses.dice import DiceLoss, GeneralizedDiceLoss, LogCoshDiceLoss
from pixelwise.losses.focal import BalancedFocalLoss, FocalLoss
from pixelwise.losses.lovasz import LovaszSoftmaxLoss
from pixelwise.losses.registry import (
    create_loss,
    list_losses,
    loss_class,
    loss_from_config,
    register_loss,
)
from pixelwise.losses.regression import L1Loss, L2Loss
from pixelwise.losses.sensitivity_specificity import SensitivitySpecificityLoss
from pixelwise.losses.ssim import StructuralSimilarityLoss
from pixelwise.losses.tversky import FocalTverskyLoss, TverskyLoss
from pixelwise.losses.weights import ClassWeightEstimator

__all__ = [
    "BalancedBinaryCrossEntropyLoss",
    "BalancedCrossEntropyLoss",
    "BalancedFocalLoss",
    "BinaryCrossEntropyLoss",
    "ClassWeightEstimator",
    "ComboLoss",
    "CompositeLoss",
    "CrossEntropyLoss",
    "DiceLoss",
    "DistanceMapPenaltyLoss",
    "ExponentialLogarithmicLoss",
    "FocalLoss",
    "FocalTverskyLoss",
    "GeneralizedDiceLoss",
    "HausdorffDTLoss",
    "L1Loss",
    "L2Loss",
    "LogCoshDiceLoss",
    "LovaszSoftmaxLoss",
    "SegmentationLoss",
    "SensitivitySpecificityLoss",
    "ShapeAwareLoss",
    "StructuralSimilarityLoss",
    "TverskyLoss",
    "WeightedBinaryCrossEntropyLoss",
    "create_loss",
    "list_losses",
    "loss_class",
    "loss_from_config",
    "register_loss",
]
