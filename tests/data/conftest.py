"""Fixtures for the data tests: the read-only real datasets in /work/shared/data."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared_paths import SHARED_DATA


@pytest.fixture(scope="session")
def camvid_root() -> Path:
    return SHARED_DATA / "camvid"


@pytest.fixture(scope="session")
def isbi_root() -> Path:
    return SHARED_DATA / "isbi2012"
