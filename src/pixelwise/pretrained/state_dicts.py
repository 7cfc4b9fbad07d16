"""Strict state-dict checks whose errors name the file and the keys that differ."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import torch
from torch import Tensor, nn

from pixelwise.record import ModelRecord
from pixelwise.training import build_model

SHOWN = 5  # keys listed per kind of difference


class WeightsMismatchError(ValueError):
    """A weights file does not hold exactly the keys and shapes of the model it is for."""


def _listing(items: Sequence[str]) -> str:
    shown = ", ".join(items[:SHOWN])
    return shown if len(items) <= SHOWN else f"{shown} ... and {len(items) - SHOWN} more"


def as_state_dict(loaded: Any, *, source: str) -> dict[str, Tensor]:
    """``loaded`` as a ``{key: tensor}`` dict, or a :class:`WeightsMismatchError` saying what
    ``source`` holds instead."""
    if not isinstance(loaded, Mapping) or not all(
        isinstance(key, str) and isinstance(value, Tensor) for key, value in loaded.items()
    ):
        kind = type(loaded).__name__
        if isinstance(loaded, Mapping):
            kind = f"a dict with keys {_listing(sorted(str(key) for key in loaded))}"
        raise WeightsMismatchError(f"{source} does not hold a plain state dict (it holds {kind})")
    return dict(loaded)


def check_state_dict(
    expected: Mapping[str, Tensor], actual: Mapping[str, Tensor], *, source: str, what: str
) -> None:
    """Raise :class:`WeightsMismatchError` unless ``actual`` has exactly the keys of
    ``expected`` with the same shapes (what ``load_state_dict(strict=True)`` needs)."""
    want = {key: tuple(value.shape) for key, value in expected.items()}
    got = {key: tuple(value.shape) for key, value in actual.items()}
    missing = sorted(want.keys() - got.keys())
    unexpected = sorted(got.keys() - want.keys())
    reshaped = [
        f"{key} (expected {want[key]}, got {got[key]})"
        for key in sorted(want.keys() & got.keys())
        if want[key] != got[key]
    ]
    if not (missing or unexpected or reshaped):
        return
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing keys: {_listing(missing)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected keys: {_listing(unexpected)}")
    if reshaped:
        problems.append(f"{len(reshaped)} keys with other shapes: {_listing(reshaped)}")
    raise WeightsMismatchError(
        f"{source} does not hold {what} (expected {len(want)} keys, found {len(got)}): "
        + "; ".join(problems)
    )


def build_untrained(record: ModelRecord, *, meta: bool = False) -> nn.Module:
    """The model ``record`` describes, with no pretrained encoder download (its weights are
    about to be replaced); on the ``meta`` device (shapes only, no memory) when asked."""
    options = dict(record.options)
    if options.get("encoder_weights") is not None:
        options["encoder_weights"] = None
    bare = replace(record, options=options)
    if meta:
        with torch.device("meta"):
            return build_model(bare)
    return build_model(bare)


def load_model(
    record: ModelRecord, state_dict: Mapping[str, Tensor], *, source: str, what: str
) -> nn.Module:
    """The model ``record`` describes holding ``state_dict`` (checked first, then loaded with
    ``strict=True``), in eval mode on the CPU. It is built on the ``meta`` device and takes the
    loaded tensors as its own (cast to its dtypes): no random initialisation to throw away."""
    model = build_untrained(record, meta=True)
    expected = model.state_dict()
    check_state_dict(expected, state_dict, source=source, what=what)
    owned = {key: value.to(expected[key].dtype) for key, value in state_dict.items()}
    model.load_state_dict(owned, strict=True, assign=True)
    if any(t.is_meta for t in (*model.parameters(), *model.buffers())):
        # Tensors outside the state dict (non-persistent buffers) need a real build.
        model = build_untrained(record)
        model.load_state_dict(owned, strict=True)
    return model.eval()
