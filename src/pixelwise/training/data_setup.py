"""Datasets, augmentation and batching for the trainer, built from :class:`DataConfig`.

Reproducibility: the order of batches in epoch ``e`` depends only on ``(seed, e)`` and the
augmentation of item ``i`` in epoch ``e`` only on ``(seed, e, i)``, so a resumed run (even one
resumed mid-epoch) sees exactly the batches an uninterrupted run would.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from pixelwise.data import (
    CAMVID_CLASSES,
    IMAGENET_MEAN,
    IMAGENET_STD,
    ISBI2012,
    ISBI_CLASSES,
    SYNTHETIC_CLASSES,
    CamVid,
    ClassTable,
    ColorJitter,
    Compose,
    FolderDataset,
    Normalize,
    PatchDataset,
    RandomHorizontalFlip,
    RandomRotate90,
    RandomScaleCrop,
    RandomVerticalFlip,
    Resize,
    SyntheticSegmentation,
)
from pixelwise.io import dtype_scale
from pixelwise.training.config import Config, DataConfig
from pixelwise.training.config_schema import ConfigError
from pixelwise.training.distributed import DistInfo, shard_indices

Pair = tuple[torch.Tensor, torch.Tensor]
Transform = Callable[[torch.Tensor, torch.Tensor], Pair]


@dataclass
class DataBundle:
    """Raw datasets (no augmentation), the transforms, and what the model needs to know."""

    train: Dataset[Pair]
    val: Dataset[Pair]
    train_transform: Transform
    val_transform: Transform
    classes: ClassTable
    in_channels: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    seed: int
    input_dtype: str = "uint8"

    @property
    def scale(self) -> tuple[float, ...]:
        """Per-band factor from raw file pixels to the [0, 1] (or float) values trained on."""
        return (dtype_scale(np.dtype(self.input_dtype)),) * self.in_channels

    @property
    def num_classes(self) -> int:
        return self.classes.num_classes

    @property
    def class_names(self) -> list[str]:
        return list(self.classes.names)

    @property
    def ignore_index(self) -> int | None:
        return self.classes.ignore_index


class AugmentedView(Dataset[Pair]):
    """``dataset[i]`` passed through ``transform`` with torch's RNG seeded from
    ``(seed, epoch, i)``; the caller's RNG state is untouched."""

    def __init__(self, dataset: Dataset[Pair], transform: Transform, seed: int, epoch: int):
        self.dataset, self.transform, self.seed, self.epoch = dataset, transform, seed, epoch

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> Pair:
        image, mask = self.dataset[index]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed((self.seed * 1_000_003 + self.epoch) * 1_000_033 + index)
            return self.transform(image, mask)


SPLITS = ("train", "val", "test")


def available_splits(data: DataConfig) -> list[str]:
    """The splits a dataset config provides (train and val always; test where it exists)."""
    has_test = {
        "camvid": True,
        "folder": data.test_images is not None,
        "rasters": data.test_rasters is not None,
    }.get(data.dataset, False)
    return ["train", "val", "test"] if has_test else ["train", "val"]


def builtin_classes(data: DataConfig) -> ClassTable:
    """The class table of ``data``: built in for the named datasets, else ``data.classes``."""
    builtin = {"synthetic": SYNTHETIC_CLASSES, "camvid": CAMVID_CLASSES, "isbi2012": ISBI_CLASSES}
    if data.dataset in builtin:
        return builtin[data.dataset]
    if data.classes is None:
        raise ValueError(f"data.classes: a {data.dataset} dataset needs a class table YAML file")
    return ClassTable.from_yaml(data.classes)


