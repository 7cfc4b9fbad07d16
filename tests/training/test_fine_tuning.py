"""Fine-tuning a pretrained encoder: its own learning rate, and frozen for the first epochs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from pixelwise.training import Trainer, config_from_dict
from pixelwise.training.config import OptimConfig
from pixelwise.training.optim import build_optimizer
from training_helpers import tiny_config


class _WithEncoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
        self.head = nn.Conv2d(4, 2, 1)


def test_encoder_parameters_get_their_own_learning_rate() -> None:
    model = _WithEncoder()
    optimizer = build_optimizer(model, OptimConfig(lr=1e-3, encoder_lr=1e-4, weight_decay=0.01))
    by_param = {
        id(p): (group["lr"], group["weight_decay"])
        for group in optimizer.param_groups
        for p in group["params"]
    }
    assert by_param[id(model.encoder[0].weight)] == (1e-4, 0.01)
    assert by_param[id(model.encoder[1].weight)] == (1e-4, 0.0)  # norm weights: no decay
    assert by_param[id(model.head.weight)] == (1e-3, 0.01)
    assert by_param[id(model.head.bias)] == (1e-3, 0.0)
    assert len(by_param) == sum(1 for _ in model.parameters())


def _encoder_state(trainer: Trainer) -> dict[str, torch.Tensor]:
    assert trainer.encoder is not None
    return {k: v.clone() for k, v in trainer.encoder.state_dict().items()}


def test_frozen_encoder_stays_fixed_then_trains(tmp_path: Path) -> None:
    config = config_from_dict(
        tiny_config(
            tmp_path / "run",
            model={"name": "deeplab_v3plus", "options": {"encoder": "mobilenet_v2"}},
            train={"epochs": 2, "freeze_encoder_epochs": 1},
        )
    )
    trainer = Trainer(config)
    before = _encoder_state(trainer)
    head_before = [p.clone() for n, p in trainer.model.named_parameters() if "encoder" not in n]
    trainer._train_epoch(0)
    after_first = _encoder_state(trainer)
    for key, value in before.items():  # weights and BatchNorm running statistics
        assert torch.equal(value, after_first[key]), key
    assert trainer.encoder is not None and not trainer.encoder.training
    head_after = [p for n, p in trainer.model.named_parameters() if "encoder" not in n]
    assert any(not torch.equal(a, b) for a, b in zip(head_before, head_after))
    trainer.state.step_in_epoch = 0  # what fit() does between epochs
    trainer._train_epoch(1)
    after_second = _encoder_state(trainer)
    assert any(not torch.equal(before[k], after_second[k]) for k in before)


def test_fine_tuning_options_need_an_encoder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pixelwise.training import trainer as trainer_module

    monkeypatch.setattr(trainer_module, "model_encoder", lambda model: None)  # no encoder
    config = config_from_dict(tiny_config(tmp_path / "run", optim={"encoder_lr": 1e-4}))
    with pytest.raises(ValueError, match="'unet' has no encoder to fine-tune"):
        Trainer(config)
