"""The page's test images: a folder given with ``--images``, or the embedded synthetic scenes.

Items are addressed by server-made ids (``f0``, ``f1``, ... for files, ``s0``, ... for scenes):
clients never send a path. A folder is either ``DIR/images`` with ``DIR/masks`` (paired by file
stem: a mask gives the item its per-class IoU) or a plain folder of images. The synthetic
scenes come with their own labels, used for IoU when the model's labels are the synthetic class
table. Decoded items and previews are cached (a few items, all previews).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pixelwise.commands.predict import SUFFIXES
from pixelwise.data import SYNTHETIC_CLASSES, synthetic_raster
from pixelwise.io import read_mask_array
from pixelwise.record import ModelRecord
from pixelwise.serve.decode import Decoded, Limits, display_rgb, read_checked
from pixelwise.serve.errors import ServeError
from pixelwise.serve.render import overlay_png, rgb_jpeg

MAX_ITEMS = 2000
CACHED_ITEMS = 4
# (name with width x height, height, width, seed): CamVid-sized scenes, a larger one, and
# one that runs in many tiles
SYNTHETIC_SCENES = [(f"synthetic scene {i + 1}", 360, 480, 9001 + i) for i in range(6)] + [
    ("synthetic scene 7 (960x720)", 720, 960, 9007),
    ("synthetic scene 8 (2048x1536, tiled)", 1536, 2048, 9008),
]


@dataclass(frozen=True)
class GalleryItem:
    id: str
    name: str
    height: int | None
    width: int | None
    has_mask: bool
    image_path: Path | None = None
    mask_path: Path | None = None
    seed: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "height": self.height,
            "width": self.width,
            "has_mask": self.has_mask,
            "image": f"/gallery/{self.id}/image.jpg",
            "mask": f"/gallery/{self.id}/mask.png" if self.has_mask else None,
        }


def probe_size(path: Path) -> tuple[int | None, int | None]:
    """``(height, width)`` from the file's header, ``(None, None)`` when it cannot be read."""
    try:
        if path.suffix.lower() in (".tif", ".tiff"):
            import tifffile

            with tifffile.TiffFile(path) as tif:
                page = tif.pages[0]
                if not isinstance(page, tifffile.TiffPage):
                    raise ValueError("the TIFF has no image page")
                return int(page.imagelength), int(page.imagewidth)
        from PIL import Image

        with Image.open(path) as image:
            return int(image.size[1]), int(image.size[0])
    except Exception:
        return None, None


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)


class Gallery:
    """Items by id, loading and previews (thread-safe)."""

    def __init__(self, items: list[GalleryItem], record: ModelRecord, limits: Limits, note: str):
        self.items = {item.id: item for item in items}
        self.record, self.limits, self.note = record, limits, note
        self.source = "folder" if any(i.image_path for i in items) else "synthetic"
        self._cache: OrderedDict[str, tuple[Decoded, np.ndarray | None]] = OrderedDict()
        self._previews: dict[tuple[str, str, int], bytes] = {}
        self._lock = threading.Lock()

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def synthetic(cls, record: ModelRecord, limits: Limits) -> Gallery:
        pre = record.preprocessing
        if pre.in_channels != 3 or pre.dtype != "uint8":
            note = (
                f"the embedded synthetic scenes are 3-band uint8 images; this model takes "
                f"{pre.in_channels} {pre.dtype} bands: start the server with --images DIR"
            )
            return cls([], record, limits, note)
        masks = record.labels.names == SYNTHETIC_CLASSES.names
        items = [
            GalleryItem(f"s{i}", name, h, w, masks, seed=seed)
            for i, (name, h, w, seed) in enumerate(SYNTHETIC_SCENES)
        ]
        note = "embedded synthetic scenes" + ("" if masks else " (no IoU: other classes)")
        return cls(items, record, limits, note)

    @classmethod
    def from_folder(cls, folder: str | Path, record: ModelRecord, limits: Limits) -> Gallery:
        root = Path(folder)
        if not root.is_dir():
            raise FileNotFoundError(f"--images {root} is not a folder")
        image_dir = root / "images" if (root / "images").is_dir() else root
        masks = {p.stem: p for p in _images_in(root / "masks")} if image_dir != root else {}
        images = _images_in(image_dir)[:MAX_ITEMS]
        if not images:
            raise FileNotFoundError(f"--images {root} holds no images ({', '.join(SUFFIXES)})")
        items = []
        for index, path in enumerate(images):
            height, width = probe_size(path)
            mask = masks.get(path.stem)
            items.append(
                GalleryItem(f"f{index}", path.name, height, width, mask is not None, path, mask)
            )
        paired = sum(item.has_mask for item in items)
        return cls(items, record, limits, f"{len(items)} images from --images, {paired} masks")

    # -- access -----------------------------------------------------------------------------
    def get(self, item_id: str) -> GalleryItem:
        item = self.items.get(item_id)
        if item is None:
            raise ServeError(404, "no such gallery item", {"id": item_id[:64]})
        return item

    def listing(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "note": self.note,
            "items": [item.to_json() for item in self.items.values()],
        }

    def load(self, item_id: str) -> tuple[Decoded, np.ndarray | None]:
        """The checked image and its mask (``(H, W)`` label ids, or ``None``)."""
        item = self.get(item_id)
        with self._lock:
            if item_id in self._cache:
                self._cache.move_to_end(item_id)
                return self._cache[item_id]
        loaded = self._load(item)
        with self._lock:
            self._cache[item_id] = loaded
            while len(self._cache) > CACHED_ITEMS:
                self._cache.popitem(last=False)
        return loaded

    def _load(self, item: GalleryItem) -> tuple[Decoded, np.ndarray | None]:
        pre = self.record.preprocessing
        if item.seed is not None:
            assert item.height is not None and item.width is not None
            image, truth = synthetic_raster(item.height, item.width, seed=item.seed)
            decoded = Decoded(image.transpose(2, 0, 1).copy(), pre.nodata, 3, item.name)
            return decoded, truth if item.has_mask else None
        assert item.image_path is not None
        decoded = read_checked(item.image_path, self.record, self.limits, item.name)
        mask = None
        if item.mask_path is not None:
            mask = read_mask_array(item.mask_path)
            if mask.ndim == 3:
                mask = self.record.labels.mask_from_rgb(mask, item.mask_path.name)
            if mask.shape != (decoded.height, decoded.width):
                raise ServeError(
                    422,
                    "the gallery mask does not match its image",
                    {"image": item.name, "mask_shape": list(mask.shape)},
                )
        return decoded, mask

    def preview(self, item_id: str, kind: str, side: int) -> bytes:
        """JPEG of the image (``kind="image"``) or PNG of its mask in the class colours
        (``"mask"``, transparent where ignored), longest side at most ``side``."""
        key = (item_id, kind, side)
        with self._lock:
            if key in self._previews:
                return self._previews[key]
        decoded, mask = self.load(item_id)
        if kind == "mask":
            if mask is None:
                raise ServeError(404, "this gallery item has no mask", {"id": item_id})
            data = overlay_png(mask, self.record.labels.colors, side)
        else:
            data = rgb_jpeg(display_rgb(decoded.array), side)
        with self._lock:
            self._previews[key] = data
        return data
