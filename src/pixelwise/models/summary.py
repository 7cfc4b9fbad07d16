"""The ``pixelwise models`` table: name, default encoder, parameters, GFLOPs, output stride."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from pixelwise.layers.cost import count_parameters, module_cost
from pixelwise.registry import create_model, list_models, model_info


@dataclass(frozen=True)
class ModelRow:
    name: str
    encoder: str
    params: int
    gflops: float | None
    output_stride: int | None
    paper: str


def model_row(name: str, *, flops: bool = True, size: int = 512, num_classes: int = 21) -> ModelRow:
    """Parameters (at ``num_classes``) and GFLOPs (2 x multiply-accumulates) at ``size``."""
    entry = model_info(name)
    # Build on the meta device: shapes and counts without allocating or computing anything.
    with torch.device("meta"):
        model = create_model(name, num_classes=num_classes)
    gflops = None
    if flops:
        try:
            gflops = module_cost(model, (1, 3, size, size)).flops / 1e9
        except (NotImplementedError, RuntimeError):  # an op without a meta kernel
            model = create_model(name, num_classes=num_classes)
            gflops = module_cost(model, (1, 3, size, size)).flops / 1e9
    return ModelRow(
        name=name,
        encoder=entry.default_encoder or "built-in",
        params=count_parameters(model),
        gflops=gflops,
        output_stride=getattr(model, "output_stride", None),
        paper=entry.paper,
    )


def model_table(*, flops: bool = True, size: int = 512) -> str:
    flops_title = f"GFLOPs@{size}"
    header = f"{'model':<16} {'encoder':<13} {'params':>12} {flops_title:>11} {'OS':>3}  paper"
    lines = [header, "-" * len(header)]
    for name in list_models():
        row = model_row(name, flops=flops, size=size)
        gflops = f"{row.gflops:.1f}" if row.gflops is not None else "-"
        stride = str(row.output_stride) if row.output_stride else "-"
        lines.append(
            f"{row.name:<16} {row.encoder:<13} {row.params:>12,} {gflops:>11} {stride:>3}  "
            f"{row.paper}"
        )
    lines.append(
        "(21 classes; GFLOPs count a multiply-accumulate as 2 operations; every model but "
        "segnet_basic takes encoder=, see `pixelwise encoders`)"
    )
    return "\n".join(lines)
