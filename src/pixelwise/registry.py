"""A plain-dict model registry: ``@register_model`` adds a builder, ``create_model`` calls it.

No string-typed configuration: a registered name maps to one typed, keyword-only builder.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

ModelBuilder = Callable[..., nn.Module]


@dataclass(frozen=True)
class ModelEntry:
    """What the registry knows about one model name."""

    name: str
    builder: ModelBuilder
    paper: str
    default_backbone: str | None


_REGISTRY: dict[str, ModelEntry] = {}
_MODELS_PACKAGE = "pixelwise.models"


def register_model(
    name: str, *, paper: str = "", default_backbone: str | None = None
) -> Callable[[ModelBuilder], ModelBuilder]:
    """Decorator that registers ``builder`` under ``name``.

    Raises:
        ValueError: if ``name`` is already registered.
    """

    def decorator(builder: ModelBuilder) -> ModelBuilder:
        if name in _REGISTRY:
            raise ValueError(f"model name {name!r} is already registered")
        _REGISTRY[name] = ModelEntry(name, builder, paper, default_backbone)
        return builder

    return decorator


def _load_models() -> None:
    # Importing the models package runs every @register_model decorator.
    importlib.import_module(_MODELS_PACKAGE)


def list_models() -> list[str]:
    """Names of all registered models, sorted."""
    _load_models()
    return sorted(_REGISTRY)


def model_info(name: str) -> ModelEntry:
    """The registry entry for ``name``; raises ``KeyError`` listing valid names if unknown."""
    _load_models()
    try:
        return _REGISTRY[name]
    except KeyError:
        valid = ", ".join(sorted(_REGISTRY)) or "(none registered)"
        raise KeyError(f"unknown model {name!r}; valid names: {valid}") from None


def create_model(name: str, *, num_classes: int, **options: object) -> nn.Module:
    """Build the model registered as ``name`` with ``num_classes`` output channels.

    Example:
        >>> model = create_model("unet", num_classes=2, in_channels=1)
    """
    entry = model_info(name)
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    return entry.builder(num_classes=num_classes, **options)