def build_split(data: DataConfig, split: str, *, seed: int = 0) -> Dataset[Pair]:
    """The raw (un-augmented) dataset of ``split`` (``train``, ``val`` or ``test``).

    Raises:
        ConfigError: the dataset has no such split (naming the ones it has).
    """
    splits = available_splits(data)
    if split not in splits:
        hint = {
            "folder": "; set data.test_images and data.test_masks",
            "rasters": "; set data.test_rasters and data.test_raster_masks",
        }.get(data.dataset, "")
        raise ConfigError(
            f"split {split!r}: the {data.dataset!r} dataset has the splits "
            f"{', '.join(splits)}{hint}"
        )
    if data.dataset in ("synthetic", "camvid", "isbi2012"):
        for key in ("bands", "nodata"):
            if getattr(data, key) is not None:
                raise ConfigError(
                    f"data.{key}: the {data.dataset} images are 8-bit with no nodata; remove it"
                )
    if data.dataset == "synthetic":
        count = data.train_samples if split == "train" else data.val_samples
        return SyntheticSegmentation(
            count, size=data.image_size, seed=seed if split == "train" else seed + 10_007
        )
    if data.dataset == "camvid":
        assert data.root is not None
        return CamVid(data.root, split)  # type: ignore[arg-type]
    if data.dataset == "isbi2012":
        assert data.root is not None
        return ISBI2012(data.root, split)  # type: ignore[arg-type]
    classes = builtin_classes(data)
    if data.dataset == "rasters":
        return _raster_patches(data, classes, seed, split)
    images, masks = getattr(data, f"{split}_images"), getattr(data, f"{split}_masks")
    return FolderDataset(
        Path(str(images)),
        Path(str(masks)),
        classes=classes,
        mask_mode=data.mask_mode,
        bands=data.bands,
        nodata=data.nodata,
    )


def _raster_patches(data: DataConfig, classes: ClassTable, seed: int, split: str) -> PatchDataset:
    images = getattr(data, f"{split}_rasters")
    masks = getattr(data, f"{split}_raster_masks")
    assert images and masks
    if split == "train":
        weights = [1.0] * classes.num_classes if data.patch_sampling == "class_aware" else None
        return PatchDataset(
            images,
            masks,
            patch_size=data.patch_size,
            mode="random",
            patches_per_epoch=data.patches_per_epoch,
            class_weights=weights,
            seed=seed,
            classes=classes,
            bands=data.bands,
            nodata=data.nodata,
        )
    return PatchDataset(
        images,
        masks,
        patch_size=data.patch_size,
        mode="grid",
        classes=classes,
        bands=data.bands,
        nodata=data.nodata,
    )


def _limit(dataset: Dataset[Pair], count: int | None) -> Dataset[Pair]:
    if count is None or count >= len(dataset):  # type: ignore[arg-type]
        return dataset
    return torch.utils.data.Subset(dataset, range(count))


