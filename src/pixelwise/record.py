"""The model record: everything needed to run a trained model correctly, saved with it.

A :class:`ModelRecord` travels inside every checkpoint (``checkpoint["record"]``), every ONNX
export (``metadata_props["pixelwise.record"]``) and every TorchScript export (the
``pixelwise.record.json`` extra file). Evaluation, prediction, export and the library's loader
read it and nothing else, so the pixels, classes and options a model sees are the same at every
seam:

- ``architecture`` and its validated ``options`` (what :func:`pixelwise.create_model` takes);
- ``classes``: the full class table (names, ids, colours, ignore value);
- ``preprocessing``: bands used (1-based, in order), per-band scale derived once from the training
  pixels' dtype (uint8 1/255, uint16 1/65535, floats 1), per-band mean/std, the nodata override
  and the input scale; a model input is ``(raw * scale - mean) / std`` with nodata pixels' raw
  values set to 0 first;
- ``tiling``: the default :class:`TilingOptions` for large images.

The record is versioned (:data:`RECORD_VERSION`); :func:`upgrade_checkpoint` turns the one older
checkpoint layout into a record, and a newer or foreign file gets an error saying what it is.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from pixelwise import __version__
from pixelwise.data.classes import ClassTable

RECORD_VERSION = 2
CHECKPOINT_FORMAT = f"pixelwise-checkpoint-{RECORD_VERSION}"
ONNX_METADATA_KEY = "pixelwise.record"
Blend = Literal["crop", "mean", "gaussian"]
TTA = Literal["none", "hflip", "flips", "all"]
BLENDS: tuple[str, ...] = ("crop", "mean", "gaussian")
TTAS: tuple[str, ...] = ("none", "hflip", "flips", "all")


class RecordError(ValueError):
    """A model record (or the checkpoint holding it) is missing, foreign, too new or invalid."""


def check_tile_overlap(tile: int, overlap: int, axis: str = "") -> None:
    """The one validity rule of tiling: ``tile > 0``, ``overlap >= 0``, ``tile >= 2 * overlap``
    (each tile keeps an inner part between its two margins)."""
    where = f" ({axis})" if axis else ""
    if tile <= 0:
        raise ValueError(f"tile size{where} must be positive; got {tile}")
    if overlap < 0:
        raise ValueError(f"overlap{where} must be >= 0; got {overlap}")
    if tile < 2 * overlap:
        raise ValueError(
            f"tile size{where} {tile} is smaller than twice the overlap {overlap}: a tile must "
            f"keep an inner part between its two margins; use overlap <= {tile // 2} "
            f"or a tile >= {2 * overlap}"
        )


@dataclass(frozen=True)
class TilingOptions:
    """How a large image is cut into overlapping tiles and put back together.

    ``tile``/``overlap`` in pixels; ``blend``: ``crop`` keeps each tile's inner part, ``mean``
    averages the overlaps, ``gaussian`` weights them by a Gaussian window (sigma = tile / 8);
    ``batch_size`` tiles per forward pass; ``tta``: flip test-time augmentation (``none``,
    ``hflip``, ``flips`` = identity + h + v, ``all`` = + hv).
    """

    tile: int = 512
    overlap: int = 64
    blend: Blend = "gaussian"
    batch_size: int = 4
    tta: TTA = "none"

    def __post_init__(self) -> None:
        check_tile_overlap(self.tile, self.overlap)
        if self.blend not in BLENDS:
            raise ValueError(f"blend must be one of {', '.join(BLENDS)}; got {self.blend!r}")
        if self.tta not in TTAS:
            raise ValueError(f"tta must be one of {', '.join(TTAS)}; got {self.tta!r}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1; got {self.batch_size}")

    def replace(self, **changes: Any) -> TilingOptions:
        """A copy with the given fields changed (``None`` values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


@dataclass(frozen=True)
class Preprocessing:
    """Raw file pixels -> model input, band by band: ``(raw * scale - mean) / std``.

    ``bands``: 1-based bands read from each file, in order (``None``: all, as stored).
    ``dtype``: the numpy dtype of the training pixels; ``scale`` was derived from it.
    ``nodata``: overrides each file's own nodata value (``None``: use the file's).
    ``input_scale``: images are resized by this factor before the model (and logits back).
    """

    in_channels: int
    dtype: str
    scale: tuple[float, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    bands: tuple[int, ...] | None = None
    nodata: float | None = None
    input_scale: float = 1.0

    def __post_init__(self) -> None:
        for name in ("scale", "mean", "std"):
            values = getattr(self, name)
            if len(values) != self.in_channels:
                raise ValueError(
                    f"preprocessing.{name} has {len(values)} values for {self.in_channels} "
                    "input channels; give one per channel"
                )
        if any(s <= 0 for s in self.std):
            raise ValueError(f"preprocessing.std must be positive; got {self.std}")
        if self.bands is not None and len(self.bands) != self.in_channels:
            raise ValueError(
                f"preprocessing.bands selects {len(self.bands)} bands for {self.in_channels} "
                "input channels"
            )
        if not 0 < self.input_scale <= 4:
            raise ValueError(f"preprocessing.input_scale must be in (0, 4]; got {self.input_scale}")


@dataclass(frozen=True)
class ModelRecord:
    """A trained model's identity card (see the module docstring)."""

    architecture: str
    options: dict[str, Any]
    num_outputs: int
    classes: ClassTable
    preprocessing: Preprocessing
    tiling: TilingOptions = field(default_factory=TilingOptions)
    version: int = RECORD_VERSION
    pixelwise_version: str = __version__
    upgraded_from: int | None = None

    def __post_init__(self) -> None:
        expected = 1 if self.classes.num_classes == 1 else self.classes.num_classes
        if self.num_outputs != expected:
            raise ValueError(
                f"the model has {self.num_outputs} output channels but the class table has "
                f"{self.classes.num_classes} classes"
            )

    # -- the label set a prediction uses (the binary convention, once) ------------------------
    @property
    def labels(self) -> ClassTable:
        """The labels of a prediction: the class table, or for a one-class (binary, one output
        channel) model ``background`` (label 0, black) then the class (label 1)."""
        if self.classes.num_classes > 1:
            return self.classes
        only = self.classes.classes[0]
        ignore = self.classes.ignore_index
        background = (0, 0, 0) if only.color != (0, 0, 0) else (255, 255, 255)
        return ClassTable.from_names(
            ["background", only.name],
            [background, only.color],
            ignore_index=None if ignore in (None, 0, 1) else ignore,
            ignore_color=None if ignore in (None, 0, 1) else self.classes.ignore_color,
        )

    @property
    def in_channels(self) -> int:
        return self.preprocessing.in_channels

    # -- serialisation ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain types only (safe for ``torch.load(weights_only=True)`` and JSON)."""
        pre = asdict(self.preprocessing)
        for key in ("scale", "mean", "std", "bands"):
            pre[key] = None if pre[key] is None else list(pre[key])
        return {
            "version": self.version,
            "pixelwise_version": self.pixelwise_version,
            "upgraded_from": self.upgraded_from,
            "architecture": self.architecture,
            "options": dict(self.options),
            "num_outputs": self.num_outputs,
            "classes": self.classes.to_dict(),
            "preprocessing": pre,
            "tiling": asdict(self.tiling),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "model record") -> ModelRecord:
        """Validate and build; a newer version or a malformed record raises :class:`RecordError`
        naming ``source``."""
        if not isinstance(data, dict) or "version" not in data:
            raise RecordError(f"{source}: not a pixelwise model record (no 'version')")
        version = data["version"]
        if not isinstance(version, int) or version > RECORD_VERSION:
            raise RecordError(
                f"{source}: model record version {version!r} was written by pixelwise "
                f"{data.get('pixelwise_version', '(unknown)')}, newer than this pixelwise "
                f"{__version__} (reads up to version {RECORD_VERSION}); upgrade it with "
                "pip install -U pixelwise"
            )
        if version < RECORD_VERSION:
            raise RecordError(
                f"{source}: model record version {version} has no upgrade step; load the "
                "checkpoint with pixelwise.load_trained_model, which upgrades old checkpoints"
            )
        try:
            pre = dict(data["preprocessing"])
            for key in ("scale", "mean", "std"):
                pre[key] = tuple(float(v) for v in pre[key])
            if pre.get("bands") is not None:
                pre["bands"] = tuple(int(b) for b in pre["bands"])
            return cls(
                architecture=str(data["architecture"]),
                options=dict(data["options"]),
                num_outputs=int(data["num_outputs"]),
                classes=ClassTable.from_dict(data["classes"]),
                preprocessing=Preprocessing(**pre),
                tiling=TilingOptions(**data.get("tiling", {})),
                version=version,
                pixelwise_version=str(data.get("pixelwise_version", "")),
                upgraded_from=data.get("upgraded_from"),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise RecordError(f"{source}: invalid model record: {error}") from error

    @classmethod
    def from_json(cls, text: str, *, source: str = "model record") -> ModelRecord:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise RecordError(f"{source}: model record is not valid JSON: {error}") from error
        return cls.from_dict(data, source=source)


def record_from_checkpoint(checkpoint: dict[str, Any], *, source: str) -> ModelRecord:
    """The record of a loaded checkpoint dict, upgrading the older layout; errors name
    ``source`` and say what the file is."""
    if not isinstance(checkpoint, dict):
        raise RecordError(f"{source} is not a pixelwise checkpoint (it holds a {type(checkpoint)})")
    marker = checkpoint.get("format")
    if marker == CHECKPOINT_FORMAT:
        return ModelRecord.from_dict(checkpoint["record"], source=source)
    if marker == "pixelwise-checkpoint-1":
        return upgrade_checkpoint(checkpoint, source=source)
    if isinstance(marker, str) and marker.startswith("pixelwise-checkpoint-"):
        raise RecordError(
            f"{source} is a {marker} file, written by a newer pixelwise than {__version__} "
            f"(which reads formats 1..{RECORD_VERSION}); upgrade with pip install -U pixelwise"
        )
    hint = ""
    if marker is None and checkpoint and all(hasattr(v, "shape") for v in checkpoint.values()):
        hint = (
            " It looks like a plain state_dict: build the model with pixelwise.create_model(...) "
            "and call load_state_dict on it."
        )
    raise RecordError(f"{source} is not a pixelwise checkpoint (no 'format' marker).{hint}")


def _builtin_class_table(dataset: str) -> ClassTable | None:
    from pixelwise.data import CAMVID_CLASSES, ISBI_CLASSES, SYNTHETIC_CLASSES

    tables = {"synthetic": SYNTHETIC_CLASSES, "camvid": CAMVID_CLASSES, "isbi2012": ISBI_CLASSES}
    return tables.get(dataset)


def upgrade_checkpoint(checkpoint: dict[str, Any], *, source: str) -> ModelRecord:
    """The upgrade step from ``pixelwise-checkpoint-1`` (pixelwise 0.1): that layout stored the
    model name, class names, channels, ignore index, mean/std and the training config, but no
    colours, dtype scale or bands. Colours come from the dataset's built-in table when the config
    names one, else the default palette; the scale is 1/255 per band (what 0.1's ``predict``
    used, right for the 8-bit images it supported); the input scale from the saved config."""
    try:
        config = checkpoint["config"]
        data = config.get("data", {})
        names = list(checkpoint["classes"])
        ignore = checkpoint["ignore_index"]
        table = _builtin_class_table(str(data.get("dataset", "")))
        if table is None or table.names != names:
            table = ClassTable.from_names(names, ignore_index=ignore)
        in_channels = int(checkpoint["in_channels"])
        norm = checkpoint["normalization"]
        eval_scale = data.get("eval_scale")
        input_scale = float(data.get("train_scale", 1.0) if eval_scale is None else eval_scale)
        preprocessing = Preprocessing(
            in_channels=in_channels,
            dtype="uint8",
            scale=(1 / 255,) * in_channels,
            mean=tuple(float(v) for v in norm["mean"]),
            std=tuple(float(v) for v in norm["std"]),
            input_scale=input_scale,
        )
        return ModelRecord(
            architecture=str(checkpoint["model_name"]),
            options=dict(config["model"]["options"]),
            num_outputs=int(checkpoint["num_classes"]),
            classes=table,
            preprocessing=preprocessing,
            pixelwise_version="0.1.0",
            upgraded_from=1,
        )
    except (KeyError, TypeError, ValueError) as error:
        raise RecordError(
            f"{source}: a pixelwise-checkpoint-1 file that cannot be upgraded ({error}); "
            "it may be damaged"
        ) from error
