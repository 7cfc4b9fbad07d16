"""MobileNetV2 encoder (Sandler et al., 2018) for light DeepLab v3+.

``features`` reproduces torchvision's ``mobilenet_v2().features`` (indices 0..18, inverted
residual blocks with keys ``conv.0.0.weight`` ...), so its ImageNet weights load strictly.
"""

from __future__ import annotations

import os

from torch import Tensor, nn

from pixelwise.encoders.weights import TorchvisionEncoder, load_weights

# (expansion t, output channels c, repeats n, first stride s): Table 2 of the paper.
_INVERTED_RESIDUAL_SETTING = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
_STAGE_END_INDICES = (1, 3, 6, 13, 18)


def _conv_bn_relu6(
    in_channels: int,
    out_channels: int,
    kernel_size: int = 3,
    stride: int = 1,
    groups: int = 1,
    dilation: int = 1,
) -> nn.Sequential:
    """torchvision's ``Conv2dNormActivation`` layout: keys ``0.weight`` (conv), ``1.*`` (BN)."""
    padding = (kernel_size - 1) // 2 * dilation
    return nn.Sequential(
        nn.Conv2d(
            in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias=False
        ),
        nn.BatchNorm2d(out_channels),
        nn.ReLU6(inplace=True),
    )


class InvertedResidual(nn.Module):
    """1x1 expand (ReLU6) -> 3x3 depthwise (stride, dilation, ReLU6) -> 1x1 linear projection.

    ``(N, C_in, H, W) -> (N, C_out, H/stride, W/stride)``, with the identity added when
    ``stride == 1`` and ``C_in == C_out``.
    """

    def __init__(
        self, in_channels: int, out_channels: int, stride: int, expand_ratio: int, dilation: int
    ) -> None:
        super().__init__()
        hidden = in_channels * expand_ratio
        self.use_res_connect = stride == 1 and in_channels == out_channels
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(_conv_bn_relu6(in_channels, hidden, kernel_size=1))
        layers += [
            _conv_bn_relu6(hidden, hidden, 3, stride, groups=hidden, dilation=dilation),
            nn.Conv2d(hidden, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
        ]
        self.conv = nn.Sequential(*layers)
        self.out_channels = out_channels

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv(x)
        return x + out if self.use_res_connect else out


class MobileNetV2Encoder(TorchvisionEncoder):
    """MobileNetV2 (width 1.0) returning the outputs of ``features[i]`` for i in (1, 3, 6, 13, 18).

    For ``x`` of shape ``(N, in_channels, H, W)`` the maps have channels (16, 24, 32, 96, 1280)
    and spatial size ``ceil(H / r)`` for ``r`` in ``reductions`` = (2, 4, 8, 16, 32).

    ``output_stride`` 16 or 8 removes the later strides and dilates the depthwise convs after
    them, following DeepLab's reference MobileNetV2 (``current_stride``/``rate`` bookkeeping
    in TF-slim): a block whose stride is removed keeps the current rate, and the rate is
    multiplied by 2 for the blocks after it. Reductions become (2, 4, 8, 16, 16) or
    (2, 4, 8, 8, 8).
    """

    classifier_prefixes = ("classifier.",)
    first_conv_key = "features.0.0.weight"
    weights_name = "mobilenet_v2"
    stage_end_indices = _STAGE_END_INDICES

    def __init__(
        self,
        *,
        in_channels: int = 3,
        output_stride: int = 32,
        weights: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__()
        if output_stride not in (8, 16, 32):
            raise ValueError(f"output_stride must be 32, 16 or 8, got {output_stride}")
        if in_channels < 1:
            raise ValueError(f"in_channels must be >= 1, got {in_channels}")
        self.in_channels = in_channels

        layers: list[nn.Module] = [_conv_bn_relu6(in_channels, 32, 3, stride=2)]
        current_stride, rate, channels = 2, 1, 32
        for expand_ratio, out_channels, repeats, first_stride in _INVERTED_RESIDUAL_SETTING:
            for repeat in range(repeats):
                stride = first_stride if repeat == 0 else 1
                block_rate = rate
                if stride > 1 and current_stride == output_stride:
                    stride, rate = 1, rate * stride
                else:
                    current_stride *= stride
                layers.append(
                    InvertedResidual(channels, out_channels, stride, expand_ratio, block_rate)
                )
                channels = out_channels
        layers.append(_conv_bn_relu6(channels, 1280, kernel_size=1))
        self.features = nn.Sequential(*layers)
        self.out_channels = (16, 24, 32, 96, 1280)
        self.reductions = tuple(min(reduction, output_stride) for reduction in (2, 4, 8, 16, 32))
        self._init_weights()
        load_weights(self, weights)

    def _init_weights(self) -> None:
        # torchvision's MobileNetV2 init: kaiming normal (fan_out) convs, BN weight 1 bias 0.
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, x: Tensor) -> list[Tensor]:
        features: list[Tensor] = []
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in _STAGE_END_INDICES:
                features.append(x)
        return features
