"""The ``pixelwise`` command: models, encoders, train, evaluate, predict, export, demo, serve."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from pixelwise import __version__
from pixelwise.record import BLENDS, TTAS


def _cmd_models(args: argparse.Namespace) -> int:
    from pixelwise.models.summary import model_table

    print(model_table(flops=not args.no_flops, size=args.size))
    return 0


def _cmd_encoders(args: argparse.Namespace) -> int:
    from pixelwise.encoders import encoder_table

    print(encoder_table())
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from pixelwise.training import Trainer, load_config

    if args.resume:
        run_dir = Path(args.resume)
        config = load_config(run_dir / "config.yaml", args.set)
        config.train.output_dir = str(run_dir)
        trainer = Trainer(config, resume=run_dir)
    else:
        if args.config is None:
            raise SystemExit("pixelwise train: give a CONFIG.yaml or --resume RUN_DIR")
        trainer = Trainer(load_config(args.config, args.set))
    record = trainer.fit()
    if trainer.dist.is_main:
        print(json.dumps(record, indent=2))
        print(f"run folder: {trainer.output_dir}")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from pixelwise.commands import run_evaluation

    outcome = run_evaluation(
        args.checkpoint,
        split=args.split,
        data_root=args.data,
        overrides=args.set,
        crf=args.crf,
        boundary=args.boundary,
        out=args.out,
        predictions=args.predictions,
        device=args.device,
    )
    print(outcome.result.report)
    if outcome.prediction_paths:
        print(f"wrote {len(outcome.prediction_paths)} label maps to {args.predictions}")
    print(f"wrote {outcome.json_path}")
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from pixelwise.commands import run_predict

    written = run_predict(
        args.checkpoint,
        args.inputs,
        args.out,
        tile=args.tile,
        overlap=args.overlap,
        blend=args.blend,
        batch_size=args.batch_size,
        tta=args.tta,
        output=args.output,
        crf=args.crf,
        device=args.device,
        fmt=args.format,
        block=args.block,
        probs=args.probs,
    )
    for path in written:
        print(f"wrote {path}")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from pixelwise.commands import export_checkpoint

    path = export_checkpoint(args.checkpoint, args.out, fmt=args.format, size=args.size)
    print(f"wrote {path}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from pixelwise.commands.demo import run_demo

    report_dir = run_demo(Path(args.out), quick=args.quick, epochs=args.epochs)
    print(f"report folder: {report_dir}")
    return 0


def _cmd_serve(args: argparse.Namespace) -> int:
    from pixelwise.commands.serve import run_serve

    try:
        run_serve(
            args.checkpoint,
            images=args.images,
            host=args.host,
            port=args.port,
            max_upload_mb=args.max_upload_mb,
            workers=args.workers,
            queue=args.queue,
            max_pixels=args.max_pixels,
            threads=args.threads,
            device=args.device,
        )
    except (ImportError, ValueError) as exc:
        raise SystemExit(f"pixelwise serve: error: {exc}") from exc
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pixelwise",
        description="Semantic segmentation on PyTorch: train, evaluate, predict and export.",
    )
    parser.add_argument("--version", action="version", version=f"pixelwise {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    models = sub.add_parser("models", help="list the registered models with their cost")
    models.add_argument("--no-flops", action="store_true", help="skip the GFLOPs column")
    models.add_argument("--size", type=int, default=512, help="input size for GFLOPs")
    models.set_defaults(func=_cmd_models)

    encoders = sub.add_parser(
        "encoders", help="list the encoders (channels, output strides, pool indices, weights)"
    )
    encoders.set_defaults(func=_cmd_encoders)

    train = sub.add_parser("train", help="train a model from a YAML config")
    train.add_argument("config", nargs="?", help="YAML config (see src/pixelwise/configs)")
    train.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value, e.g. --set optim.lr=0.01 (repeatable)",
    )
    train.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR")
    train.set_defaults(func=_cmd_train)

    evaluate = sub.add_parser("evaluate", help="evaluate a checkpoint; prints a per-class table")
    evaluate.add_argument("checkpoint")
    evaluate.add_argument(
        "--split", default="val", help="train, val (default) or test, where the dataset has it"
    )
    evaluate.add_argument("--data", metavar="ROOT", help="dataset root (overrides the config)")
    evaluate.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    evaluate.add_argument("--crf", action="store_true", help="refine with the dense CRF")
    evaluate.add_argument("--boundary", action="store_true", help="also compute boundary F1")
    evaluate.add_argument("--out", help="JSON file for the results (default: next to CHECKPOINT)")
    evaluate.add_argument(
        "--predictions", metavar="DIR", help="also write each label map as a PNG into DIR"
    )
    evaluate.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda")
    evaluate.set_defaults(func=_cmd_evaluate)

    predict = sub.add_parser("predict", help="segment images of any size with tiled inference")
    predict.add_argument("checkpoint")
    predict.add_argument("inputs", nargs="+", help="image files (PNG/JPEG/TIFF/GeoTIFF) or folders")
    predict.add_argument("--out", required=True, help="output folder")
    tiling = "default: the model record's tiling (set by the training config's tiling section)"
    predict.add_argument("--tile", type=int, help=f"tile size in pixels ({tiling})")
    predict.add_argument("--overlap", type=int, help="overlap of neighbouring tiles in pixels")
    predict.add_argument("--blend", choices=list(BLENDS), help="crop, mean or gaussian")
    predict.add_argument(
        "--tta",
        nargs="?",
        const="all",
        choices=list(TTAS),
        help="flip test-time augmentation (--tta alone: all four flips)",
    )
    predict.add_argument("--batch-size", type=int, help="tiles per forward pass")
    predict.add_argument("--output", choices=["labels", "probs", "both"], default="labels")
    predict.add_argument("--crf", action="store_true", help="dense CRF (images that fit in memory)")
    predict.add_argument("--device", default="auto")
    predict.add_argument(
        "--format",
        choices=["gtiff", "cog"],
        help="cog: Cloud-Optimised GeoTIFF; --format, --block, --probs or torchrun select the "
        "block-wise, sharded, resumable path (see docs/scale.md)",
    )
    predict.add_argument(
        "--block", type=int, help="output block size for the block-wise path (default 2048)"
    )
    predict.add_argument(
        "--probs", choices=["uint8", "float16"], help="also write probabilities (block-wise path)"
    )
    predict.set_defaults(func=_cmd_predict)

    export = sub.add_parser("export", help="export a checkpoint to ONNX or TorchScript")
    export.add_argument("checkpoint")
    export.add_argument("--format", choices=["onnx", "torchscript", "pretrained"], default="onnx")
    export.add_argument("--out", required=True)
    export.add_argument("--size", type=int, nargs=2, default=(512, 512), metavar=("H", "W"))
    export.set_defaults(func=_cmd_export)

    demo = sub.add_parser("demo", help="train, evaluate and tile-predict on embedded data")
    demo.add_argument("--out", default="pixelwise-demo", help="report folder")
    demo.add_argument("--epochs", type=int, default=None)
    demo.add_argument("--quick", action="store_true", help="a much smaller run (for tests)")
    demo.set_defaults(func=_cmd_demo)

    serve = sub.add_parser("serve", help="a web page and a JSON/HTTP API for a trained model")
    serve.add_argument("checkpoint", help="checkpoint (.pt) or save_pretrained folder")
    serve.add_argument(
        "--images",
        metavar="DIR",
        help="gallery: DIR/images + DIR/masks (paired by stem) or a folder of images "
        "(default: the embedded synthetic scenes)",
    )
    serve.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1 (this machine)")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--max-upload-mb", type=float, default=32, help="largest upload (MB)")
    serve.add_argument(
        "--max-pixels", type=int, default=0, help="largest image (0: Pillow's MAX_IMAGE_PIXELS)"
    )
    serve.add_argument("--workers", type=int, default=1, help="inference threads")
    serve.add_argument("--queue", type=int, default=8, help="requests that may wait (503 beyond)")
    serve.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    serve.add_argument("--device", default="auto")
    serve.set_defaults(func=_cmd_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    from pixelwise.record import RecordError
    from pixelwise.registry import ModelOptionsError
    from pixelwise.training.config_schema import ConfigError

    try:
        return int(args.func(args))
    except (ConfigError, FileNotFoundError, RecordError, ModelOptionsError) as exc:
        print(f"pixelwise {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
