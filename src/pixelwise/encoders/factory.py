"""Build an encoder by name, e.g. ``create_encoder("resnet50", output_stride=16)``."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from pixelwise.encoders.base import Encoder
from pixelwise.encoders.mobilenet import MobileNetV2Encoder
from pixelwise.encoders.resnet import ResNetEncoder
from pixelwise.encoders.vgg import VGGEncoder

_BUILDERS: dict[str, Callable[..., Encoder]] = {
    "resnet18": lambda **kwargs: ResNetEncoder(18, **kwargs),
    "resnet34": lambda **kwargs: ResNetEncoder(34, **kwargs),
    "resnet50": lambda **kwargs: ResNetEncoder(50, **kwargs),
    "resnet101": lambda **kwargs: ResNetEncoder(101, **kwargs),
    "vgg16": lambda **kwargs: VGGEncoder(16, batch_norm=False, **kwargs),
    "vgg16_bn": lambda **kwargs: VGGEncoder(16, batch_norm=True, **kwargs),
    "mobilenet_v2": lambda **kwargs: MobileNetV2Encoder(**kwargs),
}


def list_encoders() -> list[str]:
    """Names accepted by :func:`create_encoder`, sorted."""
    return sorted(_BUILDERS)


def create_encoder(
    name: str,
    *,
    in_channels: int = 3,
    output_stride: int = 32,
    weights: str | os.PathLike[str] | None = None,
    **kwargs: Any,
) -> Encoder:
    """Build the encoder ``name`` (see :func:`list_encoders`).

    ``weights``: None (random init), "imagenet" (torchvision's IMAGENET1K_V1 file, hash
    checked) or a path to a torchvision state dict. Extra ``kwargs`` go to the encoder class
    (e.g. ``multi_grid=(1, 2, 4)`` for ResNets). Raises ``KeyError`` for an unknown name.
    """
    if name not in _BUILDERS:
        raise KeyError(f"unknown encoder {name!r}; valid names: {', '.join(list_encoders())}")
    return _BUILDERS[name](
        in_channels=in_channels, output_stride=output_stride, weights=weights, **kwargs
    )
