"""Build an encoder by name, e.g. ``create_encoder("resnet50", output_stride=16)``; describe the
names with :func:`encoder_info` and :func:`encoder_table`.

Names starting with ``tu-`` are timm models (``"tu-convnext_tiny"``), built by
:mod:`pixelwise.encoders.timm_adapter`, which needs ``timm`` installed.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import torch

from pixelwise.encoders.base import Encoder, EncoderInfo
from pixelwise.encoders.mobilenet import MobileNetV2Encoder
from pixelwise.encoders.resnet import ResNetEncoder
from pixelwise.encoders.vgg import VGGEncoder
from pixelwise.encoders.weights import IMAGENET_URLS

TIMM_PREFIX = "tu-"
_STRIDES = (8, 16, 32)
_REDUCTIONS = (2, 4, 8, 16, 32)
_FILE = ("file", "path to a torchvision state dict (first conv adapted to in_channels)")

_BUILDERS: dict[str, Callable[..., Encoder]] = {
    "resnet18": lambda **kwargs: ResNetEncoder(18, **kwargs),
    "resnet34": lambda **kwargs: ResNetEncoder(34, **kwargs),
    "resnet50": lambda **kwargs: ResNetEncoder(50, **kwargs),
    "resnet101": lambda **kwargs: ResNetEncoder(101, **kwargs),
    "vgg16": lambda **kwargs: VGGEncoder(16, batch_norm=False, **kwargs),
    "vgg16_bn": lambda **kwargs: VGGEncoder(16, batch_norm=True, **kwargs),
    "mobilenet_v2": lambda **kwargs: MobileNetV2Encoder(**kwargs),
}
# (family, out_channels, multi_grid, pool_indices); checked against the built encoders in
# tests/encoders/test_factory.py.
_FACTS: dict[str, tuple[str, tuple[int, ...], bool, bool]] = {
    "resnet18": ("resnet", (64, 64, 128, 256, 512), True, False),
    "resnet34": ("resnet", (64, 64, 128, 256, 512), True, False),
    "resnet50": ("resnet", (64, 256, 512, 1024, 2048), True, False),
    "resnet101": ("resnet", (64, 256, 512, 1024, 2048), True, False),
    "vgg16": ("vgg", (64, 128, 256, 512, 512), False, True),
    "vgg16_bn": ("vgg", (64, 128, 256, 512, 512), False, True),
    "mobilenet_v2": ("mobilenet", (16, 24, 32, 96, 1280), False, False),
}


def list_encoders() -> list[str]:
    """Names accepted by :func:`create_encoder`, sorted (timm's ``tu-*`` names aside)."""
    return sorted(_BUILDERS)


def _unknown(name: str) -> str:
    return (
        f"unknown encoder {name!r}; valid names: {', '.join(list_encoders())}, or "
        f"'{TIMM_PREFIX}<timm model>' (needs timm)"
    )


def create_encoder(
    name: str,
    *,
    in_channels: int = 3,
    output_stride: int = 32,
    weights: str | os.PathLike[str] | None = None,
    **kwargs: Any,
) -> Encoder:
    """Build the encoder ``name`` (see :func:`list_encoders`, or ``"tu-<timm model>"``).

    ``weights``: None (random init), "imagenet" (torchvision's IMAGENET1K_V1 file, hash
    checked) or a path to a torchvision state dict. Extra ``kwargs`` go to the encoder class
    (e.g. ``multi_grid=(1, 2, 4)`` for ResNets). Raises ``KeyError`` for an unknown name.
    """
    if name.startswith(TIMM_PREFIX):
        # Imported here, so that timm (and the adapter) stay optional.
        from pixelwise.encoders.timm_adapter import (  # type: ignore[import-not-found, unused-ignore]
            create_timm_encoder,
        )

        return create_timm_encoder(
            name[len(TIMM_PREFIX) :],
            in_channels=in_channels,
            output_stride=output_stride,
            weights=weights,
            **kwargs,
        )
    if name not in _BUILDERS:
        raise KeyError(_unknown(name))
    return _BUILDERS[name](
        in_channels=in_channels, output_stride=output_stride, weights=weights, **kwargs
    )


def encoder_info(name: str) -> EncoderInfo:
    """What the encoder ``name`` offers (channels, reductions, output strides, multi-grid, pool
    indices, weight sources), without building it; a ``tu-`` name is built on the ``meta``
    device (no memory, no download) at each output stride. Raises ``KeyError`` if unknown."""
    if name.startswith(TIMM_PREFIX):
        return _timm_info(name)
    if name not in _FACTS:
        raise KeyError(_unknown(name))
    family, channels, multi_grid, pool_indices = _FACTS[name]
    return EncoderInfo(
        name=name,
        family=family,
        out_channels=channels,
        reductions=_REDUCTIONS,
        output_strides=_STRIDES,
        multi_grid=multi_grid,
        pool_indices=pool_indices,
        weights=(("imagenet", IMAGENET_URLS[name]), _FILE),
    )


def _build_anywhere(name: str, output_stride: int) -> Encoder:
    """``name`` built on the meta device, or on the CPU if the model cannot be built there."""
    try:
        with torch.device("meta"):
            return create_encoder(name, output_stride=output_stride)
    except (RuntimeError, NotImplementedError):
        return create_encoder(name, output_stride=output_stride)


def _timm_info(name: str) -> EncoderInfo:
    encoder = _build_anywhere(name, 32)
    strides = [32]
    for stride in (16, 8):
        try:
            _build_anywhere(name, stride)
        except ValueError:  # the adapter's "does not support output_stride"
            continue
        strides.append(stride)
    return EncoderInfo(
        name=name,
        family="timm",
        out_channels=tuple(encoder.out_channels),
        reductions=tuple(encoder.reductions),
        output_strides=tuple(sorted(strides)),
        multi_grid=False,
        pool_indices=encoder.pool_indices,
        weights=(("imagenet", "timm's pretrained weights"), ("file", "path to a state dict")),
    )


def encoder_table() -> str:
    """The ``pixelwise encoders`` table: one line per name of :func:`list_encoders`."""
    header = (
        f"{'encoder':<13} {'family':<10} {'channels':<24} {'reductions':<15} {'OS':<8} "
        f"{'pool idx':<8}  weights"
    )
    lines = [header, "-" * len(header)]
    for name in list_encoders():
        info = encoder_info(name)
        channels = ",".join(map(str, info.out_channels))
        reductions = ",".join(map(str, info.reductions))
        strides = ",".join(map(str, info.output_strides))
        weights = ", ".join(source for source, _ in info.weights)
        lines.append(
            f"{name:<13} {info.family:<10} {channels:<24} {reductions:<15} {strides:<8} "
            f"{'yes' if info.pool_indices else 'no':<8}  {weights}"
        )
    lines.append(
        "OS: output strides (16 and 8 dilate the deep stages); reductions at OS 32; multi_grid "
        "(DeepLab v3): resnet*. Also any timm model as 'tu-<name>' (needs timm)."
    )
    return "\n".join(lines)
