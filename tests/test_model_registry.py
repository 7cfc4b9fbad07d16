"""``validate_model_options``: a config's ``model.options`` checked against the builder's
signature before anything is built, with one-line errors that name the model and the key."""

from __future__ import annotations

import inspect

import pytest

import pixelwise
from pixelwise import ModelOptionsError, create_model, list_models, validate_model_options
from pixelwise.registry import builder_options


def test_typo_names_model_key_and_suggestion() -> None:
    with pytest.raises(ModelOptionsError) as info:
        validate_model_options("deeplab_v3", {"bakcbone": "resnet18"})
    message = str(info.value)
    assert "\n" not in message
    assert "'deeplab_v3'" in message
    assert "unknown option 'bakcbone'" in message
    assert "did you mean 'backbone'?" in message
    # The valid options are listed with their defaults.
    assert "encoder='resnet50'" in message
    assert "backbone=None" in message  # the deprecated alias of encoder=
    assert "output_stride=16" in message
    assert "num_classes" not in message and "in_channels" not in message


def test_unknown_key_without_close_match_lists_valid_options() -> None:
    with pytest.raises(ModelOptionsError, match=r"unknown option 'xyz'; valid options: ") as info:
        validate_model_options("resunet", {"xyz": 1})
    assert "did you mean" not in str(info.value)
    assert "base_channels=64" in str(info.value)


def test_bad_literal_value_lists_choices() -> None:
    with pytest.raises(ModelOptionsError) as info:
        validate_model_options("unet", {"padding": "vaild"})
    message = str(info.value)
    assert "'unet'" in message and "'padding'" in message and "'vaild'" in message
    assert "one of 'same', 'valid'" in message


def test_optional_literal_accepts_none_and_choices_only() -> None:
    validate_model_options("fcn", {"variant": None})
    validate_model_options("fcn", {"variant": "16s"})
    with pytest.raises(ModelOptionsError, match=r"one of '32s', '16s', '8s' or None"):
        validate_model_options("fcn", {"variant": "4s"})


@pytest.mark.parametrize("key", ["num_classes", "in_channels"])
def test_data_arguments_refused(key: str) -> None:
    with pytest.raises(ModelOptionsError, match=rf"'{key}' is not allowed; {key} is set from"):
        validate_model_options("unet", {key: 3})


@pytest.mark.parametrize(
    ("name", "options", "expected"),
    [
        ("unet", {"batch_norm": "yes"}, r"'batch_norm' must be bool \(default True\), got 'yes'"),
        ("unet", {"depth": 2.5}, r"'depth' must be int"),
        ("unet", {"depth": True}, r"'depth' must be int"),
        ("parsenet", {"dropout": "0.1"}, r"'dropout' must be a number"),
        ("deeplab_v3", {"backbone": 18}, r"'backbone' must be str"),
        ("deeplab_v3", {"multi_grid": [1, 2]}, r"'multi_grid' must be a list of 3 values"),
        ("pspnet", {"bins": [1, "2"]}, r"'bins' must be a list of int"),
    ],
)
def test_bad_value_types(name: str, options: dict[str, object], expected: str) -> None:
    with pytest.raises(ModelOptionsError, match=expected):
        validate_model_options(name, options)


@pytest.mark.parametrize("name", list_models())
def test_default_options_validate(name: str) -> None:
    """Every registered model's defaults (given explicitly, and none at all) pass."""
    validate_model_options(name, {})
    defaults = {
        key: p.default
        for key, p in builder_options(name).items()
        if p.default is not inspect.Parameter.empty
    }
    validate_model_options(name, defaults)


def test_valid_non_default_options_pass() -> None:
    validate_model_options("deeplab_v3", {"backbone": "resnet18", "multi_grid": (1, 2, 4)})
    # YAML gives lists for tuples and ints for floats; both are accepted.
    validate_model_options("deeplab_v3plus", {"multi_grid": [1, 2, 4], "output_stride": 8})
    validate_model_options("parsenet", {"dropout": 0, "init_scale": 5})
    validate_model_options("unet", {"padding": "valid", "batch_norm": False, "depth": 3})
    validate_model_options("segnet", {"encoder_weights": "/tmp/vgg16_bn.pth"})


def test_unknown_model_is_a_key_error() -> None:
    with pytest.raises(KeyError, match="unknown model 'unett'"):
        validate_model_options("unett", {})


def test_create_model_validates_first() -> None:
    """The library gets the same error as a config, before any layer is built."""
    with pytest.raises(ModelOptionsError, match=r"did you mean 'base_channels'\?"):
        create_model("unet", num_classes=2, base_channel=8)
    with pytest.raises(ModelOptionsError, match="in_channels must be an int >= 1"):
        create_model("resunet", num_classes=2, in_channels=0)
    model = create_model("resunet", num_classes=2, in_channels=1, base_channels=4)
    assert model.in_channels == 1


def test_exported_and_a_value_error() -> None:
    assert pixelwise.validate_model_options is validate_model_options
    assert issubclass(pixelwise.ModelOptionsError, ValueError)
