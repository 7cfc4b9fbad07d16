"""torchrun / DDP helpers: the same code runs on 1 CPU or many GPUs on many nodes."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_distributed(device_preference: str = "auto") -> tuple[DistInfo, torch.device]:
    """Join the process group that ``torchrun`` describes in the environment (``RANK``,
    ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``...) and choose the device.

    NCCL on CUDA, gloo on CPU. Without torchrun's variables this is a single process.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device_preference == "auto":
        use_cuda = torch.cuda.is_available()
    else:
        use_cuda = device_preference.startswith("cuda")
    if use_cuda:
        device = torch.device("cuda", local_rank if world_size > 1 else 0)
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu" if device_preference == "auto" else device_preference)
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return DistInfo(rank, world_size, local_rank), device


def shard_indices(indices: list[int], info: DistInfo) -> list[int]:
    """This rank's share of ``indices``: every ``world_size``-th item, padded by wrapping so
    every rank gets the same count (as ``DistributedSampler`` does)."""
    if info.world_size == 1:
        return indices
    total = -(-len(indices) // info.world_size) * info.world_size
    padded = indices + indices[: total - len(indices)]
    return padded[info.rank :: info.world_size]


def barrier(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.barrier()


def all_reduce_mean(value: float, info: DistInfo, device: torch.device) -> float:
    if not info.enabled:
        return value
    tensor = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return float(tensor.item()) / info.world_size


def cleanup(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()
