"""Image/mask pair datasets: :class:`PairedDataset` over an explicit list of file pairs, and
:class:`FolderDataset` that pairs two folders by file stem.

Each item is ``(image, mask)``: image a float32 C x H x W tensor (before any normalisation)
scaled by :func:`pixelwise.io.dtype_scale` (``uint8``/``uint16`` to [0, 1], floats as stored),
mask an int64 H x W tensor of class ids (or the table's ``ignore_index``), both after the
optional joint ``transform(image, mask)``. Images are read with :func:`pixelwise.io.read_raster`,
the reader prediction uses (same bands, same dtype); nodata pixels (all bands equal to the nodata
value) get image value 0 (raw, before scaling) and mask value ``ignore_index``. Files are decoded
and validated lazily, when an item is read; pairing is checked at construction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch.utils.data import Dataset

from pixelwise.data.classes import ClassTable
from pixelwise.data.io import image_to_tensor
from pixelwise.io import RasterImage, fill_nodata, open_source, read_mask_array, read_raster

JointTransform = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
MaskMode = Literal["index", "rgb"]
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".tif", ".tiff")


def nodata_to_ignore(
    mask: np.ndarray,
    nodata: np.ndarray | None,
    ignore_index: int | None,
    image: str | Path,
    nodata_value: float | None,
) -> np.ndarray:
    """``mask`` with the pixels where ``nodata`` is True set to ``ignore_index`` (in place).

    Raises:
        ValueError: there are nodata pixels but no ``ignore_index`` (names ``image``).
    """
    if nodata is None or not nodata.any():
        return mask
    if ignore_index is None:
        raise ValueError(
            f"image {image} has {int(nodata.sum())} nodata pixel(s) (nodata value "
            f"{nodata_value}) but the class table has no ignore_index to label them in the mask; "
            "set ignore_index in the class table (e.g. ignore_index: 255) so they are ignored"
        )
    mask[nodata] = ignore_index
    return mask


class PairedDataset(Dataset):
    """Segmentation pairs from explicit ``(image_path, mask_path)`` tuples.

    Args:
        pairs: the files, in dataset order.
        classes: the label set; mask values are checked against it.
        mask_mode: ``"index"`` (mask pixels hold class ids; palette PNGs give their indices) or
            ``"rgb"`` (colour-coded masks decoded with ``classes.mask_from_rgb``).
        transform: joint ``(image, mask) -> (image, mask)`` transform (see ``data.transforms``).
        mask_fn: optional mapping applied to the raw H x W mask array before validation
            (e.g. thresholding grey labels).
        bands: 1-based image bands to use (GDAL numbering), in this order; default all.
        nodata: overrides the image files' own nodata value.

    Attributes:
        input_dtype: numpy dtype of the image files' pixels (of the first image; every image
            must have it), from which the inference scale is derived.
    """

    def __init__(
        self,
        pairs: Sequence[tuple[Path, Path]],
        *,
        classes: ClassTable,
        mask_mode: MaskMode = "index",
        transform: JointTransform | None = None,
        mask_fn: Callable[[np.ndarray], np.ndarray] | None = None,
        bands: Sequence[int] | None = None,
        nodata: float | None = None,
    ) -> None:
        if mask_mode not in ("index", "rgb"):
            raise ValueError(f"mask_mode must be 'index' or 'rgb', got {mask_mode!r}")
        self.pairs = [(Path(image), Path(mask)) for image, mask in pairs]
        self.classes = classes
        self.mask_mode = mask_mode
        self.transform = transform
        self.mask_fn = mask_fn
        self.bands = None if bands is None else [int(b) for b in bands]
        self.nodata = nodata
        self._input_dtype: np.dtype | None = None

    def __len__(self) -> int:
        return len(self.pairs)

    @property
    def ignore_index(self) -> int | None:
        return self.classes.ignore_index

    @property
    def input_dtype(self) -> np.dtype:
        """numpy dtype of the image pixels (read from the first image's header)."""
        if self._input_dtype is None:
            if not self.pairs:
                raise ValueError("the dataset has no images, so no input dtype")
            with open_source(self.pairs[0][0], bands=self.bands, nodata=self.nodata) as source:
                self._input_dtype = np.dtype(source.dtype)
        return self._input_dtype

    def read_image(self, path: Path) -> RasterImage:
        """Read one image (raw values, ``(C, H, W)``) and check its dtype against the first's."""
        image = read_raster(path, bands=self.bands, nodata=self.nodata)
        if self._input_dtype is None and self.pairs and path == self.pairs[0][0]:
            self._input_dtype = np.dtype(image.dtype)
        if image.dtype != self.input_dtype:
            raise ValueError(
                f"image {path} stores {image.dtype} pixels but the first image "
                f"{self.pairs[0][0]} stores {self.input_dtype}; every image of a dataset must "
                "have the same dtype (the input scale is derived from it): convert the files"
            )
        return image

    def read_mask(self, path: Path, *, nodata: np.ndarray | None = None) -> np.ndarray:
        """Decode and validate one mask file into an H x W int64 array of ids; pixels where
        ``nodata`` (H x W bool) is True become ``ignore_index`` before validation."""
        mask = self._decode_mask(path)
        mask = nodata_to_ignore(mask, nodata, self.ignore_index, path, self.nodata)
        self.classes.check_mask(mask, source=path)
        return mask

    def _decode_mask(self, path: Path) -> np.ndarray:
        """One mask file as H x W int64 ids (not validated)."""
        raw = read_mask_array(path)
        if self.mask_mode == "rgb":
            if raw.ndim != 3 or raw.shape[-1] < 3:
                raise ValueError(
                    f"mask {path} is single-channel (shape {raw.shape}) but mask_mode='rgb'; "
                    "use mask_mode='index' for masks that store class ids"
                )
            mask = self.classes.mask_from_rgb(raw, source=path)
        else:
            if raw.ndim == 3:
                if np.ptp(raw[..., :3], axis=-1).any():  # channels differ somewhere
                    raise ValueError(
                        f"mask {path} has {raw.shape[-1]} channels with different values: it "
                        "looks colour-coded; use mask_mode='rgb' with a ClassTable of colours"
                    )
                raw = raw[..., 0]
            mask = raw
        if self.mask_fn is not None:
            mask = self.mask_fn(mask)
        if mask.dtype.kind == "f":
            raise ValueError(f"mask {path} stores floats ({mask.dtype}); expected integer ids")
        return mask.astype(np.int64)

    def read_pair(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """The (H x W x C image array in the file's dtype with nodata pixels set to 0, H x W int64
        mask with ``ignore_index`` at nodata pixels) of item ``index``, validated."""
        image_path, mask_path = self.pairs[index]
        image = self.read_image(image_path)
        filled, nodata = fill_nodata(image.array, image.nodata)
        mask = self._decode_mask(mask_path)
        if image.shape != mask.shape:
            raise ValueError(
                f"image {image_path} is {image.shape[0]}x{image.shape[1]} (H x W) but its mask "
                f"{mask_path} is {mask.shape[0]}x{mask.shape[1]}; image and mask must have the "
                "same size (re-export the mask at the image's resolution)"
            )
        mask = nodata_to_ignore(mask, nodata, self.ignore_index, image_path, image.nodata)
        self.classes.check_mask(mask, source=mask_path)
        return np.moveaxis(filled, 0, -1), mask

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image, mask = self.read_pair(index)
        image_tensor = image_to_tensor(image)
        mask_tensor = torch.from_numpy(mask)
        if self.transform is not None:
            image_tensor, mask_tensor = self.transform(image_tensor, mask_tensor)
        return image_tensor, mask_tensor


def _index_by_stem(folder: Path, extensions: Sequence[str], suffix: str = "") -> dict[str, Path]:
    if not folder.is_dir():
        raise FileNotFoundError(f"folder {folder} does not exist or is not a directory")
    allowed = {e.lower() for e in extensions}
    by_stem: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.suffix.lower() not in allowed:
            continue
        stem = path.stem
        if suffix:
            if not stem.endswith(suffix):
                continue
            stem = stem[: -len(suffix)]
        if stem in by_stem:
            raise ValueError(
                f"two files in {folder} share the stem {stem!r}: {by_stem[stem].name} and "
                f"{path.name}; keep one (pairs are matched by stem)"
            )
        by_stem[stem] = path
    return by_stem


def _list_some(stems: Sequence[str], limit: int = 10) -> str:
    shown = ", ".join(repr(s) for s in stems[:limit])
    return shown + (f" ... ({len(stems)} in all)" if len(stems) > limit else "")


class FolderDataset(PairedDataset):
    """Images in ``images_dir`` paired with masks in ``masks_dir`` by file stem.

    ``images/a.jpg`` pairs with ``masks/a.png`` (or ``masks/a<mask_suffix>.png``). Grey images
    give C = 1, RGB C = 3, multi-band TIFFs C = bands (pages x samples). ``bands`` (1-based) and
    ``nodata`` as for :class:`PairedDataset`.

    Raises:
        FileNotFoundError: a folder does not exist.
        ValueError: no images found, or some stems have an image but no mask (or the reverse).
    """

    def __init__(
        self,
        images_dir: str | Path,
        masks_dir: str | Path,
        *,
        classes: ClassTable,
        mask_mode: MaskMode = "index",
        transform: JointTransform | None = None,
        extensions: Sequence[str] = IMAGE_EXTENSIONS,
        mask_suffix: str = "",
        bands: Sequence[int] | None = None,
        nodata: float | None = None,
    ) -> None:
        self.images_dir, self.masks_dir = Path(images_dir), Path(masks_dir)
        images = _index_by_stem(self.images_dir, extensions)
        masks = _index_by_stem(self.masks_dir, extensions, mask_suffix)
        if not images:
            raise ValueError(
                f"no images with extensions {tuple(extensions)} found in {self.images_dir}"
            )
        without_mask = sorted(set(images) - set(masks))
        without_image = sorted(set(masks) - set(images))
        if without_mask or without_image:
            lines = [
                f"image and mask folders do not pair up ({self.images_dir} vs {self.masks_dir}):"
            ]
            if without_mask:
                lines.append(
                    f"{len(without_mask)} image(s) without a mask: {_list_some(without_mask)}"
                )
            if without_image:
                lines.append(
                    f"{len(without_image)} mask(s) without an image: {_list_some(without_image)}"
                )
            lines.append(
                "Masks are matched by file stem"
                + (f" plus mask_suffix={mask_suffix!r}" if mask_suffix else "")
                + "; add or remove the listed files."
            )
            raise ValueError("\n".join(lines))
        self.stems = sorted(images)
        super().__init__(
            [(images[s], masks[s]) for s in self.stems],
            classes=classes,
            mask_mode=mask_mode,
            transform=transform,
            bands=bands,
            nodata=nodata,
        )
