"""The lecture's architectures, one module per architecture.

Importing this package imports every module in it, which registers each model with
:func:`pixelwise.registry.register_model`.
"""

from __future__ import annotations

import importlib
import pkgutil

from pixelwise.models.base import SegmentationModel

for _module in pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["SegmentationModel"]
