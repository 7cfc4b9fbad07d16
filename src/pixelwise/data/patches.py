"""Patch-wise training on images too large for a batch (or for memory): :class:`PatchDataset`.

Patches are read window by window (memory-mapped ``.npy``, TIFF tiles/strips, GeoTIFF blocks,
in-memory arrays; see :class:`pixelwise.data.io.RasterReader`, built on the reader prediction
uses), so one patch never decodes the whole raster. Nodata pixels (all bands equal to the nodata
value) get image value 0 (raw, before scaling) and mask value ``ignore_index``, as in
:class:`pixelwise.data.FolderDataset` and in tiled prediction.

* ``mode="grid"``: a deterministic tiling with ``stride`` (default: ``patch_size``, no overlap);
  the last row/column is shifted inwards so every pixel is covered.
* ``mode="random"``: ``patches_per_epoch`` random windows. With ``class_weights`` sampling is
  class-aware: pick a class ``c`` with probability proportional to its weight (classes absent from
  every mask are skipped), a block of the downsampled per-class index that contains ``c``, a pixel
  of class ``c`` in that block, and centre the patch on it, so rare classes are seen far more
  often than their pixel share. Item ``i`` depends only on ``(seed, epoch, i)``; call
  :meth:`PatchDataset.set_epoch` each epoch for new windows.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch.utils.data import Dataset

from pixelwise.data.classes import ClassTable
from pixelwise.data.folder import JointTransform, nodata_to_ignore
from pixelwise.data.io import RasterReader, image_to_tensor
from pixelwise.io import fill_nodata

Source = str | Path | np.ndarray


def grid_starts(length: int, patch: int, stride: int) -> list[int]:
    """Window starts along one axis covering ``[0, length)``: multiples of ``stride`` plus a last
    window flush with the end; ``[0]`` when the axis is shorter than the patch (it gets padded)."""
    if length <= patch:
        return [0]
    starts = list(range(0, length - patch + 1, stride))
    if starts[-1] != length - patch:
        starts.append(length - patch)
    return starts


class PatchDataset(Dataset):
    """Patches ``(image C x p x p float32, mask p x p int64)`` from large image/mask rasters.

    Args:
        source_images: paths or arrays (H x W x C or H x W), one per raster.
        masks: matching H x W id masks (paths or arrays).
        patch_size: ``p`` or ``(ph, pw)``.
        mode: ``"random"`` or ``"grid"``.
        stride: grid step (default ``patch_size``).
        patches_per_epoch: length of the dataset in random mode.
        class_weights: per-class sampling weights (length ``num_classes``) for class-aware random
            sampling; ``None`` samples windows uniformly (rasters chosen by area).
        seed: base seed of the random windows.
        classes: optional table; masks are validated against it and its ``ignore_index`` pads
            rasters smaller than the patch.
        ignore_index: mask padding value when ``classes`` is not given.
        index_stride: block size of the downsampled per-class pixel index.
        transform: joint transform applied to each patch.
        bands: 1-based image bands to use (GDAL numbering), in this order; default all.
        nodata: overrides the image files' own nodata value.

    Attributes:
        input_dtype: numpy dtype of the image pixels (every raster must have the same).
    """

    def __init__(
        self,
        source_images: Sequence[Source],
        masks: Sequence[Source],
        *,
        patch_size: int | tuple[int, int],
        mode: Literal["random", "grid"] = "random",
        stride: int | tuple[int, int] | None = None,
        patches_per_epoch: int = 1000,
        class_weights: Sequence[float] | None = None,
        seed: int = 0,
        classes: ClassTable | None = None,
        ignore_index: int | None = None,
        index_stride: int = 8,
        transform: JointTransform | None = None,
        bands: Sequence[int] | None = None,
        nodata: float | None = None,
    ) -> None:
        if mode not in ("random", "grid"):
            raise ValueError(f"mode must be 'random' or 'grid', got {mode!r}")
        if len(source_images) != len(masks) or not source_images:
            raise ValueError(
                f"need one mask per image and at least one pair; got {len(source_images)} "
                f"image(s) and {len(masks)} mask(s)"
            )
        self.patch = (patch_size, patch_size) if isinstance(patch_size, int) else tuple(patch_size)
        step = stride if stride is not None else self.patch
        self.stride = (step, step) if isinstance(step, int) else tuple(step)
        if min(self.patch) <= 0 or min(self.stride) <= 0:
            raise ValueError(f"patch_size and stride must be positive, got {patch_size}, {stride}")
        self.mode, self.seed, self.epoch = mode, seed, 0
        self.patches_per_epoch = patches_per_epoch
        self.classes, self.transform = classes, transform
        self.ignore_index = classes.ignore_index if classes is not None else ignore_index
        self.images = [RasterReader(s, bands=bands, nodata=nodata) for s in source_images]
        self.masks = [RasterReader(source, as_mask=True) for source in masks]
        self.input_dtype = self.images[0].dtype
        for image, mask in zip(self.images, self.masks):
            if image.dtype != self.input_dtype:
                raise ValueError(
                    f"image {image.name} stores {image.dtype} pixels but the first image "
                    f"{self.images[0].name} stores {self.input_dtype}; every image must have the "
                    "same dtype (the input scale is derived from it): convert the files"
                )
            if image.shape != mask.shape:
                raise ValueError(
                    f"image {image.name} is {image.height}x{image.width} (H x W) but mask "
                    f"{mask.name} is {mask.height}x{mask.width}; they must match"
                )
            if (image.height < self.patch[0] or image.width < self.patch[1]) and (
                self.ignore_index is None
            ):
                raise ValueError(
                    f"{image.name} ({image.height}x{image.width}) is smaller than the patch "
                    f"{self.patch}; pass ignore_index (or classes with one) to pad its mask"
                )
        self.grid = [
            (k, y, x)
            for k, image in enumerate(self.images)
            for y in grid_starts(image.height, self.patch[0], self.stride[0])
            for x in grid_starts(image.width, self.patch[1], self.stride[1])
        ]
        self.class_weights: np.ndarray | None = None
        if class_weights is not None:
            self.class_weights = np.asarray(class_weights, dtype=np.float64)
            if self.class_weights.ndim != 1 or (self.class_weights < 0).any():
                raise ValueError(
                    f"class_weights must be non-negative per class, got {class_weights}"
                )
            if classes is not None and len(self.class_weights) != classes.num_classes:
                raise ValueError(
                    f"got {len(self.class_weights)} class_weights for {classes.num_classes} classes"
                )
            self.index_stride = index_stride
            self.class_blocks = [self._index_classes(mask) for mask in self.masks]
            blocks_per_class = np.array(
                [
                    sum(len(blocks[c]) for blocks in self.class_blocks)
                    for c in range(len(self.class_weights))
                ]
            )
            probability = np.where(blocks_per_class > 0, self.class_weights, 0.0)
            if probability.sum() <= 0:
                raise ValueError(
                    f"no class with a positive weight occurs in any mask (weights {class_weights}, "
                    f"blocks per class {blocks_per_class.tolist()})"
                )
            self._class_probability = probability / probability.sum()

    # ------------------------------------------------------------------ index
    def _index_classes(self, mask: RasterReader) -> list[np.ndarray]:
        """Per class, the flat ids of ``index_stride`` blocks (row-major on the block grid) that
        contain at least one pixel of that class; built from row bands, never the whole mask."""
        num_classes, s = len(self.class_weights), self.index_stride  # type: ignore[arg-type]
        blocks_x = -(-mask.width // s)
        found: list[list[np.ndarray]] = [[] for _ in range(num_classes)]
        band = s * max(1, 2048 // s)  # rows per read: a multiple of the block size
        for y0 in range(0, mask.height, band):
            rows = mask.read_rows(y0, min(y0 + band, mask.height))
            local_y = np.arange(rows.shape[0]) // s
            local_id = (local_y[:, None] * blocks_x + np.arange(rows.shape[1]) // s).ravel()
            values = rows.ravel().astype(np.int64)
            valid = (values >= 0) & (values < num_classes)  # ignore/void values are skipped
            counts = np.bincount(
                local_id[valid] * num_classes + values[valid],
                minlength=(int(local_y[-1]) + 1) * blocks_x * num_classes,
            ).reshape(-1, num_classes)
            first_block = (y0 // s) * blocks_x
            for c in range(num_classes):
                found[c].append(np.flatnonzero(counts[:, c]) + first_block)
        return [np.concatenate(ids) if ids else np.zeros(0, np.int64) for ids in found]

    # ------------------------------------------------------------------ sampling
    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.grid) if self.mode == "grid" else self.patches_per_epoch

    def locate(self, index: int) -> tuple[int, int, int]:
        """``(raster index, top, left)`` of patch ``index`` (deterministic for a given epoch)."""
        if not 0 <= index < len(self):
            raise IndexError(f"patch index {index} out of range for {len(self)} patches")
        if self.mode == "grid":
            return self.grid[index]
        rng = np.random.default_rng([self.seed & 0xFFFFFFFF, self.epoch, index])
        ph, pw = self.patch
        if self.class_weights is None:
            areas = np.array([r.height * r.width for r in self.images], dtype=np.float64)
            k = int(rng.choice(len(self.images), p=areas / areas.sum()))
            image = self.images[k]
            y = int(rng.integers(0, max(image.height - ph, 0) + 1))
            x = int(rng.integers(0, max(image.width - pw, 0) + 1))
            return k, y, x
        c = int(rng.choice(len(self._class_probability), p=self._class_probability))
        counts = np.array([len(blocks[c]) for blocks in self.class_blocks], dtype=np.float64)
        k = int(rng.choice(len(counts), p=counts / counts.sum()))
        mask, s = self.masks[k], self.index_stride
        block = int(rng.choice(self.class_blocks[k][c]))
        blocks_x = -(-mask.width // s)
        by, bx = (block // blocks_x) * s, (block % blocks_x) * s
        window = mask.read(by, bx, s, s)
        ys, xs = np.nonzero((window[..., 0] if window.ndim == 3 else window) == c)
        pick = int(rng.integers(len(ys)))
        cy, cx = by + int(ys[pick]), bx + int(xs[pick])
        y = int(np.clip(cy - ph // 2, 0, max(mask.height - ph, 0)))
        x = int(np.clip(cx - pw // 2, 0, max(mask.width - pw, 0)))
        return k, y, x

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        k, y, x = self.locate(index)
        ph, pw = self.patch
        reader = self.images[k]
        raw = reader.read(y, x, ph, pw)
        chw = raw[None] if raw.ndim == 2 else np.moveaxis(raw, -1, 0)
        filled, nodata = fill_nodata(chw, reader.nodata)
        image = np.moveaxis(filled, 0, -1)
        mask = self.masks[k].read(y, x, ph, pw)
        if mask.ndim == 3:
            mask = mask[..., 0]
        mask = mask.astype(np.int64)
        where = f"{reader.name} window y={y} x={x}"
        mask = nodata_to_ignore(mask, nodata, self.ignore_index, where, reader.nodata)
        if self.classes is not None:
            self.classes.check_mask(mask, source=f"{self.masks[k].name} window y={y} x={x}")
        if mask.shape != (ph, pw):  # raster smaller than the patch: pad bottom/right
            padded = np.full((ph, pw), self.ignore_index, dtype=np.int64)
            padded[: mask.shape[0], : mask.shape[1]] = mask
            canvas = np.zeros((ph, pw, *image.shape[2:]), dtype=image.dtype)
            canvas[: image.shape[0], : image.shape[1]] = image
            image, mask = canvas, padded
        image_tensor, mask_tensor = image_to_tensor(image), torch.from_numpy(mask)
        if self.transform is not None:
            image_tensor, mask_tensor = self.transform(image_tensor, mask_tensor)
        return image_tensor, mask_tensor
