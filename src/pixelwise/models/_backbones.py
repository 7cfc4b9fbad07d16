"""Backbone names accepted by the DeepLab family and PSPNet, built with ``create_encoder``."""

from __future__ import annotations

import os

from pixelwise.encoders import Encoder, create_encoder

RESNETS = ("resnet18", "resnet34", "resnet50", "resnet101")
VGGS = ("vgg16", "vgg16_bn")
MOBILENETS = ("mobilenet_v2",)

Weights = str | os.PathLike[str] | None


def create_backbone(
    name: str,
    *,
    allowed: tuple[str, ...],
    in_channels: int,
    output_stride: int,
    multi_grid: tuple[int, int, int] | None = None,
    weights: Weights = None,
) -> Encoder:
    """Build the encoder ``name`` (one of ``allowed``) dilated to ``output_stride``.

    ``multi_grid`` (DeepLab v3's unit rates of ResNet layer4) is only valid for ResNets.
    """
    if name not in allowed:
        raise ValueError(f"backbone must be one of {', '.join(allowed)}, got {name!r}")
    if output_stride not in (8, 16, 32):
        raise ValueError(f"output_stride must be 8, 16 or 32, got {output_stride}")
    options: dict[str, object] = {}
    if multi_grid is not None:
        if name not in RESNETS:
            raise ValueError(f"multi_grid applies to ResNet backbones only, got {name!r}")
        options["multi_grid"] = tuple(multi_grid)
    return create_encoder(
        name,
        in_channels=in_channels,
        output_stride=output_stride,
        weights=weights,  # type: ignore[arg-type]
        **options,
    )


def stride4_index(encoder: Encoder) -> int:
    """Index of the first feature map at stride 4 (DeepLab v3+'s low-level features)."""
    if 4 not in encoder.reductions:
        raise ValueError(f"encoder has no stride-4 feature map; reductions {encoder.reductions}")
    return encoder.reductions.index(4)
