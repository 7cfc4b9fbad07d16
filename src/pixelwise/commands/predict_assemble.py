"""Assembly of the block files into the final raster(s): GeoTIFF or Cloud-Optimised GeoTIFF.

The blocks are written into a tiled GeoTIFF inside the parts folder; ``cog`` then copies it
through GDAL's COG driver (512 x 512 tiles, deflate, internal overviews: nearest for labels,
average for probabilities) under a temporary name. The final name appears last, by
``os.replace``, so a partial output can never be mistaken for a complete one.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from pixelwise.commands.predict_blocks import Block, ProbDtype, block_paths
from pixelwise.io import gdal_env, require_rasterio
from pixelwise.outputs import num_labels
from pixelwise.tiling.outputs import palette

Format = Literal["gtiff", "cog"]
COG_BLOCK = 512


def _profile(
    height: int, width: int, count: int, dtype: np.dtype, nodata: float, crs: Any, transform: Any
) -> dict[str, Any]:
    profile: dict[str, Any] = {
        "driver": "GTiff",
        "height": height,
        "width": width,
        "count": count,
        "dtype": dtype.name,
        "crs": crs,
        "transform": transform,
        "nodata": nodata,
        "tiled": True,
        "blockxsize": COG_BLOCK,
        "blockysize": COG_BLOCK,
        "compress": "deflate",
        "interleave": "pixel" if count <= 4 else "band",
        "BIGTIFF": "IF_SAFER",
    }
    identity = getattr(transform, "is_identity", False)
    if transform is None or (crs is None and identity):  # not georeferenced
        profile.pop("transform")
    return profile


def _write_mosaic(
    path: Path,
    key: Literal["labels", "probs"],
    parts: Path,
    blocks: Sequence[Block],
    *,
    height: int,
    width: int,
    num_classes: int,
    prob_dtype: ProbDtype,
    colors: Sequence[Sequence[int]] | None,
    crs: Any,
    transform: Any,
) -> None:
    """The block files of ``key`` as one tiled GeoTIFF at ``path``."""
    rasterio = require_rasterio()
    from rasterio.windows import Window

    nodata: float
    if key == "labels":
        wide = num_classes > 255
        dtype, nodata, count = np.dtype(np.uint16 if wide else np.uint8), 65535 if wide else 255, 1
    else:
        # GDAL < 3.11 has no Float16: float16 parts are written as float32 (same values)
        dtype = np.dtype(np.uint8 if prob_dtype == "uint8" else np.float32)
        nodata, count = (255 if prob_dtype == "uint8" else float("nan")), num_classes
    profile = _profile(height, width, count, dtype, nodata, crs, transform)
    with warnings.catch_warnings(), gdal_env():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with rasterio.open(path, "w", **profile) as dataset:
            if key == "labels" and dtype == np.uint8:
                rgb = palette(num_labels(num_classes), colors)
                dataset.write_colormap(1, {i: (*c, 255) for i, c in enumerate(rgb)})
            if key == "probs" and dtype == np.uint8:
                dataset.scales = (1.0 / 254.0,) * count
            for block in blocks:
                labels_path, probs_path = block_paths(parts, block)
                array = np.load(labels_path if key == "labels" else probs_path)
                data = (array[None] if array.ndim == 2 else array).astype(dtype, copy=False)
                window = Window(  # type: ignore[call-arg]
                    block.col0, block.row0, block.col1 - block.col0, block.row1 - block.row0
                )
                dataset.write(data, window=window)


def _to_cog(src: Path, dst: Path, resampling: str) -> None:
    rasterio = require_rasterio()
    from rasterio.shutil import copy as gdal_copy

    with warnings.catch_warnings(), gdal_env():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        gdal_copy(
            str(src),
            str(dst),
            driver="COG",
            BLOCKSIZE=COG_BLOCK,
            COMPRESS="DEFLATE",
            OVERVIEW_RESAMPLING=resampling,
            BIGTIFF="IF_SAFER",
            NUM_THREADS="ALL_CPUS",
        )


def assemble(
    outputs: dict[str, Path],
    parts: Path,
    blocks: Sequence[Block],
    *,
    fmt: Format,
    height: int,
    width: int,
    num_classes: int,
    prob_dtype: ProbDtype,
    colors: Sequence[Sequence[int]] | None,
    crs: Any,
    transform: Any,
) -> list[Path]:
    """Write each output of ``outputs`` (``labels``/``probs`` -> final path) that does not exist
    yet from the block files; the final names appear last. Returns the final paths."""
    for key, final in outputs.items():
        if final.exists():
            continue
        mosaic = parts / f"mosaic_{key}.tif"
        _write_mosaic(
            mosaic,
            "labels" if key == "labels" else "probs",
            parts,
            blocks,
            height=height,
            width=width,
            num_classes=num_classes,
            prob_dtype=prob_dtype,
            colors=colors,
            crs=crs,
            transform=transform,
        )
        if fmt == "cog":
            tmp = final.with_name(f".{final.name}.partial")
            _to_cog(mosaic, tmp, "NEAREST" if key == "labels" else "AVERAGE")
            os.replace(tmp, final)
            mosaic.unlink()
        else:
            os.replace(mosaic, final)
    return list(outputs.values())
