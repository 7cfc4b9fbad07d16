"""timm backbones as pixelwise encoders: ``create_timm_encoder("convnext_tiny")``.

:func:`create_timm_encoder` wraps ``timm.create_model(name, features_only=True, ...)`` in a
:class:`TimmEncoder` that follows the :class:`~pixelwise.encoders.Encoder` contract (channels and
reductions as timm's ``feature_info`` reports them). ``create_encoder("tu-<timm name>")`` calls
it. timm is optional (``pip install 'pixelwise[timm]'``, which needs a torchvision release
matching the installed torch); this module imports without it and imports timm when called.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from pixelwise.encoders.base import Encoder
from pixelwise.encoders.weights import _unwrap_checkpoint, adapt_input_channels

_STRIDES = (8, 16, 32)
# create_timm_encoder's own arguments; passing timm's names for them in kwargs is an error.
_RESERVED = {
    "features_only": "it is always True",
    "pretrained": "use weights='imagenet'",
    "in_chans": "use in_channels=",
    "output_stride": "use output_stride=",
}
# timm options that only a features_only model takes (left out when building the full model).
_FEATURE_OPTIONS = ("out_indices", "feature_cfg", "feature_cls", "flatten_sequential")


def _import_timm() -> Any:
    try:
        return importlib.import_module("timm")
    except ImportError as error:
        raise ImportError(
            "timm encoders ('tu-<timm name>') need timm: pip install 'pixelwise[timm]' (timm "
            "needs torchvision, whose release must match the installed torch)"
        ) from error


class TimmEncoder(Encoder):
    """A timm ``features_only`` model as an :class:`Encoder` (build it with
    :func:`create_timm_encoder`).

    ``forward(x)`` returns timm's feature maps shallow to deep, as ``(N, C, H, W)`` tensors
    (channels-last outputs of e.g. Swin are permuted). ``out_channels`` and ``reductions`` are
    ``feature_info.channels()`` and ``.reduction()``: a ConvNeXt gives reductions
    ``(4, 8, 16, 32)`` (no stride-2 map), a ResNet ``(2, 4, 8, 16, 32)``. ``model`` is the timm
    module, so the state-dict keys are ``model.`` + timm's feature-model keys.
    """

    def __init__(self, model: nn.Module, *, name: str, in_channels: int) -> None:
        super().__init__()
        self.model = model
        self.name = name
        self.in_channels = in_channels
        feature_info: Any = getattr(model, "feature_info", None)
        if feature_info is None:
            raise TypeError(f"timm model {name!r} has no feature_info; build it features_only")
        self.out_channels = tuple(int(channels) for channels in feature_info.channels())
        self.reductions = tuple(int(reduction) for reduction in feature_info.reduction())
        # timm's Format is a str enum; Swin-like feature models return NHWC maps.
        output_fmt = getattr(model, "output_fmt", "NCHW")
        self.channels_last = getattr(output_fmt, "value", output_fmt) == "NHWC"

    def forward(self, x: Tensor) -> list[Tensor]:
        features: Any = self.model(x)
        maps = list(features.values()) if isinstance(features, dict) else list(features)
        if self.channels_last:
            maps = [feature.permute(0, 3, 1, 2) for feature in maps]
        return maps


def _create_options(in_channels: int, output_stride: int, kwargs: dict[str, Any]) -> dict[str, Any]:
    options: dict[str, Any] = {"features_only": True, "in_chans": in_channels, **kwargs}
    if output_stride != 32:
        options["output_stride"] = output_stride
    return options


def _final_reduction(timm: Any, name: str, options: dict[str, Any]) -> int | None:
    """The deepest reduction of ``name`` built with ``options`` (random init, on the meta device
    when timm can build it there: no memory, no download), or None if timm cannot build it so."""
    for device in ("meta", "cpu"):
        try:
            with torch.device(device):
                model = timm.create_model(name, pretrained=False, **options)
            return int(model.feature_info.reduction()[-1])
        except Exception:  # any failure means "not buildable so" (on the CPU too)
            continue
    return None


def _supported_strides(timm: Any, name: str, in_channels: int, kwargs: dict[str, Any]) -> list[int]:
    return [
        stride
        for stride in _STRIDES
        if (reduction := _final_reduction(timm, name, _create_options(in_channels, stride, kwargs)))
        is not None
        and (stride == 32 or reduction == stride)
    ]


def _stride_error(
    timm: Any, name: str, in_channels: int, output_stride: int, kwargs: dict[str, Any]
) -> ValueError | None:
    """The one-line error if timm cannot build ``name`` at ``output_stride``, else None."""
    supported = _supported_strides(timm, name, in_channels, kwargs)
    if output_stride in supported or not supported:  # not supported at all: not a stride issue
        return None
    return ValueError(
        f"timm model {name!r} does not support output_stride={output_stride}; it works with "
        f"output_stride {' or '.join(map(str, supported))}"
    )


def _prefixes(value: object) -> tuple[str, ...]:
    """A pretrained_cfg entry ("fc", "head.fc" or a tuple of them) as a tuple of names."""
    if isinstance(value, str):
        return (value,) if value else ()
    if isinstance(value, Iterable):
        return tuple(item for item in value if isinstance(item, str) and item)
    return ()


def _under(key: str, names: tuple[str, ...]) -> bool:
    return any(key == name or key.startswith(name + ".") for name in names)


def _read_state_dict(path: Path) -> dict[str, Tensor]:
    if path.suffix == ".safetensors":
        safetensors_torch: Any = importlib.import_module("safetensors.torch")
        state_dict: dict[str, Tensor] = safetensors_torch.load_file(str(path), device="cpu")
        return state_dict
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    return _unwrap_checkpoint(checkpoint, str(path))


def _source_key(key: str, source_keys: set[str]) -> str | None:
    """The key of timm's classification model that the feature model's ``key`` holds.

    timm's feature wrappers keep the model's keys (EfficientNetFeatures), prefix them with
    ``model.`` (FeatureGetterNet) or flatten top-level ``nn.Sequential`` children into one
    name (FeatureListNet, ``stages.0.x`` -> ``stages_0.x``).
    """
    if key in source_keys:
        return key
    if key.startswith("model.") and key[len("model.") :] in source_keys:
        return key[len("model.") :]
    head, dot, rest = key.partition(".")
    found = [
        candidate
        for index, character in enumerate(head)
        if character == "_"
        and (candidate := f"{head[:index]}.{head[index + 1 :]}{dot}{rest}") in source_keys
    ]
    return found[0] if len(found) == 1 else None


def _load_local_weights(
    encoder: TimmEncoder,
    timm: Any,
    name: str,
    path: Path,
    full_options: dict[str, Any],
) -> None:
    """Load a state dict of timm's classification model ``name`` into ``encoder``.

    Strict: the file must hold exactly the keys (and shapes) of that model apart from its
    classifier (``pretrained_cfg["classifier"]``, dropped whatever its class count); the first
    conv is adapted to ``encoder.in_channels`` with :func:`adapt_input_channels`.
    """
    try:
        with torch.device("meta"):
            full = timm.create_model(name, pretrained=False, **full_options)
    except Exception:  # a model that cannot be built on the meta device is built for real
        with torch.device("cpu"):
            full = timm.create_model(name, pretrained=False, **full_options)
    config: dict[str, Any] = dict(getattr(full, "pretrained_cfg", None) or {})
    classifier = _prefixes(config.get("classifier"))
    first_convs = {f"{conv}.weight" for conv in _prefixes(config.get("first_conv"))}
    expected = {k: v.shape for k, v in full.state_dict().items() if not _under(k, classifier)}

    state_dict = {
        key: value for key, value in _read_state_dict(path).items() if not _under(key, classifier)
    }
    for key in first_convs & set(state_dict):
        kernel = state_dict[key]
        if kernel.ndim == 4 and kernel.shape[1] != encoder.in_channels:
            state_dict[key] = adapt_input_channels(kernel, encoder.in_channels)
    missing = sorted(set(expected) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(expected))
    mismatched = sorted(
        key
        for key in set(expected) & set(state_dict)
        if tuple(state_dict[key].shape) != tuple(expected[key])
    )
    if missing or unexpected or mismatched:
        raise RuntimeError(
            f"{path} is not a state dict of timm's {name!r} (classifier aside): "
            f"missing {missing[:5]}, unexpected {unexpected[:5]}, shape mismatch "
            f"{mismatched[:5]} ({len(missing)}, {len(unexpected)}, {len(mismatched)} keys)"
        )
    target: dict[str, Tensor] = {}
    source_keys = set(state_dict)
    for key in encoder.model.state_dict():
        source = _source_key(key, source_keys)
        if source is None:
            raise RuntimeError(f"no key of {path} matches {key!r} of timm's {name!r} features")
        target[key] = state_dict[source]
    encoder.model.load_state_dict(target, strict=True)


def create_timm_encoder(
    name: str,
    *,
    in_channels: int = 3,
    output_stride: int = 32,
    weights: str | os.PathLike[str] | None = None,
    **kwargs: Any,
) -> TimmEncoder:
    """Build timm's ``name`` as an encoder: ``timm.create_model(name, features_only=True)``.

    Args:
        name: a timm model name (``timm.list_models()``), e.g. ``"convnext_tiny"``; a
            pretrained tag (``"resnet50.a1_in1k"``) picks timm's weights for "imagenet".
        in_channels: input bands (timm's ``in_chans``).
        output_stride: 32, or 16/8 where timm can dilate the model; otherwise a ``ValueError``
            says which strides work.
        weights: None (random init), ``"imagenet"`` (timm's pretrained weights, downloaded: needs
            the network; timm adapts the first conv to ``in_channels``) or a path to a state
            dict of timm's classification model ``name`` (``.pth``/``.pt`` or
            ``.safetensors``), loaded strictly apart from the classifier, the first conv
            adapted to ``in_channels`` with :func:`adapt_input_channels`.
        kwargs: more options for ``timm.create_model`` (e.g. ``drop_path_rate=0.1``).

    Raises:
        ImportError: timm is not installed.
        KeyError: timm has no model ``name``.
        ValueError: ``output_stride`` is not supported by the model.
        RuntimeError: the pretrained download failed, or the file does not fit the model.
    """
    if in_channels < 1:
        raise ValueError(f"in_channels must be >= 1, got {in_channels}")
    for key, advice in _RESERVED.items():
        if key in kwargs:
            raise ValueError(f"create_timm_encoder sets timm's {key!r} itself: {advice}")
    timm = _import_timm()
    if ":" not in name and not timm.is_model(name):  # "hf-hub:..." names go straight to timm
        raise KeyError(f"timm has no model {name!r}; list them with timm.list_models('*pattern*')")
    path: Path | None = None
    pretrained = isinstance(weights, str) and weights == "imagenet"
    if weights is not None and not pretrained:
        path = Path(weights)
        if not path.is_file():
            raise FileNotFoundError(
                f"weights={str(weights)!r} is neither 'imagenet', None nor an existing file"
            )
    options = _create_options(in_channels, output_stride, kwargs)
    try:
        model = timm.create_model(name, pretrained=pretrained, **options)
    except Exception as error:
        stride_error = (
            _stride_error(timm, name, in_channels, output_stride, kwargs)
            if output_stride != 32
            else None
        )
        if stride_error is not None:
            raise stride_error from error
        if pretrained:
            raise RuntimeError(
                f"could not load timm's pretrained weights for {name!r} "
                f"({type(error).__name__}: {error}); weights='imagenet' downloads them and "
                "needs the network. Offline, download the timm state dict elsewhere and pass "
                "its local path as weights="
            ) from error
        raise
    encoder = TimmEncoder(model, name=name, in_channels=in_channels)
    if output_stride != 32 and encoder.output_stride != output_stride:
        # timm took the option but did not dilate to it (the final reduction says so).
        stride_error = _stride_error(timm, name, in_channels, output_stride, kwargs)
        raise stride_error or ValueError(
            f"timm model {name!r} does not support output_stride={output_stride}"
        )
    if path is not None:
        full_options = {key: value for key, value in options.items() if key != "features_only"}
        for key in _FEATURE_OPTIONS:
            full_options.pop(key, None)
        _load_local_weights(encoder, timm, name, path, full_options)
    return encoder
