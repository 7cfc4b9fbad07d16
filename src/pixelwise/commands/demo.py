"""``pixelwise demo``: the main job on the embedded synthetic data, end to end.

Trains a small U-Net on procedurally generated scenes (five classes of very different
frequency), evaluates it, segments a large synthetic raster with overlapping tiles, and writes a
report folder: ``metrics.json``, ``report.txt``, curves, confusion matrix, per-class IoU,
overlays and the tiled prediction.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import tifffile
import torch

from pixelwise.commands.predict import predict_path
from pixelwise.data import synthetic_raster
from pixelwise.metrics import ConfusionMatrix
from pixelwise.record import TilingOptions
from pixelwise.training import (
    Config,
    DataConfig,
    DistInfo,
    LossConfig,
    ModelConfig,
    OptimConfig,
    TrainConfig,
    Trainer,
    evaluate_model,
    load_trained_model,
)
from pixelwise.training.reporting import (
    colorize,
    plot_class_iou,
    plot_confusion_matrix,
    plot_overlays,
)

DEMO_TILING = TilingOptions(tile=256, overlap=32, blend="gaussian", batch_size=4)


def demo_config(out: Path, *, quick: bool, epochs: int | None) -> Config:
    """The demo recipe (a lighter one with ``quick`` for tests)."""
    return Config(
        model=ModelConfig(
            "unet", {"base_channels": 8 if quick else 16, "depth": 3 if quick else 4}
        ),
        data=DataConfig(
            dataset="synthetic",
            train_samples=16 if quick else 320,
            val_samples=4 if quick else 48,
            image_size=(64, 64) if quick else (128, 128),
            batch_size=8,
            hflip=True,
            vflip=True,
            rotate90=True,
        ),
        loss=LossConfig(
            terms=[{"name": "ce", "weight": 1.0}, {"name": "dice", "weight": 0.5}],
            class_weights="inverse_sqrt",
        ),
        optim=OptimConfig(
            name="adamw", lr=3e-3, schedule="cosine", warmup_steps=10, weight_decay=1e-4
        ),
        train=TrainConfig(
            epochs=epochs or (1 if quick else 6), output_dir=str(out / "run"), progress=not quick
        ),
        tiling=DEMO_TILING,
    ).validate()


def run_demo(out: Path, *, quick: bool = False, epochs: int | None = None) -> Path:
    """Run the demo into ``out``; returns the report folder."""
    started = time.perf_counter()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    out.mkdir(parents=True, exist_ok=True)
    config = demo_config(out, quick=quick, epochs=epochs)
    trainer = Trainer(config)
    trainer.fit()
    train_seconds = time.perf_counter() - started

    loaded = load_trained_model(trainer.output_dir / "best.pt")
    result = evaluate_model(
        loaded.model,
        trainer.data,
        torch.device("cpu"),
        DistInfo(),
        progress=False,
        keep_samples=4,
        boundary=True,
    )
    names = result.report.class_names
    plot_confusion_matrix(result.confusion, names, out / "confusion_matrix.png")
    plot_class_iou(result.report.iou, names, out / "class_iou.png", "Validation IoU per class")
    colors = loaded.record.labels.colors
    plot_overlays(result.samples, colors, out / "overlays.png")
    (out / "report.txt").write_text(str(result.report) + "\n")

    # Tiled inference on a raster larger than any training image, written and read as TIFF.
    size = 512 if quick else 2048
    image, truth = synthetic_raster(size, size, seed=12345)
    raster = out / "synthetic_raster.tif"
    tifffile.imwrite(raster, image, tile=(256, 256), compression="zlib", photometric="rgb")
    written = predict_path(loaded, raster, out, tiling=loaded.record.tiling, progress=not quick)
    labels = tifffile.imread(written[0])
    tiled = ConfusionMatrix(loaded.num_classes)
    tiled.update(torch.from_numpy(labels.astype(np.int64)), torch.from_numpy(truth))
    tiled_report = tiled.report(names)
    preview = np.concatenate(
        [
            image[:512, :512],
            colorize(truth[:512, :512], colors),
            colorize(labels[:512, :512], colors),
        ],
        axis=1,
    )
    from PIL import Image

    Image.fromarray(preview).save(out / "raster_preview.png")

    metrics = {
        "validation": result.report.to_dict(),
        "tiled_raster": {
            "size": [size, size],
            "tile": DEMO_TILING.tile,
            "overlap": DEMO_TILING.overlap,
            "blend": DEMO_TILING.blend,
            **tiled_report.to_dict(),
        },
        "train_seconds": round(train_seconds, 1),
        "total_seconds": round(time.perf_counter() - started, 1),
        "config": config.to_dict(),
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    print(result.report)
    summary = result.report.summary()
    print(
        f"validation mIoU {summary['mean_iou']:.3f}, pixel accuracy "
        f"{summary['pixel_accuracy']:.3f}; tiled {size}x{size} raster mIoU "
        f"{tiled_report.mean_iou:.3f}; {metrics['total_seconds']} s in all"
    )
    return out
