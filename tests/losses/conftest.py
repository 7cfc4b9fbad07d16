"""Run the loss tests single-threaded: on a shared 2-core machine, intra-op threading on these
tiny tensors is 20-100x slower than one thread. The previous setting is restored afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def _single_thread() -> Iterator[None]:
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
