"""The ``README.md`` model card of a pretrained folder, generated from its model record."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import yaml

from pixelwise import __version__
from pixelwise.record import ModelRecord

CARD_TAGS = ("pixelwise", "pytorch", "semantic-segmentation")


def _cell(value: Any) -> str:
    """A Markdown table cell: pipes escaped, newlines flattened."""
    return str(value).replace("|", "\\|").replace("\n", " ")


def _number(value: Any) -> str:
    """Floats with 4 decimals (4 significant digits when very small or large), others as is."""
    if not isinstance(value, float):
        return str(value)
    return f"{value:.4f}" if 1e-3 <= abs(value) < 1e4 else f"{value:.4g}"


def _values(values: tuple[float, ...] | tuple[int, ...] | None) -> str:
    if values is None:
        return "all, as stored"
    return ", ".join(f"{v:.6g}" if isinstance(v, float) else str(v) for v in values)


def _fenced(text: str, language: str) -> list[str]:
    """``text`` in a code fence longer than any run of backticks inside it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}{language}", text, fence]


def _hex(color: tuple[int, int, int]) -> str:
    r, g, b = color
    return f"`#{r:02x}{g:02x}{b:02x}` ({r}, {g}, {b})"


def front_matter(record: ModelRecord) -> str:
    """The Hugging Face Hub metadata block (YAML between ``---`` lines)."""
    tags = list(CARD_TAGS)
    options = record.options
    for extra in (record.architecture, options.get("encoder"), options.get("backbone")):
        if isinstance(extra, str) and extra not in tags:
            tags.append(extra)
    meta = {"library_name": "pixelwise", "pipeline_tag": "image-segmentation", "tags": tags}
    return f"---\n{yaml.safe_dump(meta, sort_keys=False)}---\n"


def model_card(
    record: ModelRecord,
    *,
    metrics: Mapping[str, Any] | None = None,
    command: str | None = None,
    title: str | None = None,
) -> str:
    """The card: front matter, architecture and options, classes, input, tiling, validation
    metrics (scalars of ``metrics``), the training command and a usage snippet."""
    pre, tiling = record.preprocessing, record.tiling
    lines = [
        front_matter(record),
        f"# {title or record.architecture}",
        "",
        f"A `{record.architecture}` semantic segmentation model for "
        f"{record.classes.num_classes} classes, saved with pixelwise {__version__} "
        f"(model record version {record.version}).",
        "",
        "## Architecture",
        "",
        "| option | value |",
        "|---|---|",
        f"| architecture | `{record.architecture}` |",
        *(f"| {_cell(k)} | `{_cell(record.options[k])}` |" for k in sorted(record.options)),
        f"| in_channels | {record.in_channels} |",
        f"| num_outputs | {record.num_outputs} |",
        "",
        "## Classes",
        "",
        "| id | name | colour |",
        "|---|---|---|",
    ]
    lines += [f"| {c.id} | {_cell(c.name)} | {_hex(c.color)} |" for c in record.classes]
    if record.classes.ignore_index is not None:
        color = record.classes.ignore_color
        shown = "" if color is None else _hex(color)
        lines.append(f"| {record.classes.ignore_index} | (ignored) | {shown} |")
    nodata = "the file's own nodata value" if pre.nodata is None else str(pre.nodata)
    lines += [
        "",
        "## Input",
        "",
        "A model input is `(raw * scale - mean) / std`, band by band, with nodata pixels' raw "
        "values set to 0 first.",
        "",
        "| | |",
        "|---|---|",
        f"| bands (1-based) | {_values(pre.bands)} |",
        f"| dtype | `{pre.dtype}` |",
        f"| scale | {_values(pre.scale)} |",
        f"| mean | {_values(pre.mean)} |",
        f"| std | {_values(pre.std)} |",
        f"| nodata | {nodata} |",
        f"| input scale | {pre.input_scale:g} (images are resized by this before the model) |",
        "",
        "## Default tiling",
        "",
        f"Tiles of {tiling.tile} px with {tiling.overlap} px overlap, `{tiling.blend}` blending, "
        f"{tiling.batch_size} tiles per batch, test-time augmentation `{tiling.tta}`.",
        "",
        "## Validation metrics",
        "",
    ]
    scalars = {k: v for k, v in (metrics or {}).items() if isinstance(v, str | int | float)}
    if scalars:
        lines += ["| metric | value |", "|---|---|"]
        lines += [f"| {_cell(k)} | {_cell(_number(v))} |" for k, v in scalars.items()]
    else:
        lines.append("Not recorded.")
    if command:
        lines += ["", "## Training command", "", *_fenced(command, "bash")]
    usage = """import numpy as np
import torch
from PIL import Image

from pixelwise.outputs import labels
from pixelwise.pretrained import from_pretrained

loaded = from_pretrained("path/to/this/folder")  # or a Hugging Face Hub id: "user/name"
pre = loaded.record.preprocessing
raw = np.asarray(Image.open("image.png"), dtype=np.float32)  # H x W (x C)
x = torch.from_numpy(raw.reshape(*raw.shape[:2], -1)).permute(2, 0, 1)[None]
scale, mean, std = (torch.tensor(v).view(-1, 1, 1) for v in (pre.scale, pre.mean, pre.std))
with torch.no_grad():
    label_map = labels(loaded.model((x * scale - mean) / std))[0]  # H x W class ids
names = loaded.record.labels.names"""
    lines += ["", "## Usage", "", *_fenced(usage, "python"), ""]
    return "\n".join(lines)
