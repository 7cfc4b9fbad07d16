from __future__ import annotations

import subprocess
import sys

import pytest

import pixelwise
from pixelwise.cli import main


def test_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"pixelwise {pixelwise.__version__}"


def test_help_lists_commands() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pixelwise", "--help"], capture_output=True, text=True, check=True
    )
    assert "models" in result.stdout


def test_models_command_lists_registry(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for name in pixelwise.list_models():
        assert name in out


def test_train_typo_in_model_options_fails_before_any_data_is_read(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import yaml

    from pixelwise.training import data_setup

    def no_data(*args: object, **kwargs: object) -> None:
        raise AssertionError("data was read before the config was validated")

    monkeypatch.setattr(data_setup, "build_split", no_data)
    monkeypatch.setattr(data_setup, "build_data", no_data)
    config = tmp_path / "typo.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "model": {"name": "deeplab_v3", "options": {"bakcbone": "resnet18"}},
                "train": {"output_dir": str(tmp_path / "run")},
            }
        )
    )
    assert main(["train", str(config)]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1, error
    assert "'deeplab_v3'" in error and "'bakcbone'" in error and "did you mean 'backbone'" in error
    assert not (tmp_path / "run").exists()
