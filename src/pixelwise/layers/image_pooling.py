"""ParseNet's global context (Liu, Rabinovich and Berg, "ParseNet: Looking Wider to See
Better", 2015): image-level pooling fused with local features after L2 normalisation."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F


class L2Norm(nn.Module):
    """Normalise each pixel's feature vector to unit L2 norm across channels, then multiply by a
    learned per-channel scale ``gamma`` (ParseNet Sec. 3.2; initialised to ``init_scale``).

    Shapes: ``(N, C, H, W) -> (N, C, H, W)``.
    """

    def __init__(self, channels: int, *, init_scale: float = 10.0, eps: float = 1e-10) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.full((channels,), float(init_scale)))
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        return F.normalize(x, p=2.0, dim=1, eps=self.eps) * self.scale.view(1, -1, 1, 1)


class GlobalContext(nn.Module):
    """ParseNet context module: global average pool -> L2 norm -> "unpool" (replicate to the
    feature size) -> concatenate with the L2-normalised local features.

    Shapes: ``(N, C, H, W) -> (N, 2C, H, W)`` (local first, then global).
    """

    def __init__(self, channels: int, *, init_scale: float = 10.0) -> None:
        super().__init__()
        self.local_norm = L2Norm(channels, init_scale=init_scale)
        self.global_norm = L2Norm(channels, init_scale=init_scale)
        self.out_channels = 2 * channels

    def forward(self, features: Tensor) -> Tensor:
        pooled = features.mean(dim=(2, 3), keepdim=True)
        context = self.global_norm(pooled).expand_as(features)
        return torch.cat([self.local_norm(features), context], dim=1)
