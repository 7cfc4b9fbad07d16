"""Pretrained models: torchvision's published segmentation weights, and folders that carry a
model's record, weights and model card (locally or on the Hugging Face Hub).

Example:
    >>> from pixelwise.pretrained import load_torchvision_segmentation, save_pretrained
    >>> model, record = load_torchvision_segmentation("deeplabv3_resnet50")  # doctest: +SKIP
    >>> save_pretrained(model, "deeplabv3-voc", record=record)  # doctest: +SKIP
    >>> from pixelwise.pretrained import from_pretrained
    >>> loaded = from_pretrained("deeplabv3-voc")  # doctest: +SKIP
"""

from __future__ import annotations

from pixelwise.pretrained.folder import (
    CARD_FILE,
    RECORD_FILE,
    WEIGHTS_FILE,
    checkpoint_metrics,
    from_pretrained,
    save_pretrained,
)
from pixelwise.pretrained.model_card import model_card
from pixelwise.pretrained.state_dicts import WeightsMismatchError
from pixelwise.pretrained.torchvision_segmentation import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    TORCHVISION_SEGMENTATION,
    TorchvisionSegmentationWeights,
    download_state_dict,
    load_torchvision_segmentation,
    torchvision_record,
    torchvision_weights,
)
from pixelwise.pretrained.voc import VOC_CLASS_NAMES, VOC_COLORS, voc_class_table

__all__ = [
    "CARD_FILE",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "RECORD_FILE",
    "TORCHVISION_SEGMENTATION",
    "VOC_CLASS_NAMES",
    "VOC_COLORS",
    "WEIGHTS_FILE",
    "TorchvisionSegmentationWeights",
    "WeightsMismatchError",
    "checkpoint_metrics",
    "download_state_dict",
    "from_pretrained",
    "load_torchvision_segmentation",
    "model_card",
    "save_pretrained",
    "torchvision_record",
    "torchvision_weights",
    "voc_class_table",
]
