"""``pixelwise evaluate``: per-class table, JSON and plots for a checkpoint on a dataset split."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pixelwise.training import (
    ConfigError,
    DistInfo,
    EvaluationResult,
    build_data,
    build_split,
    config_from_dict,
    evaluate_model,
    load_trained_model,
    pick_device,
)
from pixelwise.training.reporting import plot_class_iou, plot_confusion_matrix


@dataclass
class EvaluationOutcome:
    result: EvaluationResult
    json_path: Path
    prediction_paths: list[Path]


def _item_name(dataset: Any, index: int) -> str:
    """A file stem for item ``index`` (the image's own stem where the dataset has files)."""
    pairs = getattr(dataset, "pairs", None)
    if pairs is not None:
        return str(Path(pairs[index][0]).stem)
    return f"{index:05d}"


def run_evaluation(
    checkpoint: str | Path,
    *,
    split: str = "val",
    data_root: str | None = None,
    overrides: Sequence[str] = (),
    crf: bool = False,
    crf_params: dict[str, float] | None = None,
    boundary: bool = False,
    out: str | Path | None = None,
    predictions: str | Path | None = None,
    device: str = "auto",
    progress: bool = True,
) -> EvaluationOutcome:
    """Evaluate ``checkpoint`` on ``split`` of the data it was trained on (or ``data_root`` /
    ``overrides``), in batches of ``data.val_batch_size`` equal-sized images.

    Writes ``out`` (default ``eval_<split>[_crf].json`` next to the checkpoint) with the report
    and confusion matrix, and its two plots; with ``predictions`` each label map as a palette PNG
    in the class table's colours (named after the image).
    """
    torch_device = pick_device(device)
    loaded = load_trained_model(checkpoint, torch_device)
    if not loaded.config:
        raise ConfigError(f"{checkpoint} carries no training config to find its data in")
    extra = list(overrides)
    if data_root:
        extra.append(f"data.root={data_root}")
    config = config_from_dict(dict(loaded.config), extra)
    bundle = build_data(config, DistInfo())
    if split != "val":
        bundle.val = build_split(config.data, split, seed=config.train.seed)
    out_path = (
        Path(out)
        if out
        else Path(checkpoint).with_name(f"eval_{split}{'_crf' if crf else ''}.json")
    )
    if out_path.suffix.lower() in (".pt", ".pth", ".onnx"):
        raise ValueError(f"--out {out_path} would overwrite a model file; give a .json path")
    written: list[Path] = []
    on_labels = None
    if predictions is not None:
        from pixelwise.tiling.outputs import save_label_png

        folder = Path(predictions)
        folder.mkdir(parents=True, exist_ok=True)
        colors = loaded.record.labels.colors

        def on_labels(index: int, labels: Any) -> None:
            name = _item_name(bundle.val, index)
            written.append(save_label_png(folder / f"{name}_labels.png", labels, colors))

    refine = None
    if crf:
        from pixelwise.commands.crf import crf_refiner

        refine = crf_refiner(crf_params)
    result = evaluate_model(
        loaded.model,
        bundle,
        torch_device,
        DistInfo(),
        batch_size=config.data.val_batch_size,
        progress=progress,
        refine=refine,
        boundary=boundary,
        on_labels=on_labels,
    )
    payload = {
        "checkpoint": str(checkpoint),
        "split": split,
        "crf": bool(crf),
        **result.report.to_dict(),
        "confusion_matrix": result.confusion.tolist(),
    }
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(payload, indent=2))
    names = result.report.class_names
    plot_confusion_matrix(
        result.confusion, names, out_path.with_name(out_path.stem + "_confusion.png")
    )
    plot_class_iou(result.report.iou, names, out_path.with_name(out_path.stem + "_class_iou.png"))
    return EvaluationOutcome(result, out_path, written)
