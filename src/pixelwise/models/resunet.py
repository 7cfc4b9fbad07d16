"""ResUNet (Zhang, Liu and Wang, "Road Extraction by Deep Residual U-Net", IEEE GRSL 2018):
U-Net whose plain units are replaced by pre-activation residual units, with strided
convolutions instead of pooling."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from pixelwise.models.base import SegmentationModel
from pixelwise.registry import register_model

# Parameters the paper reports for its network ("7.8M").
PAPER_PARAMETERS = 7_800_000


def _conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1)


class ResidualUnit(nn.Module):
    """Pre-activation residual unit (He et al., ECCV 2016, as in ResUNet's residual unit figure):
    ``BN -> ReLU -> conv3x3(stride) -> BN -> ReLU -> conv3x3`` plus a 1x1 convolution shortcut
    (with the same stride) that matches channels and size.

    ``first=True`` is ResUNet's first encoder unit, whose first convolution sees the raw input
    (no BN-ReLU before it): ``conv3x3 -> BN -> ReLU -> conv3x3``.

    Shapes: ``(N, C_in, H, W) -> (N, C_out, ceil(H / stride), ceil(W / stride))``.
    """

    def __init__(
        self, in_channels: int, out_channels: int, *, stride: int = 1, first: bool = False
    ) -> None:
        super().__init__()
        pre: list[nn.Module] = [] if first else [nn.BatchNorm2d(in_channels), nn.ReLU()]
        self.body = nn.Sequential(
            *pre,
            _conv3x3(in_channels, out_channels, stride),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
            _conv3x3(out_channels, out_channels),
        )
        self.shortcut = nn.Conv2d(in_channels, out_channels, 1, stride=stride)

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x) + self.shortcut(x)


class ResUNet(SegmentationModel):
    """ResUNet (paper, Table I, with ``base_channels=64``):

    - encoding: unit 1 (64, stride 1, ``first``), unit 2 (128, stride 2), unit 3 (256, stride 2);
    - bridge: unit 4 (512, stride 2);
    - decoding: three times ``upsample x2 -> concatenate with the encoder unit of the same size
      -> residual unit`` (256, 128, 64);
    - a 1x1 convolution to ``num_classes`` logits (the paper applies a sigmoid; losses here
      take logits).

    Upsampling is nearest-neighbour x2 (no parameters), cut to the skip's size so odd inputs
    work. Shapes: ``(N, in_channels, H, W) -> (N, num_classes, H, W)``; output stride 8.
    """

    def __init__(self, *, num_classes: int, in_channels: int = 3, base_channels: int = 64):
        super().__init__()
        if base_channels < 1:
            raise ValueError(f"base_channels must be >= 1, got {base_channels}")
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.output_stride = 8
        widths = [base_channels * 2**level for level in range(4)]
        self.encoder = nn.ModuleList(
            [
                ResidualUnit(in_channels, widths[0], first=True),
                ResidualUnit(widths[0], widths[1], stride=2),
                ResidualUnit(widths[1], widths[2], stride=2),
            ]
        )
        self.bridge = ResidualUnit(widths[2], widths[3], stride=2)
        self.decoder = nn.ModuleList(
            [ResidualUnit(widths[level + 1] + widths[level], widths[level]) for level in (2, 1, 0)]
        )
        self.classifier = nn.Conv2d(widths[0], num_classes, 1)

    def forward(self, x: Tensor) -> Tensor:
        skips: list[Tensor] = []
        features = x
        for unit in self.encoder:
            features = unit(features)
            skips.append(features)
        features = self.bridge(features)
        for unit in self.decoder:
            skip = skips.pop()
            upsampled = F.interpolate(features, scale_factor=2.0, mode="nearest")
            upsampled = upsampled[..., : skip.shape[-2], : skip.shape[-1]]
            features = unit(torch.cat([upsampled, skip], dim=1))
        return self.classifier(features)


@register_model("resunet", paper="Zhang, Liu and Wang, IEEE GRSL 2018")
def build_resunet(*, num_classes: int, in_channels: int = 3, base_channels: int = 64) -> ResUNet:
    """ResUNet; ``base_channels=64`` is the paper's width."""
    return ResUNet(num_classes=num_classes, in_channels=in_channels, base_channels=base_channels)
