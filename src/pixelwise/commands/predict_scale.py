"""``pixelwise predict`` at scale: block-wise, sharded over torchrun ranks, resumable, COG output.

Run as ``torchrun --nproc_per_node=N -m pixelwise predict CKPT big.tif --out DIR --format cog``
(or without torchrun: the same code path with one process). For every input:

1. the output is cut into ``--block`` x ``--block`` blocks; block ``i`` (numbered across all the
   inputs) goes to rank ``i % world_size``; each rank predicts its blocks that
   ``DIR/<stem>.parts/`` lacks and writes each one atomically (the block files are the journal);
2. barrier; input ``j`` is assembled by rank ``j % world_size`` (rank 0 for a single input)
   into ``DIR/<stem>_labels.tif`` (and ``_probs.tif``), written under a temporary name and
   renamed into place last; then its parts folder is removed.

Running the same command again after a kill (any rank, any moment) skips the finished blocks;
since every block is a pure function of the image and its index, the result is identical to an
uninterrupted run with any number of processes.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from pixelwise.commands.predict_assemble import Format, assemble
from pixelwise.commands.predict_blocks import (
    Block,
    BlockPredictor,
    ProbDtype,
    block_grid,
    block_paths,
    check_manifest,
    halo_for,
    run_blocks,
)
from pixelwise.io import open_source
from pixelwise.record import TilingOptions
from pixelwise.training import LoadedModel, load_trained_model, pick_device
from pixelwise.training.distributed import DistInfo, barrier, cleanup, init_distributed

DEFAULT_BLOCK = 2048


@dataclass
class _Job:
    """One input file: where its parts and outputs go, its blocks and georeferencing."""

    path: Path
    parts: Path
    outputs: dict[str, Path]
    blocks: list[Block]
    height: int
    width: int
    crs: object
    transform: object

    @property
    def complete(self) -> bool:
        return all(path.exists() for path in self.outputs.values())


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def _log(info: DistInfo, message: str) -> None:
    prefix = f"[rank {info.rank}/{info.world_size}] " if info.enabled else ""
    print(f"{prefix}{message}", file=sys.stderr, flush=True)


def _manifest(
    checkpoint: Path, job: _Job, tiling: TilingOptions, block: int, halo: int, probs: str | None
) -> dict[str, object]:
    """What the block files depend on (not the number of processes)."""
    return {
        "checkpoint": str(checkpoint.resolve()),
        "checkpoint_bytes": checkpoint.stat().st_size,
        "input": str(job.path.resolve()),
        "input_bytes": job.path.stat().st_size,
        "height": job.height,
        "width": job.width,
        "block": block,
        "halo": halo,
        "tile": tiling.tile,
        "overlap": tiling.overlap,
        "blend": tiling.blend,
        "tta": tiling.tta,
        "probs": probs,
    }


def predict_scaled(
    loaded: LoadedModel,
    checkpoint: Path,
    paths: Sequence[Path],
    out: Path,
    *,
    tiling: TilingOptions,
    info: DistInfo,
    device: torch.device,
    fmt: Format = "cog",
    block: int = DEFAULT_BLOCK,
    probs: ProbDtype | None = None,
) -> list[Path]:
    """Sharded, resumable block-wise prediction of ``paths`` into ``out`` (see the module doc).
    Every rank calls this; returns the final paths on rank 0 and ``[]`` on the others."""
    from pixelwise.commands.predict import check_input_dtype

    record, pre = loaded.record, loaded.record.preprocessing
    halo = halo_for(tiling)
    predictor = BlockPredictor(loaded, tiling, halo, probs, device)
    jobs: list[_Job] = []
    counter = 0  # blocks are numbered across all the inputs, so small files spread over ranks
    for path in paths:
        outputs = {"labels": out / f"{path.stem}_labels.tif"}
        if probs is not None:
            outputs["probs"] = out / f"{path.stem}_probs.tif"
        with open_source(path, bands=pre.bands, nodata=pre.nodata) as source:
            check_input_dtype(record, source.dtype, str(path))
            blocks = block_grid(source.height, source.width, block)
            job = _Job(
                path,
                out / f"{path.stem}.parts",
                outputs,
                blocks,
                source.height,
                source.width,
                source.crs,
                source.transform,
            )
            jobs.append(job)
            if not job.complete:
                job.parts.mkdir(parents=True, exist_ok=True)
                check_manifest(job.parts, _manifest(checkpoint, job, tiling, block, halo, probs))
                mine = [
                    i for i in range(len(blocks)) if (counter + i) % info.world_size == info.rank
                ]
                done, skipped = run_blocks(predictor, source, job.parts, blocks, mine)
                _log(info, f"{path.name}: predicted {done} blocks, {skipped} already done")
        counter += len(blocks)
    barrier(info)
    for number, job in enumerate(jobs):
        if number % info.world_size != info.rank:
            continue
        if not job.complete:
            missing = [b.name for b in job.blocks if not block_paths(job.parts, b)[0].exists()]
            if missing:
                raise RuntimeError(f"{job.parts} lacks {len(missing)} blocks: {missing[:5]}...")
            assemble(
                job.outputs,
                job.parts,
                job.blocks,
                fmt=fmt,
                height=job.height,
                width=job.width,
                num_classes=record.num_outputs,
                prob_dtype=probs or "uint8",
                colors=record.labels.colors,
                crs=job.crs,
                transform=job.transform,
            )
        shutil.rmtree(job.parts, ignore_errors=True)
    barrier(info)
    if not info.is_main:
        return []
    return [path for job in jobs for path in job.outputs.values()]


def run_predict_scale(
    checkpoint: str | Path,
    paths: Sequence[Path],
    out: Path,
    *,
    tiling_changes: Mapping[str, object],
    device: str = "auto",
    fmt: Format = "cog",
    block: int | None = None,
    probs: ProbDtype | None = None,
) -> list[Path]:
    """Join torchrun's process group (when ``WORLD_SIZE > 1``), load the model and run
    :func:`predict_scaled`; the process group is left cleanly whatever happens."""
    if world_size() > 1:
        info, torch_device = init_distributed(device)
    else:
        info, torch_device = DistInfo(), pick_device(device)
    try:
        loaded = load_trained_model(checkpoint, torch_device)
        tiling = loaded.record.tiling.replace(**tiling_changes)
        out.mkdir(parents=True, exist_ok=True)
        return predict_scaled(
            loaded,
            Path(checkpoint),
            paths,
            out,
            tiling=tiling,
            info=info,
            device=torch_device,
            fmt=fmt,
            block=block or DEFAULT_BLOCK,
            probs=probs,
        )
    finally:
        cleanup(info)