def band_statistics(
    dataset: Dataset[Pair], ignore_index: int | None, *, max_items: int = 64
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-band mean and standard deviation of the (scaled, un-augmented) training images, over
    up to ``max_items`` items spread evenly over the set; pixels labelled ``ignore_index``
    (nodata among them) are left out. Accumulated in float64."""
    count = len(dataset)  # type: ignore[arg-type]
    picks = np.unique(np.linspace(0, count - 1, num=min(count, max_items)).round().astype(int))
    sums = sq_sums = None
    pixels = 0
    for index in picks.tolist():
        image, mask = dataset[index]
        values = image.double().flatten(1)
        if ignore_index is not None:
            values = values[:, mask.flatten() != ignore_index]
        part, part_sq = values.sum(dim=1), (values * values).sum(dim=1)
        sums = part if sums is None else sums + part
        sq_sums = part_sq if sq_sums is None else sq_sums + part_sq
        pixels += values.shape[1]
    if sums is None or sq_sums is None or pixels == 0:
        raise ValueError(
            "cannot measure band statistics: every training pixel is ignored; "
            "set data.mean and data.std"
        )
    mean = sums / pixels
    std = (sq_sums / pixels - mean * mean).clamp(min=0).sqrt().clamp(min=1e-6)
    return tuple(mean.tolist()), tuple(std.tolist())


def build_data(config: Config, dist: DistInfo) -> DataBundle:
    data = config.data
    classes = builtin_classes(data)
    train = build_split(data, "train", seed=config.train.seed)
    val = build_split(data, "val", seed=config.train.seed)
    input_dtype = np.dtype(getattr(train, "input_dtype", np.uint8))
    train, val = _limit(train, data.limit_train), _limit(val, data.limit_val)
    if len(train) == 0 or len(val) == 0:  # type: ignore[arg-type]
        raise ValueError("the training or validation set is empty; check the data paths")
    in_channels = int(train[0][0].shape[0])
    if data.mean is not None and data.std is not None:
        mean, std = tuple(data.mean), tuple(data.std)
    elif input_dtype != np.uint8:  # 16-bit, float: no convention fits, measure the bands
        mean, std = band_statistics(train, classes.ignore_index)
    elif in_channels == 3:
        mean, std = IMAGENET_MEAN, IMAGENET_STD
    else:
        mean, std = (0.5,) * in_channels, (0.25,) * in_channels
    if len(mean) != in_channels or len(std) != in_channels:
        raise ValueError(
            f"data.mean/std have {len(mean)}/{len(std)} values but the images have "
            f"{in_channels} channels; give one value per channel"
        )
    ignore = classes.ignore_index
    steps: list[Any] = []
    if data.train_scale != 1.0:
        steps.append(Resize(scale=data.train_scale))
    if data.crop_size is not None:
        steps.append(RandomScaleCrop(data.crop_size, data.scale_range, ignore))
    if data.hflip:
        steps.append(RandomHorizontalFlip())
    if data.vflip:
        steps.append(RandomVerticalFlip())
    if data.rotate90:
        steps.append(RandomRotate90())
    if data.color_jitter > 0 and in_channels == 3:
        jitter = data.color_jitter
        steps.append(ColorJitter(brightness=jitter, contrast=jitter, saturation=jitter))
    normalize = Normalize(mean, std)
    steps.append(normalize)
    if data.batch_size % dist.world_size:
        raise ValueError(
            f"data.batch_size={data.batch_size} is the global batch and must be divisible by the "
            f"number of processes ({dist.world_size})"
        )
    return DataBundle(
        train=train,
        val=val,
        train_transform=Compose(steps),
        val_transform=Compose([normalize]),
        classes=classes,
        in_channels=in_channels,
        mean=tuple(mean),
        std=tuple(std),
        seed=config.train.seed,
        input_dtype=input_dtype.name,
    )


def epoch_batches(
    bundle: DataBundle, config: Config, dist: DistInfo, *, epoch: int
) -> list[list[int]]:
    """This rank's batches of dataset indices for ``epoch`` (the last partial batch dropped)."""
    generator = torch.Generator().manual_seed(bundle.seed * 7919 + epoch)
    order = torch.randperm(len(bundle.train), generator=generator).tolist()  # type: ignore[arg-type]
    local = shard_indices(order, dist)
    per_rank = config.data.batch_size // dist.world_size
    count = len(local) // per_rank
    if count == 0:
        raise ValueError(
            f"data.batch_size={config.data.batch_size} is larger than the training set "
            f"({len(bundle.train)} images); lower it"  # type: ignore[arg-type]
        )
    return [local[i * per_rank : (i + 1) * per_rank] for i in range(count)]


def make_loader(
    bundle: DataBundle, batches: Sequence[Sequence[int]], *, epoch: int, config: Config
) -> DataLoader[Pair]:
    set_epoch = getattr(bundle.train, "set_epoch", None)
    if set_epoch is not None:  # patch datasets draw new windows each epoch
        set_epoch(epoch)
    view = AugmentedView(bundle.train, bundle.train_transform, bundle.seed, epoch)
    return DataLoader(
        view,
        batch_sampler=[list(b) for b in batches],
        num_workers=config.data.num_workers,
        pin_memory=torch.cuda.is_available(),
    )


def val_items(bundle: DataBundle, dist: DistInfo) -> list[int]:
    """This rank's share of the validation set, without padding (no pixel counted twice)."""
    return list(range(dist.rank, len(bundle.val), dist.world_size))  # type: ignore[arg-type]
