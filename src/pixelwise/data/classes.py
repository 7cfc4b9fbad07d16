"""Class tables: names, integer ids and display colours of a segmentation label set.

A :class:`ClassTable` is the single source of truth for what the integers in a mask mean. Ids are
always ``0 .. num_classes - 1`` (what cross-entropy expects); an optional ``ignore_index`` (with its
own ``ignore_color``) marks void pixels that losses and metrics skip.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

Color = tuple[int, int, int]


@dataclass(frozen=True)
class ClassInfo:
    """One class: its ``name``, integer ``id`` in masks and RGB display ``color``."""

    name: str
    id: int
    color: Color


def _as_color(value: Any, what: str) -> Color:
    try:
        color = tuple(int(c) for c in value)
    except TypeError as error:
        raise ValueError(f"{what}: expected an (R, G, B) triple, got {value!r}") from error
    if len(color) != 3 or not all(0 <= c <= 255 for c in color):
        raise ValueError(f"{what}: expected 3 integers in 0..255, got {value!r}")
    return color  # type: ignore[return-value]


def _pack(colors: np.ndarray) -> np.ndarray:
    """(..., 3) uint8 RGB -> (...) int64 code ``R << 16 | G << 8 | B``."""
    colors = colors.astype(np.int64)
    return (colors[..., 0] << 16) | (colors[..., 1] << 8) | colors[..., 2]


@dataclass
class ClassTable:
    """An ordered label set; ``classes[i].id == i`` (sorted and validated on construction).

    Args:
        classes: the trainable classes, ids ``0 .. K-1`` in any order.
        ignore_index: the mask value for void pixels (not a class id), or ``None``.
        ignore_color: the RGB colour of void pixels in colour-coded masks (needs ``ignore_index``).
    """

    classes: list[ClassInfo]
    ignore_index: int | None = None
    ignore_color: Color | None = None
    _codes: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.classes = sorted(self.classes, key=lambda c: c.id)
        if not self.classes:
            raise ValueError("ClassTable needs at least one class; got an empty list")
        ids = [c.id for c in self.classes]
        if ids != list(range(len(ids))):
            raise ValueError(
                f"class ids must be exactly 0..{len(ids) - 1} (what cross-entropy expects); "
                f"got {ids}. Renumber the classes and map extra labels to ignore_index."
            )
        names = [c.name for c in self.classes]
        if len(set(names)) != len(names):
            raise ValueError(f"class names must be unique; got {names}")
        colors = [c.color for c in self.classes]
        if len(set(colors)) != len(colors):
            raise ValueError(f"class colours must be unique to decode RGB masks; got {colors}")
        if self.ignore_index is not None and 0 <= self.ignore_index < len(ids):
            raise ValueError(
                f"ignore_index={self.ignore_index} collides with class "
                f"{names[self.ignore_index]!r}; use a value >= {len(ids)} (e.g. 255) or None"
            )
        if self.ignore_color is not None:
            self.ignore_color = _as_color(self.ignore_color, "ignore_color")
            if self.ignore_index is None:
                raise ValueError("ignore_color is set but ignore_index is None; set both")
            if self.ignore_color in colors:
                raise ValueError(f"ignore_color {self.ignore_color} is also a class colour")
        self._codes = _pack(np.array(colors, dtype=np.uint8))

    # ------------------------------------------------------------------ accessors
    @property
    def names(self) -> list[str]:
        return [c.name for c in self.classes]

    @property
    def colors(self) -> list[Color]:
        return [c.color for c in self.classes]

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def __len__(self) -> int:
        return len(self.classes)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.classes)

    # --------------------------------------------------------------- constructors
    @classmethod
    def from_names(
        cls,
        names: Sequence[str],
        colors: Sequence[Iterable[int]] | None = None,
        *,
        ignore_index: int | None = None,
        ignore_color: Iterable[int] | None = None,
    ) -> ClassTable:
        """Ids follow the order of ``names``; without ``colors`` a distinct palette is generated."""
        if colors is None:
            colors = default_palette(len(names))
        if len(colors) != len(names):
            raise ValueError(f"got {len(names)} names but {len(colors)} colours")
        infos = [
            ClassInfo(str(n), i, _as_color(c, f"colour of {n!r}"))
            for i, (n, c) in enumerate(zip(names, colors))
        ]
        color = None if ignore_color is None else _as_color(ignore_color, "ignore_color")
        return cls(infos, ignore_index=ignore_index, ignore_color=color)

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> ClassTable:
        """Inverse of :meth:`to_dict`; ``id`` may be omitted (then it is the list position)."""
        if "classes" not in spec:
            raise ValueError(f"class table spec needs a 'classes' list; got keys {sorted(spec)}")
        infos = []
        for position, entry in enumerate(spec["classes"]):
            if "name" not in entry or "color" not in entry:
                raise ValueError(f"class entry {position} needs 'name' and 'color'; got {entry}")
            color = _as_color(entry["color"], f"colour of {entry['name']!r}")
            infos.append(ClassInfo(str(entry["name"]), int(entry.get("id", position)), color))
        ignore_color = spec.get("ignore_color")
        return cls(
            infos,
            ignore_index=spec.get("ignore_index"),
            ignore_color=None if ignore_color is None else _as_color(ignore_color, "ignore_color"),
        )

    @classmethod
    def from_yaml(cls, path: str | Path) -> ClassTable:
        """Read ``classes: [{name, id, color}], ignore_index, ignore_color`` from a YAML file."""
        import yaml

        with open(path, encoding="utf-8") as handle:
            spec = yaml.safe_load(handle)
        if not isinstance(spec, Mapping):
            raise ValueError(f"{path}: expected a mapping with a 'classes' list, got {spec!r}")
        try:
            return cls.from_dict(spec)
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from error

    def to_dict(self) -> dict[str, Any]:
        return {
            "classes": [{"name": c.name, "id": c.id, "color": list(c.color)} for c in self],
            "ignore_index": self.ignore_index,
            "ignore_color": None if self.ignore_color is None else list(self.ignore_color),
        }

    def to_yaml(self, path: str | Path) -> None:
        import yaml

        with open(path, "w", encoding="utf-8") as handle:
            yaml.safe_dump(self.to_dict(), handle, sort_keys=False)

    # ------------------------------------------------------------------- masks
    def check_mask(self, mask: np.ndarray, source: str | Path | None = None) -> None:
        """Raise ``ValueError`` if ``mask`` holds a value that is neither a class id nor ignored."""
        values = np.unique(mask)
        bad = values[(values < 0) | (values >= self.num_classes)]
        if self.ignore_index is not None:
            bad = bad[bad != self.ignore_index]
        if bad.size:
            where = f"mask {source}" if source is not None else "mask"
            ignore = (
                f" or ignore_index={self.ignore_index}" if self.ignore_index is not None else ""
            )
            counts = ", ".join(f"{int(v)} ({int((mask == v).sum())} px)" for v in bad[:5])
            raise ValueError(
                f"{where} holds value(s) {counts} outside the class table: valid ids are "
                f"0..{self.num_classes - 1}{ignore}. Fix: add the class to the table, set "
                f"ignore_index to the void value, or use mask_mode='rgb' for colour-coded masks."
            )

    def mask_from_rgb(self, rgb: np.ndarray, source: str | Path | None = None) -> np.ndarray:
        """Map an H x W x 3 uint8 colour-coded mask to H x W int64 ids (``ignore_color`` ->
        ``ignore_index``); an unknown colour raises ``ValueError`` naming it."""
        if rgb.ndim != 3 or rgb.shape[-1] < 3:
            raise ValueError(f"expected an H x W x 3 RGB mask, got shape {tuple(rgb.shape)}")
        codes = _pack(rgb[..., :3])
        palette = self._codes
        ids = np.arange(self.num_classes, dtype=np.int64)
        if self.ignore_color is not None:
            palette = np.append(palette, _pack(np.array(self.ignore_color, dtype=np.uint8)))
            assert self.ignore_index is not None  # __post_init__: ignore_color needs it
            ids = np.append(ids, self.ignore_index)
        order = np.argsort(palette)
        palette, ids = palette[order], ids[order]
        position = np.clip(np.searchsorted(palette, codes), 0, len(palette) - 1)
        known = palette[position] == codes
        if not known.all():
            unknown, counts = np.unique(codes[~known], return_counts=True)
            found = ", ".join(
                f"{(int(u) >> 16, (int(u) >> 8) & 255, int(u) & 255)} ({int(n)} px)"
                for u, n in zip(unknown[:5], counts[:5])
            )
            where = f" in {source}" if source is not None else ""
            valid = ", ".join(f"{c.name}={c.color}" for c in self)
            if self.ignore_color is not None:
                valid += f", ignore={self.ignore_color}"
            raise ValueError(
                f"unknown mask colour(s){where}: {found}"
                f"{' and more' if unknown.size > 5 else ''}; valid colours: {valid}. "
                "Fix: add the colour to the class table or as ignore_color (lossy JPEG masks "
                "cannot be decoded: save masks as PNG)."
            )
        return ids[position].astype(np.int64)

    def mask_to_rgb(self, mask: np.ndarray) -> np.ndarray:
        """H x W ids -> H x W x 3 uint8 colours (ignored or unknown pixels get ``ignore_color``
        or black)."""
        lut = np.zeros((max(256, self.num_classes), 3), dtype=np.uint8)
        lut[: self.num_classes] = np.array(self.colors, dtype=np.uint8)
        if self.ignore_index is not None and 0 <= self.ignore_index < len(lut):
            lut[self.ignore_index] = self.ignore_color or (0, 0, 0)
        return lut[np.clip(np.asarray(mask), 0, len(lut) - 1)]


def default_palette(count: int) -> list[Color]:
    """``count`` distinct colours (the PASCAL VOC bit-interleaving palette, skipping black)."""
    colors: list[Color] = []
    label = 1
    while len(colors) < count:
        r = g = b = 0
        value = label
        for shift in range(7, -1, -1):
            r |= (value & 1) << shift
            g |= ((value >> 1) & 1) << shift
            b |= ((value >> 2) & 1) << shift
            value >>= 3
        colors.append((r, g, b))
        label += 1
    return colors
