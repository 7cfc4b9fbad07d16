"""pixelwise: semantic segmentation on PyTorch.

The public entry points are :func:`create_model` and :func:`list_models`; building blocks live
in :mod:`pixelwise.layers`, backbones in :mod:`pixelwise.encoders`, losses, metrics, tiling and
the dense CRF in their own sub-packages, each usable on its own.
"""

from __future__ import annotations

__version__ = "0.1.0"

from pixelwise.registry import (
    ModelOptionsError,
    create_model,
    list_models,
    model_info,
    register_model,
    validate_model_options,
)

__all__ = [
    "ModelOptionsError",
    "__version__",
    "create_model",
    "list_models",
    "model_info",
    "register_model",
    "validate_model_options",
]
