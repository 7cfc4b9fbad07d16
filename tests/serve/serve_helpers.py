"""Helpers of the serve tests: images as bytes, and a TestClient around a model."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
import tifffile
from fastapi.testclient import TestClient
from PIL import Image

from pixelwise.data import synthetic_raster
from pixelwise.serve import Limits, ServeSettings, build_app
from pixelwise.training import LoadedModel


def make_client(loaded: LoadedModel, root: Path, **settings: Any) -> TestClient:
    """A client of an app serving ``loaded`` whose private upload folders go under ``root``."""
    limits = settings.pop("limits", Limits())
    app = build_app(loaded, settings=ServeSettings(limits=limits, tmp_root=root, **settings))
    return TestClient(app)


def png_bytes(array: np.ndarray, **save: Any) -> bytes:
    buffer = BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", **save)
    return buffer.getvalue()


def tiff_bytes(array: np.ndarray, **write: Any) -> bytes:
    buffer = BytesIO()
    tifffile.imwrite(buffer, array, **write)
    return buffer.getvalue()


def scene_png(height: int = 96, width: int = 128, seed: int = 5) -> bytes:
    image, _ = synthetic_raster(height, width, seed=seed)
    return png_bytes(image)
