from __future__ import annotations

from pathlib import Path
from typing import Any


def tiny_config(output_dir: Path, **sections: dict[str, Any]) -> dict[str, Any]:
    """A seconds-long run: a 2-level, 4-channel U-Net on 32x32 synthetic scenes."""
    config: dict[str, Any] = {
        "model": {"name": "unet", "options": {"base_channels": 4, "depth": 2}},
        "data": {
            "dataset": "synthetic",
            "train_samples": 16,
            "val_samples": 4,
            "image_size": [32, 32],
            "batch_size": 4,
        },
        "optim": {"name": "adamw", "lr": 0.01},
        "train": {"epochs": 2, "output_dir": str(output_dir), "progress": False, "plots": False},
    }
    for name, values in sections.items():
        config.setdefault(name, {}).update(values)
    return config
