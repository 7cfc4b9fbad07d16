"""``pixelwise predict``: tiled inference on files or folders of any size, driven by the record.

Everything about the input comes from the checkpoint's :class:`~pixelwise.record.ModelRecord`:
bands, per-band scale (from the training pixels' dtype), mean/std, nodata, input scale, the
class table's colours and the default tiling; command-line values override only the tiling.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from pixelwise.io import open_source
from pixelwise.record import ModelRecord, TilingOptions
from pixelwise.tiling import Normalization, predict_file, predict_tensor
from pixelwise.training import LoadedModel, load_trained_model, pick_device

SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff")
Output = Literal["labels", "probs", "both"]


def expand_inputs(inputs: Sequence[str | Path]) -> list[Path]:
    """Files as given, and the image files inside folders (sorted)."""
    paths: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in SUFFIXES)
            if not found:
                raise FileNotFoundError(f"folder {path} holds no images ({', '.join(SUFFIXES)})")
            paths.extend(found)
        elif path.is_file():
            paths.append(path)
        else:
            raise FileNotFoundError(f"input {path} does not exist")
    return paths


def normalization(record: ModelRecord) -> Normalization:
    """Raw pixels -> model input exactly as in training: ``(raw * scale - mean) / std``."""
    pre = record.preprocessing
    return Normalization(scale=pre.scale, mean=pre.mean, std=pre.std)


def check_input_dtype(record: ModelRecord, dtype: np.dtype, name: str) -> None:
    """Refuse pixels of another type than the training pixels (their scale would be wrong),
    except float for float."""
    trained = np.dtype(record.preprocessing.dtype)
    if dtype == trained or (dtype.kind == "f" and trained.kind == "f"):
        return
    raise ValueError(
        f"{name} stores {dtype.name} pixels but the model was trained on {trained.name} pixels "
        f"(scaled by {record.preprocessing.scale[0]:.6g}); convert the image to {trained.name} "
        "with the same value range, or retrain on images like it"
    )


def fit_tiling(options: TilingOptions, height: int, width: int) -> tuple[tuple[int, int], ...]:
    """``(tile, overlap)`` per axis: an axis no longer than the tile is run whole (no padding,
    so a small image gives exactly the model's whole-image answer, as in evaluation)."""
    tile = (min(options.tile, height), min(options.tile, width))
    overlap = tuple(options.overlap if t == options.tile else 0 for t in tile)
    return tile, (overlap[0], overlap[1])


def predict_path(
    loaded: LoadedModel,
    path: Path,
    out_dir: Path,
    *,
    tiling: TilingOptions,
    output: Output = "labels",
    device: torch.device | str = "cpu",
    progress: bool = True,
) -> list[Path]:
    """Segment one file with ``loaded``'s record; returns the written paths."""
    record, pre = loaded.record, loaded.record.preprocessing
    with open_source(path, bands=pre.bands, nodata=pre.nodata) as source:
        check_input_dtype(record, source.dtype, str(path))
        tile, overlap = fit_tiling(tiling, source.height, source.width)
    return predict_file(
        loaded.model,
        path,
        out_dir,
        tile=tile,
        overlap=overlap,
        blend=tiling.blend,
        tta=tiling.tta,
        batch_size=tiling.batch_size,
        device=device,
        num_classes=record.num_outputs,
        output=output,
        colors=record.labels.colors,
        normalization=normalization(record),
        bands=pre.bands,
        nodata=pre.nodata,
        progress=progress,
    )


def predict_path_with_crf(
    loaded: LoadedModel,
    path: Path,
    out_dir: Path,
    *,
    tiling: TilingOptions,
    device: torch.device | str = "cpu",
    crf_params: dict[str, float] | None = None,
) -> Path:
    """Tiled probabilities of a whole image refined by the dense CRF (images up to 4096^2)."""
    from pixelwise.commands.crf import crf_rgb, refine_with_crf
    from pixelwise.io import read_raster
    from pixelwise.tiling.outputs import save_label_png

    record, pre = loaded.record, loaded.record.preprocessing
    raster = read_raster(path, bands=pre.bands, nodata=pre.nodata)
    check_input_dtype(record, raster.array.dtype, str(path))
    _, height, width = raster.array.shape
    if height * width > 4096 * 4096:
        raise ValueError(
            f"{path} is {height}x{width}: --crf holds the whole image in memory and works on "
            "images up to 4096x4096; drop --crf for larger rasters"
        )
    tile, overlap = fit_tiling(tiling, height, width)
    probs = predict_tensor(
        loaded.model,
        raster.array,
        tile=tile,
        overlap=overlap,
        blend=tiling.blend,
        batch_size=tiling.batch_size,
        tta=tiling.tta,
        device=device,
        normalization=normalization(record),
        nodata=raster.nodata,
    )
    rgb = crf_rgb(raster.array, pre.scale)
    refined = refine_with_crf(probs.cpu(), rgb, crf_params)
    labels = refined.argmax(0).numpy()
    out = out_dir / f"{path.stem}_labels_crf.png"
    save_label_png(out, labels, record.labels.colors)
    return out


def run_predict(
    checkpoint: str | Path,
    inputs: Sequence[str | Path],
    out_dir: str | Path,
    *,
    tile: int | None = None,
    overlap: int | None = None,
    blend: str | None = None,
    batch_size: int | None = None,
    tta: str | None = None,
    output: Output = "labels",
    crf: bool = False,
    device: str = "auto",
    progress: bool = True,
    fmt: Literal["gtiff", "cog"] | None = None,
    block: int | None = None,
    probs: Literal["uint8", "float16"] | None = None,
) -> list[Path]:
    """``pixelwise predict``: the record's tiling, overridden by the arguments that are given.

    ``fmt="cog"``, ``block``, ``probs`` or a torchrun launch (``WORLD_SIZE > 1``) select the
    block-wise, sharded, resumable path (:mod:`pixelwise.commands.predict_scale`): labels are
    always written there, probabilities with ``probs`` (``output="probs"/"both"``: uint8).
    """
    from pixelwise.commands.predict_scale import run_predict_scale, world_size

    if fmt == "cog" or block is not None or probs is not None or world_size() > 1:
        if crf:
            raise ValueError("--crf works on whole images; it cannot be combined with blocks")
        if probs is None and output != "labels":
            probs = "uint8"
        changes = {"tile": tile, "overlap": overlap, "blend": blend}
        changes.update({"batch_size": batch_size, "tta": tta})
        return run_predict_scale(
            checkpoint,
            expand_inputs(inputs),
            Path(out_dir),
            tiling_changes=changes,
            device=device,
            fmt=fmt or "gtiff",
            block=block,
            probs=probs,
        )
    torch_device = pick_device(device)
    loaded = load_trained_model(checkpoint, torch_device)
    tiling = loaded.record.tiling.replace(
        tile=tile, overlap=overlap, blend=blend, batch_size=batch_size, tta=tta
    )
    paths = expand_inputs(inputs)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for path in paths:
        if crf:
            written.append(
                predict_path_with_crf(loaded, path, out, tiling=tiling, device=torch_device)
            )
        else:
            written.extend(
                predict_path(
                    loaded,
                    path,
                    out,
                    tiling=tiling,
                    output=output,
                    device=torch_device,
                    progress=progress,
                )
            )
    return written
