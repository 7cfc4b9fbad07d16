"""The survey's remaining losses checked against direct NumPy transcriptions of their formulas
(brute-force distances instead of SciPy's distance transform, loops instead of pooling)."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
import torch
from loss_inputs import IGNORE, make_inputs

from pixelwise.losses import (
    BinaryCrossEntropyLoss,
    ComboLoss,
    DiceLoss,
    DistanceMapPenaltyLoss,
    ExponentialLogarithmicLoss,
    HausdorffDTLoss,
    SensitivitySpecificityLoss,
    ShapeAwareLoss,
    StructuralSimilarityLoss,
)


def _numpy(logits: torch.Tensor, target: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    probs = logits.detach().softmax(1).numpy()
    onehot = np.eye(probs.shape[1])[np.where(target.numpy() == IGNORE, 0, target.numpy())]
    return probs, onehot.transpose(0, 3, 1, 2)


def contour(labels: np.ndarray, valid: np.ndarray) -> np.ndarray:
    h, w = labels.shape
    out = np.zeros((h, w), dtype=bool)
    for i in range(h):
        for j in range(w):
            for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
                a, b = i + di, j + dj
                if 0 <= a < h and 0 <= b < w and valid[i, j] and valid[a, b]:
                    out[i, j] |= labels[i, j] != labels[a, b]
    return out


def brute_distance(points: np.ndarray) -> np.ndarray:
    """Distance from each pixel to the nearest True pixel, by checking every pair."""
    ys, xs = np.nonzero(points)
    grid_y, grid_x = np.indices(points.shape)
    d = np.sqrt((grid_y[..., None] - ys) ** 2 + (grid_x[..., None] - xs) ** 2)
    return d.min(-1)


def blocky_target(n: int, h: int, w: int, seed: int) -> torch.Tensor:
    """Labels in 3 x 3-pixel blocks with some ignored pixels, so objects have interiors."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.randint(0, 3, (n, h // 3, w // 3), generator=generator)
    target = coarse.repeat_interleave(3, 1).repeat_interleave(3, 2)
    target[torch.rand(target.shape, generator=generator) < 0.1] = IGNORE
    return target


def test_sensitivity_specificity_by_hand() -> None:
    logits, target = make_inputs(seed=1)
    p, t = _numpy(logits, target)
    err = (t - p) ** 2
    sens = (err * t).sum((0, 2, 3)) / (t.sum((0, 2, 3)) + 1e-5)
    spec = (err * (1 - t)).sum((0, 2, 3)) / ((1 - t).sum((0, 2, 3)) + 1e-5)
    expected = (0.05 * sens + 0.95 * spec).mean()
    assert SensitivitySpecificityLoss()(logits, target).item() == pytest.approx(expected)


def test_combo_endpoints_and_mixture() -> None:
    logits, target = make_inputs(ignore_fraction=0.2, seed=2)
    bce = BinaryCrossEntropyLoss(ignore_index=IGNORE)(logits, target)
    dice = DiceLoss(1.0, ignore_index=IGNORE)(logits, target)
    # beta = 0.5 halves both BCE terms; alpha mixes with 1 - Dice.
    combo = ComboLoss(alpha=0.3, beta=0.5, ignore_index=IGNORE)(logits, target)
    torch.testing.assert_close(combo, 0.3 * 0.5 * bce + 0.7 * dice)
    p, t = _numpy(logits, target)
    valid = (target != IGNORE).numpy()[:, None]
    beta = 0.8
    terms = beta * t * np.log(p) + (1 - beta) * (1 - t) * np.log(1 - p)
    mce = -(terms * valid).sum() / (valid.sum() * 3)
    ours = ComboLoss(alpha=1.0, beta=beta, ignore_index=IGNORE)(logits, target).item()
    assert ours == pytest.approx(mce)


def test_exponential_logarithmic_by_hand() -> None:
    logits, target = make_inputs(seed=3)
    p, t = _numpy(logits, target)
    dice = (2 * (p * t).sum((0, 2, 3)) + 1) / (p.sum((0, 2, 3)) + t.sum((0, 2, 3)) + 1)
    dice_term = ((-np.log(dice)) ** 0.3).mean()
    labels = target.numpy()
    counts = np.bincount(labels.ravel(), minlength=3)
    w = (counts.sum() / counts) ** 0.5  # Wong et al.: w_l = (sum_k f_k / f_l)^0.5
    p_true = np.take_along_axis(p, labels[:, None], 1)[:, 0]
    cross_term = (w[labels] * (-np.log(p_true)) ** 0.3).mean()
    expected = 0.8 * dice_term + 0.2 * cross_term
    assert ExponentialLogarithmicLoss()(logits, target).item() == pytest.approx(expected)


