"""Load a trained model back from a checkpoint, with what inference needs to know."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from pixelwise.models.rescale import with_input_scale
from pixelwise.registry import create_model
from pixelwise.training.checkpoint import load_checkpoint
from pixelwise.training.config import DataConfig
from pixelwise.training.config_schema import from_dict


@dataclass
class LoadedModel:
    model: nn.Module
    model_name: str
    class_names: list[str]
    num_classes: int
    in_channels: int
    ignore_index: int | None
    mean: tuple[float, ...]
    std: tuple[float, ...]
    config: dict


def pick_device(preference: str = "auto") -> torch.device:
    """CUDA when available (or asked for), else CPU."""
    if preference == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(preference)


def load_trained_model(path: str | Path, device: torch.device | str = "cpu") -> LoadedModel:
    """Rebuild the model of a pixelwise checkpoint (``last.pt``/``best.pt``) in eval mode.

    A model trained at ``data.train_scale`` < 1 (or with ``data.eval_scale``) comes back wrapped
    in :class:`pixelwise.models.rescale.InputRescale`: give it full-resolution images and it
    answers at full resolution, having seen objects at the size it was trained on.
    """
    checkpoint = load_checkpoint(path, map_location="cpu")
    if checkpoint.get("format") != "pixelwise-checkpoint-1":
        raise ValueError(f"{path} is not a pixelwise checkpoint (no 'format' marker)")
    config = checkpoint["config"]
    model = create_model(
        checkpoint["model_name"],
        num_classes=checkpoint["num_classes"],
        in_channels=checkpoint["in_channels"],
        **config["model"]["options"],
    )
    model.load_state_dict(checkpoint["model"])
    model = with_input_scale(model, from_dict(DataConfig, config.get("data", {})).input_scale)
    model.to(device).eval()
    norm = checkpoint["normalization"]
    return LoadedModel(
        model=model,
        model_name=checkpoint["model_name"],
        class_names=list(checkpoint["classes"]),
        num_classes=checkpoint["num_classes"],
        in_channels=checkpoint["in_channels"],
        ignore_index=checkpoint["ignore_index"],
        mean=tuple(norm["mean"]),
        std=tuple(norm["std"]),
        config=config,
    )
