"""CamVid benchmark: train on the 367 training images, pick the checkpoint on val, evaluate the
233 test images at full 360x480 resolution with void ignored, the way the SegNet paper does.

Prints and stores global accuracy (G), class-average accuracy (C), mIoU and boundary F1 (BF)
plus per-class IoU, with the exact command, git commit, hardware, wall time and epochs, then
rebuilds ``results.md`` from every JSON row in the results folder.

Example:
    python benchmarks/camvid/run.py --config benchmarks/camvid/configs/segnet_basic.yaml \
        --name segnet_basic_mfb --max-minutes 40
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

import torch

from pixelwise.commands.crf import crf_refiner, search_crf
from pixelwise.data import CamVid
from pixelwise.layers import module_cost
from pixelwise.training import (
    DistInfo,
    Trainer,
    build_data,
    evaluate_model,
    load_config,
    load_trained_model,
)
from pixelwise.training.reporting import plot_class_iou, plot_overlays

HERE = Path(__file__).resolve().parent
PAPER = {  # SegNet paper, TPAMI 2017, Table 1 (233 test images, 11 classes)
    "SegNet-Basic, median-frequency balancing (paper)": (82.7, 62.0, 47.7, 35.78),
    "SegNet-Basic, no class balancing (paper)": (84.0, 54.6, 46.3, None),
}


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=HERE,
            check=True,
        )
        dirty = subprocess.run(
            # Only changes to the code and configs make a row "dirty", not other results.
            [
                "git",
                "status",
                "--porcelain",
                "--",
                ":(top)src",
                ":(top)benchmarks/camvid/run.py",
                ":(top)benchmarks/camvid/configs",
                ":(top)pyproject.toml",
            ],
            capture_output=True,
            text=True,
            cwd=HERE,
            check=True,
        ).stdout.strip()
        return out.stdout.strip() + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _hardware(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return (
        f"CPU {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"{torch.get_num_threads()} threads"
    )


def run(args: argparse.Namespace) -> dict:
    overrides = [f"train.output_dir={args.runs / args.name}", *args.set]
    if args.root:
        overrides.append(f"data.root={args.root}")
    if args.max_minutes is not None:
        overrides.append(f"train.max_minutes={args.max_minutes}")
    config = load_config(args.config, overrides)
    run_dir = Path(config.train.output_dir)
    started = time.perf_counter()
    resume = run_dir if (run_dir / "last.pt").exists() and not args.restart else None
    if args.eval_only and resume is None:
        raise SystemExit(f"--eval-only: no trained run in {run_dir} (train it first)")
    trainer = Trainer(config, resume=resume)
    if not args.eval_only:
        trainer.fit()
    train_seconds = time.perf_counter() - started

    loaded = load_trained_model(run_dir / "best.pt", trainer.device)
    bundle = build_data(config, DistInfo())
    crf_params, crf_grid = None, None
    if args.crf and args.crf_search:
        crf_params, crf_grid = search_crf(
            loaded.model, bundle, trainer.device, num_images=args.crf_search
        )
        print(f"CRF parameters picked on {args.crf_search} val images: {crf_params}")
    test = CamVid(config.data.root or "", "test")
    if args.limit_test:
        test = torch.utils.data.Subset(test, range(args.limit_test))  # type: ignore[assignment]
    bundle.val = test
    rows = {}
    for crf in [False, True] if args.crf else [False]:
        started_eval = time.perf_counter()
        result = evaluate_model(
            loaded.model,
            bundle,
            trainer.device,
            DistInfo(),
            refine=crf_refiner(crf_params) if crf else None,
            boundary=True,
            keep_samples=3,
            progress=not args.quiet,
        )
        rows["crf" if crf else "plain"] = (result, time.perf_counter() - started_eval)
    gflops = module_cost(loaded.model.cpu(), (1, 3, 360, 480)).flops / 1e9
    log = [json.loads(line) for line in (run_dir / "log.jsonl").read_text().splitlines()]
    command = " ".join(shlex.quote(a) for a in ["python", "benchmarks/camvid/run.py", *args.argv])
    previous = args.results / f"{args.name}.json"
    if args.eval_only and previous.exists():
        # The row re-runs from its training command; this invocation only re-evaluated it.
        eval_command, command = command, json.loads(previous.read_text())["command"]
    else:
        eval_command = command
    record = {
        "name": args.name,
        "model": config.model.name,
        "options": config.model.options,
        "command": command,
        "eval_command": eval_command,
        "git_commit": _git_commit(),
        "hardware": _hardware(trainer.device),
        "train_minutes_this_invocation": round(train_seconds / 60, 1),
        "train_minutes_total": round(sum(r["epoch_time_s"] for r in log) / 60, 1),
        "epochs": trainer.state.epoch,
        "best_epoch": trainer.state.best_epoch,
        "train_scale": config.data.train_scale,
        "input_scale": config.data.input_scale,
        "loss": config.loss.terms,
        "class_weights": config.loss.class_weights,
        "gflops_360x480": round(gflops, 2),
        "params": sum(p.numel() for p in loaded.model.parameters()),
        "test_images": len(test),
        "crf_params": crf_params,
        "crf_search_val": crf_grid,
    }
    for key, (result, seconds) in rows.items():
        summary = result.report.summary()
        record[key] = {
            "G": 100 * summary["pixel_accuracy"],
            "C": 100 * summary["mean_accuracy"],
            "mIoU": 100 * summary["mean_iou"],
            "BF": 100 * (summary.get("boundary_f1") or float("nan")),
            "mIoU_per_GFLOP": 100 * summary["mean_iou"] / gflops,
            "per_class_iou": dict(zip(result.report.class_names, result.report.iou)),
            "eval_seconds": round(seconds, 1),
        }
        print(result.report)
    out_dir = args.results
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{args.name}.json").write_text(json.dumps(record, indent=2, default=float))
    plain = rows["plain"][0]
    plot_class_iou(
        plain.report.iou,
        plain.report.class_names,
        out_dir / f"{args.name}_class_iou.png",
        f"{args.name}: test IoU per class",
    )
    plot_overlays(
        plain.samples, test_colors(), out_dir / f"{args.name}_examples.png", ignore_index=11
    )
    write_markdown(out_dir)
    return record


def test_colors() -> list[tuple[int, int, int]]:
    from pixelwise.data import CAMVID_CLASSES

    return list(CAMVID_CLASSES.colors)


def plot_comparison(records: list[dict], names: list[str], path: Path) -> None:
    """Grouped bars: test IoU per class, one bar per row (no CRF)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(12, 4.5))
    width = 0.8 / len(records)
    positions = np.arange(len(names))
    for i, r in enumerate(records):
        ious = [np.nan_to_num(_percent(r["plain"]["per_class_iou"][n])) for n in names]
        label = f"{r['name']} (mIoU {r['plain']['mIoU']:.1f})"
        ax.bar(positions + (i - (len(records) - 1) / 2) * width, ious, width, label=label)
    ax.set_xticks(positions, names, rotation=30)
    ax.set_ylabel("test IoU (%)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8)
    ax.set_title("CamVid test IoU per class")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _percent(value: float | None) -> float:
    return float("nan") if value is None else 100 * value


def _fmt(value: float | None) -> str:
    return "-" if value is None or value != value else f"{value:.1f}"


def write_markdown(out_dir: Path) -> Path:
    records = [json.loads(p.read_text()) for p in sorted(out_dir.glob("*.json"))]
    lines = [
        "# CamVid (SegNet release): 367 train / 101 val / 233 test, 11 classes, void ignored",
        "",
        "Scored on the 233 test images against the full 360x480 labels, void ignored; "
        "G = global pixel accuracy, C = class-average accuracy, BF = boundary F1 (tolerance "
        "0.75% of the diagonal). All pixelwise rows are trained from scratch. The network sees "
        "each test image at its training scale (`scale` column: 0.5 = 180x240) and its logits "
        "are resized bilinearly to 360x480 (`pixelwise.models.rescale.InputRescale`); the CRF "
        "runs at 360x480 on those probabilities. GFLOPs are one forward pass at that scale.",
        "",
        "| model | CRF | G | C | mIoU | BF | scale | params (M) | GFLOPs | mIoU/GFLOP | epochs | "
        "train min | hardware | commit |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, (g, c, miou, bf) in PAPER.items():
        lines.append(
            f"| {name} | no | {g} | {c} | {miou} | {_fmt(bf)} | 1 | - | - | - | - | - | - | - |"
        )
    for r in records:
        for key in ("plain", "crf"):
            if key not in r:
                continue
            m = r[key]
            lines.append(
                f"| {r['name']} | {'yes' if key == 'crf' else 'no'} | {_fmt(m['G'])} | "
                f"{_fmt(m['C'])} | {_fmt(m['mIoU'])} | {_fmt(m['BF'])} | "
                f"{r.get('input_scale', r['train_scale'])} | {r['params'] / 1e6:.2f} | "
                f"{r['gflops_360x480']} "
                f"| {m['mIoU_per_GFLOP']:.3f} | {r['epochs']} | {r['train_minutes_total']} | "
                f"{r['hardware']} | {r['git_commit']} |"
            )
    lines += ["", "Per-class test IoU (%), without CRF:", ""]
    names = list(records[0]["plain"]["per_class_iou"]) if records else []
    lines += ["| model | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for r in records:
        ious = [_percent(r["plain"]["per_class_iou"][n]) for n in names]
        lines.append(f"| {r['name']} | " + " | ".join(_fmt(v) for v in ious) + " |")
    if records:
        plot_comparison(records, names, out_dir / "class_iou_all.png")
        lines += ["", "![per-class IoU of every row](class_iou_all.png)"]
    lines += ["", "Commands:", ""]
    for r in records:
        line = f"- `{r['name']}`: `{r['command']}`"
        if r.get("eval_command", r["command"]) != r["command"]:
            line += f", then evaluated with `{r['eval_command']}`"
        lines.append(line)
    path = out_dir / "results.md"
    path.write_text("\n".join(lines) + "\n")
    return path


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", type=Path)
    parser.add_argument("--name", help="row name (also the run folder name)")
    parser.add_argument("--root", help="CamVid root (default: the config's data.root)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--max-minutes", type=float, help="training time budget (resumable)")
    parser.add_argument("--crf", action="store_true", help="also evaluate with the dense CRF")
    parser.add_argument(
        "--crf-search",
        type=int,
        default=0,
        metavar="N",
        help="pick the CRF's bilateral parameters on the first N val images (0: defaults)",
    )
    parser.add_argument("--limit-test", type=int, help="evaluate only the first N test images")
    parser.add_argument("--runs", type=Path, default=Path("runs/camvid"))
    parser.add_argument("--results", type=Path, default=HERE / "results")
    parser.add_argument("--restart", action="store_true", help="ignore an existing run folder")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument(
        "--eval-only", action="store_true", help="evaluate an existing run's best.pt, no training"
    )
    parser.add_argument(
        "--table-only", action="store_true", help="only rebuild results.md from the JSON rows"
    )
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if args.table_only:
        if not any(args.results.glob("*.json")):
            parser.error(f"--table-only: no JSON rows in {args.results} (run a row first)")
        print(write_markdown(args.results))
        return {}
    if args.config is None or args.name is None:
        parser.error("--config and --name are required (or give --table-only)")
    return run(args)


if __name__ == "__main__":
    main()
