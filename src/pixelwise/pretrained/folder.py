"""Pretrained folders: a model's record, weights and card, locally or on the Hugging Face Hub.

A folder written by :func:`save_pretrained` holds

- ``pixelwise_record.json``: the :class:`~pixelwise.record.ModelRecord` (architecture, options,
  classes, preprocessing, tiling), the same JSON a checkpoint and an export carry;
- ``model.safetensors``: the state dict (:mod:`safetensors`: no pickle, loads without running
  code);
- ``README.md``: a model card with Hugging Face Hub metadata.

:func:`from_pretrained` rebuilds the model from such a folder, or from a Hub repository with the
``[hub]`` extra (``pip install 'pixelwise[hub]'``).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from pixelwise import __version__
from pixelwise.models.rescale import InputRescale, with_input_scale
from pixelwise.pretrained.model_card import model_card
from pixelwise.pretrained.state_dicts import build_untrained, check_state_dict, load_model
from pixelwise.record import ModelRecord, RecordError, record_from_checkpoint
from pixelwise.training import LoadedModel
from pixelwise.training.checkpoint import load_checkpoint

RECORD_FILE = "pixelwise_record.json"
WEIGHTS_FILE = "model.safetensors"
CARD_FILE = "README.md"
# Per-epoch history entries that are not validation metrics.
TRAINING_KEYS = ("lr", "images_per_s", "epoch_time_s")
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def _safetensors() -> Any:
    try:
        import safetensors.torch
    except ImportError:
        raise ImportError(
            "pretrained folders need the safetensors package: pip install safetensors"
        ) from None
    return safetensors.torch


def _bare_module(model: nn.Module) -> nn.Module:
    """The model without :class:`InputRescale` or (Distributed)DataParallel wrappers."""
    while True:
        if isinstance(model, InputRescale):
            model = model.model
        elif isinstance(model, nn.DataParallel | nn.parallel.DistributedDataParallel):
            model = model.module
        else:
            return model


def checkpoint_metrics(checkpoint: Mapping[str, Any]) -> dict[str, Any] | None:
    """The validation metrics of the epoch whose weights ``checkpoint`` holds: its history
    entry for that epoch (less the training loss, learning rate and speed) when it has one with
    ``mean_iou``, else (``best.pt`` is written before
    its epoch joins the history) the saved best mIoU when that epoch is the best one."""
    state = checkpoint.get("state")
    if not isinstance(state, Mapping):
        return None
    epoch = state.get("epoch")
    try:
        history = json.loads(state.get("history_json", "[]"))
    except (TypeError, json.JSONDecodeError):
        history = []
    for entry in reversed(history if isinstance(history, list) else []):
        if isinstance(entry, dict) and entry.get("epoch") == epoch and "mean_iou" in entry:
            return {
                key: value
                for key, value in entry.items()
                if key not in TRAINING_KEYS and not key.startswith("train_")
            }
    if epoch is not None and state.get("best_epoch") == epoch:
        return {"epoch": epoch, "mean_iou": state.get("best_miou")}
    return None


def save_pretrained(
    model_or_checkpoint: nn.Module | LoadedModel | str | os.PathLike[str],
    directory: str | os.PathLike[str],
    *,
    record: ModelRecord | None = None,
    metrics: Mapping[str, Any] | None = None,
    command: str | None = None,
) -> Path:
    """Write ``directory`` with ``pixelwise_record.json``, ``model.safetensors`` and a
    ``README.md`` model card; returns the folder.

    Args:
        model_or_checkpoint: a pixelwise checkpoint path (``runs/x/best.pt``: its record,
            weights, the metrics of its epoch and its training command are used), a
            :class:`~pixelwise.training.LoadedModel`, or a model (then ``record`` is required).
        record: the model's record (overrides a checkpoint's or a loaded model's).
        metrics: validation metrics for the card (override a checkpoint's).
        command: the training command for the card (overrides a checkpoint's).

    Raises:
        ValueError: a model without a record.
        WeightsMismatchError: the weights do not fit the model the record describes.
        RecordError: the checkpoint is not a pixelwise checkpoint (or too new).
    """
    if isinstance(model_or_checkpoint, str | os.PathLike):
        source = str(model_or_checkpoint)
        checkpoint = load_checkpoint(Path(model_or_checkpoint), map_location="cpu")
        record = record or record_from_checkpoint(checkpoint, source=source)
        state_dict: Mapping[str, Tensor] = checkpoint["model"]
        metrics = checkpoint_metrics(checkpoint) if metrics is None else metrics
        saved_command = checkpoint.get("command")
        command = command or (saved_command if isinstance(saved_command, str) else None)
    else:
        model = model_or_checkpoint
        if isinstance(model, LoadedModel):
            record, model = record or model.record, model.model
        if record is None:
            raise ValueError(
                "save_pretrained: pass record= with a model (its ModelRecord: architecture, "
                "options, classes, preprocessing); a checkpoint path or a LoadedModel has one"
            )
        source = f"the {type(model).__name__} given to save_pretrained"
        state_dict = _bare_module(model).state_dict()
    expected = build_untrained(record, meta=True).state_dict()
    what = f"the weights of the {record.architecture} its record describes ({record.options})"
    check_state_dict(expected, state_dict, source=source, what=what)
    # Owned, contiguous CPU copies: safetensors refuses tensors that share memory.
    tensors = {key: value.detach().cpu().contiguous().clone() for key, value in state_dict.items()}

    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    record_json = json.dumps(record.to_dict(), indent=2, sort_keys=True)
    (folder / RECORD_FILE).write_text(record_json + "\n", encoding="utf-8")
    metadata = {"format": "pt", "pixelwise_version": __version__}
    _safetensors().save_file(tensors, str(folder / WEIGHTS_FILE), metadata=metadata)
    card = model_card(record, metrics=metrics, command=command, title=folder.resolve().name)
    (folder / CARD_FILE).write_text(card, encoding="utf-8")
    return folder


def _download(repo_id: str, revision: str | None) -> Path:
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise ImportError(
            f"{repo_id!r} is not a local folder; to download it from the Hugging Face Hub "
            "install the hub extra: pip install 'pixelwise[hub]'"
        ) from None
    folder = snapshot_download(
        repo_id=repo_id,
        revision=revision,
        allow_patterns=[RECORD_FILE, WEIGHTS_FILE, CARD_FILE],
        library_name="pixelwise",
        library_version=__version__,
    )
    return Path(str(folder))


def _resolve(dir_or_hub_id: str | os.PathLike[str], revision: str | None) -> Path:
    path = Path(dir_or_hub_id)
    if path.is_dir():
        return path
    if path.exists():
        raise RecordError(
            f"{path} is a file, not a pretrained folder; a pixelwise checkpoint loads with "
            "pixelwise.training.load_trained_model"
        )
    if isinstance(dir_or_hub_id, str) and HUB_ID.match(dir_or_hub_id):
        return _download(dir_or_hub_id, revision)
    raise FileNotFoundError(
        f"{str(dir_or_hub_id)!r} is neither a folder nor a Hugging Face Hub id (user/name)"
    )


def from_pretrained(
    dir_or_hub_id: str | os.PathLike[str],
    *,
    device: torch.device | str = "cpu",
    revision: str | None = None,
) -> LoadedModel:
    """The model of a folder written by :func:`save_pretrained` (or of a Hub repository with
    one, ``revision`` a branch, tag or commit), in eval mode on ``device``, wrapped to run at its
    input scale, with its record (``config`` is empty).

    Raises:
        RecordError: no ``pixelwise_record.json``, or one from a newer pixelwise or invalid.
        FileNotFoundError: no such folder, or no ``model.safetensors``.
        WeightsMismatchError: the weights do not fit the model the record describes.
        ImportError: a Hub id without ``huggingface_hub`` installed.
    """
    folder = _resolve(dir_or_hub_id, revision)
    record_path = folder / RECORD_FILE
    if not record_path.is_file():
        raise RecordError(
            f"{folder} has no {RECORD_FILE}: not a pretrained folder written by "
            "pixelwise.pretrained.save_pretrained (or pixelwise export --format pretrained)"
        )
    record = ModelRecord.from_json(record_path.read_text(encoding="utf-8"), source=str(record_path))
    weights_path = folder / WEIGHTS_FILE
    if not weights_path.is_file():
        raise FileNotFoundError(f"{folder} has a model record but no {WEIGHTS_FILE}")
    state_dict = _safetensors().load_file(str(weights_path), device="cpu")
    what = f"the weights of the {record.architecture} its record describes ({record.options})"
    model = load_model(record, state_dict, source=str(weights_path), what=what)
    model = with_input_scale(model, record.preprocessing.input_scale)
    model.to(device).eval()
    return LoadedModel(model=model, record=record, config={})
