"""Tiled inference on images larger than memory (stand-alone: any callable model).

``TileGrid`` places overlapping tiles, ``blend_weights`` gives the ``crop`` / ``mean`` /
``gaussian`` weights, ``predict_tensor`` works in memory, ``predict_large`` streams a
``RasterSource`` into a ``RasterSink`` a few tile rows at a time, and ``predict_file`` does
file-to-files (TIFF/GeoTIFF window by window, PNG/JPEG whole).
"""

from __future__ import annotations

from pixelwise.io.sources import (
    ArraySource,
    RasterioSource,
    RasterSource,
    TiffSource,
    UnreadableRasterError,
    open_source,
)
from pixelwise.tiling.engine import RowBlock, iter_blocks
from pixelwise.tiling.geotiff_sink import GeoTiffSink
from pixelwise.tiling.grid import Tile, TileGrid
from pixelwise.tiling.normalize import Normalization
from pixelwise.tiling.outputs import palette
from pixelwise.tiling.predict import predict_file, predict_large, predict_tensor
from pixelwise.tiling.sinks import ArraySink, FileSink, RasterSink, SinkMeta
from pixelwise.tiling.tiff_sink import PngSink, TiffSink
from pixelwise.tiling.weights import blend_weights, gaussian_window

__all__ = [
    "ArraySink",
    "ArraySource",
    "FileSink",
    "GeoTiffSink",
    "Normalization",
    "PngSink",
    "RasterSink",
    "RasterSource",
    "RasterioSource",
    "RowBlock",
    "SinkMeta",
    "Tile",
    "TileGrid",
    "TiffSink",
    "TiffSource",
    "UnreadableRasterError",
    "blend_weights",
    "gaussian_window",
    "iter_blocks",
    "open_source",
    "palette",
    "predict_file",
    "predict_large",
    "predict_tensor",
]
