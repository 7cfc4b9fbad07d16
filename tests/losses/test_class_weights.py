"""Class-weight estimation: median-frequency by hand, inverse frequency against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.utils.class_weight import compute_class_weight

from pixelwise.losses import ClassWeightEstimator


def test_median_frequency_by_hand() -> None:
    # Image A (4 px): class 0 x3, class 1 x1.  Image B (4 px): class 0 x2, class 2 x2.
    # freq_c = pixels of c / pixels of the images where c is present:
    # freq_0 = 5/8, freq_1 = 1/4, freq_2 = 2/4; median = 1/2;
    # w = (0.5/0.625, 0.5/0.25, 0.5/0.5) = (0.8, 2.0, 1.0).
    image_a = np.array([[0, 0], [0, 1]])
    image_b = np.array([[0, 2], [2, 0]])
    estimator = ClassWeightEstimator(3)
    estimator.update(image_a)
    estimator.update(torch.from_numpy(image_b))
    weights = estimator.weights("median_frequency")
    torch.testing.assert_close(weights, torch.tensor([0.8, 2.0, 1.0]))


def test_ignored_pixels_are_not_counted_and_unseen_class_gets_zero() -> None:
    # Same as above plus void pixels (9) and a 4th class never seen.
    image_a = np.array([[0, 0, 9], [0, 1, 9]])
    image_b = np.array([[0, 2, 9], [2, 0, 9]])
    estimator = ClassWeightEstimator(4, ignore_index=9)
    estimator.update(np.stack([image_a, image_b]))
    weights = estimator.weights("median_frequency")
    torch.testing.assert_close(weights, torch.tensor([0.8, 2.0, 1.0, 0.0]))


def test_inverse_frequency_matches_sklearn_balanced_and_sqrt() -> None:
    rng = np.random.default_rng(0)
    masks = rng.choice(4, size=(5, 6, 7), p=[0.6, 0.25, 0.1, 0.05])
    estimator = ClassWeightEstimator(4)
    for mask in masks:  # streaming, one image at a time
        estimator.update(mask)
    reference = compute_class_weight("balanced", classes=np.arange(4), y=masks.ravel())
    inverse = estimator.weights("inverse_frequency")
    np.testing.assert_allclose(inverse.numpy(), reference, rtol=1e-6)
    np.testing.assert_allclose(estimator.weights("inverse_sqrt").numpy(), np.sqrt(reference))
    batched = ClassWeightEstimator(4)
    batched.update(torch.from_numpy(masks))
    torch.testing.assert_close(batched.weights("median_frequency"), estimator.weights())


def test_errors_name_the_problem() -> None:
    estimator = ClassWeightEstimator(3)
    with pytest.raises(ValueError, match="no labelled pixel"):
        estimator.weights()
    with pytest.raises(ValueError, match="label 5"):
        estimator.update(np.array([[0, 5]]))
    with pytest.raises(ValueError, match="unknown method"):
        estimator.update(np.array([[0, 1]]))
        estimator.weights("median")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="integer"):
        estimator.update(np.zeros((2, 2)))
