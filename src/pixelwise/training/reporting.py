"""PNG plots for a run: loss and mIoU curves, normalised confusion matrix, per-class IoU bars,
and prediction overlays (image | ground truth | prediction)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_training_plots(output_dir: Path, history: Sequence[dict[str, Any]]) -> list[Path]:
    """``curves.png``: training loss and validation mIoU / pixel accuracy per epoch."""
    if not history:
        return []
    plt = _pyplot()
    epochs = [r["epoch"] for r in history]
    fig, (ax_loss, ax_metric) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(epochs, [r["train_loss"] for r in history], marker="o")
    ax_loss.set(xlabel="epoch", ylabel="training loss", title="Loss")
    evaluated = [r for r in history if r.get("mean_iou") is not None]
    if evaluated:
        ax_metric.plot(
            [r["epoch"] for r in evaluated],
            [r["mean_iou"] for r in evaluated],
            marker="o",
            label="mIoU",
        )
        ax_metric.plot(
            [r["epoch"] for r in evaluated],
            [r["pixel_accuracy"] for r in evaluated],
            marker="s",
            label="pixel accuracy",
        )
        ax_metric.legend()
    ax_metric.set(xlabel="epoch", ylabel="validation", title="Validation", ylim=(0, 1))
    fig.tight_layout()
    path = output_dir / "curves.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return [path]


def plot_confusion_matrix(matrix: np.ndarray, class_names: Sequence[str], path: Path) -> Path:
    """Row-normalised confusion matrix (rows: ground truth, columns: prediction)."""
    plt = _pyplot()
    matrix = np.asarray(matrix, dtype=np.float64)
    rows = matrix.sum(axis=1, keepdims=True)
    normalised = np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0)
    size = max(4.0, 0.55 * len(class_names) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    image = ax.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(class_names)), class_names, rotation=60, ha="right")
    ax.set_yticks(range(len(class_names)), class_names)
    ax.set(xlabel="prediction", ylabel="ground truth", title="Confusion matrix (row-normalised)")
    if len(class_names) <= 20:
        for i in range(len(class_names)):
            for j in range(len(class_names)):
                value = normalised[i, j]
                ax.text(
                    j,
                    i,
                    f"{value:.2f}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if value > 0.5 else "black",
                )
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_class_iou(
    per_class_iou: Sequence[float | None],
    class_names: Sequence[str],
    path: Path,
    title: str = "Per-class IoU",
) -> Path:
    plt = _pyplot()
    values = [np.nan if v is None else v for v in per_class_iou]
    fig, ax = plt.subplots(figsize=(max(5.0, 0.6 * len(values) + 2), 4))
    ax.bar(range(len(values)), values, color="tab:blue")
    ax.set_xticks(range(len(values)), class_names, rotation=60, ha="right")
    ax.set(ylim=(0, 1), ylabel="IoU", title=title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def colorize(
    labels: np.ndarray,
    colors: Sequence[Sequence[int]],
    ignore_index: int | None = None,
    ignore_color: Sequence[int] = (0, 0, 0),
) -> np.ndarray:
    """Label map (H, W) -> RGB uint8 (H, W, 3) with ``colors[c]`` for class ``c``."""
    palette = np.zeros((256, 3), dtype=np.uint8)
    palette[: len(colors)] = np.asarray(colors, dtype=np.uint8)
    if ignore_index is not None and 0 <= ignore_index < 256:
        palette[ignore_index] = ignore_color
    return palette[np.clip(labels, 0, 255).astype(np.intp)]


def plot_overlays(
    samples: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
    colors: Sequence[Sequence[int]],
    path: Path,
    ignore_index: int | None = None,
) -> Path:
    """One row per sample: image (H, W, 3 uint8) | ground truth | prediction."""
    plt = _pyplot()
    fig, axes = plt.subplots(len(samples), 3, figsize=(9, 3 * len(samples)), squeeze=False)
    for row, (image, target, prediction) in enumerate(samples):
        panels = (image, colorize(target, colors, ignore_index), colorize(prediction, colors))
        for col, (panel, title) in enumerate(zip(panels, ("image", "ground truth", "prediction"))):
            axes[row, col].imshow(panel)
            axes[row, col].set_axis_off()
            if row == 0:
                axes[row, col].set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