def test_structural_similarity_by_hand() -> None:
    logits, target = make_inputs(n=1, c=2, h=4, w=5, ignore_fraction=0.2, seed=4)
    p, t = _numpy(logits, target)
    valid = (target != IGNORE).numpy()[0]
    c4, beta = 0.01, 0.1

    def standardised(x: np.ndarray) -> np.ndarray:
        out = np.zeros_like(x)
        for i in range(4):
            for j in range(5):
                window = [
                    x[a, b]
                    for a in range(i - 1, i + 2)
                    for b in range(j - 1, j + 2)
                    if 0 <= a < 4 and 0 <= b < 5 and valid[a, b]
                ]
                out[i, j] = (x[i, j] - np.mean(window)) / (np.std(window) + c4)
        return out

    e = np.stack([np.abs(standardised(t[0, c]) - standardised(p[0, c])) for c in range(2)])
    e = e * valid
    hard = (e > beta * e.max()) * t[0] * valid
    expected = -(e * hard * np.log(p[0])).sum() / hard.sum()
    ours = StructuralSimilarityLoss(ignore_index=IGNORE)(logits, target).item()
    assert ours == pytest.approx(expected)


def test_distance_map_penalty_by_hand() -> None:
    logits, _ = make_inputs(n=2, c=3, h=9, w=12, seed=5)
    target = blocky_target(2, 9, 12, seed=5)
    p, _ = _numpy(logits, target)
    labels, valid = target.numpy(), (target != IGNORE).numpy()
    total = 0.0
    for n in range(2):
        d = brute_distance(contour(labels[n], valid[n]))
        phi = 1.0 - d / d[valid[n]].max()
        for i, j in zip(*np.nonzero(valid[n])):
            total += (1 + phi[i, j]) * -np.log(p[n, labels[n, i, j], i, j])
    expected = total / valid.sum()
    ours = DistanceMapPenaltyLoss(ignore_index=IGNORE)(logits, target).item()
    assert ours == pytest.approx(expected)


def test_shape_aware_by_hand() -> None:
    logits, _ = make_inputs(n=2, c=3, h=9, w=12, seed=6)
    target = blocky_target(2, 9, 12, seed=6)
    p, _ = _numpy(logits, target)
    labels, valid = target.numpy(), (target != IGNORE).numpy()
    predicted = p.argmax(1)
    total = 0.0
    for n in range(2):
        to_true = brute_distance(contour(labels[n], valid[n]))
        on_predicted = contour(predicted[n], valid[n])
        for i, j in zip(*np.nonzero(valid[n])):
            error = to_true[i, j] if on_predicted[i, j] else 0.0
            total += (1 + error) * -np.log(p[n, labels[n, i, j], i, j])
    expected = total / valid.sum()
    assert ShapeAwareLoss(ignore_index=IGNORE)(logits, target).item() == pytest.approx(expected)


def test_hausdorff_dt_by_hand() -> None:
    logits, target = make_inputs(n=1, c=3, h=5, w=6, seed=7)
    target[0, :, :2] = 0  # make sure every class map has a boundary or is well defined
    p, t = _numpy(logits, target)
    labels, predicted = target.numpy()[0], p.argmax(1)[0]

    def boundary_distance(mask: np.ndarray) -> np.ndarray:
        if mask.all() or not mask.any():
            return np.zeros(mask.shape)
        return np.where(mask, brute_distance(~mask), brute_distance(mask))

    total = 0.0
    for c in range(3):
        dq = boundary_distance(labels == c)
        dp = boundary_distance(predicted == c)
        total += ((p[0, c] - t[0, c]) ** 2 * (dp**2 + dq**2)).mean()
    expected = total / 3
    assert HausdorffDTLoss()(logits, target).item() == pytest.approx(expected)


def test_boundary_losses_name_scipy_when_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    logits, target = make_inputs(seed=8)
    monkeypatch.setitem(sys.modules, "scipy", None)
    for loss in (DistanceMapPenaltyLoss(), ShapeAwareLoss(), HausdorffDTLoss()):
        with pytest.raises(ImportError, match="pip install scipy"):
            loss(logits, target)


def test_log_values_are_not_nan_for_absent_class() -> None:
    logits, target = make_inputs(seed=9)
    target[target == 2] = 1
    for loss in (ExponentialLogarithmicLoss(), ComboLoss(), SensitivitySpecificityLoss()):
        value = loss(logits, target)
        assert math.isfinite(value.item())
