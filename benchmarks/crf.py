"""Dense CRF (DeepLab v1/v2 post-processing) speed and agreement: pixelwise vs pydensecrf2.

Real CamVid test images (360 x 480, from ``shared/data/camvid``), 12 labels (the 11 classes and
void), synthetic unaries derived from the ground truth: ``softmax(signal * onehot(gt) + noise)``
with Gaussian noise, so that the unary argmax is right on about a third of the pixels. Standard
parameters: smoothness ``sxy=3, compat=3``; appearance ``sxy=80, srgb=13, compat=10``; unary
``-log(clip(p, 1e-5))``.

Timing (first image): set-up (building the lattices) and 5 / 10 mean-field iterations, median
over repeats, contenders run round-robin so machine noise hits all alike; wall and process CPU
time. pixelwise runs with 1 torch thread (like pydensecrf, which is single-threaded) and with
torch's default thread count. Agreement: label agreement of pixelwise with pydensecrf after 5 and
10 iterations and accuracy against the ground truth (void excluded) over ``--images`` images.

Run: ``python benchmarks/crf.py [--images 10] [--repeats 5]``; writes
``benchmarks/results/crf.json``. pydensecrf2 (``pip install pydensecrf2``) is optional.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from pixelwise.crf import DenseCRF, unary_from_probs

RESULTS = Path(__file__).resolve().parent / "results" / "crf.json"
DEFAULT_CAMVID = Path(__file__).resolve().parents[2] / "shared" / "data" / "camvid" / "CamVid"
NUM_LABELS = 12
VOID = 11

try:
    import pydensecrf.densecrf as pydensecrf
except ImportError:  # optional contender
    pydensecrf = None


def load_pair(camvid: Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    image = np.array(Image.open(camvid / "test" / name).convert("RGB"))
    labels = np.array(Image.open(camvid / "testannot" / name))
    return image, labels


def synthetic_probs(labels: np.ndarray, seed: int, signal: float = 1.5, noise: float = 1.5):
    generator = torch.Generator().manual_seed(seed)
    target = torch.from_numpy(labels.astype(np.int64))
    logits = noise * torch.randn(NUM_LABELS, *labels.shape, generator=generator)
    logits += signal * torch.nn.functional.one_hot(target, NUM_LABELS).permute(2, 0, 1)
    return torch.softmax(logits, dim=0)


def ours_setup(image: np.ndarray) -> DenseCRF:
    crf = DenseCRF(torch.from_numpy(image)).add_gaussian(sxy=3.0, compat=3.0)
    return crf.add_bilateral(sxy=80.0, srgb=13.0, compat=10.0)


def ours_infer(crf: DenseCRF, unary: torch.Tensor, iterations: int) -> np.ndarray:
    return crf.inference(unary, iterations).numpy()


def reference_setup(image: np.ndarray, unary: np.ndarray):
    height, width, _ = image.shape
    crf = pydensecrf.DenseCRF2D(width, height, NUM_LABELS)
    crf.setUnaryEnergy(np.ascontiguousarray(unary.reshape(NUM_LABELS, -1)))
    crf.addPairwiseGaussian(sxy=3, compat=3)
    crf.addPairwiseBilateral(sxy=80, srgb=13, rgbim=np.ascontiguousarray(image), compat=10)
    return crf


def reference_infer(crf, iterations: int, shape: tuple[int, int]) -> np.ndarray:
    return np.array(crf.inference(iterations)).reshape(NUM_LABELS, *shape)


def timed(function: Callable[[], object]) -> tuple[float, float, object]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = function()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def time_contenders(image: np.ndarray, unary: torch.Tensor, repeats: int, threads: list[int]):
    shape = image.shape[:2]
    contenders: dict[str, tuple[Callable[[], object], Callable[[object, int], object], int]] = {}
    for count in threads:
        contenders[f"pixelwise ({count} thread{'s' if count > 1 else ''})"] = (
            lambda: ours_setup(image),
            lambda crf, n: ours_infer(crf, unary, n),
            count,
        )
    if pydensecrf is not None:
        contenders["pydensecrf2"] = (
            lambda: reference_setup(image, unary.numpy()),
            lambda crf, n: reference_infer(crf, n, shape),
            1,
        )
    samples: dict[str, dict[str, list[float]]] = {
        name: {
            key: [] for key in ("setup", "setup_cpu", "iter5", "iter5_cpu", "iter10", "iter10_cpu")
        }
        for name in contenders
    }
    default_threads = torch.get_num_threads()
    for repeat in range(repeats + 1):  # the first round warms up
        for name, (setup, infer, count) in contenders.items():
            torch.set_num_threads(count)
            wall, cpu, crf = timed(setup)
            results = {"setup": (wall, cpu)}
            for iterations in (5, 10):
                wall_i, cpu_i, _ = timed(lambda f=infer, c=crf, n=iterations: f(c, n))
                results[f"iter{iterations}"] = (wall_i, cpu_i)
            if repeat > 0:
                for key, (wall, cpu) in results.items():
                    samples[name][key].append(wall)
                    samples[name][f"{key}_cpu"].append(cpu)
    torch.set_num_threads(default_threads)
    return {
        name: {key: statistics.median(values) for key, values in entry.items()}
        for name, entry in samples.items()
    }


def agreement(camvid: Path, names: list[str]) -> dict[str, float]:
    totals: dict[str, list[float]] = {}
    for index, name in enumerate(names):
        image, labels = load_pair(camvid, name)
        probs = synthetic_probs(labels, seed=index)
        unary = unary_from_probs(probs)
        valid = labels != VOID
        record = {"unary_accuracy": float((probs.argmax(0).numpy() == labels)[valid].mean())}
        crf = ours_setup(image)
        reference = reference_setup(image, unary.numpy()) if pydensecrf is not None else None
        for iterations in (5, 10):
            ours = ours_infer(crf, unary, iterations).argmax(0)
            record[f"pixelwise_accuracy_{iterations}"] = float((ours == labels)[valid].mean())
            if reference is not None:
                theirs = reference_infer(reference, iterations, labels.shape).argmax(0)
                record[f"pydensecrf_accuracy_{iterations}"] = float(
                    (theirs == labels)[valid].mean()
                )
                record[f"label_agreement_{iterations}"] = float((ours == theirs).mean())
        for key, value in record.items():
            totals.setdefault(key, []).append(value)
    return {key: float(np.mean(values)) for key, values in totals.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--camvid", type=Path, default=DEFAULT_CAMVID)
    parser.add_argument("--images", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    names = sorted(os.listdir(args.camvid / "test"))[: args.images]
    image, labels = load_pair(args.camvid, names[0])
    unary = unary_from_probs(synthetic_probs(labels, seed=0))
    threads = sorted({1, torch.get_num_threads()})
    load_before = os.getloadavg()
    timings = time_contenders(image, unary, args.repeats, threads)
    torch.set_num_threads(1)  # quality only; one thread is fastest on a shared machine
    quality = agreement(args.camvid, names)
    load_after = os.getloadavg()

    print(
        f"CamVid {names[0]} {image.shape[0]}x{image.shape[1]}, {NUM_LABELS} labels, "
        f"median of {args.repeats}; load average {load_before[0]:.1f} -> {load_after[0]:.1f}"
    )
    columns = ("setup s", "5 it s", "10 it s", "total 10 s", "cpu 10 s")
    print(f"{'contender':<24}" + "".join(f"{c:>11}" for c in columns))
    for name, entry in timings.items():
        total = entry["setup"] + entry["iter10"]
        total_cpu = entry["setup_cpu"] + entry["iter10_cpu"]
        row = (entry["setup"], entry["iter5"], entry["iter10"], total, total_cpu)
        print(f"{name:<24}" + "".join(f"{value:>11.3f}" for value in row))
    ratios = {}
    if "pydensecrf2" in timings:
        reference = timings["pydensecrf2"]
        for name, entry in timings.items():
            if name == "pydensecrf2":
                continue
            ratios[name] = {
                key: reference[key] / entry[key]
                for key in ("setup", "iter5", "iter10", "setup_cpu", "iter10_cpu")
            }
            ratios[name]["total10"] = (reference["setup"] + reference["iter10"]) / (
                entry["setup"] + entry["iter10"]
            )
            print(
                f"speed-up of {name} over pydensecrf2 (>1 = faster): "
                + ", ".join(f"{k} {v:.2f}x" for k, v in ratios[name].items())
            )
    print(f"over {len(names)} images: " + ", ".join(f"{k} {v:.4f}" for k, v in quality.items()))

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "images": names,
                "timing_image": names[0],
                "shape": list(image.shape[:2]),
                "labels": NUM_LABELS,
                "parameters": {
                    "sxy_gaussian": 3,
                    "compat_gaussian": 3,
                    "sxy_bilateral": 80,
                    "srgb": 13,
                    "compat_bilateral": 10,
                    "clip": 1e-5,
                },
                "repeats": args.repeats,
                "seconds_median": timings,
                "speedup_vs_pydensecrf2": ratios,
                "quality_mean": quality,
                "pydensecrf2_available": pydensecrf is not None,
                "load_average": [load_before[0], load_after[0]],
                "torch": torch.__version__,
                "machine": platform.processor() or platform.machine(),
                "cpu_count": os.cpu_count(),
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
