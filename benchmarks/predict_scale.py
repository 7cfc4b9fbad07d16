"""Block-wise, torchrun-sharded prediction: throughput, peak RSS and journal overhead.

A synthetic 3-band uint8 tiled GeoTIFF (``--size`` x ``--size``, generated once into
``--cache``, never committed) is segmented by a tiny U-Net trained on the fly (a few seconds,
the cost of the model is not the point) with ``pixelwise predict --format cog --block 2048``:

* 1 process and ``torchrun --nproc_per_node=2`` (gloo, CPU, ``OMP_NUM_THREADS=1`` per rank);
* the plain streaming path (``pixelwise predict``, today's GeoTIFF writer, 1 process) as the
  no-journal reference;
* the journal itself: writing (atomic ``np.save`` + fsync + rename) and reading back every
  2048^2 block file of the labels.

Peak RSS: each run is a child of a small wrapper that reports ``ru_maxrss`` of its children
(the largest process: a rank, or torchrun's agent). Usage::

    python benchmarks/predict_scale.py [--size 20000] [--cache DIR]

prints a table and writes ``benchmarks/results/predict_scale.json`` (with the CPU model).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

RESULTS = Path(__file__).resolve().parent / "results" / "predict_scale.json"
WRAP = (
    "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]).returncode; "
    "print('MAXRSS', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(r)"
)


def make_image(path: Path, size: int) -> None:
    import rasterio
    from rasterio.transform import from_origin

    if path.exists():
        return
    rng = np.random.default_rng(0)
    pattern = rng.integers(0, 256, size=(3, 1024, size), dtype=np.uint8)
    profile = {
        "driver": "GTiff",
        "height": size,
        "width": size,
        "count": 3,
        "dtype": "uint8",
        "crs": "EPSG:32633",
        "transform": from_origin(500000, 4100000, 1, 1),
        "tiled": True,
        "blockxsize": 512,
        "blockysize": 512,
        "BIGTIFF": "IF_SAFER",
    }
    tmp = path.with_suffix(".partial")
    with rasterio.open(tmp, "w", **profile) as dst:
        for row0 in range(0, size, 1024):
            rows = min(1024, size - row0)
            window = rasterio.windows.Window(0, row0, size, rows)
            dst.write(np.roll(pattern, row0 // 1024, axis=2)[:, :rows], window=window)
    os.replace(tmp, path)


def make_checkpoint(root: Path) -> Path:
    checkpoint = root / "run" / "best.pt"
    if checkpoint.exists():
        return checkpoint
    config = {
        "model": {"name": "unet", "options": {"base_channels": 8, "depth": 3}},
        "data": {"dataset": "synthetic", "train_samples": 8, "val_samples": 4, "batch_size": 4},
        "optim": {"name": "adamw", "lr": 0.01},
        "train": {"epochs": 1, "output_dir": str(root / "run"), "progress": False, "plots": False},
        "tiling": {"tile": 512, "overlap": 32, "blend": "gaussian", "batch_size": 4},
    }
    (root / "config.yaml").write_text(yaml.safe_dump(config))
    subprocess.run(
        [sys.executable, "-m", "pixelwise", "train", str(root / "config.yaml")],
        check=True,
        capture_output=True,
    )
    return checkpoint


def timed(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(seconds, peak RSS in MiB of the largest child process) of one command."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", WRAP, sys.executable, *args], env=env, capture_output=True, text=True
    )
    seconds = time.perf_counter() - start
    if done.returncode:
        raise RuntimeError(done.stderr[-3000:])
    rss = next(line for line in done.stdout.splitlines() if line.startswith("MAXRSS"))
    return seconds, int(rss.split()[1]) / 1024


def journal_cost(labels: Path, parts: Path, block: int) -> dict[str, float]:
    """Write (atomic) and read back every block of the labels as the journal does."""
    import rasterio

    from pixelwise.commands.predict_blocks import block_grid, save_atomic

    parts.mkdir(exist_ok=True)
    with rasterio.open(labels) as ds:
        array = ds.read(1)
    blocks = block_grid(*array.shape, block)
    start = time.perf_counter()
    for b in blocks:
        save_atomic(parts / f"{b.name}.npy", array[b.row0 : b.row1, b.col0 : b.col1].copy())
    write = time.perf_counter() - start
    start = time.perf_counter()
    for b in blocks:
        np.load(parts / f"{b.name}.npy")
    read = time.perf_counter() - start
    size = sum(p.stat().st_size for p in parts.glob("*.npy"))
    return {"blocks": len(blocks), "write_s": write, "read_s": read, "bytes": size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=20000)
    parser.add_argument("--block", type=int, default=2048)
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "pixelwise-bench"))
    args = parser.parse_args()
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    image = cache / f"synthetic_{args.size}.tif"
    make_image(image, args.size)
    checkpoint = make_checkpoint(cache)
    mpx = args.size * args.size / 1e6
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    predict = ["-m", "pixelwise", "predict", str(checkpoint), str(image), "--device", "cpu"]
    blockwise = ["--format", "cog", "--block", str(args.block)]
    torchrun = ["-m", "torch.distributed.run", "--standalone"]
    runs = {
        "block-wise COG, 1 process": [*predict, "--out", str(cache / "out1"), *blockwise],
        "block-wise COG, torchrun 2": [
            *torchrun,
            "--nproc_per_node=2",
            *predict,
            "--out",
            str(cache / "out2"),
            *blockwise,
        ],
        "streaming GTiff (no journal), 1 process": [*predict, "--out", str(cache / "plain")],
    }
    rows = []
    for name, command in runs.items():
        out = Path(command[command.index("--out") + 1])
        for stale in out.glob("*_labels.tif") if out.exists() else []:
            stale.unlink()
        seconds, rss = timed(command, env)
        rows.append({"run": name, "seconds": seconds, "mpx_per_s": mpx / seconds, "rss_mib": rss})
    journal = journal_cost(cache / "out1" / f"{image.stem}_labels.tif", cache / "jparts", 2048)
    cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = next((ln.split(":", 1)[1].strip() for ln in cpu.splitlines() if "Model name" in ln), "")
    print(f"{args.size} x {args.size} ({mpx:.0f} Mpx), block {args.block}, CPU {model}")
    print(f"{'run':42s} {'s':>8s} {'Mpx/s':>8s} {'peak RSS MiB':>13s}")
    for row in rows:
        seconds, speed, rss = row["seconds"], row["mpx_per_s"], row["rss_mib"]
        print(f"{row['run']:42s} {seconds:8.1f} {speed:8.3f} {rss:13.0f}")
    print(
        f"journal: {journal['blocks']} label blocks, {journal['bytes'] / 2**20:.0f} MiB, "
        f"write {journal['write_s']:.2f} s, read {journal['read_s']:.2f} s "
        f"({100 * (journal['write_s'] + journal['read_s']) / rows[0]['seconds']:.2f} % of the "
        "1-process run)"
    )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "size": args.size,
                "block": args.block,
                "cpu": model,
                "cores": os.cpu_count(),
                "omp_threads_per_process": 1,
                "runs": rows,
                "journal": journal,
            },
            indent=2,
        )
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
