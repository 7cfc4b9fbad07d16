"""Export a trained checkpoint to ONNX (the ``[export]`` extra) or TorchScript."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch

from pixelwise.models.rescale import InputRescale
from pixelwise.training.inference import load_trained_model


def export_checkpoint(
    checkpoint: str | Path,
    out: str | Path,
    *,
    fmt: Literal["onnx", "torchscript"] = "onnx",
    size: tuple[int, int] | list[int] = (512, 512),
) -> Path:
    """Write ``out`` (ONNX with dynamic batch/height/width, or a traced TorchScript file)."""
    loaded = load_trained_model(checkpoint, "cpu")
    example = torch.zeros(1, loaded.in_channels, int(size[0]), int(size[1]))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "torchscript":
        with torch.no_grad():
            traced = torch.jit.trace(loaded.model, example)
        traced.save(str(out))
        return out
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise ImportError(
            "ONNX export needs the onnx package: pip install 'pixelwise[export]'"
        ) from None
    if isinstance(loaded.model, InputRescale) and loaded.model.scale < 1:
        print(
            f"note: this model runs at {loaded.model.scale}x the input size; ONNX has no "
            "antialiased resize, so the exported graph shrinks images with plain bilinear "
            "interpolation (TorchScript keeps PyTorch's antialiasing)"
        )
    torch.onnx.export(
        loaded.model,
        (example,),
        str(out),
        input_names=["image"],
        output_names=["logits"],
        dynamic_axes={
            "image": {0: "batch", 2: "height", 3: "width"},
            "logits": {0: "batch", 2: "height", 3: "width"},
        },
        opset_version=17,
        dynamo=False,
    )
    return out
