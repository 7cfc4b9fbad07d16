"""Where the read-only shared material (real datasets, torchvision key fixtures) lives.

The repository normally sits beside ``shared/`` (``../shared`` from its root). A clone elsewhere
finds it through ``PIXELWISE_SHARED`` or the workplace's ``/work/shared``. Tests that need it fail
(they never skip) when it is missing, naming where they looked.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _find_shared() -> Path:
    candidates = [REPO.parent / "shared", Path("/work/shared")]
    if os.environ.get("PIXELWISE_SHARED"):
        candidates.insert(0, Path(os.environ["PIXELWISE_SHARED"]))
    for candidate in candidates:
        if (candidate / "data").is_dir():
            return candidate
    return candidates[0]


SHARED = _find_shared()
SHARED_DATA = Path(os.environ.get("PIXELWISE_SHARED_DATA", SHARED / "data"))
FIXTURES = SHARED / "fixtures" / "torchvision_keys"
