"""Evaluation at full resolution over a (sharded) dataset, with optional dense-CRF refinement."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from pixelwise.metrics import BoundaryF1, ConfusionMatrix, SegmentationReport
from pixelwise.training.data_setup import DataBundle, val_items
from pixelwise.training.distributed import DistInfo
from pixelwise.training.progress import progress_bar


@dataclass
class EvaluationResult:
    report: SegmentationReport
    confusion: np.ndarray
    samples: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        return self.report.summary()


def denormalize(image: Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> np.ndarray:
    """Normalised C x H x W -> uint8 H x W x 3 for display."""
    m = torch.tensor(mean).view(-1, 1, 1)
    s = torch.tensor(std).view(-1, 1, 1)
    pixels = (image.cpu() * s + m).clamp(0, 1)
    if pixels.shape[0] == 1:
        pixels = pixels.expand(3, -1, -1)
    return (pixels[:3].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


@torch.no_grad()
def predict_probabilities(model: nn.Module, images: Tensor) -> Tensor:
    """Softmax (or sigmoid for one output channel, as two classes) of the model's logits."""
    logits = model(images)
    if isinstance(logits, tuple):
        logits = logits[0]
    if logits.shape[1] == 1:
        foreground = torch.sigmoid(logits)
        return torch.cat([1 - foreground, foreground], dim=1)
    return logits.float().softmax(dim=1)


def evaluate_model(
    model: nn.Module,
    bundle: DataBundle,
    device: torch.device,
    dist: DistInfo,
    *,
    progress: bool = True,
    crf: bool = False,
    crf_params: dict[str, float] | None = None,
    boundary: bool = False,
    keep_samples: int = 0,
) -> EvaluationResult:
    """Confusion matrix (synced across ranks) and report over this rank's validation images.

    ``crf=True`` refines each image's probabilities with :func:`pixelwise.crf.dense_crf`
    (DeepLab v1/v2 post-processing; ``crf_params`` are its keyword arguments) before the argmax;
    ``boundary=True`` adds the BF score.
    """
    was_training = model.training
    model.eval()
    num_classes = max(bundle.num_classes, 2)
    confusion = ConfusionMatrix(num_classes, bundle.ignore_index)
    boundary_f1 = BoundaryF1(num_classes, ignore_index=bundle.ignore_index) if boundary else None
    samples: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    items = val_items(bundle, dist)
    bar = progress_bar(items, desc="evaluate", enabled=progress and dist.is_main, unit="image")
    for index in bar:
        image, mask = bundle.val[index]
        image, mask = bundle.val_transform(image, mask)
        batch = image.unsqueeze(0).to(device)
        probs = predict_probabilities(model, batch)
        if crf:
            from pixelwise.crf import dense_crf

            rgb = torch.from_numpy(denormalize(image, bundle.mean, bundle.std))
            probs = dense_crf(probs[0].cpu(), rgb, **(crf_params or {})).unsqueeze(0).to(device)
        prediction = probs.argmax(dim=1)
        target = mask.unsqueeze(0).to(device)
        confusion.update(prediction, target)
        if boundary_f1 is not None:
            boundary_f1.update(prediction.cpu(), target.cpu())
        if len(samples) < keep_samples:
            samples.append(
                (
                    denormalize(image, bundle.mean, bundle.std),
                    mask.numpy(),
                    prediction[0].cpu().numpy(),
                )
            )
    model.train(was_training)
    synced = confusion.sync()
    names = bundle.class_names if bundle.num_classes >= 2 else ["background", *bundle.class_names]
    bf_value = boundary_f1.compute() if boundary_f1 is not None else None
    report = SegmentationReport.from_confusion(synced, names, boundary_f1=bf_value)
    return EvaluationResult(report, synced.matrix.cpu().numpy(), samples)
