"""A plain-dict model registry: ``@register_model`` adds a builder, ``create_model`` calls it.

No string-typed configuration: a registered name maps to one typed, keyword-only builder.
:func:`validate_model_options` checks a config's ``model.options`` against that builder's
signature before anything is built, so a typo fails early with a one-line explanation.
"""

from __future__ import annotations

import collections.abc
import difflib
import importlib
import inspect
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Union

from torch import nn

ModelBuilder = Callable[..., nn.Module]


@dataclass(frozen=True)
class ModelEntry:
    """What the registry knows about one model name; ``default_encoder``: the encoder the
    builder uses by default (None for a built-in contracting path, e.g. U-Net's)."""

    name: str
    builder: ModelBuilder
    paper: str
    default_encoder: str | None

    @property
    def default_backbone(self) -> str | None:
        """Former name of :attr:`default_encoder`."""
        return self.default_encoder


_REGISTRY: dict[str, ModelEntry] = {}
_MODELS_PACKAGE = "pixelwise.models"


def register_model(
    name: str,
    *,
    paper: str = "",
    default_encoder: str | None = None,
    default_backbone: str | None = None,
) -> Callable[[ModelBuilder], ModelBuilder]:
    """Decorator that registers ``builder`` under ``name``; ``default_backbone`` is the former
    name of ``default_encoder``.

    Raises:
        ValueError: if ``name`` is already registered, or both default names are given.
    """
    if default_backbone is not None:
        if default_encoder is not None:
            raise ValueError(f"model {name!r}: give default_encoder only")
        default_encoder = default_backbone

    def decorator(builder: ModelBuilder) -> ModelBuilder:
        if name in _REGISTRY:
            raise ValueError(f"model name {name!r} is already registered")
        default = None if default_encoder is None else str(default_encoder)
        _REGISTRY[name] = ModelEntry(name, builder, paper, default)
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

    ``options`` (``in_channels`` and the builder's own options) are checked first by
    :func:`validate_model_options`, so a typo raises :class:`ModelOptionsError`.

    Example:
        >>> model = create_model("unet", num_classes=2, in_channels=1)
    """
    entry = model_info(name)
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    # ``in_channels`` is a data-derived argument here, as the trainer passes it; every other
    # key must be one of the builder's options.
    validate_model_options(name, {k: v for k, v in options.items() if k != "in_channels"})
    if "in_channels" in options:
        _check_data_argument(name, "in_channels", options["in_channels"])
    return entry.builder(num_classes=num_classes, **options)


class ModelOptionsError(ValueError):
    """A model's ``options`` do not fit its builder: an unknown key, a key that the trainer
    sets from the data, or a value of the wrong type or outside a ``Literal``'s choices."""


# Builder arguments that the trainer derives from the data; they never belong in options.
DATA_ARGUMENTS = ("num_classes", "in_channels")
_NOT_CHECKED = object()  # an annotation this module cannot check at runtime


def builder_options(name: str) -> dict[str, inspect.Parameter]:
    """The options of the model ``name``: its builder's keyword parameters other than
    :data:`DATA_ARGUMENTS`, in signature order (``Parameter.default`` is their default)."""
    parameters = inspect.signature(model_info(name).builder).parameters.values()
    return {
        p.name: p
        for p in parameters
        if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name not in DATA_ARGUMENTS
    }


def validate_model_options(name: str, options: Mapping[str, object]) -> None:
    """Check ``options`` (a config's ``model.options``) against the builder of model ``name``.

    Every key must be a keyword parameter of the builder other than ``num_classes`` and
    ``in_channels`` (the trainer sets those from the data). Values are checked against the
    builder's annotations where they are ``Literal[...]``, ``bool``, ``int``, ``float`` (an
    ``int`` is accepted), ``str``, ``None``, tuples/lists of those, or unions of them (``X |
    None``); other annotations are not checked. Nothing is built.

    Raises:
        KeyError: ``name`` is not a registered model (the message lists valid names).
        ModelOptionsError: the first problem found, on one line naming the model and the key.

    Example:
        >>> validate_model_options("deeplab_v3", {"encoder": "resnet18"})
    """
    builder = model_info(name).builder
    accepted = builder_options(name)
    # A builder taking ``**kwargs`` accepts keys this signature does not show (none does
    # today); for such a builder only the named parameters are checked.
    open_ended = any(
        p.kind is p.VAR_KEYWORD for p in inspect.signature(builder).parameters.values()
    )
    hints = typing.get_type_hints(builder)
    for key, value in options.items():
        if key in DATA_ARGUMENTS:
            raise ModelOptionsError(
                f"model {name!r}: option {key!r} is not allowed; {key} is set from the data "
                "by the trainer, remove it from the model options"
            )
        if key not in accepted:
            if open_ended:
                continue
            close = _closest(key, accepted)
            hint = f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""
            raise ModelOptionsError(
                f"model {name!r}: unknown option {key!r}{hint}; "
                f"valid options: {_describe_options(accepted)}"
            )
        annotation = hints.get(key, _NOT_CHECKED)
        if _matches(value, annotation) is False:
            default = accepted[key].default
            shown = "" if default is inspect.Parameter.empty else f" (default {default!r})"
            raise ModelOptionsError(
                f"model {name!r}: option {key!r} must be {_describe_type(annotation)}"
                f"{shown}, got {value!r} ({type(value).__name__})"
            )
    missing = [
        key
        for key, p in accepted.items()
        if p.default is inspect.Parameter.empty and key not in options
    ]
    if missing:
        raise ModelOptionsError(
            f"model {name!r}: missing required option(s) {', '.join(map(repr, missing))}"
        )


def _closest(key: str, names: Iterable[str]) -> list[str]:
    """Up to 3 names close to ``key`` (``difflib``'s 0.6 cutoff), keeping only those about as
    close as the best one: ``base_channel`` suggests ``base_channels``, not also
    ``decoder_channels``."""
    close = difflib.get_close_matches(key, names, n=3)
    ratios = [difflib.SequenceMatcher(None, key, name).ratio() for name in close]
    return [name for name, ratio in zip(close, ratios) if ratio >= ratios[0] - 0.1]


def _check_data_argument(name: str, key: str, value: object) -> None:
    """``in_channels`` passed to :func:`create_model` must be a positive int."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ModelOptionsError(f"model {name!r}: {key} must be an int >= 1, got {value!r}")


def _describe_options(accepted: Mapping[str, inspect.Parameter]) -> str:
    """``encoder='resnet50', output_stride=16, ...``; a required option shows no default."""
    if not accepted:
        return "(none)"
    return ", ".join(
        key if p.default is inspect.Parameter.empty else f"{key}={p.default!r}"
        for key, p in accepted.items()
    )


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (Union, types.UnionType)


def _matches(value: object, annotation: Any) -> bool | None:
    """Whether ``value`` fits ``annotation``: ``True``/``False``, or ``None`` where the
    annotation (or a part of a union) is one this module does not check."""
    if annotation is _NOT_CHECKED or annotation is Any:
        return None
    if annotation is None or annotation is type(None):
        return value is None
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Literal:
        # ``True == 1``: compare types too, so ``1`` is not accepted for ``Literal[True]``.
        return any(value == choice and type(value) is type(choice) for choice in args)
    if _is_union(annotation):
        results = [_matches(value, member) for member in args]
        if any(result is True for result in results):
            return True
        return None if any(result is None for result in results) else False
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if annotation is str:
        return isinstance(value, str)
    if origin in (tuple, list, collections.abc.Sequence):
        # YAML gives lists where a builder annotates tuples; both are accepted.
        if not isinstance(value, tuple | list):
            return False
        if not args:
            return True
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            if len(value) != len(args):
                return False
            results = [_matches(item, arg) for item, arg in zip(value, args, strict=True)]
        else:
            results = [_matches(item, args[0]) for item in value]
        if any(result is False for result in results):
            return False
        return None if any(result is None for result in results) else True
    if isinstance(origin or annotation, type):
        # Another class (``os.PathLike[str]``, say): its type is checked, its parameters not.
        if not isinstance(value, origin or annotation):
            return False
        return None if args else True
    return None


def _describe_type(annotation: Any) -> str:
    """Human wording of an annotation for error messages, e.g. ``one of 'same', 'valid'``."""
    if annotation is None or annotation is type(None):
        return "None"
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Literal:
        return "one of " + ", ".join(map(repr, args))
    if _is_union(annotation):
        return " or ".join(_describe_type(member) for member in args)
    if annotation is float:
        return "a number (float)"
    if origin in (tuple, list, collections.abc.Sequence):
        if not args:
            return "a list"
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            return f"a list of {len(args)} values ({', '.join(map(_describe_type, args))})"
        return f"a list of {_describe_type(args[0])}"
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation)
