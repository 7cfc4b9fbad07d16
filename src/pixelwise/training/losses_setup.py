"""The training criterion: a weighted sum of named losses with optional class weights."""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import nn

from pixelwise.losses import ClassWeightEstimator, loss_class, loss_from_config
from pixelwise.training.config import LossConfig
from pixelwise.training.data_setup import DataBundle


def estimate_class_weights(bundle: DataBundle, method: str) -> torch.Tensor:
    """One streaming pass over the training masks (no augmentation)."""
    estimator = ClassWeightEstimator(bundle.num_classes, bundle.ignore_index)
    for index in range(len(bundle.train)):  # type: ignore[arg-type]
        estimator.update(bundle.train[index][1])
    return estimator.weights(method)  # type: ignore[arg-type]


def build_criterion(config: LossConfig, bundle: DataBundle, device: torch.device) -> nn.Module:
    weights: torch.Tensor | None = None
    if isinstance(config.class_weights, str):
        weights = estimate_class_weights(bundle, config.class_weights)
    elif config.class_weights is not None:
        if len(config.class_weights) != bundle.num_classes:
            raise ValueError(
                f"loss.class_weights has {len(config.class_weights)} values for "
                f"{bundle.num_classes} classes; give one weight per class"
            )
        weights = torch.tensor(config.class_weights, dtype=torch.float32)
    terms: list[dict[str, Any]] = []
    for term in config.terms:
        term = dict(term)
        accepts = inspect.signature(loss_class(term["name"]).__init__).parameters
        if weights is not None and "class_weights" in accepts and "class_weights" not in term:
            term["class_weights"] = weights.tolist()
        terms.append(term)
    return loss_from_config(terms, ignore_index=bundle.ignore_index).to(device)
