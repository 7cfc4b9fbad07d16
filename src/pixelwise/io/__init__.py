"""One raster reader for training, evaluation and prediction (stand-alone: numpy, torch, Pillow,
tifffile, and rasterio when installed; no other pixelwise package).

* :func:`open_source` opens a file for window reads (:class:`TiffSource`: tifffile, only the
  tiles/strips a window touches, bands = pages x samples; :class:`RasterioSource`: GeoTIFF and
  GDAL formats; Pillow for PNG/JPEG/BMP/GIF); :class:`ArraySource` wraps arrays.
* :func:`read_raster` reads a whole file through the same sources; :func:`read_mask_array` reads
  label masks (palette indices kept).
* :func:`fill_nodata` / :func:`nodata_mask`: a pixel is nodata when all its bands equal the
  nodata value; it is set to 0 in the raw values, before scaling and normalisation.
* :func:`dtype_scale`: ``uint8`` / 255, ``uint16`` / 65535, everything else unchanged.

``bands`` are 1-based (GDAL numbering) everywhere.
"""

from __future__ import annotations

from pixelwise.io.pillow import PILLOW_SUFFIXES, read_pillow
from pixelwise.io.raster import (
    RasterImage,
    dtype_scale,
    fill_nodata,
    nodata_mask,
    read_mask_array,
    read_raster,
)
from pixelwise.io.sources import (
    TIFF_SUFFIXES,
    ArraySource,
    RasterioSource,
    RasterNotFoundError,
    RasterSource,
    TiffSource,
    UnreadableRasterError,
    gdal_env,
    open_source,
    pillow_array,
    require_rasterio,
    select_bands,
)
from pixelwise.io.tiff_window import TiffLayoutError, TiffWindowReader

__all__ = [
    "PILLOW_SUFFIXES",
    "TIFF_SUFFIXES",
    "ArraySource",
    "RasterImage",
    "RasterNotFoundError",
    "RasterSource",
    "RasterioSource",
    "TiffLayoutError",
    "TiffSource",
    "TiffWindowReader",
    "UnreadableRasterError",
    "dtype_scale",
    "fill_nodata",
    "gdal_env",
    "nodata_mask",
    "open_source",
    "pillow_array",
    "read_mask_array",
    "read_pillow",
    "read_raster",
    "require_rasterio",
    "select_bands",
]
