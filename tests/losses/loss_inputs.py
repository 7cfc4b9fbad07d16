"""Small random inputs shared by the loss tests."""

from __future__ import annotations

import torch

IGNORE = 255


def make_inputs(
    n: int = 2,
    c: int = 3,
    h: int = 6,
    w: int = 7,
    *,
    seed: int = 0,
    ignore_fraction: float = 0.0,
    dtype: torch.dtype = torch.float64,
    scale: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(logits, target)``; binary mode when ``c == 1``; a fraction of pixels set to IGNORE."""
    generator = torch.Generator().manual_seed(seed)
    logits = scale * torch.randn(n, c, h, w, generator=generator, dtype=dtype)
    target = torch.randint(0, max(c, 2), (n, h, w), generator=generator)
    if ignore_fraction > 0:
        ignored = torch.rand(n, h, w, generator=generator) < ignore_fraction
        target[ignored] = IGNORE
    return logits.requires_grad_(True), target
