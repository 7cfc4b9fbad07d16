"""Optimisers and learning-rate schedules (poly as DeepLab trains, cosine; linear warm-up)."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from pixelwise.training.config import OptimConfig


def model_encoder(model: nn.Module) -> nn.Module | None:
    """The model's encoder (the ``encoder`` attribute of encoder-based models), or None."""
    encoder = getattr(model, "encoder", None)
    return encoder if isinstance(encoder, nn.Module) else None


def build_optimizer(model: nn.Module, config: OptimConfig) -> torch.optim.Optimizer:
    """SGD with momentum or AdamW; no weight decay on norm weights and biases; the encoder's
    parameters at ``optim.encoder_lr`` when it is set (fine-tuning a pretrained encoder)."""
    encoder = model_encoder(model) if config.encoder_lr is not None else None
    in_encoder = {id(p) for p in encoder.parameters()} if encoder is not None else set()
    buckets: dict[tuple[bool, bool], list[nn.Parameter]] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        no_decay = param.ndim <= 1 or name.endswith(".bias")
        buckets.setdefault((id(param) in in_encoder, no_decay), []).append(param)
    groups: list[dict[str, Any]] = []
    for (encoder_part, no_decay), params in sorted(buckets.items()):
        group: dict[str, Any] = {
            "params": params,
            "weight_decay": 0.0 if no_decay else config.weight_decay,
        }
        if encoder_part:
            group["lr"] = config.encoder_lr
        groups.append(group)
    if config.name == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum, nesterov=False)
    return torch.optim.AdamW(groups, lr=config.lr)


def lr_factor(step: int, total_steps: int, config: OptimConfig) -> float:
    """Multiplier of the base learning rate at ``step`` (0-based) of ``total_steps``.

    Warm-up: linear from 1/warmup to 1 over ``warmup_steps``. Then ``poly``:
    ``(1 - t)^power``; ``cosine``: ``0.5 (1 + cos(pi t))``; ``constant``: 1; where ``t`` is the
    fraction of post-warm-up steps done. Never below ``min_lr / lr``.
    """
    if config.warmup_steps and step < config.warmup_steps:
        return (step + 1) / config.warmup_steps
    remaining = max(1, total_steps - config.warmup_steps)
    progress = min(1.0, (step - config.warmup_steps) / remaining)
    if config.schedule == "poly":
        factor = (1.0 - progress) ** config.power
    elif config.schedule == "cosine":
        factor = 0.5 * (1.0 + math.cos(math.pi * progress))
    else:
        factor = 1.0
    return max(factor, config.min_lr / config.lr)


def build_scheduler(
    optimizer: torch.optim.Optimizer, total_steps: int, config: OptimConfig
) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, total_steps, config)
    )
