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

    @property
    def aux_head(self) -> nn.Module | None:
        """The auxiliary classifier (attribute ``aux_classifier``), None when built without."""
        return getattr(self, "aux_classifier", None)

    def _output(
        self, logits: Tensor, features: list[Tensor], size: torch.Size
    ) -> Tensor | tuple[Tensor, Tensor]:
        """``logits`` alone, or with the aux head's logits on ``features[-2]`` (resized to
        ``size``) in training mode when the model has an aux head."""
        aux_head = self.aux_head
        if not self.training or aux_head is None:
            return logits
        from pixelwise.layers.conv_norm_act import resize_to

        return logits, resize_to(aux_head(features[-2]), size)

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


class EncoderHeadModel(SegmentationModel):
    """Encoder -> head on the deepest map -> bilinear resize to the input size, with an optional
    auxiliary FCN head on the second-deepest map (torchvision's simple segmentation model;
    attribute names ``backbone``, ``classifier``, ``aux_classifier`` match its state dicts).

    Shapes: ``(N, in_channels, H, W) -> (N, num_classes, H, W)`` (and the same for the
    auxiliary logits, returned in training mode only).
    """

    def __init__(
        self,
        backbone: nn.Module,
        classifier: nn.Module,
        aux_classifier: nn.Module | None,
        *,
        num_classes: int,
        in_channels: int,
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.output_stride = int(getattr(backbone, "output_stride", 1))
        self.backbone = backbone
        self.classifier = classifier
        self.aux_classifier = aux_classifier

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        from pixelwise.layers.conv_norm_act import resize_to

        size = x.shape[-2:]
        features = self.backbone(x)
        return self._output(resize_to(self.classifier(features[-1]), size), features, size)
