"""Cross-process reduction for streaming metric states (``torch.distributed``)."""

from __future__ import annotations

import torch
import torch.distributed as dist


def is_distributed() -> bool:
    """True when ``torch.distributed`` is available and a default process group is initialised."""
    return dist.is_available() and dist.is_initialized()


def all_reduce_sum(state: torch.Tensor) -> torch.Tensor:
    """Return the element-wise sum of ``state`` over all ranks (a copy; ``state`` is untouched).

    Without an initialised process group this is a plain copy, so single-process code can call
    it unconditionally. The NCCL backend needs ``state`` on the rank's CUDA device; gloo works
    on CPU tensors.
    """
    total = state.clone()
    if not is_distributed():
        return total
    if dist.get_backend() == "nccl" and total.device.type != "cuda":
        on_gpu = total.to(torch.device("cuda", torch.cuda.current_device()))
        dist.all_reduce(on_gpu, op=dist.ReduceOp.SUM)
        return on_gpu.to(state.device)
    dist.all_reduce(total, op=dist.ReduceOp.SUM)
    return total


def all_gather_concat(state: torch.Tensor) -> torch.Tensor:
    """Concatenate a 1-D or 2-D ``state`` of varying length along dim 0 across ranks.

    Lengths differ between ranks, so the rows are padded to the longest rank before
    ``all_gather`` and trimmed afterwards.
    """
    if not is_distributed():
        return state.clone()
    home = state.device
    if dist.get_backend() == "nccl" and home.type != "cuda":
        state = state.to(torch.device("cuda", torch.cuda.current_device()))
    world = dist.get_world_size()
    length = torch.tensor([state.shape[0]], dtype=torch.int64, device=state.device)
    lengths = [torch.zeros_like(length) for _ in range(world)]
    dist.all_gather(lengths, length)
    longest = int(max(int(n.item()) for n in lengths))
    padded = state.new_zeros((longest, *state.shape[1:]))
    padded[: state.shape[0]] = state
    gathered = [torch.zeros_like(padded) for _ in range(world)]
    dist.all_gather(gathered, padded)
    return torch.cat([part[: int(n.item())] for part, n in zip(gathered, lengths)]).to(home)
