"""Class weights from a data set's label counts, accumulated in one streaming pass."""

from __future__ import annotations

from typing import Literal

import numpy as np
import torch
from torch import Tensor

WeightMethod = Literal["inverse_frequency", "median_frequency", "inverse_sqrt"]
METHODS: tuple[str, ...] = ("inverse_frequency", "median_frequency", "inverse_sqrt")


class ClassWeightEstimator:
    """Accumulates per-class pixel counts over label masks and turns them into class weights.

    ``update(mask)`` takes one label image ``(H, W)`` or a batch ``(N, H, W)`` (tensor or NumPy,
    integer labels; ``ignore_index`` pixels are skipped, other labels outside
    ``[0, num_classes)`` raise). ``weights(method)`` returns a float tensor ``(num_classes,)``:

    - ``"inverse_frequency"``: ``w_c = total / (num_classes * n_c)`` (scikit-learn's
      ``"balanced"`` class weights; a class with the average frequency gets 1).
    - ``"median_frequency"``: median-frequency balancing (Eigen & Fergus 2015, as SegNet trains
      on CamVid): ``w_c = median(freq) / freq_c`` with ``freq_c = n_c / (valid pixels of the
      images in which c is present)``; the median runs over the classes seen at least once.
    - ``"inverse_sqrt"``: ``w_c = sqrt(total / (num_classes * n_c))``, the square root of the
      inverse frequency (a milder re-weighting).

    ``n_c`` counts the valid pixels of class c, ``total`` all valid pixels. A class never seen
    gets weight 0 (it never appears in a target, so its weight is unused).
    """

    def __init__(self, num_classes: int, ignore_index: int | None = None) -> None:
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1; got {num_classes}")
        self.num_classes = num_classes
        self.ignore_index = ignore_index
        self.class_pixels = np.zeros(num_classes, dtype=np.int64)
        self.present_image_pixels = np.zeros(num_classes, dtype=np.int64)
        self.images = 0

    def update(self, mask: Tensor | np.ndarray) -> None:
        """Add the label counts of one image ``(H, W)`` or a batch ``(N, H, W)``."""
        labels = mask.detach().cpu().numpy() if isinstance(mask, Tensor) else np.asarray(mask)
        if labels.ndim == 2:
            labels = labels[None]
        if labels.ndim != 3:
            raise ValueError(f"mask must be (H, W) or (N, H, W); got shape {labels.shape}")
        if not np.issubdtype(labels.dtype, np.integer):
            raise TypeError(f"mask must hold integer labels; got dtype {labels.dtype}")
        for image in labels:
            values = image.ravel()
            if self.ignore_index is not None:
                values = values[values != self.ignore_index]
            if values.size and (values.min() < 0 or values.max() >= self.num_classes):
                bad = values[(values < 0) | (values >= self.num_classes)][0]
                raise ValueError(
                    f"mask holds label {int(bad)}, outside [0, {self.num_classes}); "
                    f"ignore_index is {self.ignore_index}"
                )
            counts = np.bincount(values, minlength=self.num_classes)
            self.class_pixels += counts
            self.present_image_pixels += np.where(counts > 0, values.size, 0)
            self.images += 1

    def frequencies(self) -> np.ndarray:
        """``n_c / total`` over everything seen so far."""
        total = self.class_pixels.sum()
        if total == 0:
            raise ValueError("no labelled pixel seen yet; call update() with label masks first")
        return self.class_pixels / total

    def weights(self, method: WeightMethod = "median_frequency") -> Tensor:
        """Class weights ``(num_classes,)`` (float32) by ``method``."""
        if method not in METHODS:
            raise ValueError(f"unknown method {method!r}; expected one of {METHODS}")
        seen = self.class_pixels > 0
        total = self.class_pixels.sum()
        if total == 0:
            raise ValueError("no labelled pixel seen yet; call update() with label masks first")
        weights = np.zeros(self.num_classes, dtype=np.float64)
        if method == "median_frequency":
            freq = self.class_pixels[seen] / self.present_image_pixels[seen]
            weights[seen] = np.median(freq) / freq
        else:
            balanced = total / (self.num_classes * self.class_pixels[seen])
            weights[seen] = balanced if method == "inverse_frequency" else np.sqrt(balanced)
        return torch.from_numpy(weights).float()
