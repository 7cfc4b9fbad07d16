"""A procedural aerial-like scene: the embedded dataset that needs no files.

Five classes of very different frequency (measured on 64 samples of 128 x 128 for seeds 0, 1, 7,
see the tests): background with texture (66-68 %), large ``field`` blobs (21-22 %), ``building``
rectangles (~8 %), thin ``road`` lines 1-3 px wide (~3.4 %) and rare ``car`` squares (~0.5 %,
parked along roads: context helps), so class balancing and the lecture's losses visibly matter.
Classes differ by colour *and* local texture (fields are striped, background is mottled) with
deliberate ambiguity: grey roofs look like roads, field and background colours overlap, and
illumination and pixel noise vary across the scene.

The scene is a pure function of the global pixel position and the seed: noise comes from a
coordinate hash, objects from per-cell generators (cell ``(cy, cx)`` seeded by ``(seed, cy, cx)``,
objects reach at most ``_MARGIN`` px outside their cell). So any window can be rendered alone
(:func:`synthetic_raster_block`) and tiles assemble seamlessly into rasters of any size.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from pixelwise.data.classes import ClassInfo, ClassTable
from pixelwise.data.folder import JointTransform
from pixelwise.data.io import create_tiff_memmap, image_to_tensor

SYNTHETIC_CLASSES = ClassTable(
    [
        ClassInfo("background", 0, (92, 107, 61)),
        ClassInfo("field", 1, (170, 210, 60)),
        ClassInfo("building", 2, (200, 60, 50)),
        ClassInfo("road", 3, (150, 150, 160)),
        ClassInfo("car", 4, (30, 90, 255)),
    ]
)

_CELL = 64  # object-generation cell size (px)
_MARGIN = 96  # road length limit: how far a road may reach outside its cell
_REACH = _MARGIN + 8  # ... plus road width and parked cars
_FIELD_THRESHOLD = 0.615  # on the low-frequency noise; sets the field fraction
_BUILDINGS_PER_CELL = 2.6  # Poisson mean, scaled by a low-frequency "urban" density
_ROADS_PER_CELL = 1.0
_CARS_PER_ROAD = 1.3
_ROOF_COLORS = np.array([[0.62, 0.33, 0.28], [0.55, 0.55, 0.56], [0.72, 0.68, 0.60]])
_CAR_COLORS = np.array([
    [0.80, 0.12, 0.10], [0.12, 0.22, 0.70], [0.92, 0.92, 0.92], [0.08, 0.08, 0.10], [0.85, 0.75, 0]
])  # fmt: skip
_MASK64 = (1 << 64) - 1


def _mix(value: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser on uint64 arrays (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        value = (value ^ (value >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        value = (value ^ (value >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return value ^ (value >> np.uint64(31))


def _hash_uniform(ys: np.ndarray, xs: np.ndarray, seed: int, salt: int) -> np.ndarray:
    """Uniform [0, 1) values that depend only on (y, x, seed, salt); broadcasts ys and xs."""
    key = np.uint64(((seed * 0x9E3779B97F4A7C15) ^ (salt * 0xD1B54A32D192ED03)) & _MASK64)
    with np.errstate(over="ignore"):
        h = _mix(ys.astype(np.int64).astype(np.uint64) * np.uint64(0xC2B2AE3D27D4EB4F) ^ key)
        h = _mix(h ^ xs.astype(np.int64).astype(np.uint64) * np.uint64(0x165667B19E3779F9))
    return (h >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def _value_noise(ys: np.ndarray, xs: np.ndarray, spacing: int, seed: int, salt: int) -> np.ndarray:
    """Smooth noise in [0, 1] on the grid ys x xs: hashed lattice every ``spacing`` px,
    smoothstep-interpolated (len(ys) x len(xs), float32)."""
    iy, ix = np.floor_divide(ys, spacing), np.floor_divide(xs, spacing)
    lattice = _hash_uniform(
        np.arange(iy[0], iy[-1] + 2)[:, None], np.arange(ix[0], ix[-1] + 2)[None, :], seed, salt
    ).astype(np.float32)
    ty = ((ys - iy * spacing) / spacing).astype(np.float32)
    tx = ((xs - ix * spacing) / spacing).astype(np.float32)
    ty, tx = ty * ty * (3 - 2 * ty), tx * tx * (3 - 2 * tx)
    ry, rx = (iy - iy[0])[:, None], (ix - ix[0])[None, :]
    top = lattice[ry, rx] * (1 - tx) + lattice[ry, rx + 1] * tx
    bottom = lattice[ry + 1, rx] * (1 - tx) + lattice[ry + 1, rx + 1] * tx
    return top * (1 - ty[:, None]) + bottom * ty[:, None]


def _fbm(ys: np.ndarray, xs: np.ndarray, spacing: int, seed: int, salt: int) -> np.ndarray:
    """Two octaves of value noise, in [0, 1]."""
    coarse = _value_noise(ys, xs, spacing, seed, salt)
    fine = _value_noise(ys, xs, max(1, spacing // 2), seed, salt + 1)
    return (2 * coarse + fine) / 3


def _segment_distance(
    ys: np.ndarray, xs: np.ndarray, start: np.ndarray, end: np.ndarray
) -> np.ndarray:
    direction = end - start
    length2 = max(float(direction @ direction), 1e-9)
    py, px = ys[:, None] - start[0], xs[None, :] - start[1]
    t = np.clip((py * direction[0] + px * direction[1]) / length2, 0.0, 1.0)
    return np.hypot(py - t * direction[0], px - t * direction[1])


class _Canvas:
    """The window being rendered: float RGB image + uint8 mask, painted in global coordinates."""

    def __init__(self, y0: int, x0: int, height: int, width: int) -> None:
        self.y0, self.x0, self.height, self.width = y0, x0, height, width
        self.image = np.zeros((height, width, 3), dtype=np.float32)
        self.mask = np.zeros((height, width), dtype=np.uint8)

    def clip(self, top: float, left: float, bottom: float, right: float):  # type: ignore[no-untyped-def]
        """Window-relative slices of the global box [top, bottom) x [left, right), or None."""
        t, l = max(int(np.floor(top)) - self.y0, 0), max(int(np.floor(left)) - self.x0, 0)
        b = min(int(np.ceil(bottom)) - self.y0, self.height)
        r = min(int(np.ceil(right)) - self.x0, self.width)
        return None if t >= b or l >= r else (slice(t, b), slice(l, r))

    def paint(self, region, where: np.ndarray | None, label: int, color: np.ndarray) -> None:  # type: ignore[no-untyped-def]
        image, mask = self.image[region], self.mask[region]
        if where is None:
            image[...], mask[...] = color, label
        else:
            image[where], mask[where] = color, label


def _generate_cell(
    cy: int, cx: int, seed: int, urban: float
) -> tuple[np.ndarray, np.ndarray, list]:
    """The random parameters of cell (cy, cx): buildings (n x 6), roads (n x 6), cars per road;
    ``urban`` in [0, 1] (smooth over cells) scales the building density into clusters."""
    rng = np.random.default_rng([seed & 0xFFFFFFFF, cy + (1 << 30), cx + (1 << 30)])
    buildings = rng.random((rng.poisson(_BUILDINGS_PER_CELL * 2.2 * urban**2), 6))
    roads = rng.random((rng.poisson(_ROADS_PER_CELL), 6))
    cars = [rng.random((rng.poisson(_CARS_PER_ROAD), 4)) for _ in range(len(roads))]
    return buildings, roads, cars


def _paint_buildings(canvas: _Canvas, top: int, left: int, buildings: np.ndarray) -> None:
    for by, bx, bh, bw, kind, shade in buildings:
        y, x = top + by * _CELL, left + bx * _CELL
        h, w = 5 + bh * 17, 5 + bw * 17
        color = _ROOF_COLORS[int(kind * 3)] * (0.92 + 0.16 * shade)
        if (region := canvas.clip(y, x, y + h, x + w)) is not None:
            canvas.paint(region, None, 2, color * 0.72)  # darker 1-px eaves
        if (region := canvas.clip(y + 1, x + 1, y + h - 1, x + w - 1)) is not None:
            canvas.paint(region, None, 2, color)


def _road_geometry(top: int, left: int, road: np.ndarray):  # type: ignore[no-untyped-def]
    ry, rx, angle, length, width, _ = road
    start = np.array([top + ry * _CELL, left + rx * _CELL])
    heading = np.array([np.sin(angle * np.pi), np.cos(angle * np.pi)])
    end = start + heading * (_MARGIN / 2 + length * _MARGIN / 2)
    return start, end, heading, (1 + int(width * 3)) / 2  # 1, 2 or 3 px wide


def _paint_road(canvas: _Canvas, top: int, left: int, road: np.ndarray) -> None:
    start, end, _, half_width = _road_geometry(top, left, road)
    low, high = np.minimum(start, end) - 2, np.maximum(start, end) + 3
    if (box := canvas.clip(low[0], low[1], high[0], high[1])) is not None:
        ys = np.arange(box[0].start, box[0].stop) + canvas.y0 + 0.5
        xs = np.arange(box[1].start, box[1].stop) + canvas.x0 + 0.5
        on_road = _segment_distance(ys, xs, start, end) <= half_width
        canvas.paint(box, on_road, 3, np.array([0.45, 0.45, 0.47]) + 0.06 * road[5])


def _paint_cars(canvas: _Canvas, top: int, left: int, road: np.ndarray, cars: np.ndarray) -> None:
    start, end, heading, half_width = _road_geometry(top, left, road)
    normal = np.array([heading[1], -heading[0]])
    for along, side, size, kind in cars:  # parked along their road
        y, x = start + (end - start) * along + normal * (side - 0.5) * 2 * half_width
        s = 2 + int(size * 3)
        if (region := canvas.clip(y - s / 2, x - s / 2, y + s / 2, x + s / 2)) is not None:
            canvas.paint(region, None, 4, _CAR_COLORS[int(kind * 5)])


def synthetic_raster_block(
    y0: int, x0: int, height: int, width: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Render the window ``[y0:y0+height, x0:x0+width]`` of the infinite scene ``seed``.

    Returns ``(image uint8 height x width x 3, mask uint8 height x width)``; identical to the same
    window cut from any larger rendering (so big rasters can be written block by block).
    """
    if height <= 0 or width <= 0:
        raise ValueError(f"block size must be positive, got {height} x {width}")
    canvas = _Canvas(y0, x0, height, width)
    ys, xs = np.arange(y0, y0 + height), np.arange(x0, x0 + width)
    # Background: mottled olive-brown, hue drifting over ~40 px.
    mottle = _fbm(ys, xs, 6, seed, 10)[..., None] - 0.5
    hue = _value_noise(ys, xs, 40, seed, 12)[..., None]
    canvas.image[:] = np.array([0.36, 0.40, 0.22]) + hue * [0.06, 0.04, 0.0] + mottle * 0.28
    # Fields: low-frequency blobs, striped along a slowly turning direction.
    field = _fbm(ys, xs, 48, seed, 1) > _FIELD_THRESHOLD
    theta = _value_noise(ys, xs, 200, seed, 3) * 2 * np.pi
    phase = (ys[:, None] * np.sin(theta) + xs[None, :] * np.cos(theta)) * (2 * np.pi / 5)
    stripes = 0.07 * np.sin(phase)[..., None]
    field_color = np.array([0.40, 0.50, 0.22]) + stripes + mottle * 0.08
    canvas.image[field] = field_color[field]
    canvas.mask[field] = 1
    # Cells whose objects can reach the window: [top - _REACH, top + _CELL + _REACH) overlaps it.
    cells_y = range((y0 - _CELL - _REACH) // _CELL, (y0 + height + _REACH) // _CELL + 1)
    cells_x = range((x0 - _CELL - _REACH) // _CELL, (x0 + width + _REACH) // _CELL + 1)
    urban = _value_noise(
        np.array(cells_y) * _CELL + _CELL // 2, np.array(cells_x) * _CELL + _CELL // 2, 256, seed, 7
    )
    cells = [
        (cy * _CELL, cx * _CELL, _generate_cell(cy, cx, seed, float(urban[i, j])))
        for i, cy in enumerate(cells_y)
        for j, cx in enumerate(cells_x)
    ]
    for top, left, (buildings, _, _) in cells:
        _paint_buildings(canvas, top, left, buildings)
    for top, left, (_, roads, _) in cells:
        for road in roads:
            _paint_road(canvas, top, left, road)
    for top, left, (_, roads, cars) in cells:
        for road, road_cars in zip(roads, cars):
            _paint_cars(canvas, top, left, road, road_cars)
    light = 0.8 + 0.4 * _value_noise(ys, xs, 128, seed, 20)[..., None]
    noise = _hash_uniform(ys[:, None, None], xs[None, :, None] * 3 + np.arange(3), seed, 30)
    noise += _hash_uniform(ys[:, None, None], xs[None, :, None] * 3 + np.arange(3), seed, 31)
    image = canvas.image * light + (noise - 1.0) * 0.1  # triangular noise, sd ~0.04
    return (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8), canvas.mask


def _fill(image: np.ndarray, mask: np.ndarray, seed: int, tile: int) -> None:
    """Render the scene into (possibly memory-mapped) ``image``/``mask`` one tile at a time."""
    height, width = mask.shape
    for y in range(0, height, tile):
        for x in range(0, width, tile):
            h, w = min(tile, height - y), min(tile, width - x)
            block = synthetic_raster_block(y, x, h, w, seed)
            image[y : y + h, x : x + w], mask[y : y + h, x : x + w] = block


def synthetic_raster(
    height: int, width: int, *, seed: int = 0, tile: int = 512
) -> tuple[np.ndarray, np.ndarray]:
    """A ``height x width`` scene assembled from ``tile``-sized blocks (the result does not depend
    on ``tile``). Returns ``(image uint8 H x W x 3, mask uint8 H x W)``."""
    image, mask = np.empty((height, width, 3), np.uint8), np.empty((height, width), np.uint8)
    _fill(image, mask, seed, tile)
    return image, mask


def write_synthetic_raster(
    image_path: str | Path, mask_path: str | Path, height: int, width: int, *, seed: int = 0,
    tile: int = 512,
) -> None:  # fmt: skip
    """Write a scene larger than memory (e.g. 20000 x 20000) to two uncompressed TIFFs, tile by
    tile through memory maps; the same pixels as :func:`synthetic_raster`."""
    image = create_tiff_memmap(image_path, (height, width, 3), np.uint8)
    mask = create_tiff_memmap(mask_path, (height, width), np.uint8)
    _fill(image, mask, seed, tile)
    image.flush()
    mask.flush()


def sample_seed(seed: int, index: int) -> int:
    """The scene seed of sample ``index``: depends only on (seed, index)."""
    mixed = _mix(np.array([(seed * 0x9E3779B97F4A7C15 + index) & _MASK64], dtype=np.uint64))
    return int(mixed[0] >> np.uint64(33))


class SyntheticSegmentation(Dataset):
    """``num_samples`` independent scenes; item ``i`` is ``(image 3 x H x W float32 in [0, 1],
    mask H x W int64 in 0..4)`` rendered from ``sample_seed(seed, i)``, then ``transform``.

    Deterministic: item ``i`` depends only on ``(seed, i, size)``, not on access order or workers.
    """

    classes = SYNTHETIC_CLASSES
    ignore_index: int | None = None

    def __init__(
        self,
        num_samples: int,
        *,
        size: tuple[int, int] | int = (128, 128),
        seed: int = 0,
        transform: JointTransform | None = None,
    ) -> None:
        if num_samples <= 0:
            raise ValueError(f"num_samples must be positive, got {num_samples}")
        self.num_samples = num_samples
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        self.seed = seed
        self.transform = transform

    def __len__(self) -> int:
        return self.num_samples

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not -self.num_samples <= index < self.num_samples:
            raise IndexError(f"index {index} out of range for {self.num_samples} samples")
        index %= self.num_samples
        height, width = self.size
        image, mask = synthetic_raster_block(
            0, 0, height, width, seed=sample_seed(self.seed, index)
        )
        image_tensor = image_to_tensor(image)  # the scaling prediction applies too
        mask_tensor = torch.from_numpy(mask.astype(np.int64))
        if self.transform is not None:
            image_tensor, mask_tensor = self.transform(image_tensor, mask_tensor)
        return image_tensor, mask_tensor
