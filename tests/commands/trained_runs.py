"""A trained multispectral run for the command tests: 4-band GeoTIFF images (uint16, and
float32 with nodata) with masks, a class table with its own colours, a few training steps."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from pixelwise.cli import main

CLASS_COLORS = [(10, 200, 30), (200, 20, 180), (240, 230, 10)]
NODATA = -9999.0


@dataclass
class TrainedRun:
    root: Path
    checkpoint: Path
    val_images: list[Path]
    val_masks: list[Path]
    dtype: str


def _scene(rng: np.random.Generator, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Mask of three classes in blocks; band ``k`` is bright where class ``k`` is, band 4 noise.
    Values span most of the uint16 range, so a wrong scale (1/255) would be far off."""
    mask = np.zeros((height, width), dtype=np.uint8)
    for _ in range(6):
        y, x = rng.integers(0, height - 8), rng.integers(0, width - 8)
        h, w = rng.integers(6, height // 2), rng.integers(6, width // 2)
        mask[y : y + h, x : x + w] = rng.integers(1, 3)
    image = rng.normal(12000, 3000, size=(4, height, width))
    for k in range(3):
        image[k][mask == k] += 40000
    return np.clip(image, 0, 65535), mask


def _write(path: Path, array: np.ndarray, dtype: str, nodata: float | None = None) -> None:
    import rasterio
    from rasterio.transform import from_origin

    profile = {
        "driver": "GTiff",
        "height": array.shape[-2],
        "width": array.shape[-1],
        "count": 1 if array.ndim == 2 else array.shape[0],
        "dtype": dtype,
        "crs": "EPSG:32633",
        "transform": from_origin(500000, 4100000, 10, 10),
    }
    if nodata is not None:
        profile["nodata"] = nodata
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(array.astype(dtype) if array.ndim == 3 else array.astype(dtype)[None])


def make_run(root: Path, dtype: str) -> TrainedRun:
    rng = np.random.default_rng(7)
    folders = {name: root / name for name in ("ti", "tm", "vi", "vm")}
    for folder in folders.values():
        folder.mkdir(parents=True)
    val_images, val_masks = [], []
    for index in range(10):
        image, mask = _scene(rng, 48, 64)
        nodata = None
        if dtype == "float32":
            image = image / 65535.0  # reflectance-like floats, kept as they are
            image[:, :6, :10] = NODATA  # a nodata corner, all bands
            nodata = NODATA
        split = ("vi", "vm") if index >= 8 else ("ti", "tm")
        name = f"tile{index:02d}.tif"
        _write(folders[split[0]] / name, image, dtype, nodata)
        _write(folders[split[1]] / name, mask, "uint8")
        if index >= 8:
            val_images.append(folders["vi"] / name)
            val_masks.append(folders["vm"] / name)
    classes = root / "classes.yaml"
    classes.write_text(
        yaml.safe_dump(
            {
                "classes": [
                    {"name": name, "id": i, "color": list(color)}
                    for i, (name, color) in enumerate(zip(["water", "crop", "urban"], CLASS_COLORS))
                ],
                "ignore_index": 255,
            }
        )
    )
    config = {
        "model": {"name": "unet", "options": {"base_channels": 8, "depth": 2}},
        "data": {
            "dataset": "folder",
            "train_images": str(folders["ti"]),
            "train_masks": str(folders["tm"]),
            "val_images": str(folders["vi"]),
            "val_masks": str(folders["vm"]),
            "classes": str(classes),
            "batch_size": 4,
            "val_batch_size": 2,
        },
        "optim": {"name": "adamw", "lr": 0.02, "schedule": "constant"},
        "train": {
            "epochs": 40,
            "output_dir": str(root / "run"),
            "progress": False,
            "plots": False,
        },
        "tiling": {"tile": 256, "overlap": 32, "blend": "gaussian"},
    }
    if dtype == "uint16":  # given; the float32 run measures its band statistics
        config["data"].update(mean=[0.3, 0.3, 0.3, 0.2], std=[0.25, 0.25, 0.25, 0.05])
    config_path = root / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    assert main(["train", str(config_path)]) == 0
    return TrainedRun(root, root / "run" / "best.pt", val_images, val_masks, dtype)
