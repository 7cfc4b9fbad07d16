"""SegmentationReport: table, dict and JSON (NaN -> null) from a known confusion matrix."""

from __future__ import annotations

import json
import math

import pytest
import torch

from pixelwise.metrics import ConfusionMatrix, SegmentationReport


def _matrix() -> ConfusionMatrix:
    # same 2 x 3 example as test_scores.test_hand_worked_example, with a 4th class never seen
    metric = ConfusionMatrix(4)
    metric.update(torch.tensor([[0, 1, 1], [1, 2, 0]]), torch.tensor([[0, 0, 1], [1, 2, 2]]))
    return metric


def test_table_lists_classes_summary_and_the_absent_class_note():
    report = _matrix().report(["road", "car", "tree", "sky"])
    text = str(report)
    for expected in ["road", "car", "tree", "sky", "support", "mean_iou", "kappa", "fw_iou"]:
        assert expected in text
    sky_row = next(line for line in text.splitlines() if line.startswith("sky"))
    assert sky_row.split()[1:] == ["nan", "nan", "nan", "nan", "0"]
    assert "excluded from the means" in text
    road_row = next(line for line in text.splitlines() if line.startswith("road"))
    assert road_row.split()[1:] == ["0.3333", "0.5000", "0.5000", "0.5000", "2"]


def test_dict_and_json_turn_nan_into_null():
    report = SegmentationReport.from_confusion(
        _matrix(), average_precision=[0.5, 1.0, math.nan, math.nan], boundary_f1=0.25
    )
    as_dict = report.to_dict()
    assert as_dict["per_class"][3]["iou"] is None
    assert as_dict["per_class"][1]["average_precision"] == 1.0
    assert as_dict["summary"]["mean_iou"] == pytest.approx(0.5)
    assert as_dict["summary"]["mean_average_precision"] == pytest.approx(0.75)
    assert as_dict["summary"]["boundary_f1"] == 0.25
    decoded = json.loads(report.to_json())  # strict JSON: no NaN tokens
    assert decoded == json.loads(json.dumps(as_dict))
    assert "NaN" not in report.to_json()
    assert "AP" in str(report)


def test_empty_report_is_all_null_and_names_must_match():
    report = ConfusionMatrix(2).report()
    assert all(v is None for v in report.to_dict()["summary"].values())
    with pytest.raises(ValueError, match="3 class names for 2 classes"):
        ConfusionMatrix(2).report(["a", "b", "c"])
