"""Plain TIFF output through tifffile (no rasterio needed) and PNG output for small images."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from pixelwise.outputs import num_labels
from pixelwise.tiling.outputs import palette
from pixelwise.tiling.sinks import FileSink


class TiffSink(FileSink):
    """Tiled, compressed plain TIFF(s) written with tifffile; each file is fed, tile by tile,
    from a writer thread so that rows never accumulate beyond one block row."""

    def _open_files(self) -> None:
        import tifffile

        self._queues: dict[str, queue.Queue] = {}
        self._threads: dict[str, threading.Thread] = {}
        self._errors: list[BaseException] = []
        meta, conv = self.meta, self.converter
        for key, path in self.paths.items():
            q: queue.Queue = queue.Queue(maxsize=2)
            if key == "labels":
                shape: tuple[int, ...] = (meta.height, meta.width)
                kwargs: dict[str, Any] = {"dtype": conv.label_dtype}
                if conv.label_dtype == np.uint8:
                    colors = np.zeros((3, 256), dtype=np.uint16)
                    rgb = np.asarray(
                        palette(num_labels(meta.num_classes), self.colors), dtype=np.uint16
                    )
                    colors[:, : len(rgb)] = np.asarray(rgb, dtype=np.uint16).T * 257
                    kwargs.update(photometric="palette", colormap=colors)
                else:
                    kwargs.update(photometric="minisblack")
            else:
                shape = (meta.height, meta.width, meta.num_classes)
                kwargs = {"dtype": conv.prob_dtype, "photometric": "minisblack"}
                kwargs["planarconfig"] = "contig"
            nodata = conv.label_nodata if key == "labels" else conv.prob_nodata
            kwargs["extratags"] = [(42113, "s", 0, str(nodata), True)]  # GDAL_NODATA

            def run(q: queue.Queue = q, path: Path = path, shape=shape, kwargs=kwargs) -> None:
                try:
                    tifffile.imwrite(
                        path,
                        self._tiles(q),
                        shape=shape,
                        tile=(self.blocksize, self.blocksize),
                        compression="zlib",
                        **kwargs,
                    )
                except BaseException as err:  # surfaced in write/close
                    self._errors.append(err)
                    while q.get() is not None:  # drain so the producer never blocks
                        pass

            thread = threading.Thread(target=run, daemon=True)
            thread.start()
            self._queues[key], self._threads[key] = q, thread

    def _tiles(self, q: queue.Queue) -> Iterator[np.ndarray]:
        while (rows := q.get()) is not None:
            if rows.ndim == 3:  # (K, rows, W) -> (rows, W, K)
                rows = np.moveaxis(rows, 0, -1)
            for top in range(0, rows.shape[0], self.blocksize):
                for left in range(0, rows.shape[1], self.blocksize):
                    yield rows[top : top + self.blocksize, left : left + self.blocksize]

    def _write_rows(self, key: str, row0: int, rows: np.ndarray) -> None:
        if self._errors:
            raise self._errors[0]
        self._queues[key].put(rows)

    def _close_files(self) -> None:
        for key, q in self._queues.items():
            q.put(None)
            self._threads[key].join()
        if self._errors:
            raise self._errors[0]


class PngSink(FileSink):
    """Small images: labels as a palette PNG (Pillow); probabilities as a TIFF (tifffile)."""

    def _open_files(self) -> None:
        self._arrays: dict[str, list[np.ndarray]] = {key: [] for key in self.paths}

    def _write_rows(self, key: str, row0: int, rows: np.ndarray) -> None:
        self._arrays[key].append(rows)

    def _close_files(self) -> None:
        import tifffile
        from PIL import Image

        for key, parts in self._arrays.items():
            array = np.concatenate(parts, axis=-2)
            if key == "labels":
                if array.dtype != np.uint8:
                    raise ValueError(
                        f"PNG labels hold at most 255 classes; got {self.meta.num_classes}; "
                        "write a TIFF instead"
                    )
                image = Image.fromarray(array)  # "L"; putpalette turns it into "P"
                rgb = palette(num_labels(self.meta.num_classes), self.colors)
                image.putpalette([c for color in rgb for c in color])
                image.save(self.paths[key])
            else:
                tifffile.imwrite(self.paths[key], np.moveaxis(array, 0, -1), compression="zlib")
