from __future__ import annotations

from pathlib import Path

import pytest

from pixelwise.training.config import Config, load_config
from pixelwise.training.config_schema import ConfigError


def test_load_and_override(write_config) -> None:  # type: ignore[no-untyped-def]
    config = load_config(write_config(), ["optim.lr=0.05", "model.options.base_channels=8"])
    assert isinstance(config, Config)
    assert config.optim.lr == 0.05
    assert config.model.options == {"base_channels": 8, "depth": 2}
    assert config.data.image_size == (32, 32)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("optim.lrr=0.1", "unknown key(s) lrr; valid keys: name, lr"),
        ("optim.lr=fast", "config.optim.lr: expected a number, got 'fast'"),
        ("optim.name=adam", "'adam' is not valid; choose one of 'sgd', 'adamw'"),
        ("model.name=unett", "unknown model 'unett'; valid: deeplab_v1"),
        ("loss.terms=[{name: dicee}]", "unknown loss 'dicee'; valid:"),
        ("loss.class_weights=median", "'median' is not valid; choose inverse_frequency"),
        ("data.dataset=camvid", "data.root: required for dataset 'camvid'"),
        ("data.root=/nonexistent/camvid", "does not exist"),
        ("train.epochs=0", "train.epochs: must be > 0, got 0"),
        ("data.image_size=[32]", "expected 2 values, got 1"),
    ],
)
def test_bad_values_are_named(write_config, override: str, message: str) -> None:  # type: ignore[no-untyped-def]
    extra = ["data.dataset=camvid"] if override.startswith("data.root") else []
    with pytest.raises(ConfigError) as info:
        load_config(write_config(), [*extra, override])
    assert message in str(info.value)
    assert "config.yaml" in str(info.value)


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_saved_config_round_trips(write_config, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = load_config(write_config())
    config.save(tmp_path / "saved.yaml")
    assert load_config(tmp_path / "saved.yaml") == config


def test_shipped_configs_are_valid() -> None:
    import importlib.resources

    folder = importlib.resources.files("pixelwise") / "configs"
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".yaml"))
    assert {"demo.yaml", "camvid_segnet_basic.yaml", "isbi2012_unet.yaml"} <= set(names)
    for name in names:
        overrides = []
        if "camvid" in name or "isbi" in name:
            # The shipped configs point at ../shared/data; validate them without the data.
            overrides = ["data.dataset=synthetic"]
        load_config(Path(str(folder / name)), overrides)
