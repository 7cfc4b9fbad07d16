"""How encoder-based models take their encoder: ``encoder=`` a name of
:func:`~pixelwise.encoders.list_encoders` (or ``"tu-<timm model>"``) or a built
:class:`~pixelwise.encoders.Encoder`, resolved by :func:`resolve_encoder` with one-line errors
that name the model, the encoder and the valid choices.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Sequence

from pixelwise.encoders import Encoder, create_encoder, encoder_info, list_encoders
from pixelwise.encoders.factory import TIMM_PREFIX

Weights = str | os.PathLike[str] | None
EncoderSpec = str | Encoder

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class DefaultEncoder(str):
    """A builder's default encoder name, e.g. ``encoder: EncoderSpec = DefaultEncoder("vgg16")``.

    It is a ``str`` (shown, compared and built as the name); its type only tells
    :func:`encoder_argument` that ``encoder=`` was not given, so that giving both ``encoder=``
    and its deprecated alias ``backbone=`` is an error whatever the values.
    """

    __slots__ = ()


def _stacklevel() -> int:
    """Stack level (for the caller of this function) of the first frame outside pixelwise, so
    that a warning points at the user's code and shows under Python's default filters."""
    level, frame = 1, sys._getframe(1)
    while frame.f_back is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    return level


def encoder_argument(encoder: EncoderSpec, backbone: str | None, *, model: str) -> EncoderSpec:
    """``encoder``, or ``backbone`` (its deprecated alias, kept for saved configs and model
    records) with a ``DeprecationWarning``. Giving both is a ``ValueError``."""
    if backbone is None:
        return encoder
    if not isinstance(encoder, DefaultEncoder):
        raise ValueError(
            f"model {model!r}: give encoder= only (backbone= is its deprecated alias); got both "
            f"{_label(encoder)} and backbone {backbone!r}"
        )
    warnings.warn(
        f"model {model!r}: backbone= is deprecated; use encoder={backbone!r}",
        DeprecationWarning,
        stacklevel=_stacklevel(),
    )
    return backbone


def _label(encoder: object) -> str:
    """``encoder 'resnet50'`` or ``the given ResNetEncoder``, for messages."""
    if isinstance(encoder, str):
        return f"encoder {str(encoder)!r}"
    return f"the given {type(encoder).__name__}"


def _either(values: Sequence[int]) -> str:
    """``8, 16 or 32``."""
    words = [str(value) for value in values]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


def _pool_index_names() -> list[str]:
    return [name for name in list_encoders() if encoder_info(name).pool_indices]


def resolve_encoder(
    encoder: EncoderSpec,
    *,
    in_channels: int,
    output_stride: int,
    multi_grid: Sequence[int] | None = None,
    weights: Weights = None,
    model: str = "deeplab_v3",
    strides: tuple[int, ...] = (8, 16, 32),
    pool_indices: bool = False,
) -> Encoder:
    """The encoder of model ``model``: ``encoder`` built by name with
    :func:`~pixelwise.encoders.create_encoder`, or the given :class:`Encoder` after checking
    that it fits (``in_channels``, ``output_stride``, pool indices).

    ``strides``: the output strides the model works at; ``multi_grid``: DeepLab v3's unit rates
    (ResNets); ``weights``: the model's ``encoder_weights`` (names only; load the weights of an
    Encoder object before passing it); ``pool_indices``: the model needs
    ``forward_with_indices`` (SegNet).

    Raises:
        ValueError: one line naming the model, the encoder and what to do instead.
        TypeError: ``encoder`` is neither a name nor an Encoder.
    """
    if output_stride not in strides:
        raise ValueError(
            f"model {model!r}: output_stride must be {_either(strides)}, got {output_stride}"
        )
    label = _label(encoder)
    if isinstance(encoder, Encoder):
        _check_object(encoder, in_channels, output_stride, multi_grid, weights, model, strides)
        built = encoder
    elif isinstance(encoder, str):
        name = str(encoder)
        if not name.startswith(TIMM_PREFIX):
            _check_name(name, output_stride, multi_grid, model, pool_indices)
        elif multi_grid is not None:
            raise ValueError(f"model {model!r}: multi_grid does not apply to timm encoder {name!r}")
        try:
            built = create_encoder(
                name,
                in_channels=in_channels,
                output_stride=output_stride,
                weights=weights,
                **({} if multi_grid is None else {"multi_grid": tuple(multi_grid)}),
            )
        except (KeyError, ValueError) as error:  # the timm adapter's unknown name or stride
            reason = error.args[0] if error.args else error
            raise ValueError(f"model {model!r}: encoder {name!r}: {reason}") from error
        if built.output_stride != output_stride:  # a timm model that cannot dilate, say
            raise ValueError(
                f"model {model!r}: encoder {name!r} was built at output_stride "
                f"{built.output_stride}, not the {output_stride} asked for"
            )
    else:
        raise TypeError(
            f"model {model!r}: encoder must be an encoder name (str) or an Encoder, got "
            f"{type(encoder).__name__}"
        )
    if pool_indices and not built.pool_indices:
        raise ValueError(_no_pool_indices(model, label))
    return built


def _no_pool_indices(model: str, label: str) -> str:
    return (
        f"model {model!r}: {label} provides no max-pool indices (forward_with_indices), "
        f"which the unpooling decoder of {model} needs; encoders that do: "
        f"{', '.join(_pool_index_names())}"
    )


def _check_name(
    name: str,
    output_stride: int,
    multi_grid: Sequence[int] | None,
    model: str,
    pool_indices: bool,
) -> None:
    """Check a built-in encoder name against the model's needs before building anything."""
    try:
        info = encoder_info(name)
    except KeyError:
        raise ValueError(
            f"model {model!r}: unknown encoder {name!r}; choose one of "
            f"{', '.join(list_encoders())} or '{TIMM_PREFIX}<timm model>' (needs timm)"
        ) from None
    if output_stride not in info.output_strides:
        raise ValueError(
            f"model {model!r}: encoder {name!r} supports output_stride "
            f"{_either(info.output_strides)}, not {output_stride}"
        )
    if multi_grid is not None and not info.multi_grid:
        with_grid = [other for other in list_encoders() if encoder_info(other).multi_grid]
        raise ValueError(
            f"model {model!r}: multi_grid applies to the encoders {', '.join(with_grid)}, "
            f"not {name!r}"
        )
    if pool_indices and not info.pool_indices:
        raise ValueError(_no_pool_indices(model, _label(name)))


