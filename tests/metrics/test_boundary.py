"""Boundary F1 (Csurka et al. 2013) on hand-built masks and against a brute-force reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pixelwise.metrics import BoundaryF1, boundary_f1, mask_boundary

BACKENDS = ["scipy", "torch"]


def _square(size=32, top=8, left=8, side=12) -> torch.Tensor:
    labels = torch.zeros(size, size, dtype=torch.long)
    labels[top : top + side, left : left + side] = 1
    return labels


def test_mask_boundary_is_the_inner_8_connected_ring():
    # a 4 x 4 square: its 12 outer pixels are boundary, the 2 x 2 core is not; the image edge
    # itself is not a boundary (the all-ones mask has none).
    mask = torch.zeros(1, 6, 6, dtype=torch.bool)
    mask[0, 1:5, 1:5] = True
    ring = mask_boundary(mask)[0]
    assert int(ring.sum()) == 12 and not ring[2:4, 2:4].any()
    assert not mask_boundary(torch.ones(1, 5, 5, dtype=torch.bool)).any()


@pytest.mark.parametrize("backend", BACKENDS)
def test_hand_built_cases(backend):
    truth = _square()
    # identical -> 1
    assert boundary_f1(truth, truth, 2, tolerance=0, backend=backend) == 1.0
    # shifted by one pixel: every boundary pixel is within sqrt(2) of the other ring -> 1 at 2 px
    shifted = torch.roll(truth, shifts=1, dims=1)
    assert boundary_f1(shifted, truth, 2, tolerance=2, backend=backend) == 1.0
    # at 0 px only the pixels shared by both rings match (top/bottom rows minus one end):
    # class 1 rings have 44 px each, 22 shared -> P = R = 1/2; same for background -> BF 1/2
    assert boundary_f1(shifted, truth, 2, tolerance=0, backend=backend) < 1.0
    # disjoint squares far apart -> 0
    left = _square(size=48, top=4, left=2, side=8)
    right = _square(size=48, top=30, left=34, side=8)
    assert boundary_f1(right, left, 2, tolerance=3, backend=backend) == 0.0


def test_shift_at_zero_tolerance_worked_by_hand():
    # 12 x 12 square shifted right by 1: ring = 44 pixels. Shared ring pixels: the top and
    # bottom rows overlap in columns 9..19 (11 px each) = 22 -> P = R = 22/44 -> F1 = 1/2 for
    # class 1. Background boundary = the ring just outside the square, same geometry: 52 px,
    # shared top/bottom rows 13 + 13 = 26 -> F1 1/2. Mean over the 2 classes = 1/2.
    truth = _square()
    shifted = torch.roll(truth, shifts=1, dims=1)
    assert boundary_f1(shifted, truth, 2, tolerance=0) == pytest.approx(0.5)


def _brute_force(pred: np.ndarray, truth: np.ndarray, classes: int, tolerance: float) -> float:
    """Direct definition: boundary = pixel with an 8-neighbour of another class (edge replicated),
    match = some boundary pixel of the other map at Euclidean distance <= tolerance."""

    def ring(mask):
        padded = np.pad(mask, 1, mode="edge")
        h, w = mask.shape
        inner = np.ones_like(mask)
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                inner &= padded[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]
        return mask & ~inner

    def matched(src, dst):
        if not dst.any():
            return 0
        d = np.argwhere(dst)
        s = np.argwhere(src)
        dist = np.sqrt(((s[:, None, :] - d[None, :, :]) ** 2).sum(-1)).min(1)
        return int((dist <= tolerance).sum())

    scores = []
    for c in np.unique(truth):
        bp, bt = ring(pred == c), ring(truth == c)
        if not bp.any() and not bt.any():
            scores.append(1.0)
            continue
        if not bp.any() or not bt.any():
            scores.append(0.0)
            continue
        p = matched(bp, bt) / bp.sum()
        r = matched(bt, bp) / bt.sum()
        scores.append(0.0 if p + r == 0 else 2 * p * r / (p + r))
    return float(np.mean(scores))


@pytest.mark.parametrize("tolerance", [0, 1, 1.5, 3])
def test_both_backends_equal_a_brute_force_reference(tolerance):
    g = torch.Generator().manual_seed(int(tolerance * 10))
    # blocky random maps (4 x 4 cells upsampled) so boundaries are structured, plus noise
    truth = torch.randint(0, 3, (2, 6, 6), generator=g).repeat_interleave(4, 1)
    truth = truth.repeat_interleave(4, 2)
    pred = truth.clone()
    noise = torch.rand(truth.shape, generator=g) < 0.08
    pred[noise] = torch.randint(0, 3, (int(noise.sum()),), generator=g)
    per_image = [_brute_force(p.numpy(), t.numpy(), 3, tolerance) for p, t in zip(pred, truth)]
    expected = np.mean(per_image)
    for backend in BACKENDS:
        assert boundary_f1(pred, truth, 3, tolerance, backend=backend) == pytest.approx(expected)


def test_default_tolerance_is_three_quarters_percent_of_the_diagonal():
    # 200 x 150 image: diagonal 250 px -> 1.875 px tolerance: a 1 px shift matches, 2 px not.
    truth = torch.zeros(200, 150, dtype=torch.long)
    truth[50:150, 40:110] = 1
    one = torch.roll(truth, 1, dims=0)
    two = torch.roll(truth, 2, dims=0)
    assert boundary_f1(one, truth, 2) == 1.0
    assert boundary_f1(two, truth, 2) < 1.0
    assert boundary_f1(two, truth, 2, tolerance=2.0) == 1.0


def test_streaming_logits_ignore_and_conventions():
    truth = _square()
    logits = torch.nn.functional.one_hot(truth, 3).permute(2, 0, 1).float()[None]  # 1 x 3 x H x W
    metric = BoundaryF1(3, tolerance=1)
    metric.update(logits, truth[None])  # identical -> 1
    metric.update(torch.zeros_like(truth), truth)  # class 1 missed: bg 0 (no pred ring), fg 0
    assert metric.compute() == pytest.approx(0.5)
    # a void band in the truth does not create truth boundaries, and pred rings on it are dropped
    with_void = truth.clone()
    with_void[:, 26:] = 255
    pred = truth.clone()
    pred[:, 26:] = 2
    assert boundary_f1(pred, with_void, 3, tolerance=0, ignore_index=255) == 1.0
    all_void = BoundaryF1(3, ignore_index=255)
    all_void.update(truth, torch.full_like(truth, 255))
    assert math.isnan(all_void.compute())
    assert all_void.merge(metric).compute() == pytest.approx(0.5)
    assert metric.sync().compute() == metric.compute()
    with pytest.raises(ValueError, match="tolerance must be >= 0"):
        BoundaryF1(3, tolerance=-1)
