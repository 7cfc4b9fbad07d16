"""torchvision's key/shape fixtures and random state dicts of those shapes (for any test)."""

from __future__ import annotations

import json

import pytest
import torch

from shared_paths import FIXTURES  # noqa: E402

ENCODER_NAMES = (
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "vgg16",
    "vgg16_bn",
    "mobilenet_v2",
)


def torchvision_shapes(name: str) -> dict[str, tuple[int, ...]]:
    """Key -> shape of ``torchvision.models.<name>(weights=None).state_dict()`` (0.29.1)."""
    path = FIXTURES / f"{name}.json"
    if not path.is_file():
        pytest.fail(f"fixture {path} is missing")
    state = json.loads(path.read_text())["state_dict"]
    return {key: tuple(shape) for key, shape in state.items()}


def random_state_dict(
    shapes: dict[str, tuple[int, ...]],
    seed: int = 0,
    placeholder_prefixes: tuple[str, ...] = (),
) -> dict[str, torch.Tensor]:
    """A state dict with every key of ``shapes``: random floats, integer batch counters.

    Keys starting with ``placeholder_prefixes`` (a classifier the encoder drops) get a zero
    scalar expanded to the shape, so VGG's 400 MB fc6 costs no memory.
    """
    generator = torch.Generator().manual_seed(seed)
    state: dict[str, torch.Tensor] = {}
    for key, shape in shapes.items():
        if placeholder_prefixes and key.startswith(placeholder_prefixes):
            state[key] = torch.zeros(()).expand(shape)
        elif key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(7, dtype=torch.long)
        elif key.endswith("running_var"):
            state[key] = torch.rand(shape, generator=generator) + 0.5
        else:
            state[key] = torch.randn(shape, generator=generator) * 0.05
    return state
