"""A printable, serialisable summary of a segmentation evaluation."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pixelwise.metrics import scores
from pixelwise.metrics.confusion import ConfusionMatrix

ABSENT_NOTE = (
    "nan = class absent from both prediction and ground truth; such classes are excluded from "
    "the means."
)


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    return value


def _cell(value: float, width: int) -> str:
    return f"{'nan':>{width}}" if math.isnan(value) else f"{value:>{width}.4f}"


@dataclass
class SegmentationReport:
    """Per-class and summary metrics of one evaluation (see :mod:`pixelwise.metrics.scores`).

    Per-class lists have one entry per class; NaN marks a class absent from both prediction and
    ground truth (excluded from every mean). ``average_precision`` (per class) and
    ``boundary_f1`` (scalar) are optional extras.
    """

    class_names: list[str]
    iou: list[float]
    precision: list[float]
    recall: list[float]
    f1: list[float]
    support: list[int]
    pixel_accuracy: float
    mean_accuracy: float
    mean_iou: float
    micro_iou: float
    fw_iou: float
    kappa: float
    average_precision: list[float] | None = None
    mean_average_precision: float | None = None
    boundary_f1: float | None = None
    extras: dict[str, float] = field(default_factory=dict)

    @classmethod
    def from_confusion(
        cls,
        confusion: ConfusionMatrix,
        class_names: Sequence[str] | None = None,
        average_precision: Sequence[float] | None = None,
        boundary_f1: float | None = None,
    ) -> SegmentationReport:
        """Build the report from a (synced) confusion matrix and optional AP / BF results."""
        num_classes = confusion.num_classes
        names = [str(c) for c in range(num_classes)] if class_names is None else list(class_names)
        if len(names) != num_classes:
            raise ValueError(
                f"got {len(names)} class names for {num_classes} classes; pass one name per class."
            )
        mean_ap = None
        ap_list = None
        if average_precision is not None:
            ap_list = [float(v) for v in average_precision]
            kept = [v for v in ap_list if not math.isnan(v)]
            mean_ap = sum(kept) / len(kept) if kept else math.nan
        summary = scores.summary(confusion)
        return cls(
            class_names=names,
            iou=scores.per_class_iou(confusion).tolist(),
            precision=scores.per_class_precision(confusion).tolist(),
            recall=scores.per_class_recall(confusion).tolist(),
            f1=scores.per_class_f1(confusion).tolist(),
            support=scores.support(confusion).tolist(),
            pixel_accuracy=summary["pixel_accuracy"],
            mean_accuracy=summary["mean_accuracy"],
            mean_iou=summary["mean_iou"],
            micro_iou=summary["micro_iou"],
            fw_iou=summary["fw_iou"],
            kappa=summary["kappa"],
            average_precision=ap_list,
            mean_average_precision=mean_ap,
            boundary_f1=boundary_f1,
        )

    def summary(self) -> dict[str, float]:
        out = {
            "pixel_accuracy": self.pixel_accuracy,
            "mean_accuracy": self.mean_accuracy,
            "mean_iou": self.mean_iou,
            "micro_iou": self.micro_iou,
            "fw_iou": self.fw_iou,
            "kappa": self.kappa,
        }
        if self.mean_average_precision is not None:
            out["mean_average_precision"] = self.mean_average_precision
        if self.boundary_f1 is not None:
            out["boundary_f1"] = self.boundary_f1
        return {**out, **self.extras}

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-safe dict: NaN becomes None."""
        per_class = []
        for c, name in enumerate(self.class_names):
            row: dict[str, Any] = {
                "class": name,
                "iou": self.iou[c],
                "precision": self.precision[c],
                "recall": self.recall[c],
                "f1": self.f1[c],
                "support": self.support[c],
            }
            if self.average_precision is not None:
                row["average_precision"] = self.average_precision[c]
            per_class.append(row)
        return _json_safe({"per_class": per_class, "summary": self.summary()})

    def to_json(self, **kwargs: Any) -> str:
        """JSON text (``allow_nan=False``: NaN is written as null)."""
        return json.dumps(self.to_dict(), allow_nan=False, **kwargs)

    def __str__(self) -> str:
        name_width = max(5, *(len(n) for n in self.class_names))
        columns = ["IoU", "Prec", "Recall", "F1"]
        if self.average_precision is not None:
            columns.append("AP")
        header = f"{'class':<{name_width}} " + " ".join(f"{c:>8}" for c in columns)
        lines = [header + f" {'support':>12}", "-" * (len(header) + 13)]
        for c, name in enumerate(self.class_names):
            values = [self.iou[c], self.precision[c], self.recall[c], self.f1[c]]
            if self.average_precision is not None:
                values.append(self.average_precision[c])
            cells = " ".join(_cell(v, 8) for v in values)
            lines.append(f"{name:<{name_width}} {cells} {self.support[c]:>12d}")
        lines.append("-" * (len(header) + 13))
        for key, value in self.summary().items():
            lines.append(f"{key:<24} {_cell(value, 8)}")
        lines.append(ABSENT_NOTE)
        return "\n".join(lines)
