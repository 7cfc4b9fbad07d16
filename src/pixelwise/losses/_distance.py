"""Euclidean distance maps of label images for the boundary losses (CPU, NumPy + SciPy).

Distance maps are computed from targets and thresholded predictions, so no gradient is needed
through them. Ignored pixels are neither object nor background: a contour only runs between two
valid pixels, so the maps do not change when ignored pixels are cropped away.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np


def require_scipy(loss_name: str) -> ModuleType:
    """``scipy.ndimage``, or an ImportError telling how to install SciPy."""
    try:
        from scipy import ndimage
    except ImportError as error:  # pragma: no cover - exercised by monkeypatching in tests
        raise ImportError(
            f"{loss_name} needs SciPy (scipy.ndimage.distance_transform_edt) for its distance "
            "maps: pip install scipy"
        ) from error
    return ndimage


def label_contour(labels: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Boolean ``(H, W)``: valid pixels with a valid 4-neighbour of a different label."""
    contour = np.zeros(labels.shape, dtype=bool)
    for axis in (0, 1):
        first = [slice(None), slice(None)]
        second = [slice(None), slice(None)]
        first[axis], second[axis] = slice(None, -1), slice(1, None)
        differs = (
            valid[tuple(first)]
            & valid[tuple(second)]
            & (labels[tuple(first)] != labels[tuple(second)])
        )
        contour[tuple(first)] |= differs
        contour[tuple(second)] |= differs
    return contour


def distance_to_set(ndimage: ModuleType, points: np.ndarray) -> np.ndarray | None:
    """Distance from every pixel to the nearest ``True`` of ``points`` (None if there is none)."""
    if not points.any():
        return None
    return ndimage.distance_transform_edt(~points)


def distance_to_boundary(ndimage: ModuleType, member: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Unsigned distance to the boundary between two disjoint pixel sets: for pixels of
    ``member`` the distance to the nearest pixel of ``other`` and vice versa; 0 elsewhere and
    everywhere if either set is empty (no boundary)."""
    if not member.any() or not other.any():
        return np.zeros(member.shape, dtype=np.float64)
    to_other = ndimage.distance_transform_edt(~other)
    to_member = ndimage.distance_transform_edt(~member)
    return np.where(member, to_other, 0.0) + np.where(other, to_member, 0.0)
