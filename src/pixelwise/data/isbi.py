"""ISBI 2012 EM membrane segmentation (Arganda-Carreras et al. 2015), the first task of U-Net
(Ronneberger et al., MICCAI 2015).

30 grey 512 x 512 serial-section TEM slices with labels (the test labels are secret). Labels are
grey PNGs, 255 = cell interior and 0 = membrane; copies that were resampled or JPEG-compressed
carry intermediate greys, so labels are *thresholded at 128*: ``>= 128`` -> 1 (cell), else 0
(membrane). There is no void class.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np

from pixelwise.data.classes import ClassInfo, ClassTable
from pixelwise.data.folder import FolderDataset, JointTransform, PairedDataset

ISBI_CLASSES = ClassTable(
    [ClassInfo("membrane", 0, (0, 0, 0)), ClassInfo("cell", 1, (255, 255, 255))]
)
ISBI_LABEL_THRESHOLD = 128


def binarize_isbi_label(label: np.ndarray) -> np.ndarray:
    """Grey label (0 membrane .. 255 cell) -> {0, 1} int64, threshold 128."""
    return (label >= ISBI_LABEL_THRESHOLD).astype(np.int64)


def find_isbi_folder(root: str | Path) -> Path:
    """The folder holding ``image/`` and ``label/``: ``root/train`` or ``root`` itself."""
    root = Path(root)
    for candidate in (root / "train", root):
        if (candidate / "image").is_dir() and (candidate / "label").is_dir():
            return candidate
    raise FileNotFoundError(
        f"no ISBI 2012 data under {root}: expected {root / 'train' / 'image'} and "
        f"{root / 'train' / 'label'} (30 PNG slices each, e.g. from github.com/zhixuhao/unet "
        "data/membrane/train)"
    )


def _slice_number(path: Path) -> tuple[int, str]:
    return (int(path.stem), path.stem) if path.stem.isdigit() else (1 << 30, path.stem)


class ISBI2012(PairedDataset):
    """Train or validation part of the 30 labelled slices; items are ``(image 1 x 512 x 512
    float32 in [0, 1], mask 512 x 512 int64 in {0 membrane, 1 cell})`` before ``transform``.

    The last ``val_count`` slices (in stack order 0..29) are the validation split: neighbouring
    slices look alike, so a contiguous hold-out leaks less than a random one.
    """

    def __init__(
        self,
        root: str | Path,
        split: Literal["train", "val"] = "train",
        *,
        val_count: int = 5,
        transform: JointTransform | None = None,
    ) -> None:
        if split not in ("train", "val"):
            raise ValueError(
                f"split must be 'train' or 'val', got {split!r} (ISBI test labels are not public)"
            )
        folder = find_isbi_folder(root)
        # Pairing and its error messages come from FolderDataset; the order from slice numbers.
        paired = FolderDataset(folder / "image", folder / "label", classes=ISBI_CLASSES)
        pairs = sorted(paired.pairs, key=lambda pair: _slice_number(pair[0]))
        if not 0 < val_count < len(pairs):
            raise ValueError(f"val_count must be in 1..{len(pairs) - 1}, got {val_count}")
        pairs = pairs[:-val_count] if split == "train" else pairs[-val_count:]
        self.split = split
        super().__init__(
            pairs, classes=ISBI_CLASSES, transform=transform, mask_fn=binarize_isbi_label
        )
