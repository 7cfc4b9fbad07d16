"""What the ``pixelwise`` command does, as typed functions: evaluate, predict, export, demo and
the CRF. Each reads a checkpoint's :class:`~pixelwise.record.ModelRecord` and nothing else;
:mod:`pixelwise.cli` only parses arguments and calls them.

Imports point one way: ``training`` <- ``commands`` <- ``cli``; the commands may use
``tiling`` and ``crf``, the engine never does.
"""

from __future__ import annotations

from pixelwise.commands.evaluate import EvaluationOutcome, run_evaluation
from pixelwise.commands.export import export_checkpoint
from pixelwise.commands.predict import predict_path, run_predict

__all__ = [
    "EvaluationOutcome",
    "export_checkpoint",
    "predict_path",
    "run_evaluation",
    "run_predict",
]
