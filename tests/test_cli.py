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
