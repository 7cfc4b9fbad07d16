"""torchvision's published segmentation weights (COCO images, the 20 PASCAL VOC classes) in the
pixelwise models that reproduce their state-dict keys.

``create_model("deeplab_v3", num_classes=21, encoder="resnet50", output_stride=8, aux=True)``
has exactly the keys and shapes of ``torchvision.models.segmentation.deeplabv3_resnet50``, and
likewise for ``deeplabv3_resnet101``, ``fcn_resnet50`` and ``fcn_resnet101``
(``create_model("fcn", encoder=..., aux=True)``, dilated to output stride 8). The files are
loaded with ``load_state_dict(strict=True)``; downloads go through
:func:`torch.hub.load_state_dict_from_url` with ``check_hash=True`` (the 8 hex digits in each
file name are the start of its SHA-256).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from pixelwise.pretrained.state_dicts import as_state_dict, load_model
from pixelwise.pretrained.voc import voc_class_table
from pixelwise.record import ModelRecord, Preprocessing, TilingOptions

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)
AUX_PREFIX = "aux_classifier."


@dataclass(frozen=True)
class TorchvisionSegmentationWeights:
    """One of torchvision's ``*_Weights.COCO_WITH_VOC_LABELS_V1`` files.

    ``options`` are the :func:`pixelwise.create_model` options that reproduce its keys (``aux``
    is added by the loader); ``metrics`` are torchvision's published COCO val2017 (VOC labels)
    scores as fractions; ``num_params`` counts the model with its auxiliary head.
    """

    name: str
    url: str
    architecture: str
    options: Mapping[str, Any]
    num_params: int
    metrics: Mapping[str, float | str] = field(default_factory=dict)

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]

    @property
    def sha256_prefix(self) -> str:
        """The hash prefix ``check_hash`` verifies (the file name's last ``-`` part)."""
        return self.filename.rsplit("-", 1)[-1].split(".", 1)[0]


def _coco_voc(mean_iou: float, pixel_accuracy: float) -> dict[str, float | str]:
    return {
        "dataset": "COCO val2017 (VOC labels)",
        "mean_iou": mean_iou,
        "pixel_accuracy": pixel_accuracy,
    }


# torchvision.models.segmentation.*_Weights.COCO_WITH_VOC_LABELS_V1: url, num_params, _metrics.
TORCHVISION_SEGMENTATION: dict[str, TorchvisionSegmentationWeights] = {
    weights.name: weights
    for weights in (
        TorchvisionSegmentationWeights(
            name="deeplabv3_resnet50",
            url="https://download.pytorch.org/models/deeplabv3_resnet50_coco-cd0a2569.pth",
            architecture="deeplab_v3",
            options={"encoder": "resnet50", "output_stride": 8},
            num_params=42_004_074,
            metrics=_coco_voc(0.664, 0.924),
        ),
        TorchvisionSegmentationWeights(
            name="deeplabv3_resnet101",
            url="https://download.pytorch.org/models/deeplabv3_resnet101_coco-586e9e4e.pth",
            architecture="deeplab_v3",
            options={"encoder": "resnet101", "output_stride": 8},
            num_params=60_996_202,
            metrics=_coco_voc(0.674, 0.924),
        ),
        TorchvisionSegmentationWeights(
            name="fcn_resnet50",
            url="https://download.pytorch.org/models/fcn_resnet50_coco-1167a1af.pth",
            architecture="fcn",
            options={"encoder": "resnet50"},
            num_params=35_322_218,
            metrics=_coco_voc(0.605, 0.914),
        ),
        TorchvisionSegmentationWeights(
            name="fcn_resnet101",
            url="https://download.pytorch.org/models/fcn_resnet101_coco-7ecb50ca.pth",
            architecture="fcn",
            options={"encoder": "resnet101"},
            num_params=54_314_346,
            metrics=_coco_voc(0.637, 0.919),
        ),
    )
}


def torchvision_weights(name: str) -> TorchvisionSegmentationWeights:
    """The table entry for ``name``; a ``ValueError`` listing the known names otherwise."""
    try:
        return TORCHVISION_SEGMENTATION[name]
    except KeyError:
        known = ", ".join(sorted(TORCHVISION_SEGMENTATION))
        raise ValueError(
            f"unknown torchvision segmentation weights {name!r}; known: {known}"
        ) from None


def torchvision_record(name: str, *, aux: bool = True) -> ModelRecord:
    """The model record of torchvision's ``name``: its pixelwise architecture and options, the
    21 VOC classes, RGB uint8 input scaled by 1/255 and normalised with ImageNet's mean/std."""
    weights = torchvision_weights(name)
    return ModelRecord(
        architecture=weights.architecture,
        options={**weights.options, "aux": aux},
        num_outputs=21,
        classes=voc_class_table(),
        preprocessing=Preprocessing(
            in_channels=3,
            dtype="uint8",
            scale=(1 / 255,) * 3,
            mean=IMAGENET_MEAN,
            std=IMAGENET_STD,
        ),
        tiling=TilingOptions(),
    )


def download_state_dict(name: str, *, progress: bool = True) -> dict[str, Tensor]:
    """Download (or read from the torch hub cache) torchvision's file for ``name``; a file
    whose SHA-256 does not start with the name's hash prefix is rejected and not cached."""
    weights = torchvision_weights(name)
    try:
        loaded = torch.hub.load_state_dict_from_url(
            weights.url, map_location="cpu", progress=progress, check_hash=True, weights_only=True
        )
    except RuntimeError as error:
        if "hash" not in str(error):
            raise
        raise RuntimeError(
            f"{weights.url}: the downloaded file failed its hash check ({error}); its SHA-256 "
            f"must start with {weights.sha256_prefix}. It was not kept; try again, or download "
            "it yourself and pass path="
        ) from error
    return as_state_dict(loaded, source=weights.url)


def load_torchvision_segmentation(
    name: str,
    *,
    path: str | os.PathLike[str] | None = None,
    aux: bool = True,
    progress: bool = True,
) -> tuple[nn.Module, ModelRecord]:
    """torchvision's COCO-with-VOC-labels segmentation model ``name`` as a pixelwise model.

    Args:
        name: ``deeplabv3_resnet50``, ``deeplabv3_resnet101``, ``fcn_resnet50`` or
            ``fcn_resnet101`` (see :data:`TORCHVISION_SEGMENTATION`).
        path: a local copy of torchvision's ``.pth`` file; ``None`` downloads it (hash-checked,
            cached by :mod:`torch.hub`).
        aux: keep the auxiliary FCN head on layer3 (the file always holds it; ``False`` drops
            its weights; in eval mode the model returns the main logits either way).
        progress: show a download progress bar.

    Returns:
        The model in eval mode and its :class:`~pixelwise.record.ModelRecord` (pass both to
        :func:`pixelwise.pretrained.save_pretrained` to publish them).

    Raises:
        ValueError: unknown ``name``.
        FileNotFoundError: ``path`` does not exist.
        WeightsMismatchError: the file's keys or shapes are not the model's (the error names the
            file and the keys that differ).
        RuntimeError: a download failed its hash check.
    """
    record = torchvision_record(name, aux=aux)
    if path is None:
        source = torchvision_weights(name).url
        state_dict = download_state_dict(name, progress=progress)
    else:
        source = str(path)
        if not Path(path).is_file():
            raise FileNotFoundError(f"torchvision weights file {source!r} does not exist")
        loaded = torch.load(path, map_location="cpu", weights_only=True)
        state_dict = as_state_dict(loaded, source=source)
    if not aux:
        state_dict = {k: v for k, v in state_dict.items() if not k.startswith(AUX_PREFIX)}
    what = f"torchvision's {name} weights (pixelwise {record.architecture}, {record.options})"
    if aux and not any(key.startswith(AUX_PREFIX) for key in state_dict):
        what += "; the file has no auxiliary head: load it with aux=False"
    return load_model(record, state_dict, source=source, what=what), record
