"""Public entry points of tiled inference: in memory, source-to-sink, and file-to-files.

The lecture's practical remark: a large image is processed in tiles and the result is the mosaic
of the tiles' results; borders see less context, so tiles overlap and either each tile's inner
part is kept (``crop``) or the overlaps are averaged (``mean``, ``gaussian``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from pixelwise.io.sources import (
    PILLOW_SUFFIXES,
    ArraySource,
    RasterioSource,
    RasterSource,
    open_source,
)
from pixelwise.record import Blend
from pixelwise.tiling.engine import DEFAULTS, Model, iter_blocks
from pixelwise.tiling.geotiff_sink import GeoTiffSink
from pixelwise.tiling.normalize import Normalization
from pixelwise.tiling.sinks import ArraySink, RasterSink, SinkMeta
from pixelwise.tiling.tiff_sink import PngSink, TiffSink


def predict_large(
    model: Model,
    source: RasterSource,
    sink: RasterSink,
    *,
    tile: int | tuple[int, int] = DEFAULTS.tile,
    overlap: int | tuple[int, int] = DEFAULTS.overlap,
    blend: Blend = DEFAULTS.blend,
    batch_size: int = DEFAULTS.batch_size,
    tta: bool | str = False,
    device: str | torch.device = "cpu",
    normalization: Callable[[Tensor], Tensor] | None = None,
    space: Literal["probs", "logits"] = "probs",
    num_classes: int | None = None,
    in_channels: int | None = None,
    progress: bool = True,
) -> list[Path]:
    """Stream ``source`` through ``model`` tile by tile into ``sink``; memory stays at a few tile
    rows whatever the image size.

    Args:
        model: callable mapping a float tensor ``(B, C_in, h, w)`` to logits ``(B, K, h, w)``.
        tile, overlap: tile size and overlap in pixels (int or ``(h, w)``); ``tile >= 2 overlap``.
        blend: ``crop`` (each pixel from the tile where it lies furthest inside), ``mean`` or
            ``gaussian`` (sigma = tile / 8).
        batch_size: tiles per forward pass.
        tta: flip test-time augmentation: False, "hflip", "flips" (id, h, v) or True (id, h, v, hv).
        normalization: applied to each batch of tiles, e.g. ``Normalization(scale=1 / 255)``.
        space: blend probabilities (softmax, or sigmoid for K = 1) or raw logits.
        num_classes: if given, checked against the model's output channels.
        in_channels: expected input bands (default: ``model.in_channels`` or its first conv).
    Returns:
        The paths the sink wrote.
    """
    opened = False
    try:
        for block in iter_blocks(
            model,
            source,
            tile=tile,
            overlap=overlap,
            blend=blend,
            batch_size=batch_size,
            tta=tta,
            device=device,
            normalization=normalization,
            space=space,
            in_channels=in_channels,
            progress=progress,
        ):
            if not opened:
                classes = block.values.shape[0]
                if num_classes is not None and classes != num_classes:
                    raise ValueError(
                        f"the model outputs {classes} channels but num_classes={num_classes}"
                    )
                sink.open(
                    SinkMeta(
                        source.height,
                        source.width,
                        classes,
                        space,
                        crs=source.crs,
                        transform=source.transform,
                    )
                )
                opened = True
            sink.write(block)
    finally:
        paths = sink.close() if opened else []
    return paths


def predict_tensor(
    model: Model,
    image: Tensor | np.ndarray,
    *,
    tile: int | tuple[int, int] = DEFAULTS.tile,
    overlap: int | tuple[int, int] = DEFAULTS.overlap,
    blend: Blend = DEFAULTS.blend,
    batch_size: int = DEFAULTS.batch_size,
    tta: bool | str = False,
    layout: Literal["CHW", "HWC"] = "CHW",
    device: str | torch.device = "cpu",
    normalization: Callable[[Tensor], Tensor] | None = None,
    space: Literal["probs", "logits"] = "probs",
    nodata: float | None = None,
    progress: bool = False,
) -> Tensor:
    """Tiled inference on an in-memory image; returns blended ``(K, H, W)`` float32 values
    (probabilities, or logits for ``space="logits"``) on ``device``.

    ``image`` is ``(C, H, W)`` (``layout="CHW"``, default), ``(H, W, C)`` (``"HWC"``) or
    ``(H, W)``. Same arguments as :func:`predict_large`.
    """
    sink = ArraySink()
    predict_large(
        model,
        ArraySource(image, layout=layout, nodata=nodata),
        sink,
        tile=tile,
        overlap=overlap,
        blend=blend,
        batch_size=batch_size,
        tta=tta,
        device=device,
        normalization=normalization,
        space=space,
        progress=progress,
    )
    assert sink.values is not None
    return sink.values


def predict_file(
    model: Model,
    input_path: str | Path,
    output_dir: str | Path,
    *,
    tile: int | tuple[int, int] = DEFAULTS.tile,
    overlap: int | tuple[int, int] = DEFAULTS.overlap,
    blend: Blend = DEFAULTS.blend,
    tta: bool | str = False,
    batch_size: int = DEFAULTS.batch_size,
    device: str | torch.device = "cpu",
    num_classes: int | None = None,
    output: Literal["labels", "probs", "both"] = "labels",
    prob_dtype: Literal["uint8", "float32"] = "uint8",
    colors: Sequence[Sequence[int]] | None = None,
    normalization: Callable[[Tensor], Tensor] | None = None,
    bands: Sequence[int] | None = None,
    nodata: float | None = None,
    space: Literal["probs", "logits"] = "probs",
    progress: bool = True,
) -> list[Path]:
    """Segment the image file ``input_path`` into ``output_dir``; returns the written paths.

    TIFF/GeoTIFF inputs are read window by window and written as ``<stem>_labels.tif`` (uint8
    with a colour table) and/or ``<stem>_probs.tif`` (K bands), tiled and compressed, with the
    input's CRS, transform and nodata (GeoTIFF via rasterio when installed, else plain TIFF via
    tifffile). PNG/JPEG inputs give ``<stem>_labels.png`` (palette) and ``<stem>_probs.tif``.
    ``bands`` are 1-based; ``nodata`` overrides the file's nodata value.
    """
    if output not in ("labels", "probs", "both"):
        raise ValueError(f"output must be 'labels', 'probs' or 'both'; got {output!r}")
    input_path, output_dir = Path(input_path), Path(output_dir)
    source = open_source(input_path, bands=bands, nodata=nodata)
    small = input_path.suffix.lower() in PILLOW_SUFFIXES
    stem = output_dir / input_path.stem
    labels_path = probs_path = None
    if output in ("labels", "both"):
        labels_path = stem.with_name(stem.name + ("_labels.png" if small else "_labels.tif"))
    if output in ("probs", "both"):
        probs_path = stem.with_name(stem.name + "_probs.tif")
    sink_type: type[GeoTiffSink] | type[TiffSink] | type[PngSink]
    if small:
        sink_type = PngSink
    else:
        sink_type = GeoTiffSink if isinstance(source, RasterioSource) else TiffSink
    sink = sink_type(labels_path, probs_path, prob_dtype=prob_dtype, colors=colors)
    with source:
        return predict_large(
            model,
            source,
            sink,
            tile=tile,
            overlap=overlap,
            blend=blend,
            batch_size=batch_size,
            tta=tta,
            device=device,
            normalization=normalization,
            space=space,
            num_classes=num_classes,
            progress=progress,
        )


__all__ = ["Normalization", "predict_file", "predict_large", "predict_tensor"]
