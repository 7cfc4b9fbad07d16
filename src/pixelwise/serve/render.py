"""What the server sends back: PNGs (labels, overlays), JPEG previews, ``.npy`` probabilities, and
the per-class numbers of the legend (pixel shares and, where a mask is known, IoU)."""

from __future__ import annotations

from collections.abc import Sequence
from io import BytesIO
from typing import Any

import numpy as np
import torch

from pixelwise.data.classes import ClassTable
from pixelwise.metrics import ConfusionMatrix

PREVIEW_SIDE = 1600  # longest side of the page's images (full resolution through the API)


def _png(image: Any, *, compress: int = 1) -> bytes:
    buffer = BytesIO()
    image.save(buffer, format="PNG", compress_level=compress)
    return buffer.getvalue()


def _fit(height: int, width: int, side: int) -> tuple[int, int] | None:
    """``(width, height)`` scaled so that the longest side is ``side``; ``None`` if it fits."""
    longest = max(height, width)
    if longest <= side:
        return None
    factor = side / longest
    return max(1, round(width * factor)), max(1, round(height * factor))


def rgb_jpeg(rgb: np.ndarray, side: int = PREVIEW_SIDE) -> bytes:
    """An ``H x W x 3`` uint8 image as JPEG (a preview: small, display only), scaled down
    (bilinear) to ``side`` at most."""
    from PIL import Image

    image = Image.fromarray(np.ascontiguousarray(rgb), mode="RGB")
    size = _fit(rgb.shape[0], rgb.shape[1], side)
    if size is not None:
        image = image.resize(size, Image.Resampling.BILINEAR)
    buffer = BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def label_png(labels: np.ndarray, colors: Sequence[Sequence[int]]) -> bytes:
    """Full-resolution label map: a palette PNG whose pixel values are the label ids (label
    ``i`` shown in ``colors[i]``; nodata 255 left black). ``uint16`` labels (more than 255
    labels) give a 16-bit grey PNG."""
    from PIL import Image

    if labels.dtype != np.uint8:
        return _png(Image.fromarray(labels.astype(np.uint16)), compress=3)
    image = Image.fromarray(labels, mode="L")
    flat = [value for color in colors for value in color]
    image.putpalette(flat + [0] * (768 - len(flat)))
    return _png(image, compress=3)


def overlay_png(labels: np.ndarray, colors: Sequence[Sequence[int]], side: int = PREVIEW_SIDE):
    """The labels as an RGBA image in the class colours (nodata and unknown labels
    transparent), scaled down (nearest) to ``side`` at most, as PNG bytes."""
    from PIL import Image

    size = _fit(labels.shape[0], labels.shape[1], side)
    if size is not None:
        small = Image.fromarray(labels.astype(np.int32), mode="I").resize(
            size, Image.Resampling.NEAREST
        )
        labels = np.asarray(small)
    table = np.zeros((max(int(labels.max(initial=0)) + 1, len(colors)), 4), dtype=np.uint8)
    table[: len(colors), :3] = np.asarray(colors, dtype=np.uint8).reshape(-1, 3)
    table[: len(colors), 3] = 255
    return _png(Image.fromarray(table[labels], mode="RGBA"))


def probs_npy(probs: torch.Tensor) -> bytes:
    """``(L, H, W)`` probabilities as a float16 ``.npy`` file."""
    buffer = BytesIO()
    np.save(buffer, probs.to(torch.float16).cpu().numpy(), allow_pickle=False)
    return buffer.getvalue()


def shares(labels: np.ndarray, count: int) -> list[float]:
    """The share of each label among the valid pixels (nodata and unknown labels left out)."""
    counts = np.bincount(labels.ravel(), minlength=count)[:count].astype(np.float64)
    total = counts.sum()
    return (counts / total).tolist() if total else [0.0] * count


def class_iou(
    labels: np.ndarray, mask: np.ndarray, count: int, ignore: int | None
) -> tuple[list[float | None], float | None]:
    """Per-label IoU of ``labels`` against ``mask`` (pixels outside the labels, nodata and
    ``ignore`` left out) by :class:`pixelwise.metrics.ConfusionMatrix`; absent classes: None."""
    valid = labels < count
    target = mask.astype(np.int64)
    inside = (target >= 0) & (target < count)
    if ignore is not None:
        inside |= target == ignore
    valid &= inside
    confusion = ConfusionMatrix(count, ignore)
    confusion.update(
        torch.from_numpy(labels[valid].astype(np.int64)), torch.from_numpy(target[valid])
    )
    iou = confusion.iou().tolist()
    per_class = [None if np.isnan(v) else float(v) for v in iou]
    present = [v for v in per_class if v is not None]
    return per_class, (float(np.mean(present)) if present else None)


def legend(
    table: ClassTable,
    labels: np.ndarray,
    crf_labels: np.ndarray | None,
    mask: np.ndarray | None,
) -> dict[str, Any]:
    """The legend rows (name, colour, share, IoU; the same after the CRF) and the mean IoUs."""
    count = table.num_classes
    rows: list[dict[str, Any]] = [
        {"label": c.id, "name": c.name, "color": list(c.color)} for c in table.classes
    ]
    out: dict[str, Any] = {"classes": rows}
    for suffix, values in (("", labels), ("_crf", crf_labels)):
        if values is None:
            continue
        for row, share in zip(rows, shares(values, count)):
            row[f"share{suffix}"] = share
        if mask is not None:
            iou, mean = class_iou(values, mask, count, table.ignore_index)
            for row, value in zip(rows, iou):
                row[f"iou{suffix}"] = value
            out[f"mean_iou{suffix}"] = mean
    return out
