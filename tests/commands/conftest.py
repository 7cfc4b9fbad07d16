"""Trained runs shared by the command tests (built once per session, a few seconds each)."""

from __future__ import annotations

import pytest
from trained_runs import TrainedRun, make_run


@pytest.fixture(scope="session")
def uint16_run(tmp_path_factory: pytest.TempPathFactory) -> TrainedRun:
    return make_run(tmp_path_factory.mktemp("uint16"), "uint16")


@pytest.fixture(scope="session")
def float32_run(tmp_path_factory: pytest.TempPathFactory) -> TrainedRun:
    return make_run(tmp_path_factory.mktemp("float32"), "float32")
