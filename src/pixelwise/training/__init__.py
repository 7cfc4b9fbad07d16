"""The training engine: typed config, data set-up, the :class:`Trainer`, evaluation, and loading
a trained model back from its record.

It knows nothing of tiled inference, the CRF or command-line parsing (those live in
:mod:`pixelwise.tiling`, :mod:`pixelwise.crf` and :mod:`pixelwise.commands`).

Example:
    >>> from pixelwise.training import Trainer, load_config
    >>> Trainer(load_config("configs/demo.yaml")).fit()  # doctest: +SKIP
"""

from __future__ import annotations

from pixelwise.training.config import (
    Config,
    DataConfig,
    LossConfig,
    ModelConfig,
    OptimConfig,
    TrainConfig,
    config_from_dict,
    load_config,
)
from pixelwise.training.config_schema import ConfigError
from pixelwise.training.data_setup import DataBundle, available_splits, build_data, build_split
from pixelwise.training.distributed import DistInfo
from pixelwise.training.evaluation import EvaluationResult, evaluate_model
from pixelwise.training.inference import (
    LoadedModel,
    build_model,
    load_trained_model,
    make_record,
    pick_device,
)
from pixelwise.training.trainer import NonFiniteLossError, Trainer

__all__ = [
    "Config",
    "ConfigError",
    "DataBundle",
    "DataConfig",
    "DistInfo",
    "EvaluationResult",
    "LoadedModel",
    "LossConfig",
    "ModelConfig",
    "NonFiniteLossError",
    "OptimConfig",
    "TrainConfig",
    "Trainer",
    "available_splits",
    "build_data",
    "build_model",
    "build_split",
    "config_from_dict",
    "evaluate_model",
    "load_config",
    "load_trained_model",
    "make_record",
    "pick_device",
]
