"""The ``pixelwise`` command: models, train, evaluate, predict, export, demo."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pixelwise import __version__


def _cmd_models(args: argparse.Namespace) -> int:
    from pixelwise.registry import list_models, model_info

    names = list_models()
    if not names:
        print("no models registered")
        return 0
    for name in names:
        entry = model_info(name)
        print(f"{name:<20} {entry.default_backbone or '-':<14} {entry.paper}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pixelwise",
        description="Semantic segmentation on PyTorch: train, evaluate, predict and export.",
    )
    parser.add_argument("--version", action="version", version=f"pixelwise {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    models = sub.add_parser("models", help="list the registered models")
    models.set_defaults(func=_cmd_models)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
