"""Run a model at the input scale it was trained at, and answer at the caller's resolution."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class InputRescale(nn.Module):
    """Wraps a segmentation model trained on images resized by ``scale`` (e.g. CamVid's
    half-resolution recipe): the N x C x H x W input is resized by ``scale`` (bilinear,
    antialiased when shrinking, with the rounding of :class:`pixelwise.data.Resize`), the model
    runs there, and its N x K x h x w logits are resized bilinearly back to H x W.

    Feeding full-resolution images straight to a model trained at half resolution shows it every
    object at twice the size it learned; this wrapper keeps scales consistent at inference. In
    training mode the aux outputs of a ``(logits, aux)`` tuple are resized as well.
    """

    def __init__(self, model: nn.Module, scale: float) -> None:
        super().__init__()
        if not 0 < scale <= 4:
            raise ValueError(f"InputRescale: scale must be in (0, 4], got {scale}")
        self.model, self.scale = model, float(scale)

    @property
    def antialias(self) -> bool:
        # ONNX opset 17 has no antialiased resize: exported graphs shrink with plain bilinear
        # (``pixelwise export`` says so; outputs then differ slightly from PyTorch's).
        return self.scale < 1 and not torch.onnx.is_in_onnx_export()

    def forward(self, images: Tensor) -> Tensor | tuple[Tensor, ...]:
        height, width = images.shape[-2:]
        size: list[int] | list[Tensor]
        if torch.jit.is_tracing():
            # Traced (TorchScript, ONNX): sizes are tensors, kept symbolic for dynamic shapes.
            # torch.round rounds half to even, as Python's round does below.
            size = [torch.round(torch.as_tensor(n) * self.scale).clamp(min=1).long()
                    for n in (height, width)]  # fmt: skip
        else:
            size = [max(1, round(int(n) * self.scale)) for n in (height, width)]
        if self.scale != 1:
            images = F.interpolate(
                images,
                size=size,  # type: ignore[arg-type]  # stubs lack the traced tensor sizes
                mode="bilinear",
                align_corners=False,
                antialias=self.antialias,
            )
        outputs = self.model(images)
        if isinstance(outputs, tuple):
            return tuple(self._restore(o, height, width) for o in outputs)
        return self._restore(outputs, height, width)

    @staticmethod
    def _restore(logits: Tensor, height: int, width: int) -> Tensor:
        return F.interpolate(logits, size=(height, width), mode="bilinear", align_corners=False)


def with_input_scale(model: nn.Module, scale: float) -> nn.Module:
    """``model`` itself at scale 1, else wrapped in :class:`InputRescale`."""
    return model if scale == 1 else InputRescale(model, scale)
