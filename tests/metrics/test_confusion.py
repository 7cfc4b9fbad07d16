"""ConfusionMatrix against sklearn.metrics.confusion_matrix, on every input form it accepts."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import confusion_matrix as sk_confusion_matrix

import pixelwise.metrics.confusion as confusion_module
from pixelwise.metrics import ConfusionMatrix, confusion_matrix


def _random(num_classes: int, shape=(3, 17, 23), seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randint(0, num_classes, shape, generator=g),
        torch.randint(0, num_classes, shape, generator=g),
    )


def _reference(pred: torch.Tensor, target: torch.Tensor, num_classes: int, ignore=None):
    keep = torch.ones_like(target, dtype=torch.bool) if ignore is None else target != ignore
    return sk_confusion_matrix(
        target[keep].numpy().ravel(), pred[keep].numpy().ravel(), labels=range(num_classes)
    )


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64])
def test_matches_sklearn_for_every_integer_dtype(dtype):
    pred, target = _random(6)
    target[0, :4] = 100  # ignored
    matrix = confusion_matrix(pred.to(dtype), target.to(dtype), 6, ignore_index=100)
    assert matrix.dtype == torch.int64 and matrix.shape == (6, 6)
    np.testing.assert_array_equal(matrix.numpy(), _reference(pred, target, 6, ignore=100))


@pytest.mark.parametrize("ignore", [255, -1, -100, 0, 3])
def test_ignore_index_values_outside_and_inside_the_class_range(ignore):
    pred, target = _random(5, seed=1)
    target[1] = ignore
    target[2, ::3] = ignore
    matrix = confusion_matrix(pred, target, 5, ignore_index=ignore)
    np.testing.assert_array_equal(matrix.numpy(), _reference(pred, target, 5, ignore=ignore))
    if 0 <= ignore < 5:
        assert matrix[ignore].sum() == 0  # an ignored class contributes no ground-truth row


def test_huge_ignore_index_takes_the_masked_path():
    pred, target = _random(4, seed=2)
    target[0] = 10**7
    matrix = confusion_matrix(pred, target, 4, ignore_index=10**7)
    np.testing.assert_array_equal(matrix.numpy(), _reference(pred, target, 4, ignore=10**7))
    target[1, 0, 0] = 9
    with pytest.raises(ValueError, match=r"class index 9\b"):
        confusion_matrix(pred, target, 4, ignore_index=10**7)


@pytest.mark.parametrize("dtype", [torch.float16, torch.float32, torch.float64])
def test_logits_are_argmaxed_over_the_class_dimension(dtype):
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(2, 5, 9, 11, generator=g).to(dtype)
    target = torch.randint(0, 5, (2, 9, 11), generator=g)
    labels = logits.float().argmax(1)
    expected = _reference(labels, target, 5)
    np.testing.assert_array_equal(confusion_matrix(logits, target, 5).numpy(), expected)
    # probabilities give the same argmax; an unbatched C x H x W map with an H x W target too
    probabilities = logits.float().softmax(1)
    np.testing.assert_array_equal(confusion_matrix(probabilities, target, 5).numpy(), expected)
    single = confusion_matrix(logits[0], target[0], 5).numpy()
    np.testing.assert_array_equal(single, _reference(labels[0], target[0], 5))


def test_bool_inputs_are_binary_labels():
    pred, target = _random(2, seed=4)
    matrix = confusion_matrix(pred.bool(), target.bool(), 2)
    np.testing.assert_array_equal(matrix.numpy(), _reference(pred, target, 2))


def test_streaming_tiles_equal_one_shot_and_merge_and_reset(monkeypatch):
    pred, target = _random(7, shape=(4, 40, 40), seed=5)
    target[:, :5] = 255
    expected = _reference(pred, target, 7, ignore=255)
    streamed = ConfusionMatrix(7, ignore_index=255)
    for row in range(0, 40, 10):  # tiles of one batch
        streamed.update(pred[:, row : row + 10], target[:, row : row + 10])
    np.testing.assert_array_equal(streamed.matrix.numpy(), expected)

    monkeypatch.setattr(confusion_module, "_CPU_CHUNK", 1000)  # force many chunks, odd tail
    left, right = ConfusionMatrix(7, 255), ConfusionMatrix(7, 255)
    left.update(pred[:3], target[:3])
    right.update(pred[3:], target[3:])
    np.testing.assert_array_equal(left.merge(right).matrix.numpy(), expected)
    left.reset()
    assert int(left.matrix.sum()) == 0


def test_sync_without_process_group_is_a_copy():
    pred, target = _random(3, seed=6)
    local = ConfusionMatrix(3)
    local.update(pred, target)
    synced = local.sync()
    assert synced is not local and torch.equal(synced.matrix, local.matrix)
    synced.matrix += 1
    assert not torch.equal(synced.matrix, local.matrix)


def test_all_pixels_ignored_and_empty_inputs_leave_zeros():
    pred, target = _random(3, seed=7)
    metric = ConfusionMatrix(3, ignore_index=255)
    metric.update(pred, torch.full_like(target, 255))
    metric.update(torch.zeros(0, 4, 4, dtype=torch.long), torch.zeros(0, 4, 4, dtype=torch.long))
    assert int(metric.matrix.sum()) == 0


def test_invalid_target_values_are_named_with_the_fix():
    pred, target = _random(5, seed=8)
    target[0, 0, 0] = 7
    with pytest.raises(ValueError, match=r"class index 7, outside \[0, 5\).*ignore_index=7"):
        confusion_matrix(pred, target, 5)
    # a bad value hidden between the class range and the ignore value (max is 255, min is 0)
    target[0, 0, 0] = 30
    target[1, 1, 1] = 255
    with pytest.raises(ValueError, match=r"class index 30\b"):
        confusion_matrix(pred, target, 5, ignore_index=255)
    # a bad negative value above a negative ignore_index
    target[0, 0, 0] = -3
    target[1, 1, 1] = -100
    with pytest.raises(ValueError, match=r"class index -3\b"):
        confusion_matrix(pred, target, 5, ignore_index=-100)


def test_invalid_predictions_and_shapes_are_rejected():
    pred, target = _random(5, seed=9)
    bad = pred.clone()
    bad[0, 0, 0] = 5
    with pytest.raises(ValueError, match=r"pred contains class index 5"):
        confusion_matrix(bad, target, 5)
    with pytest.raises(ValueError, match=r"\(3, 17, 22\).*\(3, 17, 23\)"):
        confusion_matrix(pred[..., :-1], target, 5)
    with pytest.raises(ValueError, match=r"4 channels.*num_classes=5"):
        confusion_matrix(torch.randn(3, 4, 17, 23), target, 5)
    with pytest.raises(TypeError, match=r"float32"):
        confusion_matrix(pred.float(), target, 5)
    with pytest.raises(TypeError, match=r"target must hold integer"):
        confusion_matrix(pred, target.float(), 5)
    with pytest.raises(ValueError, match="same num_classes"):
        ConfusionMatrix(5).merge(ConfusionMatrix(4))
