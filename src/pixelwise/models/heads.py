"""Heads shared by several models."""

from __future__ import annotations

from torch import nn

from pixelwise.layers.conv_norm_act import ConvNormAct


class FCNHead(nn.Sequential):
    """torchvision's FCN head (also its auxiliary head): 3x3 conv to ``in_channels // 4`` -> BN
    -> ReLU -> dropout 0.1 -> 1x1 conv to classes. Key names match torchvision's
    ``FCNHead`` (``0`` conv, ``1`` BN, ``4`` classifier).

    Shapes: ``(N, C, H, W) -> (N, num_classes, H, W)``.
    """

    def __init__(self, in_channels: int, num_classes: int, *, dropout: float = 0.1) -> None:
        hidden = in_channels // 4
        super().__init__(
            *ConvNormAct(in_channels, hidden, 3),
            nn.Dropout(dropout),
            nn.Conv2d(hidden, num_classes, 1),
        )
