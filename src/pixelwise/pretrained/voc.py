"""The PASCAL VOC label set: 21 classes (background + 20 objects) and the VOC colour map."""

from __future__ import annotations

from pixelwise.data.classes import ClassTable, Color

# torchvision.models._meta._VOC_CATEGORIES, with "__background__" written "background".
VOC_CLASS_NAMES: tuple[str, ...] = (
    "background",
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "diningtable",
    "dog",
    "horse",
    "motorbike",
    "person",
    "pottedplant",
    "sheep",
    "sofa",
    "train",
    "tvmonitor",
)

# The colours of VOC's SegmentationClass PNGs (the devkit's labelcolormap: the bits of the
# label spread over the high bits of R, G and B); void/boundary pixels are 255, drawn cream.
VOC_COLORS: tuple[Color, ...] = (
    (0, 0, 0),
    (128, 0, 0),
    (0, 128, 0),
    (128, 128, 0),
    (0, 0, 128),
    (128, 0, 128),
    (0, 128, 128),
    (128, 128, 128),
    (64, 0, 0),
    (192, 0, 0),
    (64, 128, 0),
    (192, 128, 0),
    (64, 0, 128),
    (192, 0, 128),
    (64, 128, 128),
    (192, 128, 128),
    (0, 64, 0),
    (128, 64, 0),
    (0, 192, 0),
    (128, 192, 0),
    (0, 64, 128),
)
VOC_IGNORE_INDEX = 255
VOC_IGNORE_COLOR: Color = (224, 224, 192)


def voc_class_table() -> ClassTable:
    """A fresh :class:`ClassTable` of the 21 VOC classes (ignore index 255)."""
    return ClassTable.from_names(
        VOC_CLASS_NAMES,
        VOC_COLORS,
        ignore_index=VOC_IGNORE_INDEX,
        ignore_color=VOC_IGNORE_COLOR,
    )
