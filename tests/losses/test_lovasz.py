"""Lovasz-softmax against the Lovasz extension evaluated from its definition."""

from __future__ import annotations

import itertools

import pytest
import torch
from loss_inputs import IGNORE, make_inputs

from pixelwise.losses import LovaszSoftmaxLoss


def jaccard_set_loss(mispredicted: set[int], foreground: set[int]) -> float:
    """Delta_J(M) = 1 - |F \\ M| / |F u M| (Berman et al., eq. 7)."""
    union = foreground | mispredicted
    if not union:
        return 0.0
    return 1.0 - len(foreground - mispredicted) / len(union)


def lovasz_extension(errors: list[float], foreground: set[int]) -> float:
    """Lovasz extension from its definition: sum over the chain of the sorted-error level sets,
    f(m) = sum_k (m_(k) - m_(k+1)) Delta({1..k}) with m_(p+1) = 0."""
    order = sorted(range(len(errors)), key=lambda i: -errors[i])
    total = 0.0
    for k, index in enumerate(order):
        following = errors[order[k + 1]] if k + 1 < len(order) else 0.0
        total += (errors[index] - following) * jaccard_set_loss(set(order[: k + 1]), foreground)
    return total


def reference(probs: torch.Tensor, labels: torch.Tensor, classes: str) -> float:
    losses = []
    for c in range(probs.shape[1]):
        foreground = {i for i, y in enumerate(labels.tolist()) if y == c}
        if classes == "present" and not foreground:
            continue
        errors = [abs((1.0 if i in foreground else 0.0) - p) for i, p in enumerate(probs[:, c])]
        losses.append(lovasz_extension([float(e) for e in errors], foreground))
    return sum(losses) / len(losses)


@pytest.mark.parametrize("classes", ["present", "all"])
def test_matches_definition_on_random_input(classes: str) -> None:
    logits, target = make_inputs(n=2, c=4, h=3, w=4, ignore_fraction=0.2, seed=1)
    target[target == 3] = 0  # class 3 absent
    valid = target != IGNORE
    probs = logits.softmax(1).permute(0, 2, 3, 1)[valid].detach()
    expected = reference(probs, target[valid], classes)
    ours = LovaszSoftmaxLoss(classes=classes, ignore_index=IGNORE)(logits, target)
    assert ours.item() == pytest.approx(expected, rel=1e-10)


def test_per_image_is_mean_of_images() -> None:
    logits, target = make_inputs(n=3, c=3, h=3, w=3, seed=2)
    per_image = LovaszSoftmaxLoss(per_image=True)(logits, target)
    single = [LovaszSoftmaxLoss()(logits[n : n + 1], target[n : n + 1]) for n in range(3)]
    torch.testing.assert_close(per_image, torch.stack(single).mean())


def test_binary_errors_give_jaccard_loss() -> None:
    # With 0/1 errors the Lovasz extension equals the Jaccard loss of the mispredicted set.
    foreground = {0, 1, 2}
    for bits in itertools.product([0.0, 1.0], repeat=5):
        mispredicted = {i for i, b in enumerate(bits) if b}
        assert lovasz_extension(list(bits), foreground) == pytest.approx(
            jaccard_set_loss(mispredicted, foreground)
        )


def test_binary_mode_uses_two_classes() -> None:
    logits, target = make_inputs(n=1, c=1, h=2, w=3, seed=3)
    p = torch.sigmoid(logits[0, 0]).flatten().detach()
    probs = torch.stack([1 - p, p], dim=1)
    expected = reference(probs, target.flatten(), "present")
    assert LovaszSoftmaxLoss()(logits, target).item() == pytest.approx(expected, rel=1e-10)
