"""pixelwise: semantic segmentation on PyTorch.

The public entry points are :func:`create_model` and :func:`list_models`; a trained model comes
back with :func:`load_trained_model` (a checkpoint) or :func:`from_pretrained` (a folder or Hub
id), both driven by its :class:`~pixelwise.record.ModelRecord`. Building blocks live in
:mod:`pixelwise.layers`, backbones in :mod:`pixelwise.encoders`, losses, metrics, tiling and the
dense CRF in their own sub-packages, each usable on its own.
"""

from __future__ import annotations

__version__ = "0.2.0"

from pixelwise.registry import (
    ModelOptionsError,
    create_model,
    list_models,
    model_info,
    register_model,
    validate_model_options,
)

_LAZY = {  # imported on first use: they pull in the training engine
    "load_trained_model": "pixelwise.training",
    "from_pretrained": "pixelwise.pretrained",
    "save_pretrained": "pixelwise.pretrained",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'pixelwise' has no attribute {name!r}")


__all__ = [
    "ModelOptionsError",
    "__version__",
    "create_model",
    "from_pretrained",
    "list_models",
    "load_trained_model",
    "model_info",
    "register_model",
    "save_pretrained",
    "validate_model_options",
]
