"""Two gloo processes (CPU, file rendezvous): synced states equal one process on all the data."""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from pixelwise.metrics import AveragePrecision, BoundaryF1, ConfusionMatrix

C = 4
IGNORE = 255


def _dataset() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    target = torch.randint(0, C, (6, 16, 16), generator=g)
    target[:, :2] = IGNORE
    logits = torch.randn(6, C, 16, 16, generator=g)
    return logits, target


def _states(logits: torch.Tensor, target: torch.Tensor):
    matrix = ConfusionMatrix(C, IGNORE)
    binned = AveragePrecision(C, bins=100, ignore_index=IGNORE, from_logits=True)
    exact = AveragePrecision(C, bins=None, ignore_index=IGNORE, from_logits=True)
    boundary = BoundaryF1(C, tolerance=1, ignore_index=IGNORE, backend="torch")
    for metric in (matrix, binned, exact, boundary):
        metric.update(logits, target)
    return matrix, binned, exact, boundary


def _worker(rank: int, init_file: str, out_dir: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    try:
        logits, target = _dataset()
        # uneven shards: rank 0 gets 4 images, rank 1 gets 2
        part = slice(0, 4) if rank == 0 else slice(4, 6)
        matrix, binned, exact, boundary = _states(logits[part], target[part])
        result = {
            "matrix": matrix.sync().matrix,
            "local": matrix.matrix.clone(),
            "binned": binned.sync().compute(),
            "exact": exact.sync().compute(),
            "boundary": boundary.sync().compute(),
        }
        torch.save(result, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def test_two_process_sync_equals_single_process(tmp_path):
    mp.spawn(_worker, args=(str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)
    matrix, binned, exact, boundary = _states(*_dataset())
    for rank in range(2):
        result = torch.load(tmp_path / f"rank{rank}.pt")
        assert torch.equal(result["matrix"], matrix.matrix)
        assert int(result["local"].sum()) < int(matrix.matrix.sum())  # local state untouched
        torch.testing.assert_close(result["binned"], binned.compute(), equal_nan=True)
        torch.testing.assert_close(result["exact"], exact.compute(), equal_nan=True)
        assert abs(result["boundary"] - boundary.compute()) < 1e-12
