"""``pixelwise export``: a checkpoint to ONNX (the ``[export]`` extra) or TorchScript, with its
model record, so the exported file can be run correctly without pixelwise.

- ONNX: the record's JSON is the ``pixelwise.record`` entry of the model's ``metadata_props``
  (``onnxruntime.InferenceSession(path).get_modelmeta().custom_metadata_map``).
- TorchScript: the record's JSON is the extra file ``pixelwise.record.json``
  (``torch.jit.load(path, _extra_files={"pixelwise.record.json": ""})``).

The graph maps the normalised input ``(N, C, H, W)`` (``(raw * scale - mean) / std`` per band,
nodata pixels' raw values set to 0 first) to logits ``(N, K, H, W)``; the record holds the
bands, scale, mean, std, nodata and the class table to do the rest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch

from pixelwise.models.rescale import InputRescale
from pixelwise.record import ONNX_METADATA_KEY
from pixelwise.training import load_trained_model

TORCHSCRIPT_RECORD_FILE = "pixelwise.record.json"
MODEL_SUFFIXES = (".pt", ".pth", ".ckpt")


def export_checkpoint(
    checkpoint: str | Path,
    out: str | Path,
    *,
    fmt: Literal["onnx", "torchscript", "pretrained"] = "onnx",
    size: tuple[int, int] | list[int] = (512, 512),
) -> Path:
    """Write ``out`` (ONNX with dynamic batch/height/width, a traced TorchScript file, or a
    ``pretrained`` folder: record, safetensors weights and model card, see
    :func:`pixelwise.pretrained.save_pretrained`)."""
    out = Path(out)
    if out.exists() and out.resolve() == Path(checkpoint).resolve():
        raise ValueError(f"--out {out} is the checkpoint itself; give another file name")
    if fmt == "pretrained":
        from pixelwise.pretrained import save_pretrained

        return save_pretrained(checkpoint, out)
    loaded = load_trained_model(checkpoint, "cpu")
    record_json = loaded.record.to_json()
    example = torch.zeros(1, loaded.in_channels, int(size[0]), int(size[1]))
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "torchscript":
        with torch.no_grad():
            traced = torch.jit.trace(loaded.model, example)
        torch.jit.save(traced, str(out), _extra_files={TORCHSCRIPT_RECORD_FILE: record_json})
        return out
    try:
        import onnx
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
    graph = onnx.load(str(out))
    entry = graph.metadata_props.add()
    entry.key, entry.value = ONNX_METADATA_KEY, record_json
    onnx.save(graph, str(out))
    return out
