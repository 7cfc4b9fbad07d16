"""Mixed precision on the CPU (bfloat16), channels-last, and evaluation at the training scale."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from pixelwise.models.rescale import InputRescale
from pixelwise.training.config import ConfigError, config_from_dict
from pixelwise.training.inference import load_trained_model
from pixelwise.training.trainer import Trainer, autocast_dtype
from training_helpers import tiny_config


def test_autocast_dtype_choices() -> None:
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert autocast_dtype("auto", cpu) is None
    assert autocast_dtype("fp32", cpu) is None
    assert autocast_dtype("bf16", cpu) is torch.bfloat16
    assert autocast_dtype("auto", cuda) is torch.float16
    assert autocast_dtype("fp16", cuda) is torch.float16
    with pytest.raises(ValueError, match="needs a CUDA device"):
        autocast_dtype("fp16", cpu)


def test_bad_precision_and_eval_scale_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="train.precision"):
        config_from_dict(tiny_config(tmp_path, train={"precision": "int8"}))
    with pytest.raises(ConfigError, match="data.eval_scale"):
        config_from_dict(tiny_config(tmp_path, data={"eval_scale": 0.0}))
    config = config_from_dict(tiny_config(tmp_path, data={"train_scale": 0.5}))
    assert config.data.input_scale == 0.5
    config = config_from_dict(tiny_config(tmp_path, data={"train_scale": 0.5, "eval_scale": 1.0}))
    assert config.data.input_scale == 1.0


def test_bf16_channels_last_training_learns_and_records_finite_losses(tmp_path: Path) -> None:
    raw = tiny_config(
        tmp_path / "run",
        train={"epochs": 3, "precision": "bf16", "channels_last": True},
        optim={"lr": 0.02},
    )
    trainer = Trainer(config_from_dict(raw))
    trainer.fit()
    losses = [r["train_loss"] for r in trainer.state.history]
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < losses[0]
    # Weights stay float32 (autocast only changes the compute dtype).
    assert all(p.dtype == torch.float32 for p in trainer.model.parameters())


def test_half_scale_model_is_evaluated_and_loaded_at_its_training_scale(tmp_path: Path) -> None:
    raw = tiny_config(tmp_path / "run", data={"train_scale": 0.5, "image_size": [48, 48]})
    trainer = Trainer(config_from_dict(raw))
    calls: list[tuple[int, int]] = []
    trainer.model.register_forward_pre_hook(
        lambda m, args: calls.append(tuple(args[0].shape[-2:])) if not m.training else None
    )
    trainer.fit()
    # Validation images (48x48 labels) reached the network at half size.
    assert calls and set(calls) == {(24, 24)}
    loaded = load_trained_model(tmp_path / "run" / "best.pt")
    assert isinstance(loaded.model, InputRescale) and loaded.model.scale == 0.5
    with torch.no_grad():
        assert loaded.model(torch.rand(1, 3, 48, 48)).shape == (1, 5, 48, 48)


def test_a_fresh_run_in_a_used_folder_starts_a_new_log(tmp_path: Path) -> None:
    raw = tiny_config(tmp_path / "run", train={"epochs": 1})
    Trainer(config_from_dict(raw)).fit()
    Trainer(config_from_dict(raw)).fit()
    run = tmp_path / "run"
    assert len((run / "log.jsonl").read_text().splitlines()) == 1
    previous = [json.loads(x) for x in (run / "log.previous.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in previous] == [1]


def test_half_scale_model_exports_with_dynamic_sizes(tmp_path: Path) -> None:
    import numpy as np
    import onnxruntime as ort
    import torch.nn.functional as F

    from pixelwise.commands import export_checkpoint

    raw = tiny_config(tmp_path / "run", data={"train_scale": 0.5}, train={"epochs": 1})
    Trainer(config_from_dict(raw)).fit()
    best = tmp_path / "run" / "best.pt"
    wrapped = load_trained_model(best).model
    assert isinstance(wrapped, InputRescale)
    session = ort.InferenceSession(str(export_checkpoint(best, tmp_path / "m.onnx", size=(64, 64))))
    scripted = torch.jit.load(str(export_checkpoint(best, tmp_path / "m.pt", fmt="torchscript")))
    for shape in [(1, 3, 64, 64), (2, 3, 91, 77)]:  # 91 * 0.5 rounds half to even: 46
        images = torch.rand(*shape)
        with torch.no_grad():
            small = F.interpolate(images, size=(round(shape[2] / 2), round(shape[3] / 2)),
                                  mode="bilinear")  # fmt: skip
            plain = F.interpolate(wrapped.model(small), size=shape[2:], mode="bilinear")
            np.testing.assert_allclose(
                session.run(None, {"image": images.numpy()})[0], plain.numpy(), atol=1e-4
            )
            torch.testing.assert_close(scripted(images), wrapped(images))
