"""GeoTIFF output through rasterio: tiled, compressed, with the input's CRS and transform."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from pixelwise.io import gdal_env, require_rasterio
from pixelwise.outputs import num_labels
from pixelwise.tiling.outputs import palette
from pixelwise.tiling.sinks import FileSink


class GeoTiffSink(FileSink):
    """Tiled, compressed GeoTIFF(s) written with rasterio; CRS and transform from the input."""

    def __init__(self, *args: Any, compress: str = "deflate", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.compress = compress

    def _open_files(self) -> None:
        rasterio = require_rasterio()
        self._datasets = {}
        meta, conv = self.meta, self.converter
        for key, path in self.paths.items():
            dtype, nodata = conv.label_dtype, float(conv.label_nodata)
            count = 1
            if key == "probs":
                dtype, nodata, count = conv.prob_dtype, conv.prob_nodata, meta.num_classes
            profile = {
                "driver": "GTiff",
                "height": meta.height,
                "width": meta.width,
                "count": count,
                "dtype": np.dtype(dtype).name,
                "crs": meta.crs,
                "transform": meta.transform,
                "nodata": nodata,
                "tiled": True,
                "blockxsize": self.blocksize,
                "blockysize": self.blocksize,
                "compress": self.compress,
                "interleave": "pixel" if count <= 4 else "band",
                "BIGTIFF": "IF_SAFER",
            }
            identity = getattr(meta.transform, "is_identity", False)
            if meta.transform is None or (meta.crs is None and identity):  # not georeferenced
                profile.pop("transform")
            with warnings.catch_warnings(), gdal_env():  # a plain input gives a plain TIFF
                warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
                dataset = rasterio.open(path, "w", **profile)
            if key == "labels" and conv.label_dtype == np.uint8:
                colors = palette(num_labels(meta.num_classes), self.colors)
                dataset.write_colormap(1, {i: (*rgb, 255) for i, rgb in enumerate(colors)})
            if key == "probs" and conv.prob_dtype == np.uint8:
                dataset.scales = (1.0 / 254.0,) * count
            self._datasets[key] = dataset

    def _write_rows(self, key: str, row0: int, rows: np.ndarray) -> None:
        from rasterio.windows import Window

        data = rows if rows.ndim == 3 else rows[None]
        window = Window(0, row0, self.meta.width, data.shape[1])  # type: ignore[call-arg]
        with gdal_env():
            self._datasets[key].write(data, window=window)

    def _close_files(self) -> None:
        with gdal_env():
            for dataset in self._datasets.values():
                dataset.close()
