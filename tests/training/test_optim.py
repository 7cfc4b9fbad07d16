from __future__ import annotations

import math

import pytest
import torch

from pixelwise.training.config import OptimConfig
from pixelwise.training.optim import build_optimizer, build_scheduler, lr_factor


def test_poly_schedule_matches_formula() -> None:
    config = OptimConfig(schedule="poly", power=0.9, lr=0.01)
    for step in (0, 10, 50, 99):
        assert lr_factor(step, 100, config) == pytest.approx((1 - step / 100) ** 0.9)


def test_cosine_with_warmup() -> None:
    config = OptimConfig(schedule="cosine", warmup_steps=10, lr=0.1)
    assert lr_factor(0, 110, config) == pytest.approx(0.1)
    assert lr_factor(9, 110, config) == pytest.approx(1.0)
    assert lr_factor(60, 110, config) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.5)))


def test_min_lr_floor() -> None:
    config = OptimConfig(schedule="poly", lr=0.1, min_lr=0.001)
    assert lr_factor(100, 100, config) == pytest.approx(0.01)


def test_no_weight_decay_on_norms_and_biases() -> None:
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    optimizer = build_optimizer(model, OptimConfig(name="sgd", lr=0.01, weight_decay=0.5))
    decayed, plain = optimizer.param_groups
    assert decayed["weight_decay"] == 0.5 and len(decayed["params"]) == 1
    assert plain["weight_decay"] == 0.0 and len(plain["params"]) == 3
    scheduler = build_scheduler(optimizer, 10, OptimConfig(name="sgd", lr=0.01))
    optimizer.step()
    scheduler.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.01 * (0.9**0.9))
