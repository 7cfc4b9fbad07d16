"""The dense CRF as post-processing of a trained model: refining, and picking its parameters.

DeepLab chose its CRF parameters by cross-validation on a held-out set (v1, Sec. 4.1: a coarse
grid over the bilateral weight w1, and the position and colour widths sigma_alpha / sigma_beta,
with the Gaussian kernel fixed at w2 = 3, sigma_gamma = 3). :func:`search_crf` does the same on
the first ``num_images`` validation images: each image's probabilities are computed once, then
refined with every grid point, and the setting with the best validation mIoU is returned with
the whole grid. The engine (``pixelwise.training``) never imports the CRF: evaluation takes
:func:`crf_refiner` as its ``refine`` hook.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from pixelwise.crf import dense_crf
from pixelwise.metrics import ConfusionMatrix
from pixelwise.training import DataBundle
from pixelwise.training.evaluation import Refine, denormalize, predict_probabilities

GRID = {
    "compat_bilateral": (3.0, 5.0),
    "sxy_bilateral": (20.0, 50.0, 80.0),
    "srgb": (3.0, 5.0, 13.0),
}


def refine_with_crf(
    probs: Tensor, rgb: np.ndarray | Tensor, params: dict[str, Any] | None = None
) -> Tensor:
    """``(K, H, W)`` probabilities refined by :func:`pixelwise.crf.dense_crf` on an H x W x 3
    uint8 image."""
    image = torch.as_tensor(np.ascontiguousarray(rgb), dtype=torch.uint8)
    return dense_crf(probs.float(), image, **(params or {}))


def crf_refiner(params: dict[str, float] | None = None) -> Refine:
    """The ``refine`` hook of :func:`pixelwise.training.evaluate_model` for the dense CRF."""

    def refine(probs: Tensor, rgb: np.ndarray) -> Tensor:
        return refine_with_crf(probs, rgb, params)

    return refine


def crf_rgb(raw: np.ndarray, scale: Sequence[float]) -> np.ndarray:
    """The H x W x 3 uint8 image the CRF's colour kernel sees, from raw ``(C, H, W)`` pixels:
    the first three bands (one band repeated) scaled to [0, 255] as in training."""
    bands = raw[:3] if raw.shape[0] >= 3 else np.repeat(raw[:1], 3, axis=0)
    factors = np.asarray(scale[: bands.shape[0]] or [1.0], dtype=np.float32).reshape(-1, 1, 1)
    unit = np.nan_to_num(bands.astype(np.float32) * factors, nan=0.0).clip(0, 1)
    return (unit * 255).round().astype(np.uint8).transpose(1, 2, 0)


def search_crf(
    model: nn.Module, bundle: DataBundle, device: torch.device, *, num_images: int = 24
) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Returns (best parameters for :func:`dense_crf`, one record per grid point)."""
    model.eval()
    cached = []
    for index in range(min(num_images, len(bundle.val))):  # type: ignore[arg-type]
        image, mask = bundle.val[index]
        image, mask = bundle.val_transform(image, mask)
        probs = predict_probabilities(model, image.unsqueeze(0).to(device))[0].cpu()
        rgb = torch.from_numpy(denormalize(image, bundle.mean, bundle.std))
        cached.append((probs, rgb, mask))

    def miou(params: dict[str, Any] | None) -> float:
        confusion = ConfusionMatrix(max(bundle.num_classes, 2), bundle.ignore_index)
        for probs, rgb, mask in cached:
            refined = probs if params is None else dense_crf(probs, rgb, **params)
            confusion.update(refined.argmax(0, keepdim=True), mask.unsqueeze(0))
        return float(confusion.mean_iou())

    records: list[dict[str, Any]] = [{"params": None, "val_mIoU": 100 * miou(None)}]
    for values in itertools.product(*GRID.values()):
        params: dict[str, Any] = dict(zip(GRID, values))
        records.append({"params": params, "val_mIoU": 100 * miou(params)})
    best = max(records[1:], key=lambda r: r["val_mIoU"])
    return dict(best["params"]), records
