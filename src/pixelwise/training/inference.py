"""The model record of a training run, and loading a trained model back from it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from pixelwise.models.rescale import with_input_scale
from pixelwise.record import ModelRecord, Preprocessing, record_from_checkpoint
from pixelwise.registry import create_model
from pixelwise.training.checkpoint import load_checkpoint
from pixelwise.training.config import Config
from pixelwise.training.data_setup import DataBundle


@dataclass
class LoadedModel:
    """A trained model in eval mode (wrapped to run at its input scale), its record, and the
    training config it came from (a plain dict; empty for a bare record)."""

    model: nn.Module
    record: ModelRecord
    config: dict[str, Any]

    @property
    def model_name(self) -> str:
        return self.record.architecture

    @property
    def class_names(self) -> list[str]:
        return self.record.classes.names

    @property
    def num_classes(self) -> int:
        return self.record.num_outputs

    @property
    def in_channels(self) -> int:
        return self.record.in_channels

    @property
    def ignore_index(self) -> int | None:
        return self.record.classes.ignore_index

    @property
    def mean(self) -> tuple[float, ...]:
        return self.record.preprocessing.mean

    @property
    def std(self) -> tuple[float, ...]:
        return self.record.preprocessing.std


def pick_device(preference: str = "auto") -> torch.device:
    """CUDA when available (or asked for), else CPU."""
    if preference == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(preference)


def make_record(config: Config, bundle: DataBundle, num_outputs: int) -> ModelRecord:
    """The record a run saves with every checkpoint, from its config and its data."""
    data = config.data
    preprocessing = Preprocessing(
        in_channels=bundle.in_channels,
        dtype=bundle.input_dtype,
        scale=bundle.scale,
        mean=tuple(bundle.mean),
        std=tuple(bundle.std),
        bands=None if data.bands is None else tuple(data.bands),
        nodata=data.nodata,
        input_scale=data.input_scale,
    )
    return ModelRecord(
        architecture=config.model.name,
        options=dict(config.model.options),
        num_outputs=num_outputs,
        classes=bundle.classes,
        preprocessing=preprocessing,
        tiling=config.tiling,
    )


def build_model(record: ModelRecord) -> nn.Module:
    """An untrained model as ``record`` describes it (not yet wrapped for its input scale)."""
    return create_model(
        record.architecture,
        num_classes=record.num_outputs,
        in_channels=record.in_channels,
        **record.options,
    )


def load_trained_model(path: str | Path, device: torch.device | str = "cpu") -> LoadedModel:
    """Rebuild the model of a pixelwise checkpoint (``last.pt``/``best.pt``) in eval mode.

    The checkpoint's :class:`~pixelwise.record.ModelRecord` says how (checkpoints of pixelwise
    0.1 are upgraded on the way). A model trained at ``data.train_scale`` < 1 (or with
    ``data.eval_scale``) comes back wrapped in :class:`pixelwise.models.rescale.InputRescale`:
    give it full-resolution images and it answers at full resolution.

    Raises:
        FileNotFoundError: no such file.
        pixelwise.record.RecordError: not a pixelwise checkpoint, or one from a newer version.
    """
    checkpoint = load_checkpoint(path, map_location="cpu")
    record = record_from_checkpoint(checkpoint, source=str(path))
    model = build_model(record)
    model.load_state_dict(checkpoint["model"])
    model = with_input_scale(model, record.preprocessing.input_scale)
    model.to(device).eval()
    return LoadedModel(model=model, record=record, config=dict(checkpoint.get("config", {})))
