"""Fixtures for the data tests: the read-only real datasets in /work/shared/data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# The repository sits next to shared/data (see shared/data/README.md); overridable for CI.
SHARED_DATA = Path(
    os.environ.get("PIXELWISE_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data")
)


@pytest.fixture(scope="session")
def camvid_root() -> Path:
    return SHARED_DATA / "camvid"


@pytest.fixture(scope="session")
def isbi_root() -> Path:
    return SHARED_DATA / "isbi2012"
