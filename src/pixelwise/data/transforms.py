"""Joint image/mask augmentation (torch only).

Every transform maps ``(image C x H x W float, mask H x W int64) -> (image, mask)``. Geometry is
applied to both, with the image resampled bilinearly and the mask by *nearest neighbour* (labels
are never interpolated: the output mask holds only values of the input mask, plus
``ignore_index`` where padding was added). Photometric transforms touch the image only.

Randomness comes from the ``generator`` given to a transform, or torch's global RNG when it is
``None``. Leave it ``None`` inside a ``DataLoader``: each worker's global RNG is seeded from the
loader's generator, so a seeded loader reproduces the same augmentations on resume (a generator
object passed here would be copied into every worker and repeat the same draws in each).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

Pair = tuple[torch.Tensor, torch.Tensor]
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _check(image: torch.Tensor, mask: torch.Tensor) -> None:
    if image.ndim != 3 or mask.ndim != 2 or image.shape[-2:] != mask.shape:
        raise ValueError(
            f"expected image C x H x W and mask H x W of the same H, W; got image "
            f"{tuple(image.shape)} and mask {tuple(mask.shape)}"
        )


def _uniform(low: float, high: float, generator: torch.Generator | None) -> float:
    return low + (high - low) * float(torch.rand((), generator=generator))


def _randint(high: int, generator: torch.Generator | None) -> int:
    """Uniform integer in ``[0, high)``."""
    return int(torch.randint(high, (), generator=generator))


def nearest_indices(in_size: int, out_size: int) -> torch.Tensor:
    """Source index of each output pixel for nearest resampling with pixel centres aligned
    (``floor((i + 0.5) * in / out)``, what ``F.interpolate(mode="nearest-exact")`` does)."""
    index = ((torch.arange(out_size, dtype=torch.float64) + 0.5) * (in_size / out_size)).floor()
    return index.long().clamp_(max=in_size - 1)


def resize_pair(image: torch.Tensor, mask: torch.Tensor, size: tuple[int, int]) -> Pair:
    """Image bilinear (antialiased when shrinking), mask nearest by index: exact for any id."""
    _check(image, mask)
    height, width = size
    if (height, width) == tuple(mask.shape):
        return image, mask
    shrink = height < mask.shape[0] or width < mask.shape[1]
    resized = F.interpolate(
        image[None].float(), size=(height, width), mode="bilinear", align_corners=False,
        antialias=shrink,
    )[0]  # fmt: skip
    rows, cols = nearest_indices(mask.shape[0], height), nearest_indices(mask.shape[1], width)
    return resized.to(image.dtype), mask.index_select(0, rows).index_select(1, cols)


def pad_pair(
    image: torch.Tensor, mask: torch.Tensor, height: int, width: int, fill: int,
    top: int = 0, left: int = 0,
) -> Pair:  # fmt: skip
    """Pad to at least ``height x width`` (``top``/``left`` rows/columns before, the rest after):
    image with 0, mask with ``fill``."""
    pad_h, pad_w = max(height - mask.shape[0], 0), max(width - mask.shape[1], 0)
    if pad_h == 0 and pad_w == 0:
        return image, mask
    top, left = min(top, pad_h), min(left, pad_w)
    padding = (left, pad_w - left, top, pad_h - top)
    return F.pad(image, padding, value=0.0), F.pad(mask, padding, value=fill)


class Compose:
    """Apply ``transforms`` in order."""

    def __init__(self, transforms: Sequence[Callable[[torch.Tensor, torch.Tensor], Pair]]) -> None:
        self.transforms = list(transforms)

    def __call__(self, image: torch.Tensor, mask: torch.Tensor) -> Pair:
        _check(image, mask)
        for transform in self.transforms:
            image, mask = transform(image, mask)
        return image, mask

    def __repr__(self) -> str:
        return f"Compose({self.transforms!r})"


class RandomScaleCrop:
    """Rescale by ``s ~ U(scale)``, pad to the crop size at a random offset if needed, take a
    random ``size`` crop.

    The DeepLab/PSPNet training augmentation. ``ignore_index`` fills padded mask pixels (the
    image gets 0); with ``ignore_index=None`` nothing is ever padded: ``s`` is raised to the
    smallest factor that covers the crop.
    """

    def __init__(
        self,
        size: int | tuple[int, int],
        scale: tuple[float, float] = (0.5, 2.0),
        ignore_index: int | None = None,
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        if not 0 < scale[0] <= scale[1]:
            raise ValueError(f"scale must be (low, high) with 0 < low <= high, got {scale}")
        self.scale, self.ignore_index, self.generator = scale, ignore_index, generator

    def __call__(self, image: torch.Tensor, mask: torch.Tensor) -> Pair:
        _check(image, mask)
        crop_h, crop_w = self.size
        height, width = mask.shape
        factor = _uniform(*self.scale, self.generator)
        if self.ignore_index is None:
            factor = max(factor, crop_h / height, crop_w / width)
        new_size = (max(1, round(height * factor)), max(1, round(width * factor)))
        if self.ignore_index is None:  # guard rounding
            new_size = (max(new_size[0], crop_h), max(new_size[1], crop_w))
        image, mask = resize_pair(image, mask, new_size)
        pad_h, pad_w = max(crop_h - new_size[0], 0), max(crop_w - new_size[1], 0)
        if pad_h or pad_w:  # a small image lands anywhere in the crop, not always top-left
            assert self.ignore_index is not None  # without one, new_size covers the crop
            top = _randint(pad_h + 1, self.generator)
            left = _randint(pad_w + 1, self.generator)
            image, mask = pad_pair(image, mask, crop_h, crop_w, self.ignore_index, top, left)
        top = _randint(mask.shape[0] - crop_h + 1, self.generator)
        left = _randint(mask.shape[1] - crop_w + 1, self.generator)
        return (
            image[:, top : top + crop_h, left : left + crop_w],
            mask[top : top + crop_h, left : left + crop_w],
        )


class RandomHorizontalFlip:
    """Mirror left-right with probability ``p``."""

    def __init__(self, p: float = 0.5, *, generator: torch.Generator | None = None) -> None:
        self.p, self.generator = p, generator

    def __call__(self, image: torch.Tensor, mask: torch.Tensor) -> Pair:
        if _uniform(0.0, 1.0, self.generator) < self.p:
            return image.flip(-1), mask.flip(-1)
        return image, mask


class RandomVerticalFlip:
    """Mirror top-bottom with probability ``p`` (for overhead imagery, not street scenes)."""

    def __init__(self, p: float = 0.5, *, generator: torch.Generator | None = None) -> None:
        self.p, self.generator = p, generator

    def __call__(self, image: torch.Tensor, mask: torch.Tensor) -> Pair:
        if _uniform(0.0, 1.0, self.generator) < self.p:
            return image.flip(-2), mask.flip(-2)
        return image, mask


class RandomRotate90:
    """Rotate by ``k * 90`` degrees, ``k`` uniform in {0, 1, 2, 3} (swaps H and W for odd k)."""

    def __init__(self, *, generator: torch.Generator | None = None) -> None:
        self.generator = generator

    def __call__(self, image: torch.Tensor, mask: torch.Tensor) -> Pair:
        turns = _randint(4, self.generator)
        if turns == 0:
            return image, mask
        return torch.rot90(image, turns, dims=(-2, -1)), torch.rot90(mask, turns, dims=(-2, -1))


class ColorJitter:
    """Random brightness, contrast and saturation (image only; expects values in [0, 1], before
    :class:`Normalize`). Each factor is drawn from ``U(1 - x, 1 + x)``; saturation applies to
    3-channel images only. The result is clamped to [0, 1]."""

    def __init__(
        self,
        brightness: float = 0.0,
        contrast: float = 0.0,
        saturation: float = 0.0,
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        for name, value in (
            ("brightness", brightness),
            ("contrast", contrast),
            ("saturation", saturation),
        ):
            if not 0 <= value < 1:
                raise ValueError(f"{name} must be in [0, 1), got {value}")
        self.brightness, self.contrast, self.saturation = brightness, contrast, saturation
        self.generator = generator

    def __call__(self, image: torch.Tensor, mask: torch.Tensor) -> Pair:
        if self.brightness:
            image = image * _uniform(1 - self.brightness, 1 + self.brightness, self.generator)
        if self.contrast:
            factor = _uniform(1 - self.contrast, 1 + self.contrast, self.generator)
            image = image.mean() + factor * (image - image.mean())
        if self.saturation and image.shape[0] == 3:
            factor = _uniform(1 - self.saturation, 1 + self.saturation, self.generator)
            luma = torch.tensor([0.299, 0.587, 0.114], dtype=image.dtype).view(3, 1, 1)
            grey = (image * luma).sum(0, keepdim=True)
            image = grey + factor * (image - grey)
        return image.clamp(0.0, 1.0), mask


class Normalize:
    """``(image - mean) / std`` per channel (defaults: ImageNet statistics)."""

    def __init__(
        self, mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD
    ) -> None:
        if len(mean) != len(std) or any(s <= 0 for s in std):
            raise ValueError(f"need one positive std per mean; got mean {mean}, std {std}")
        self.mean = torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(-1, 1, 1)

    def __call__(self, image: torch.Tensor, mask: torch.Tensor) -> Pair:
        if image.shape[0] != self.mean.shape[0]:
            raise ValueError(
                f"Normalize has {self.mean.shape[0]} channel statistics but the image has "
                f"{image.shape[0]} channels; pass mean/std with one value per channel"
            )
        return (image - self.mean.to(image.dtype)) / self.std.to(image.dtype), mask


class Resize:
    """Deterministic resize: ``size=(H, W)``, ``size=int`` (shorter side, aspect kept) or
    ``scale=f`` (e.g. 0.5 for half-resolution training). Image bilinear, mask nearest."""

    def __init__(self, size: int | tuple[int, int] | None = None, *, scale: float | None = None):
        if (size is None) == (scale is None):
            raise ValueError(f"give exactly one of size or scale; got size={size}, scale={scale}")
        self.size, self.scale = size, scale

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        if self.scale is not None:
            return max(1, round(height * self.scale)), max(1, round(width * self.scale))
        if isinstance(self.size, int):
            ratio = self.size / min(height, width)
            return max(1, round(height * ratio)), max(1, round(width * ratio))
        return tuple(self.size)  # type: ignore[arg-type, return-value]

    def __call__(self, image: torch.Tensor, mask: torch.Tensor) -> Pair:
        return resize_pair(image, mask, self.output_size(*mask.shape))


class PadToMultiple:
    """Pad bottom/right so H and W are multiples of ``multiple`` (e.g. 32 for a 5-level encoder:
    CamVid's 360 rows become 384); padded mask pixels get ``ignore_index``."""

    def __init__(self, multiple: int, ignore_index: int) -> None:
        self.multiple, self.ignore_index = multiple, ignore_index

    def __call__(self, image: torch.Tensor, mask: torch.Tensor) -> Pair:
        height, width = mask.shape
        target_h = -(-height // self.multiple) * self.multiple
        target_w = -(-width // self.multiple) * self.multiple
        return pad_pair(image, mask, target_h, target_w, self.ignore_index)
