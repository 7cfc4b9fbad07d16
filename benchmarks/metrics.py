"""Confusion-matrix update throughput and AP binning error, side by side in one run.

Throughput: 16 x 512 x 512 label maps, 21 classes (VOC), int64 and uint8 inputs, for
pixelwise ``ConfusionMatrix.update``, torchmetrics ``MulticlassJaccardIndex.update`` (default
validation and ``validate_args=False``), plain ``torch.bincount`` and ``numpy.bincount`` of
``target * C + pred``. Inputs cycle over 3 distinct batches (> L3 cache) and contenders run
round-robin so machine noise hits all alike; the median over repeats is reported. Memory
bandwidth is measured in the same run (one-way copy of a 512 MiB tensor into a preallocated one)
and each contender's input read rate (bytes of pred + target per second) is given as a fraction.
Everything runs with torch's default thread count and again with 1 thread: on an oversubscribed
CPU, torch's 2-thread OpenMP regions can be far slower than one thread (load average is logged).

AP: binned (1000 / 10000 bins, logit and linear spacing) vs. sklearn's exact
``average_precision_score`` on spread-out and on peaky (over-confident) softmax scores.

Run: ``python benchmarks/metrics.py [--repeats 7] [--quick]``; writes
``benchmarks/results/metrics.json``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from pixelwise.metrics import AveragePrecision, ConfusionMatrix

NUM_CLASSES = 21
SHAPE = (16, 512, 512)
RESULTS = Path(__file__).resolve().parent / "results" / "metrics.json"


def make_batches(count: int, dtype: torch.dtype, ignore: bool) -> list[tuple[torch.Tensor, ...]]:
    """Blocky ground truth (16 x 16 px regions) and a prediction that agrees on ~80 % of pixels."""
    batches = []
    for seed in range(count):
        g = torch.Generator().manual_seed(seed)
        coarse = torch.randint(
            0, NUM_CLASSES, (SHAPE[0], SHAPE[1] // 16, SHAPE[2] // 16), generator=g
        )
        target = coarse.repeat_interleave(16, 1).repeat_interleave(16, 2)
        noise = torch.rand(SHAPE, generator=g) < 0.2
        pred = torch.where(noise, torch.randint(0, NUM_CLASSES, SHAPE, generator=g), target)
        if ignore:
            target = torch.where(torch.rand(SHAPE, generator=g) < 0.05, 255, target)
        batches.append((pred.to(dtype).contiguous(), target.to(dtype).contiguous()))
    return batches


def copy_bandwidth(repeats: int) -> float:
    """One-way bandwidth in bytes/s: a 512 MiB tensor copied into a preallocated one."""
    source = torch.ones(512 * 2**20 // 8, dtype=torch.int64)
    destination = torch.empty_like(source)
    destination.copy_(source)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        destination.copy_(source)
        times.append(time.perf_counter() - start)
    return source.numel() * 8 / statistics.median(times)


def contenders(ignore: bool) -> dict[str, Callable[[torch.Tensor, torch.Tensor], object]]:
    from torchmetrics.classification import MulticlassJaccardIndex

    ignore_index = 255 if ignore else None
    ours = ConfusionMatrix(NUM_CLASSES, ignore_index=ignore_index)
    tm_checked = MulticlassJaccardIndex(NUM_CLASSES, ignore_index=ignore_index)
    tm_fast = MulticlassJaccardIndex(NUM_CLASSES, ignore_index=ignore_index, validate_args=False)
    c = NUM_CLASSES

    def torch_bincount(pred, target):
        index = target.long() * c + pred.long()
        if ignore:
            index = index[target != 255]
        return torch.bincount(index.view(-1), minlength=c * c)

    def numpy_bincount(pred, target):
        index = target.numpy().astype(np.int64) * c + pred.numpy()
        if ignore:
            index = index[target.numpy() != 255]
        return np.bincount(index.ravel(), minlength=c * c)

    return {
        "pixelwise ConfusionMatrix": ours.update,
        "torchmetrics (validate_args=True)": tm_checked.update,
        "torchmetrics (validate_args=False)": tm_fast.update,
        "torch.bincount (plain)": torch_bincount,
        "numpy.bincount (plain)": numpy_bincount,
    }


def throughput(dtype: torch.dtype, ignore: bool, repeats: int, slow_repeats: int) -> dict:
    batches = make_batches(3, dtype, ignore)
    pixels = batches[0][1].numel()
    bytes_per_pixel = 2 * batches[0][1].element_size()
    runs = contenders(ignore)
    times: dict[str, list[float]] = {name: [] for name in runs}
    for update in runs.values():  # warm-up (allocations, workspaces)
        update(*batches[0])
    for rep in range(repeats):
        for name, update in runs.items():
            if "validate_args=True" in name and rep >= slow_repeats:
                continue  # ~10x slower; a few repeats suffice
            for pred, target in batches:
                start = time.perf_counter()
                update(pred, target)
                times[name].append(time.perf_counter() - start)
    rows = {}
    for name, samples in times.items():
        median = statistics.median(samples)
        rows[name] = {
            "mpix_per_s": pixels / median / 1e6,
            "best_mpix_per_s": pixels / min(samples) / 1e6,
            "input_gb_per_s": pixels * bytes_per_pixel / median / 1e9,
            "samples": len(samples),
        }
    return rows


def ap_binning_error(quick: bool) -> list[dict]:
    from sklearn.metrics import average_precision_score

    shape = (4, 64, 64) if quick else (8, 128, 128)
    out = []
    for kind in ("spread softmax", "peaky softmax"):
        g = torch.Generator().manual_seed(11)
        target = torch.randint(0, NUM_CLASSES, shape, generator=g)
        logits = torch.randn(shape[0], NUM_CLASSES, *shape[1:], generator=g)
        if kind == "peaky softmax":
            one_hot = torch.nn.functional.one_hot(target, NUM_CLASSES).movedim(-1, 1)
            logits = (logits + 3.0 * one_hot) * 4.0
        probabilities = logits.softmax(dim=1)
        flat = probabilities.movedim(1, -1).reshape(-1, NUM_CLASSES).double().numpy()
        labels = target.reshape(-1).numpy()
        exact = np.array(
            [average_precision_score(labels == c, flat[:, c]) for c in range(NUM_CLASSES)]
        )
        for bins in (1000, 10000):
            for spacing in ("logit", "linear"):
                metric = AveragePrecision(NUM_CLASSES, bins=bins, spacing=spacing)
                metric.update(probabilities, target)
                error = np.abs(metric.compute().numpy() - exact)
                out.append(
                    {
                        "scores": kind,
                        "pixels": int(target.numel()),
                        "bins": bins,
                        "spacing": spacing,
                        "max_abs_error": float(error.max()),
                        "mean_abs_error": float(error.mean()),
                        "max_guaranteed_bound": float(metric.error_bound().max()),
                        "map_error": float(abs(metric.mean() - exact.mean())),
                    }
                )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="fewer repeats, smaller AP data")
    args = parser.parse_args()
    repeats = 2 if args.quick else args.repeats
    bandwidth = copy_bandwidth(5)
    print(
        f"copy bandwidth (one way, 512 MiB): {bandwidth / 1e9:.1f} GB/s; "
        f"torch threads: {torch.get_num_threads()}"
    )
    results: dict = {
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "copy_bandwidth_gb_per_s": bandwidth / 1e9,
            "load_average_before": os.getloadavg(),
        },
        "shape": list(SHAPE),
        "num_classes": NUM_CLASSES,
        "throughput": {},
    }
    default_threads = torch.get_num_threads()
    cases = [(torch.int64, False), (torch.uint8, False), (torch.int64, True)]
    for threads, (dtype, ignore) in itertools.product(sorted({default_threads, 1}), cases):
        torch.set_num_threads(threads)
        label = f"{str(dtype).removeprefix('torch.')}{' ignore=255 (5%)' if ignore else ''}"
        label += f", {threads} torch thread{'s' if threads > 1 else ''}"
        rows = throughput(dtype, ignore, repeats, slow_repeats=min(2, repeats))
        base = rows["torchmetrics (validate_args=False)"]["mpix_per_s"]
        print(f"\n{label}: {SHAPE[0]}x{SHAPE[1]}x{SHAPE[2]}, {NUM_CLASSES} classes")
        print(
            f"{'method':38s} {'Mpx/s':>8s} {'best':>8s} {'x tm(noval)':>11s} "
            f"{'in GB/s':>8s} {'% bw':>6s}"
        )
        for name, row in rows.items():
            row["speedup_vs_torchmetrics_no_validation"] = row["mpix_per_s"] / base
            row["fraction_of_copy_bandwidth"] = row["input_gb_per_s"] * 1e9 / bandwidth
            print(
                f"{name:38s} {row['mpix_per_s']:8.1f} {row['best_mpix_per_s']:8.1f} "
                f"{row['speedup_vs_torchmetrics_no_validation']:11.2f} "
                f"{row['input_gb_per_s']:8.2f} {100 * row['fraction_of_copy_bandwidth']:6.1f}"
            )
        results["throughput"][label] = rows
    torch.set_num_threads(default_threads)
    results["machine"]["load_average_after"] = os.getloadavg()
    print("\nAP binning error vs sklearn average_precision_score (21 classes)")
    results["average_precision_binning"] = ap_binning_error(args.quick)
    print(
        f"{'scores':15s} {'pixels':>8s} {'bins':>6s} {'spacing':>7s} {'max err':>9s} "
        f"{'mean err':>9s} {'mAP err':>9s} {'bound':>9s}"
    )
    for row in results["average_precision_binning"]:
        print(
            f"{row['scores']:15s} {row['pixels']:8d} {row['bins']:6d} {row['spacing']:>7s} "
            f"{row['max_abs_error']:9.2e} {row['mean_abs_error']:9.2e} {row['map_error']:9.2e} "
            f"{row['max_guaranteed_bound']:9.2e}"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
