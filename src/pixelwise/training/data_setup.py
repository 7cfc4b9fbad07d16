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
from pixelwise.training.config import Config, DataConfig
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


def _datasets(data: DataConfig, seed: int) -> tuple[Dataset[Pair], Dataset[Pair], ClassTable]:
    if data.dataset == "synthetic":
        train = SyntheticSegmentation(data.train_samples, size=data.image_size, seed=seed)
        val = SyntheticSegmentation(data.val_samples, size=data.image_size, seed=seed + 10_007)
        return train, val, SYNTHETIC_CLASSES
    if data.dataset == "camvid":
        assert data.root is not None
        return CamVid(data.root, "train"), CamVid(data.root, "val"), CAMVID_CLASSES
    if data.dataset == "isbi2012":
        assert data.root is not None
        return ISBI2012(data.root, "train"), ISBI2012(data.root, "val"), ISBI_CLASSES
    if data.classes is None:
        raise ValueError(f"data.classes: a {data.dataset} dataset needs a class table YAML file")
    classes = ClassTable.from_yaml(data.classes)
    if data.dataset == "rasters":
        return _raster_patches(data, classes, seed)
    paths = [data.train_images, data.train_masks, data.val_images, data.val_masks]
    train_images, train_masks, val_images, val_masks = (Path(str(p)) for p in paths)
    train = FolderDataset(train_images, train_masks, classes=classes, mask_mode=data.mask_mode)
    val = FolderDataset(val_images, val_masks, classes=classes, mask_mode=data.mask_mode)
    return train, val, classes


def _raster_patches(
    data: DataConfig, classes: ClassTable, seed: int
) -> tuple[Dataset[Pair], Dataset[Pair], ClassTable]:
    assert data.train_rasters and data.train_raster_masks
    assert data.val_rasters and data.val_raster_masks
    weights = [1.0] * classes.num_classes if data.patch_sampling == "class_aware" else None
    train = PatchDataset(
        data.train_rasters,
        data.train_raster_masks,
        patch_size=data.patch_size,
        mode="random",
        patches_per_epoch=data.patches_per_epoch,
        class_weights=weights,
        seed=seed,
        classes=classes,
    )
    val = PatchDataset(
        data.val_rasters,
        data.val_raster_masks,
        patch_size=data.patch_size,
        mode="grid",
        classes=classes,
    )
    return train, val, classes


def _limit(dataset: Dataset[Pair], count: int | None) -> Dataset[Pair]:
    if count is None or count >= len(dataset):  # type: ignore[arg-type]
        return dataset
    return torch.utils.data.Subset(dataset, range(count))


def build_data(config: Config, dist: DistInfo) -> DataBundle:
    data = config.data
    train, val, classes = _datasets(data, config.train.seed)
    train, val = _limit(train, data.limit_train), _limit(val, data.limit_val)
    if len(train) == 0 or len(val) == 0:  # type: ignore[arg-type]
        raise ValueError("the training or validation set is empty; check the data paths")
    in_channels = int(train[0][0].shape[0])
    if data.mean is not None and data.std is not None:
        mean, std = tuple(data.mean), tuple(data.std)
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