def _check_object(
    encoder: Encoder,
    in_channels: int,
    output_stride: int,
    multi_grid: Sequence[int] | None,
    weights: Weights,
    model: str,
    strides: tuple[int, ...],
) -> None:
    label = _label(encoder)
    if weights is not None:
        raise ValueError(
            f"model {model!r}: encoder_weights applies to encoder names; load the weights into "
            f"the {type(encoder).__name__} before passing it as encoder="
        )
    if multi_grid is not None:
        raise ValueError(
            f"model {model!r}: multi_grid applies to encoder names; build the "
            f"{type(encoder).__name__} with its multi-grid rates instead"
        )
    encoder_in = getattr(encoder, "in_channels", None)
    if isinstance(encoder_in, int) and encoder_in != in_channels:
        raise ValueError(
            f"model {model!r}: {label} takes {encoder_in} input channels but "
            f"in_channels={in_channels}; build it with in_channels={in_channels} or pass "
            f"in_channels={encoder_in}"
        )
    if encoder.output_stride != output_stride:
        alternative = (
            f" or pass output_stride={encoder.output_stride}"
            if encoder.output_stride in strides and len(strides) > 1
            else ""
        )
        raise ValueError(
            f"model {model!r}: {label} has output_stride {encoder.output_stride} but "
            f"the model is built at {output_stride}; build it with "
            f"output_stride={output_stride}{alternative}"
        )


def stride4_index(encoder: Encoder, *, model: str = "deeplab_v3plus") -> int:
    """Index of the first feature map at stride 4 (DeepLab v3+'s low-level features)."""
    if 4 not in encoder.reductions:
        raise ValueError(
            f"model {model!r}: the decoder needs a stride-4 feature map; "
            f"{_label(encoder)} has reductions {tuple(encoder.reductions)}"
        )
    return encoder.reductions.index(4)
