"""Every encoder's state dict is torchvision's minus the classifier (fixtures from 0.29.1)."""

from __future__ import annotations

import math

import pytest
import torch

from pixelwise.encoders import create_encoder
from torchvision_fixtures import ENCODER_NAMES, random_state_dict, torchvision_shapes

# Parameter counts of torchvision 0.29.1's classifiers (fixtures README).
TORCHVISION_PARAMETERS = {
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "vgg16": 138_357_544,
    "vgg16_bn": 138_365_992,
    "mobilenet_v2": 3_504_872,
}


def _is_parameter_key(key: str) -> bool:
    return not key.endswith(("running_mean", "running_var", "num_batches_tracked"))


@pytest.mark.parametrize("name", ENCODER_NAMES)
def test_keys_shapes_and_strict_loading(name: str) -> None:
    shapes = torchvision_shapes(name)
    encoder = create_encoder(name)
    classifier = encoder.classifier_prefixes
    assert classifier, "every torchvision backbone has a classifier to drop"
    expected = {key: shape for key, shape in shapes.items() if not key.startswith(classifier)}
    assert len(expected) < len(shapes)
    assert {key: tuple(value.shape) for key, value in encoder.state_dict().items()} == expected

    # Encoder parameters + torchvision's classifier parameters = torchvision's total.
    classifier_parameters = sum(
        math.prod(shape)
        for key, shape in shapes.items()
        if key.startswith(classifier) and _is_parameter_key(key)
    )
    encoder_parameters = sum(parameter.numel() for parameter in encoder.parameters())
    assert encoder_parameters + classifier_parameters == TORCHVISION_PARAMETERS[name]

    state = random_state_dict(shapes, seed=1, placeholder_prefixes=classifier)
    encoder.load_torchvision_state_dict(state)
    loaded = encoder.state_dict()
    first_key, last_key = next(iter(expected)), list(expected)[-1]
    assert torch.equal(loaded[first_key], state[first_key])
    assert torch.equal(loaded[last_key], state[last_key])


def test_resnet50_parameter_count_without_fc() -> None:
    # torchvision resnet50 25,557,032 minus fc (2048 * 1000 + 1000 = 2,049,000).
    encoder = create_encoder("resnet50")
    assert sum(parameter.numel() for parameter in encoder.parameters()) == 23_508_032


@pytest.mark.parametrize("name", ["resnet18", "vgg16_bn", "mobilenet_v2"])
def test_strict_loading_rejects_missing_and_unexpected_keys(name: str) -> None:
    shapes = torchvision_shapes(name)
    encoder = create_encoder(name)
    state = random_state_dict(shapes, placeholder_prefixes=encoder.classifier_prefixes)
    missing = dict(state)
    missing.pop(next(iter(missing)))
    with pytest.raises(RuntimeError, match="Missing key"):
        encoder.load_torchvision_state_dict(missing)
    unexpected = dict(state, **{"extra.weight": torch.zeros(1)})
    with pytest.raises(RuntimeError, match="Unexpected key"):
        encoder.load_torchvision_state_dict(unexpected)
