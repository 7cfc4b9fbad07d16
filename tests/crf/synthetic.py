"""Small synthetic segmentation problems for the CRF tests: coloured regions and noisy scores."""

from __future__ import annotations

import torch
from torch import Tensor

COLOURS = torch.tensor(
    [[200.0, 40.0, 40.0], [40.0, 190.0, 60.0], [50.0, 60.0, 210.0], [220.0, 210.0, 70.0]]
)


def region_labels(height: int = 24, width: int = 32) -> Tensor:
    """Four regions: three rectangles and a background, labels 0..3, shape ``(H, W)``."""
    labels = torch.zeros(height, width, dtype=torch.long)
    labels[: height // 2, width // 2 :] = 1
    labels[height // 2 :, : width // 3] = 2
    labels[height // 3 : 2 * height // 3, width // 3 : 2 * width // 3] = 3
    return labels


def region_image(labels: Tensor, noise: float = 6.0, seed: int = 0) -> Tensor:
    """uint8 image ``(H, W, 3)``: each label's colour plus Gaussian noise."""
    generator = torch.Generator().manual_seed(seed)
    image = COLOURS[labels] + noise * torch.randn(*labels.shape, 3, generator=generator)
    return image.round().clamp(0, 255).to(torch.uint8)


def noisy_probs(labels: Tensor, num_labels: int = 4, signal: float = 1.0, seed: int = 1) -> Tensor:
    """Softmax scores ``(C, H, W)`` that favour the true label weakly under strong noise."""
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(num_labels, *labels.shape, generator=generator, dtype=torch.float64)
    logits += signal * torch.nn.functional.one_hot(labels, num_labels).permute(2, 0, 1)
    return torch.softmax(logits, dim=0)
