"""Average precision vs. sklearn's average_precision_score and torchmetrics, exact and binned."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score as sk_average_precision
from torchmetrics.classification import MulticlassAveragePrecision

from pixelwise.metrics import AveragePrecision, exact_average_precision
from pixelwise.metrics import average_precision_score as ours_average_precision

C = 5


def _data(seed: int, peaky: bool = False, shape=(2, 16, 16), decimals: int | None = None):
    g = torch.Generator().manual_seed(seed)
    target = torch.randint(0, C, shape, generator=g)
    logits = torch.randn(shape[0], C, *shape[1:], generator=g)
    if peaky:  # confident network: correct class boosted, temperature low
        logits = logits + 3.0 * torch.nn.functional.one_hot(target, C).movedim(-1, 1)
        logits = logits * 4.0
    probabilities = logits.softmax(dim=1)
    if decimals is not None:  # many exact ties
        probabilities = probabilities.round(decimals=decimals)
    return probabilities, target


def _sklearn(probabilities, target, ignore=None):
    scores = probabilities.movedim(1, -1).reshape(-1, C).double().numpy()
    labels = target.reshape(-1).numpy()
    if ignore is not None:
        keep = labels != ignore
        scores, labels = scores[keep], labels[keep]
    return np.array(
        [
            sk_average_precision(labels == c, scores[:, c]) if (labels == c).any() else np.nan
            for c in range(C)
        ]
    )


@pytest.mark.parametrize("decimals", [None, 2, 1])
def test_exact_mode_matches_sklearn_including_ties(decimals):
    probabilities, target = _data(0, decimals=decimals)
    target[0, :3] = 255
    ours = ours_average_precision(probabilities, target, C, ignore_index=255)
    np.testing.assert_allclose(ours, _sklearn(probabilities, target, ignore=255), atol=1e-12)


def test_exact_single_class_hand_worked():
    # scores 0.9 (pos), 0.8 (neg), 0.8 (pos), 0.1 (neg): thresholds 0.9 -> P 1, R 1/2;
    # 0.8 (tie group of one pos + one neg) -> P 2/3, R 1; AP = 1/2 * 1 + 1/2 * 2/3 = 5/6.
    scores = torch.tensor([0.9, 0.8, 0.8, 0.1])
    labels = torch.tensor([True, False, True, False])
    assert exact_average_precision(scores, labels) == pytest.approx(5 / 6)
    assert sk_average_precision(labels.numpy(), scores.numpy()) == pytest.approx(5 / 6)


@pytest.mark.filterwarnings("ignore:Average precision score for one or more classes")
def test_exact_mode_matches_torchmetrics_macro_and_none():
    probabilities, target = _data(1)
    target[target == 3] = 0  # class 3 has no positives: NaN for both, left out of the mean
    metric = AveragePrecision(C, bins=None)
    metric.update(probabilities, target)
    theirs = MulticlassAveragePrecision(C, average="none", thresholds=None)(probabilities, target)
    np.testing.assert_allclose(metric.compute(), theirs.double(), rtol=1e-5)
    assert math.isnan(metric.compute()[3])
    macro = MulticlassAveragePrecision(C, average="macro", thresholds=None)(probabilities, target)
    assert metric.mean() == pytest.approx(float(macro), rel=1e-5)


@pytest.mark.parametrize("spacing", ["linear", "logit"])
def test_binned_equals_sklearn_when_each_score_has_its_own_bin(spacing):
    # scores on bin centres: binning loses nothing, so AP must be exact. Linear bins are
    # [k/B, (k+1)/B); logit bins are uniform in log(p/(1-p)) over [-16, 16].
    bins = 50
    g = torch.Generator().manual_seed(2)
    centres = (torch.randint(0, bins, (3, C, 12, 12), generator=g).double() + 0.5) / bins
    if spacing == "logit":
        centres = torch.sigmoid(32.0 * centres - 16.0)
    target = torch.randint(0, C, (3, 12, 12), generator=g)
    metric = AveragePrecision(C, bins=bins, spacing=spacing)
    metric.update(centres, target)
    np.testing.assert_allclose(metric.compute(), _sklearn(centres, target), atol=1e-12)


@pytest.mark.parametrize("peaky", [False, True])
@pytest.mark.parametrize("bins", [1000, 10000])
def test_binned_error_is_within_the_guaranteed_bound(peaky, bins):
    probabilities, target = _data(3, peaky=peaky, shape=(4, 32, 32))
    exact = torch.from_numpy(_sklearn(probabilities, target))
    errors = {}
    for spacing in ("linear", "logit"):
        metric = AveragePrecision(C, bins=bins, spacing=spacing)
        metric.update(probabilities, target)
        error = (metric.compute() - exact).abs()
        assert bool((error <= metric.error_bound() + 1e-12).all()), (error, spacing)
        errors[spacing] = float(error.max())
    # measured here on 4096 px / class (benchmarks/metrics.py reports larger runs): the default
    # logit spacing stays below 5e-4 at 1000 bins even on peaky (over-confident) softmax scores
    assert errors["logit"] < (5e-4 if bins == 1000 else 1e-4)
    if peaky:  # uniform bins collapse confident scores into the top bin
        assert errors["linear"] > 10 * errors["logit"]


def test_streaming_merge_logits_and_ignore():
    probabilities, target = _data(4, shape=(4, 10, 10))
    target[1] = -100
    whole = AveragePrecision(C, bins=200, ignore_index=-100)
    whole.update(probabilities, target)
    first, second = AveragePrecision(C, 200, -100), AveragePrecision(C, 200, -100)
    first.update(probabilities[:2], target[:2])
    second.update(probabilities[2:], target[2:])
    assert torch.equal(first.merge(second).histogram, whole.histogram)
    from_logits = AveragePrecision(C, bins=200, ignore_index=-100, from_logits=True)
    from_logits.update(probabilities.log(), target)  # log-probabilities softmax back
    np.testing.assert_allclose(from_logits.compute(), whole.compute(), atol=1e-3)
    exact = AveragePrecision(C, bins=None, ignore_index=-100)
    exact.update(probabilities[:2], target[:2])
    exact.merge(AveragePrecision(C, None, -100))
    exact.update(probabilities[2:], target[2:])
    np.testing.assert_allclose(exact.compute(), _sklearn(probabilities, target, -100), atol=1e-12)
    assert torch.equal(whole.sync().histogram, whole.histogram)


def test_all_ignored_gives_nan_and_bad_inputs_raise():
    probabilities, target = _data(5)
    metric = AveragePrecision(C, bins=100, ignore_index=255)
    metric.update(probabilities, torch.full_like(target, 255))
    assert bool(metric.compute().isnan().all()) and math.isnan(metric.mean())
    with pytest.raises(ValueError, match=r"from_logits=True"):
        metric.update(probabilities * 3 - 1, target)
    with pytest.raises(ValueError, match=r"class dimension of size 5"):
        metric.update(probabilities[:, :4], target)
    bad = target.clone()
    bad[0, 0, 0] = 9
    with pytest.raises(ValueError, match=r"class index 9\b"):
        metric.update(probabilities, bad)
