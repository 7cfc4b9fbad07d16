"""What every pixelwise model is: logits at input resolution, an optional auxiliary output."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class SegmentationModel(nn.Module):
    """Base class of all registered models.

    Contract:
        ``forward(x)`` with ``x`` of shape ``(N, in_channels, H, W)`` (any H, W, odd included)
        returns logits ``(N, num_classes, H, W)``. A model built with an auxiliary head returns
        ``(logits, aux_logits)`` in training mode only (both at input resolution); in eval mode
        it always returns the logits tensor alone.

    Attributes:
        num_classes, in_channels: as built.
        output_stride: ratio between input size and the coarsest feature map.
    """

    num_classes: int
    in_channels: int
    output_stride: int
    aux_head: nn.Module | None = None

    def _output(self, logits: Tensor, aux_logits: Tensor | None) -> Tensor | tuple[Tensor, Tensor]:
        if self.training and aux_logits is not None:
            return logits, aux_logits
        return logits

    @torch.inference_mode()
    def predict(self, x: Tensor) -> Tensor:
        """Eval-mode logits without autograd (restores the previous mode)."""
        was_training = self.training
        self.eval()
        try:
            logits = self(x)
        finally:
            self.train(was_training)
        return logits
