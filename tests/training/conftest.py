from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from training_helpers import tiny_config


@pytest.fixture
def write_config(tmp_path: Path):  # type: ignore[no-untyped-def]
    def write(name: str = "config.yaml", **sections: dict[str, Any]) -> Path:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(tiny_config(tmp_path / "run", **sections)))
        return path

    return write
