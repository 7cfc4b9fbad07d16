"""Parameters, GFLOPs and CPU latency of every registered model, before and after
``optimize_for_inference`` (BatchNorm folding + channels-last), as a fraction of this machine's
fp32 matmul peak measured in the same run.

    python benchmarks/models.py [--models a,b] [--runs N] [--quick] [--threads 2] [--size 512]

Writes ``benchmarks/results/models.json``. Anchors quoted in the issue (other libraries, same
1x3x512x512 input, 2 threads): torchvision deeplabv3_resnet50 327 GFLOP in 2.58 s (127 GFLOP/s),
fcn_resnet50 147 GFLOP/s, smp Unet-resnet34 0.57 s (113 GFLOP/s); "deeplab_v3@torchvision"
below is the same network as torchvision's deeplabv3_resnet50.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch
from torch import nn

import pixelwise
from pixelwise.layers import module_cost
from pixelwise.models._inference import optimize_for_inference
from pixelwise.models.deeplab_v3 import TORCHVISION_DEEPLABV3_RESNET50

RESULTS = Path(__file__).resolve().parent / "results" / "models.json"
# Extra configurations benchmarked next to the registry defaults: name -> (model, options).
EXTRA_CONFIGS: dict[str, tuple[str, dict[str, object]]] = {
    "deeplab_v3@torchvision": ("deeplab_v3", dict(TORCHVISION_DEEPLABV3_RESNET50)),
}


def matmul_peak_gflops(runs: int = 10, size: int = 2048) -> float:
    """Best-of-``runs`` GFLOP/s of an fp32 ``size x size`` matmul (2 n^3 FLOPs)."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def latencies(model: nn.Module, x: torch.Tensor, *, warmup: int, runs: int) -> list[float]:
    """Seconds of each timed ``model(x)`` in eval mode under ``torch.inference_mode``."""
    timings = []
    with torch.inference_mode():
        for _ in range(warmup):
            model(x)
        for _ in range(runs):
            start = time.perf_counter()
            model(x)
            timings.append(time.perf_counter() - start)
    return timings


def benchmark(
    label: str, name: str, options: dict[str, object], size: int, warmup: int, runs: int
) -> dict[str, object]:
    torch.manual_seed(0)
    model = pixelwise.create_model(name, num_classes=21, **options).eval()
    in_channels = int(getattr(model, "in_channels", 3))
    x = torch.randn(1, in_channels, size, size)
    cost = module_cost(model, tuple(x.shape))
    gflop = cost.flops / 1e9
    before_runs = latencies(model, x, warmup=warmup, runs=runs)
    fast = optimize_for_inference(model)
    x_fast = x.contiguous(memory_format=torch.channels_last)
    after_runs = latencies(fast, x_fast, warmup=warmup, runs=runs)
    before, after = statistics.median(before_runs), statistics.median(after_runs)
    with torch.inference_mode():
        reference, optimized = model(x), fast(x_fast)
    max_diff = float((reference - optimized).abs().max() / reference.abs().max().clamp_min(1e-12))
    folded = sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) - sum(
        isinstance(m, nn.BatchNorm2d) for m in fast.modules()
    )
    return {
        "model": label,
        "options": {k: str(v) for k, v in options.items()},
        "params": cost.params,
        "gflop": gflop,
        "latency_s": before,
        "latency_optimized_s": after,
        "latency_runs_s": before_runs,
        "latency_optimized_runs_s": after_runs,
        "gflops_per_s": gflop / before,
        "best_gflops_per_s": gflop / min(before_runs),
        "best_gflops_per_s_optimized": gflop / min(after_runs),
        "gflops_per_s_optimized": gflop / after,
        "speedup": before / after,
        "batchnorms_folded": folded,
        "max_relative_output_difference": max_diff,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="", help="comma-separated names (default: all)")
    parser.add_argument("--runs", type=int, default=None, help="timed runs per model (median)")
    parser.add_argument("--quick", action="store_true", help="1 warm-up + 2 timed runs")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warmup = 1
    runs = args.runs if args.runs is not None else (2 if args.quick else 3)

    configs: dict[str, tuple[str, dict[str, object]]] = {
        name: (name, {}) for name in pixelwise.list_models()
    }
    configs.update(EXTRA_CONFIGS)
    if args.models:
        wanted = [name.strip() for name in args.models.split(",") if name.strip()]
        unknown = [name for name in wanted if name not in configs]
        if unknown:
            raise SystemExit(f"unknown models {unknown}; choose from {', '.join(configs)}")
        configs = {name: configs[name] for name in wanted}

    # The machine may be shared: measure the matmul peak before every model and use the best
    # seen in the whole run, so a busy moment does not inflate the fractions.
    peaks = [matmul_peak_gflops()]
    print(f"fp32 matmul (2048^2, {args.threads} threads): {peaks[0]:.1f} GFLOP/s")
    rows = []
    header = (
        f"{'model':24s} {'params(M)':>9s} {'GFLOP':>7s} {'lat(s)':>7s} {'GF/s':>6s}"
        f" {'opt(s)':>7s} {'GF/s':>6s} {'bestGF/s':>8s} {'mm GF/s':>7s} {'speedup':>7s}"
        f" {'rel.diff':>8s}"
    )
    print(header)
    for label, (name, options) in configs.items():
        peaks.append(matmul_peak_gflops())
        row = benchmark(label, name, options, args.size, warmup, runs)
        row["matmul_gflops_before_model"] = peaks[-1]
        rows.append(row)
        print(
            f"{label:24s} {row['params'] / 1e6:9.2f} {row['gflop']:7.1f} {row['latency_s']:7.3f}"
            f" {row['gflops_per_s']:6.1f} {row['latency_optimized_s']:7.3f}"
            f" {row['gflops_per_s_optimized']:6.1f} {row['best_gflops_per_s_optimized']:8.1f}"
            f" {peaks[-1]:7.1f} {row['speedup']:6.2f}x"
            f" {row['max_relative_output_difference']:8.1e}",
            flush=True,
        )
    peaks.append(matmul_peak_gflops())
    peak = max(peaks)
    print(f"fp32 matmul peak (best of {len(peaks)} measurements this run): {peak:.1f} GFLOP/s")
    print(f"{'model':24s} {'%peak':>6s} {'%peak opt':>9s} {'best %peak opt':>14s}")
    for row in rows:
        row["fraction_of_peak"] = row["gflops_per_s"] / peak
        row["fraction_of_peak_optimized"] = row["gflops_per_s_optimized"] / peak
        row["best_fraction_of_peak_optimized"] = row["best_gflops_per_s_optimized"] / peak
        print(
            f"{row['model']:24s} {100 * row['fraction_of_peak']:6.0f}"
            f" {100 * row['fraction_of_peak_optimized']:9.0f}"
            f" {100 * row['best_fraction_of_peak_optimized']:14.0f}"
        )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(
        json.dumps(
            {
                "conditions": {
                    "input": [1, 3, args.size, args.size],
                    "threads": args.threads,
                    "warmup": warmup,
                    "runs": runs,
                    "num_classes": 21,
                    "torch": torch.__version__,
                    "machine": platform.machine(),
                    "matmul_gflops_measurements": peaks,
                    "matmul_peak_gflops": peak,
                    "note": "shared 2-core machine; timings are noisy",
                },
                "models": rows,
            },
            indent=2,
        )
    )
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
