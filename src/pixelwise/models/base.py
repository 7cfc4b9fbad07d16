"""What every pixelwise model is: logits at input resolution, an optional auxiliary output."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from pixelwise.encoders.base import Encoder


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
        encoder: every model built on an :class:`~pixelwise.encoders.Encoder` (the ``encoder=``
            option: FCN, U-Net, ResUNet, ParseNet, SegNet, DeepLab v1/v2/v3/v3+, PSPNet)
            exposes it as ``model.encoder``: the submodule ``encoder``, or, where torchvision's
            state-dict names are kept, a read-only alias of the submodule ``backbone``
            (:class:`BackboneModel`). The trainer freezes it or gives it its own learning rate
            (``train.freeze_encoder_epochs``, ``optim.encoder_lr``). With their built-in
            encoders, ResUNet's and SegNet-Basic's ``encoder`` is the ``nn.ModuleList`` of their
            encoder units and the paper's U-Net has none (``encoder`` is None).
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


class BackboneModel(SegmentationModel):
    """A model whose :class:`~pixelwise.encoders.Encoder` is the submodule ``backbone``
    (torchvision's name, kept for its state-dict keys); ``encoder`` is the same module."""

    backbone: Encoder

    @property
    def encoder(self) -> Encoder:
        """The model's encoder (the submodule ``backbone``)."""
        return self.backbone


class EncoderHeadModel(BackboneModel):
    """Encoder -> head on the deepest map -> bilinear resize to the input size, with an optional
    auxiliary FCN head on the second-deepest map (torchvision's simple segmentation model;
    attribute names ``backbone``, ``classifier``, ``aux_classifier`` match its state dicts).

    Shapes: ``(N, in_channels, H, W) -> (N, num_classes, H, W)`` (and the same for the
    auxiliary logits, returned in training mode only).
    """

    def __init__(
        self,
        encoder: Encoder,
        classifier: nn.Module,
        aux_classifier: nn.Module | None,
        *,
        num_classes: int,
        in_channels: int,
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.output_stride = encoder.output_stride
        self.backbone = encoder
        self.classifier = classifier
        self.aux_classifier = aux_classifier

    def forward(self, x: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        from pixelwise.layers.conv_norm_act import resize_to

        size = x.shape[-2:]
        features = self.backbone(x)
        return self._output(resize_to(self.classifier(features[-1]), size), features, size)
