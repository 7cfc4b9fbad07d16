"""Training configuration: typed dataclasses loaded from YAML, validated, saved with checkpoints."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from pixelwise.record import TilingOptions
from pixelwise.training.config_schema import ConfigError, apply_override, from_dict, to_dict


@dataclass
class ModelConfig:
    """Which registered model to build and its keyword options (see ``pixelwise models``)."""

    name: str = "unet"
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class DataConfig:
    """Where the images come from and how they are augmented.

    ``dataset``: ``synthetic`` (embedded, no files), ``folder`` (``train_images``/``train_masks``,
    ``val_images``/``val_masks`` and optionally ``test_images``/``test_masks``, paired by file
    stem, class table in ``classes``), ``camvid`` (SegNet release layout under ``root``, with a
    test split) or ``isbi2012`` (under ``root``).
    ``mean``/``std`` (one per band) normalise the scaled pixels; unset, 8-bit RGB uses ImageNet's,
    other 8-bit images 0.5/0.25, and 16-bit or float images the per-band statistics of up to 64
    training images (measured once, recorded in the model record).
    ``bands`` (1-based, in order) selects the bands read from every image file, in training and
    at prediction; ``nodata`` overrides the files' own nodata value. Nodata pixels are labelled
    ``ignore_index`` and enter the model as raw value 0.
    ``batch_size`` is the global batch: with N processes each takes ``batch_size / N``.
    ``train_scale`` < 1 trains on downscaled images. Evaluation is always scored against the
    full-resolution labels: the image is resized by ``eval_scale`` (default: ``train_scale``, so
    objects have the size the model learned), and the logits are resized back to the labels.
    ``rasters`` trains patch-wise on large images read lazily (the lecture's practical remark):
    ``patches_per_epoch`` random ``patch_size`` windows of ``train_rasters`` (``patch_sampling``
    ``class_aware`` picks a class uniformly first, favouring rare classes), validated on the grid
    of non-overlapping patches of ``val_rasters``.
    """

    dataset: Literal["synthetic", "folder", "camvid", "isbi2012", "rasters"] = "synthetic"
    root: str | None = None
    train_images: str | None = None
    train_masks: str | None = None
    val_images: str | None = None
    val_masks: str | None = None
    classes: str | None = None
    train_rasters: list[str] | None = None
    train_raster_masks: list[str] | None = None
    val_rasters: list[str] | None = None
    val_raster_masks: list[str] | None = None
    test_images: str | None = None
    test_masks: str | None = None
    test_rasters: list[str] | None = None
    test_raster_masks: list[str] | None = None
    bands: list[int] | None = None
    nodata: float | None = None
    patch_size: int = 256
    patches_per_epoch: int = 512
    patch_sampling: Literal["random", "class_aware"] = "random"
    mask_mode: Literal["index", "rgb"] = "index"
    train_samples: int = 256
    val_samples: int = 64
    image_size: tuple[int, int] = (128, 128)
    train_scale: float = 1.0
    eval_scale: float | None = None
    crop_size: int | None = None
    scale_range: tuple[float, float] = (1.0, 1.0)
    hflip: bool = True
    vflip: bool = False
    rotate90: bool = False
    color_jitter: float = 0.0
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    batch_size: int = 8
    val_batch_size: int = 4
    num_workers: int = 0
    limit_train: int | None = None
    limit_val: int | None = None

    @property
    def input_scale(self) -> float:
        """The factor images are resized by before the model at evaluation and prediction."""
        return self.train_scale if self.eval_scale is None else self.eval_scale


@dataclass
class LossConfig:
    """A weighted sum of named losses (``pixelwise.losses.list_losses()``), with optional class
    weights estimated from the training labels (``inverse_frequency``, ``median_frequency``,
    ``inverse_sqrt``) or given per class. ``aux_weight`` weights the auxiliary head's loss
    (models built with one); ``None`` takes the model's own paper value (0.4 or 0.5)."""

    terms: list[dict[str, Any]] = field(default_factory=lambda: [{"name": "ce", "weight": 1.0}])
    class_weights: str | list[float] | None = None
    aux_weight: float | None = None


@dataclass
class OptimConfig:
    """``encoder_lr``: the learning rate of the model's encoder (e.g. 10x lower than ``lr`` to
    fine-tune a pretrained one); ``None`` trains everything at ``lr``. Schedules scale both."""

    name: Literal["sgd", "adamw"] = "adamw"
    lr: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 1e-4
    schedule: Literal["poly", "cosine", "constant"] = "poly"
    power: float = 0.9
    warmup_steps: int = 0
    min_lr: float = 0.0
    grad_clip: float | None = None
    encoder_lr: float | None = None


@dataclass
class TrainConfig:
    """How the loop runs. ``precision``: ``auto`` is float16 mixed precision with a gradient
    scaler on CUDA and float32 on the CPU; ``bf16`` autocasts to bfloat16 on either (about 2x
    faster training on CPUs with AVX512-BF16 or AMX); ``fp16`` needs CUDA. ``channels_last``
    stores activations NHWC, which oneDNN and cuDNN convolutions prefer.
    ``freeze_encoder_epochs``: the encoder (weights and BatchNorm statistics) stays fixed for the
    first N epochs while the decoder learns, then trains with the rest."""

    epochs: int = 10
    seed: int = 0
    device: str = "auto"
    precision: Literal["auto", "fp32", "fp16", "bf16"] = "auto"
    channels_last: bool = False
    eval_every: int = 1
    early_stopping: int = 0
    checkpoint_every_steps: int = 0
    max_steps_per_epoch: int | None = None
    max_minutes: float | None = None
    output_dir: str = "runs/run"
    plots: bool = True
    progress: bool = True
    deterministic: bool = True
    freeze_encoder_epochs: int = 0


@dataclass
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    tiling: TilingOptions = field(default_factory=TilingOptions)

    def validate(self) -> Config:
        """Check names and model options against the registries, paths on disk, and value
        ranges; nothing is read or built, so a typo fails before any data is touched."""
        from pixelwise.losses import list_losses
        from pixelwise.registry import list_models, validate_model_options

        models = list_models()
        if self.model.name not in models:
            raise ConfigError(
                f"model.name: unknown model {self.model.name!r}; valid: {', '.join(models)}"
            )
        try:
            validate_model_options(self.model.name, self.model.options)
        except ValueError as error:
            raise ConfigError(f"model.options: {error}") from None
        losses = list_losses()
        for i, term in enumerate(self.loss.terms):
            name = term.get("name")
            if name not in losses:
                raise ConfigError(
                    f"loss.terms[{i}].name: unknown loss {name!r}; valid: {', '.join(losses)}"
                )
        if isinstance(self.loss.class_weights, str) and self.loss.class_weights not in (
            "inverse_frequency",
            "median_frequency",
            "inverse_sqrt",
        ):
            raise ConfigError(
                f"loss.class_weights: {self.loss.class_weights!r} is not valid; choose "
                "inverse_frequency, median_frequency, inverse_sqrt, or a list of per-class weights"
            )
        data = self.data
        needed = {
            "folder": ["train_images", "train_masks", "val_images", "val_masks"],
            "camvid": ["root"],
            "isbi2012": ["root"],
            "rasters": ["train_rasters", "train_raster_masks", "val_rasters", "val_raster_masks"],
        }.get(data.dataset, [])
        for key in needed:
            value = getattr(data, key)
            if value is None:
                raise ConfigError(f"data.{key}: required for dataset {data.dataset!r}")
            for item in value if isinstance(value, list) else [value]:
                if not Path(item).exists():
                    raise ConfigError(f"data.{key}: path {item!r} does not exist")
        if data.dataset == "rasters":
            for split in ("train", "val"):
                images = getattr(data, f"{split}_rasters")
                masks = getattr(data, f"{split}_raster_masks")
                if len(images) != len(masks):
                    raise ConfigError(
                        f"data.{split}_rasters has {len(images)} files but "
                        f"data.{split}_raster_masks has {len(masks)}; give one mask per raster"
                    )
        for images_key, masks_key in (("test_images", "test_masks"),
                                      ("test_rasters", "test_raster_masks")):  # fmt: skip
            images, masks = getattr(data, images_key), getattr(data, masks_key)
            if (images is None) != (masks is None):
                raise ConfigError(f"data.{images_key} and data.{masks_key}: give both or none")
            for key, item in ((images_key, images), (masks_key, masks)):
                for path in [] if item is None else item if isinstance(item, list) else [item]:
                    if not Path(path).exists():
                        raise ConfigError(f"data.{key}: path {path!r} does not exist")
        if data.bands is not None and (not data.bands or min(data.bands) < 1):
            raise ConfigError(f"data.bands: 1-based band numbers, got {data.bands}")
        if data.classes is not None and not Path(data.classes).exists():
            raise ConfigError(f"data.classes: path {data.classes!r} does not exist")
        positive = {
            "data.batch_size": data.batch_size,
            "data.val_batch_size": data.val_batch_size,
            "train.epochs": self.train.epochs,
            "optim.lr": self.optim.lr,
            "data.train_scale": data.train_scale,
        }
        for key, value in positive.items():
            if value <= 0:
                raise ConfigError(f"{key}: must be > 0, got {value}")
        if self.optim.encoder_lr is not None and self.optim.encoder_lr <= 0:
            raise ConfigError(f"optim.encoder_lr: must be > 0, got {self.optim.encoder_lr}")
        if self.train.freeze_encoder_epochs < 0:
            raise ConfigError(
                f"train.freeze_encoder_epochs: must be >= 0, got {self.train.freeze_encoder_epochs}"
            )
        if not 0 < data.train_scale <= 1:
            raise ConfigError(f"data.train_scale: must be in (0, 1], got {data.train_scale}")
        if data.eval_scale is not None and not 0 < data.eval_scale <= 4:
            raise ConfigError(f"data.eval_scale: must be in (0, 4], got {data.eval_scale}")
        return self

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)  # type: ignore[no-any-return]

    def save(self, path: str | Path) -> None:
        Path(path).write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))


def config_from_dict(data: dict[str, Any], overrides: list[str] | None = None) -> Config:
    data = dict(data)
    for assignment in overrides or []:
        apply_override(data, assignment)
    return from_dict(Config, data).validate()


def load_config(path: str | Path, overrides: list[str] | None = None) -> Config:
    """Read a YAML config, apply ``key.sub=value`` overrides, convert and validate."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file {str(path)!r} does not exist")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    try:
        return config_from_dict(data, overrides)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
