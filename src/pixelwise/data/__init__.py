"""Datasets, class tables and joint augmentations for semantic segmentation.

Built on :mod:`pixelwise.io` (the raster reader prediction uses) with torch, numpy, Pillow,
tifffile: no dependency on models or training.
Every dataset item is ``(image float32 C x H x W, mask int64 H x W)``.
"""

from __future__ import annotations

from pixelwise.data.camvid import (
    CAMVID_ARCHIVE_SHA256,
    CAMVID_CLASSES,
    CAMVID_COMMIT,
    CAMVID_CONTENT_SHA256,
    CAMVID_SEGNET_CLASS_WEIGHTS,
    CAMVID_URL,
    CamVid,
    download_camvid,
    find_camvid_folder,
)
from pixelwise.data.classes import ClassInfo, ClassTable, default_palette
from pixelwise.data.download import (
    ChecksumError,
    download_url,
    extract_zip_folder,
    folder_digest,
    sha256_file,
)
from pixelwise.data.folder import IMAGE_EXTENSIONS, FolderDataset, JointTransform, PairedDataset
from pixelwise.data.io import (
    ImageReadError,
    RasterReader,
    create_tiff_memmap,
    image_to_tensor,
    read_array,
)
from pixelwise.data.isbi import ISBI2012, ISBI_CLASSES, binarize_isbi_label, find_isbi_folder
from pixelwise.data.patches import PatchDataset, grid_starts
from pixelwise.data.synthetic import (
    SYNTHETIC_CLASSES,
    SyntheticSegmentation,
    sample_seed,
    synthetic_raster,
    synthetic_raster_block,
    write_synthetic_raster,
)
from pixelwise.data.transforms import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    ColorJitter,
    Compose,
    Normalize,
    PadToMultiple,
    RandomHorizontalFlip,
    RandomRotate90,
    RandomScaleCrop,
    RandomVerticalFlip,
    Resize,
)

__all__ = [
    "CAMVID_ARCHIVE_SHA256",
    "CAMVID_CLASSES",
    "CAMVID_COMMIT",
    "CAMVID_CONTENT_SHA256",
    "CAMVID_SEGNET_CLASS_WEIGHTS",
    "CAMVID_URL",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "IMAGE_EXTENSIONS",
    "ISBI2012",
    "ISBI_CLASSES",
    "SYNTHETIC_CLASSES",
    "CamVid",
    "ChecksumError",
    "ClassInfo",
    "ClassTable",
    "ColorJitter",
    "Compose",
    "FolderDataset",
    "ImageReadError",
    "JointTransform",
    "Normalize",
    "PadToMultiple",
    "PairedDataset",
    "PatchDataset",
    "RandomHorizontalFlip",
    "RandomRotate90",
    "RandomScaleCrop",
    "RandomVerticalFlip",
    "RasterReader",
    "Resize",
    "SyntheticSegmentation",
    "binarize_isbi_label",
    "default_palette",
    "download_camvid",
    "download_url",
    "extract_zip_folder",
    "find_camvid_folder",
    "find_isbi_folder",
    "folder_digest",
    "grid_starts",
    "create_tiff_memmap",
    "image_to_tensor",
    "read_array",
    "sample_seed",
    "sha256_file",
    "synthetic_raster",
    "synthetic_raster_block",
    "write_synthetic_raster",
]
