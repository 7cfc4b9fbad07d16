"""Per-window input normalisation: ``(x * scale - mean) / std`` per band."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class Normalization:
    """Maps raw pixel values to the model's input range, band by band.

    ``x -> (x * scale[c] - mean[c]) / std[c]``; ``scale`` is one number or one per band. E.g.
    ``Normalization(scale=1 / 255)`` for uint8 in ``[0, 1]``, or ImageNet's
    ``Normalization(1 / 255, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))``. Applied to each
    batch of tiles ``(B, C, h, w)`` as it is read, never to the whole image.
    :meth:`pixelwise.record.ModelRecord` preprocessing gives a trained model's values.
    """

    scale: float | Sequence[float] = 1.0
    mean: Sequence[float] | None = None
    std: Sequence[float] | None = None

    def __post_init__(self) -> None:
        if self.std is not None and any(s <= 0 for s in self.std):
            raise ValueError(f"std must be positive per band; got {tuple(self.std)}")
        if self.mean is not None and self.std is not None and len(self.mean) != len(self.std):
            raise ValueError(
                f"mean has {len(self.mean)} values but std has {len(self.std)}; give one per band"
            )

    def __call__(self, tiles: Tensor) -> Tensor:
        tiles = tiles.to(torch.float32)
        channels = tiles.shape[1]
        scale = (self.scale,) if isinstance(self.scale, int | float) else tuple(self.scale)
        for name, values in (("scale", scale), ("mean", self.mean), ("std", self.std)):
            if values is not None and len(values) not in (1, channels):
                raise ValueError(
                    f"normalisation {name} has {len(values)} values but the input has "
                    f"{channels} bands"
                )

        def per_band(values: Sequence[float]) -> Tensor:
            return torch.tensor(values, dtype=torch.float32, device=tiles.device).view(1, -1, 1, 1)

        if any(s != 1.0 for s in scale):
            tiles = tiles * per_band(scale)
        if self.mean is not None:
            tiles = tiles - per_band(self.mean)
        if self.std is not None:
            tiles = tiles / per_band(self.std)
        return tiles
