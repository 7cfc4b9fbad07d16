"""The import picture: the engine (``pixelwise.training``) knows nothing of tiling, the CRF or
argument parsing, and the stand-alone packages do not reach up into models or training."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import pixelwise

PACKAGE = Path(pixelwise.__file__).parent


def _imports(folder: Path) -> dict[str, set[str]]:
    """Module names imported (anywhere, lazily included) by each file under ``folder``."""
    found: dict[str, set[str]] = {}
    for path in sorted(folder.rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
        found[str(path.relative_to(PACKAGE))] = names
    return found


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("training", ("pixelwise.tiling", "pixelwise.crf", "pixelwise.commands", "pixelwise.cli",
                      "argparse")),
        ("tiling", ("pixelwise.models", "pixelwise.training", "pixelwise.commands")),
        ("crf", ("pixelwise.models", "pixelwise.training", "pixelwise.tiling")),
        ("losses", ("pixelwise.models", "pixelwise.training", "pixelwise.tiling")),
        ("metrics", ("pixelwise.models", "pixelwise.training", "pixelwise.tiling")),
        ("data", ("pixelwise.models", "pixelwise.training", "pixelwise.tiling")),
        ("io", ("pixelwise.data", "pixelwise.models", "pixelwise.training", "pixelwise.tiling")),
        ("commands", ("argparse", "pixelwise.cli")),
    ],
)  # fmt: skip
def test_imports_point_one_way(package: str, forbidden: tuple[str, ...]) -> None:
    offenders = [
        f"{path} imports {name}"
        for path, names in _imports(PACKAGE / package).items()
        for name in names
        if any(name == bad or name.startswith(bad + ".") for bad in forbidden)
    ]
    assert not offenders, offenders


def test_importing_the_engine_loads_no_tiling_or_crf() -> None:
    code = (
        "import sys, pixelwise.training; "
        "print(sorted(m for m in sys.modules if m.startswith(('pixelwise.tiling', "
        "'pixelwise.crf', 'pixelwise.commands'))))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
