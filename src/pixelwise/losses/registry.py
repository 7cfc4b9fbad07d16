"""Loss registry: ``create_loss(name, **kwargs)``, ``list_losses()`` and ``loss_from_config``.

Every registered loss takes ``(logits (N, C, H, W), target (N, H, W))`` and accepts the keyword
``ignore_index``. Names are short and stable, e.g. ``"ce"``, ``"dice"``, ``"lovasz"``.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from torch import nn

LossClass = TypeVar("LossClass", bound=type)

_REGISTRY: dict[str, type[nn.Module]] = {}


def register_loss(name: str) -> Callable[[LossClass], LossClass]:
    """Class decorator registering a loss under ``name`` (sets ``cls.name``)."""

    def decorator(cls: LossClass) -> LossClass:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"loss name {name!r} is already registered to {_REGISTRY[name]}")
        _REGISTRY[name] = cls  # type: ignore[assignment]
        cls.name = name  # type: ignore[attr-defined]
        return cls

    return decorator


def _load() -> None:
    importlib.import_module("pixelwise.losses")


def list_losses() -> list[str]:
    """Names of all registered losses, sorted."""
    _load()
    return sorted(_REGISTRY)


def loss_class(name: str) -> type[nn.Module]:
    """The class registered under ``name``; a ``ValueError`` lists valid names otherwise."""
    _load()
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, _REGISTRY, n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise ValueError(
            f"unknown loss {name!r}.{hint} Valid names: {', '.join(sorted(_REGISTRY))}"
        )
    return _REGISTRY[name]


def _accepted_kwargs(cls: type[nn.Module]) -> list[str]:
    parameters = inspect.signature(cls.__init__).parameters
    return [p for p in parameters if p != "self"]


def create_loss(name: str, **kwargs: Any) -> nn.Module:
    """Build the loss registered under ``name`` with keyword arguments ``kwargs``.

    Raises:
        ValueError: unknown name (valid names listed) or unknown keyword (valid ones listed).
    """
    cls = loss_class(name)
    accepted = _accepted_kwargs(cls)
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise ValueError(f"loss {name!r} got unknown argument(s) {unknown}; it accepts {accepted}")
    return cls(**kwargs)


def loss_from_config(
    spec: str | Mapping[str, Any] | Sequence[Mapping[str, Any]],
    *,
    ignore_index: int | None = None,
) -> nn.Module:
    """Build a loss from a YAML-like structure.

    ``spec`` is a name (``"ce"``), one mapping (``{"name": "dice", "smooth": 1.0}``) or a list
    of mappings with optional ``"weight"`` (default 1.0), giving a
    :class:`~pixelwise.losses.compose.CompositeLoss`, e.g.
    ``[{"name": "ce", "weight": 1.0}, {"name": "dice", "weight": 0.5, "smooth": 1.0}]``.
    ``ignore_index`` is passed to every term that does not set its own.
    """
    from pixelwise.losses.compose import CompositeLoss

    if isinstance(spec, str):
        spec = {"name": spec}
    if isinstance(spec, Mapping):
        weight, loss = _build_term(spec, ignore_index, index=None)
        if weight == 1.0:
            return loss
        return CompositeLoss([(weight, loss)])
    if not isinstance(spec, Sequence) or len(spec) == 0:
        raise ValueError(
            "loss config must be a name, a mapping with 'name', or a non-empty list of such "
            f"mappings; got {spec!r}"
        )
    return CompositeLoss([_build_term(item, ignore_index, index=i) for i, item in enumerate(spec)])


def _build_term(item: Any, ignore_index: int | None, index: int | None) -> tuple[float, nn.Module]:
    where = "loss config" if index is None else f"loss config entry {index}"
    if not isinstance(item, Mapping):
        raise ValueError(f"{where} must be a mapping with a 'name' key; got {item!r}")
    if "name" not in item:
        raise ValueError(f"{where} has no 'name' key; got keys {sorted(item)}")
    kwargs = {k: v for k, v in item.items() if k not in ("name", "weight")}
    weight = float(item.get("weight", 1.0))
    if ignore_index is not None and "ignore_index" not in kwargs:
        kwargs["ignore_index"] = ignore_index
    try:
        return weight, create_loss(str(item["name"]), **kwargs)
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None
