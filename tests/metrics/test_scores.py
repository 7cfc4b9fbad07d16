"""Scores from the confusion matrix vs. scikit-learn, torchmetrics and hand calculations.

torchmetrics option mapping (``MulticlassJaccardIndex`` / ``Precision`` / ``Recall`` / ``F1Score``
with ``ignore_index`` = ours):
* ``average='none'`` returns ``zero_division`` (0) for a class absent from prediction and truth
  where we return NaN -> compare on present classes only (``TP + FP + FN > 0``); on present
  classes both use 0 for a 0/0 precision or recall.
* ``average='macro'`` (Jaccard) already gives absent classes weight 0 -> equals our mean IoU.
* ``average='micro'`` (Jaccard) = sum TP / sum (TP + FP + FN) = our micro IoU.
scikit-learn: ``jaccard_score`` / ``precision_recall_fscore_support`` with
``labels=<present classes>``; ``balanced_accuracy_score`` = our mean class accuracy.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from sklearn import metrics as skm
from torchmetrics.classification import (
    MulticlassCohenKappa,
    MulticlassF1Score,
    MulticlassJaccardIndex,
    MulticlassPrecision,
    MulticlassRecall,
)

from pixelwise.metrics import ConfusionMatrix, mean_iou, scores

NUM_CLASSES = 6


def _case(seed: int, absent: int | None = None, ignore: int | None = 255):
    """Random maps over 6 classes (class ``absent`` removed from both sides), ~10 % ignored."""
    g = torch.Generator().manual_seed(seed)
    target = torch.randint(0, NUM_CLASSES, (2, 24, 24), generator=g)
    # correlated prediction so IoUs are not all tiny
    pred = torch.where(torch.rand(target.shape, generator=g) < 0.6, target, 0)
    pred = torch.where(pred == 0, torch.randint(0, NUM_CLASSES, target.shape, generator=g), pred)
    if absent is not None:
        target[target == absent] = (absent + 1) % NUM_CLASSES
        pred[pred == absent] = (absent + 2) % NUM_CLASSES
    if ignore is not None:
        target[torch.rand(target.shape, generator=g) < 0.1] = ignore
    matrix = ConfusionMatrix(NUM_CLASSES, ignore_index=ignore)
    matrix.update(pred, target)
    keep = target != ignore if ignore is not None else torch.ones_like(target, dtype=torch.bool)
    return pred, target, matrix, target[keep].numpy(), pred[keep].numpy()


def _present(matrix: ConfusionMatrix) -> list[int]:
    m = matrix.matrix
    return [c for c in range(NUM_CLASSES) if int(m[c].sum() + m[:, c].sum()) > 0]


@pytest.mark.parametrize("seed,absent", [(0, None), (1, 2), (2, 5)])
def test_against_sklearn(seed, absent):
    _, _, matrix, y_true, y_pred = _case(seed, absent)
    present = _present(matrix)
    assert (absent is None) == (len(present) == NUM_CLASSES)
    iou = scores.per_class_iou(matrix)
    assert (absent is None) or math.isnan(iou[absent])
    np.testing.assert_allclose(
        iou[present], skm.jaccard_score(y_true, y_pred, labels=present, average=None)
    )
    assert scores.mean_iou(matrix) == pytest.approx(
        skm.jaccard_score(y_true, y_pred, labels=present, average="macro")
    )
    assert scores.micro_iou(matrix) == pytest.approx(
        skm.jaccard_score(y_true, y_pred, labels=present, average="micro")
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zero_division warnings on single-sided classes
        precision, recall, f1, _ = skm.precision_recall_fscore_support(
            y_true, y_pred, labels=present, zero_division=0
        )
    np.testing.assert_allclose(scores.per_class_precision(matrix)[present], precision)
    np.testing.assert_allclose(scores.per_class_recall(matrix)[present], recall)
    np.testing.assert_allclose(scores.per_class_f1(matrix)[present], f1)
    assert scores.pixel_accuracy(matrix) == pytest.approx(skm.accuracy_score(y_true, y_pred))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "y_pred contains classes not in y_true"
        balanced = skm.balanced_accuracy_score(y_true, y_pred)
    assert scores.mean_class_accuracy(matrix) == pytest.approx(balanced)
    assert scores.cohen_kappa(matrix) == pytest.approx(skm.cohen_kappa_score(y_true, y_pred))


@pytest.mark.parametrize("seed,absent", [(3, None), (4, 1)])
def test_against_torchmetrics(seed, absent):
    pred, target, matrix, _, _ = _case(seed, absent)
    present = _present(matrix)
    kw = {"num_classes": NUM_CLASSES, "ignore_index": 255}
    tm_iou = MulticlassJaccardIndex(average="none", **kw)(pred, target).double()
    np.testing.assert_allclose(scores.per_class_iou(matrix)[present], tm_iou[present], rtol=1e-6)
    if absent is not None:
        assert tm_iou[absent] == 0  # torchmetrics' zero_division, where we return NaN
    tm_macro = MulticlassJaccardIndex(average="macro", **kw)(pred, target)
    assert scores.mean_iou(matrix) == pytest.approx(float(tm_macro), rel=1e-6)
    tm_micro = MulticlassJaccardIndex(average="micro", **kw)(pred, target)
    assert scores.micro_iou(matrix) == pytest.approx(float(tm_micro), rel=1e-6)
    for ours, theirs in [
        (scores.per_class_precision, MulticlassPrecision),
        (scores.per_class_recall, MulticlassRecall),
        (scores.per_class_f1, MulticlassF1Score),
    ]:
        expected = theirs(average="none", **kw)(pred, target).double()[present]
        np.testing.assert_allclose(ours(matrix)[present], expected, rtol=1e-6)
    kappa = MulticlassCohenKappa(**kw)(pred, target)
    assert scores.cohen_kappa(matrix) == pytest.approx(float(kappa), rel=1e-5)


def test_hand_worked_example():
    # target / pred on 2 x 3 pixels, 3 classes:
    #   target = [[0, 0, 1],    pred = [[0, 1, 1],
    #             [1, 2, 2]]            [1, 2, 0]]
    # matrix (rows truth, cols pred) = [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    # class 0: TP 1, FP 1 (truth 2 -> pred 0), FN 1  -> IoU 1/3, P 1/2, R 1/2, F1 1/2
    # class 1: TP 2, FP 1, FN 0                      -> IoU 2/3, P 2/3, R 1,   F1 4/5
    # class 2: TP 1, FP 0, FN 1                      -> IoU 1/2, P 1,   R 1/2, F1 2/3
    # pixel acc 4/6; mean acc (1/2 + 1 + 1/2)/3 = 2/3; mIoU (1/3 + 2/3 + 1/2)/3 = 1/2
    # micro IoU = 4 / (3 + 3 + 2) = 1/2; fwIoU = (2/6)(1/3) + (2/6)(2/3) + (2/6)(1/2) = 1/2
    # kappa: p_o = 2/3, p_e = (2*2 + 2*3 + 2*1)/36 = 1/3 -> (2/3 - 1/3)/(2/3) = 1/2
    target = torch.tensor([[0, 0, 1], [1, 2, 2]])
    pred = torch.tensor([[0, 1, 1], [1, 2, 0]])
    matrix = ConfusionMatrix(3)
    matrix.update(pred, target)
    assert matrix.matrix.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    np.testing.assert_allclose(scores.per_class_iou(matrix), [1 / 3, 2 / 3, 1 / 2])
    np.testing.assert_allclose(scores.per_class_precision(matrix), [1 / 2, 2 / 3, 1])
    np.testing.assert_allclose(scores.per_class_recall(matrix), [1 / 2, 1, 1 / 2])
    np.testing.assert_allclose(scores.per_class_f1(matrix), [1 / 2, 4 / 5, 2 / 3])
    assert scores.pixel_accuracy(matrix) == pytest.approx(4 / 6)
    assert scores.mean_class_accuracy(matrix) == pytest.approx(2 / 3)
    assert scores.mean_iou(matrix) == pytest.approx(1 / 2)
    assert scores.micro_iou(matrix) == pytest.approx(1 / 2)
    assert scores.frequency_weighted_iou(matrix) == pytest.approx(1 / 2)
    assert scores.cohen_kappa(matrix) == pytest.approx(1 / 2)
    assert mean_iou(pred, target, 3) == pytest.approx(1 / 2)
    # the raw (C, C) tensor and the ConfusionMatrix methods give the same numbers
    assert torch.equal(scores.per_class_iou(matrix.matrix), matrix.iou())
    assert matrix.mean_iou() == pytest.approx(1 / 2)
    assert matrix.summary() == scores.summary(matrix.matrix)


def test_frequency_weighted_iou_with_a_class_only_predicted():
    # target all class 0 (4 px); pred: 3 x class 0, 1 x class 2; class 1 absent.
    # IoU_0 = 3/4, IoU_2 = 0/1 = 0, IoU_1 = NaN. fwIoU = (4/4)*(3/4) = 3/4 (class 2 has
    # no truth pixels, weight 0); mIoU = (3/4 + 0)/2 = 3/8 (class 1 excluded).
    matrix = ConfusionMatrix(3)
    matrix.update(torch.tensor([0, 0, 0, 2]), torch.tensor([0, 0, 0, 0]))
    iou = scores.per_class_iou(matrix)
    assert iou[0] == 0.75 and iou[2] == 0 and math.isnan(iou[1])
    assert scores.frequency_weighted_iou(matrix) == pytest.approx(0.75)
    assert scores.mean_iou(matrix) == pytest.approx(3 / 8)
    assert scores.mean_class_accuracy(matrix) == pytest.approx(0.75)  # only class 0 in truth


def test_single_class_everywhere():
    matrix = ConfusionMatrix(4)
    matrix.update(torch.full((2, 5, 5), 2), torch.full((2, 5, 5), 2))
    iou = scores.per_class_iou(matrix)
    assert iou[2] == 1 and int(iou.isnan().sum()) == 3
    assert scores.mean_iou(matrix) == 1 and scores.pixel_accuracy(matrix) == 1
    # p_e = 1: kappa undefined; sklearn returns NaN too
    assert math.isnan(scores.cohen_kappa(matrix))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert math.isnan(skm.cohen_kappa_score([2, 2], [2, 2]))


def test_empty_prediction_of_foreground():
    # binary: ground truth has a 2 x 2 foreground square, prediction is all background.
    # IoU_fg = 0/(0 + 0 + 4) = 0, precision_fg = 0 (never predicted, present in truth),
    # IoU_bg = 12/16, kappa = 0 (p_o = p_e = 12/16).
    target = torch.zeros(4, 4, dtype=torch.long)
    target[1:3, 1:3] = 1
    matrix = ConfusionMatrix(2)
    matrix.update(torch.zeros_like(target), target)
    np.testing.assert_allclose(scores.per_class_iou(matrix), [0.75, 0.0])
    np.testing.assert_allclose(scores.per_class_precision(matrix), [0.75, 0.0])
    assert scores.cohen_kappa(matrix) == pytest.approx(0.0)
    y = target.ravel().numpy()
    assert skm.jaccard_score(y, np.zeros_like(y), average="macro", zero_division=0) == 0.375


def test_all_pixels_ignored_gives_nan_everywhere():
    matrix = ConfusionMatrix(3, ignore_index=255)
    matrix.update(torch.zeros(4, 4, dtype=torch.long), torch.full((4, 4), 255))
    assert all(math.isnan(v) for v in scores.summary(matrix).values())
    assert bool(scores.per_class_iou(matrix).isnan().all())
