"""From a checkpoint or a pretrained folder to the application."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from pixelwise.serve.app import ServeSettings, create_app
from pixelwise.serve.gallery import Gallery
from pixelwise.serve.inference import Predictor
from pixelwise.training import LoadedModel, load_trained_model, pick_device


def load_model(checkpoint_or_folder: str | Path, device: torch.device | str = "cpu") -> LoadedModel:
    """A checkpoint file (``best.pt``) or a local ``save_pretrained`` folder (never a Hub id:
    the server loads local files only)."""
    path = Path(checkpoint_or_folder)
    if path.is_dir():
        from pixelwise.pretrained import from_pretrained

        return from_pretrained(path, device=device)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is neither a checkpoint file nor a pretrained folder")
    return load_trained_model(path, device)


def build_app(
    checkpoint_or_folder: str | Path | LoadedModel,
    *,
    images: str | Path | None = None,
    settings: ServeSettings | None = None,
    device: str = "cpu",
) -> Any:
    """The FastAPI application serving the model (``images``: the gallery folder; default the
    embedded synthetic scenes)."""
    settings = settings or ServeSettings()
    torch_device = pick_device(device)
    loaded = (
        checkpoint_or_folder
        if isinstance(checkpoint_or_folder, LoadedModel)
        else load_model(checkpoint_or_folder, torch_device)
    )
    predictor = Predictor(loaded, torch_device)
    if images is None:
        gallery = Gallery.synthetic(loaded.record, settings.limits)
    else:
        gallery = Gallery.from_folder(images, loaded.record, settings.limits)
    return create_app(predictor, gallery, settings)
