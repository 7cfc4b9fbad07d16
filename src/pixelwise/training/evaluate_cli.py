"""``pixelwise evaluate``: per-class table and JSON for a checkpoint on a dataset split."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from pixelwise.training.config import config_from_dict
from pixelwise.training.config_schema import ConfigError
from pixelwise.training.data_setup import build_data
from pixelwise.training.distributed import DistInfo
from pixelwise.training.evaluation import evaluate_model
from pixelwise.training.inference import load_trained_model, pick_device
from pixelwise.training.reporting import plot_class_iou, plot_confusion_matrix


def run_evaluation(args: argparse.Namespace) -> int:
    device = pick_device("auto")
    loaded = load_trained_model(args.checkpoint, device)
    config_data = dict(loaded.config)
    overrides = list(args.set)
    if args.data:
        overrides.append(f"data.root={args.data}")
    config = config_from_dict(config_data, overrides)
    bundle = build_data(config, DistInfo())
    if args.split == "test":
        if config.data.dataset != "camvid":
            raise ConfigError(
                f"--split test needs a dataset with a test split (camvid); this checkpoint was "
                f"trained on {config.data.dataset!r}. Use --split val"
            )
        from pixelwise.data import CamVid

        assert config.data.root is not None
        bundle.val = CamVid(config.data.root, "test")
    elif args.split != "val":
        raise ConfigError(f"--split must be 'val' or 'test', got {args.split!r}")
    result = evaluate_model(
        loaded.model, bundle, device, DistInfo(), crf=args.crf, boundary=args.boundary
    )
    print(result.report)
    out = (
        Path(args.out)
        if args.out
        else Path(args.checkpoint).with_name(f"eval_{args.split}{'_crf' if args.crf else ''}.json")
    )
    payload = {
        "checkpoint": str(args.checkpoint),
        "split": args.split,
        "crf": bool(args.crf),
        **result.report.to_dict(),
        "confusion_matrix": result.confusion.tolist(),
    }
    out.write_text(json.dumps(payload, indent=2))
    plot_confusion_matrix(
        result.confusion, result.report.class_names, out.with_name(out.stem + "_confusion.png")
    )
    plot_class_iou(
        result.report.iou, result.report.class_names, out.with_name(out.stem + "_class_iou.png")
    )
    print(f"wrote {out}")
    return 0
