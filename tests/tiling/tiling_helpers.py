"""Shared helpers: a small conv net whose receptive field (7) fits in an 8-pixel overlap."""

from __future__ import annotations

import torch
from torch import nn


def conv_net(in_channels: int = 3, num_classes: int = 4, seed: int = 0) -> nn.Module:
    """Three 3x3 convolutions (zero padding): receptive field 7, so a pixel at least 3 pixels
    inside a tile sees exactly what it sees in the whole image."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(in_channels, 8, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(8, num_classes, 3, padding=1),
    ).eval()


def whole_image_probs(model: nn.Module, image: torch.Tensor) -> torch.Tensor:
    """Reference: the model on the whole ``(C, H, W)`` image, softmax over classes."""
    with torch.no_grad():
        return torch.softmax(model(image[None].float()), dim=1)[0]
