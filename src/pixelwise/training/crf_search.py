"""Pick the dense CRF's bilateral-kernel parameters on validation images.

DeepLab chose its CRF parameters by cross-validation on a held-out set (v1, Sec. 4.1: a coarse
grid over the bilateral weight w1, and the position and colour widths sigma_alpha / sigma_beta,
with the Gaussian kernel fixed at w2 = 3, sigma_gamma = 3). This does the same on the first
``num_images`` validation images: each image's probabilities are computed once, then refined with
every grid point, and the setting with the best validation mIoU is returned with the whole grid.
"""

from __future__ import annotations

import itertools
from typing import Any

import torch
from torch import nn

from pixelwise.crf import dense_crf
from pixelwise.metrics import ConfusionMatrix
from pixelwise.training.data_setup import DataBundle
from pixelwise.training.evaluation import denormalize, predict_probabilities

GRID = {
    "compat_bilateral": (3.0, 5.0),
    "sxy_bilateral": (20.0, 50.0, 80.0),
    "srgb": (3.0, 5.0, 13.0),
}


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

    def miou(params: dict[str, float] | None) -> float:
        confusion = ConfusionMatrix(bundle.num_classes, bundle.ignore_index)
        for probs, rgb, mask in cached:
            refined = probs if params is None else dense_crf(probs, rgb, **params)
            confusion.update(refined.argmax(0, keepdim=True), mask.unsqueeze(0))
        return float(confusion.mean_iou())

    records: list[dict[str, Any]] = [{"params": None, "val_mIoU": 100 * miou(None)}]
    for values in itertools.product(*GRID.values()):
        params = dict(zip(GRID, values))
        records.append({"params": params, "val_mIoU": 100 * miou(params)})
    best = max(records[1:], key=lambda r: r["val_mIoU"])
    return dict(best["params"]), records
