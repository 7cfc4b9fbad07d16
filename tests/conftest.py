"""Suite-wide settings."""

from __future__ import annotations

import os

import torch

# Under pytest-xdist each worker gets one core: one torch thread per worker avoids
# oversubscription (two workers x two threads on two cores runs several times slower).
if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)
