"""ResNet-18/34/50/101 encoders (He et al., 2016) with DeepLab's atrous output strides.

Keys and shapes are torchvision's ``resnet*`` minus ``fc``, so its ImageNet weights load
strictly. ``output_stride`` 16 or 8 replaces the stride of layer4 (and layer3) by dilation, as
torchvision's ``replace_stride_with_dilation`` does; ``multi_grid`` is DeepLab v3's Multi-Grid
(Chen et al., 2017, Sec. 3.2).
"""

from __future__ import annotations

import os

from torch import Tensor, nn

from pixelwise.encoders.weights import TorchvisionEncoder, load_weights

_LAYER_BLOCKS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}
_STRIDES_REPLACED = {32: (False, False, False), 16: (False, False, True), 8: (False, True, True)}


def _conv3x3(in_channels: int, out_channels: int, stride: int = 1, dilation: int = 1) -> nn.Conv2d:
    return nn.Conv2d(
        in_channels, out_channels, 3, stride, padding=dilation, dilation=dilation, bias=False
    )


def _conv1x1(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 1, stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convs + identity: ``(N, C_in, H, W) -> (N, C, H/stride, W/stride)``.

    Unlike torchvision's, it can be dilated: ``stride_dilation`` is the rate of conv1 (the conv
    that carries the block's stride, default ``dilation``) and ``dilation`` that of conv2.
    """

    expansion = 1

    def __init__(
        self,
        in_channels: int,
        channels: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        dilation: int = 1,
        stride_dilation: int | None = None,
    ) -> None:
        super().__init__()
        stride_dilation = dilation if stride_dilation is None else stride_dilation
        self.conv1 = _conv3x3(in_channels, channels, stride, stride_dilation)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = _conv3x3(channels, channels, 1, dilation)
        self.bn2 = nn.BatchNorm2d(channels)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 -> 3x3 (stride) -> 1x1 (x4 channels) + identity (ResNet v1.5: stride on the 3x3).

    ``(N, C_in, H, W) -> (N, 4C, H/stride, W/stride)``. The 3x3 conv carries the stride, so its
    rate is ``stride_dilation`` (default ``dilation``).
    """

    expansion = 4

    def __init__(
        self,
        in_channels: int,
        channels: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        dilation: int = 1,
        stride_dilation: int | None = None,
    ) -> None:
        super().__init__()
        stride_dilation = dilation if stride_dilation is None else stride_dilation
        self.conv1 = _conv1x1(in_channels, channels)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = _conv3x3(channels, channels, stride, stride_dilation)
        self.bn2 = nn.BatchNorm2d(channels)
        self.conv3 = _conv1x1(channels, channels * self.expansion)
        self.bn3 = nn.BatchNorm2d(channels * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


def _make_layer(
    block: type[BasicBlock | Bottleneck],
    in_planes: int,
    channels: int,
    stride: int,
    dilations: list[int],
    first_stride_dilation: int,
) -> nn.Sequential:
    """One ResNet stage of ``len(dilations)`` blocks; the first block carries the stride.

    Block ``i``'s 3x3 convs use ``dilations[i]``, except the first block's strided conv, which
    uses ``first_stride_dilation``.
    """
    out_channels = channels * block.expansion
    downsample = None
    if stride != 1 or in_planes != out_channels:
        downsample = nn.Sequential(
            _conv1x1(in_planes, out_channels, stride), nn.BatchNorm2d(out_channels)
        )
    blocks = [block(in_planes, channels, stride, downsample, dilations[0], first_stride_dilation)]
    blocks += [block(out_channels, channels, 1, None, rate) for rate in dilations[1:]]
    return nn.Sequential(*blocks)


class ResNetEncoder(TorchvisionEncoder):
    """ResNet backbone returning ``[stem, layer1, layer2, layer3, layer4]``.

    For ``x`` of shape ``(N, in_channels, H, W)`` the maps have ``out_channels``
    (64, 64, 128, 256, 512) for depth 18/34 or (64, 256, 512, 1024, 2048) for 50/101 and
    spatial size ``ceil(H / r)`` for ``r`` in ``reductions``: (2, 4, 8, 16, 32), or
    (2, 4, 8, 16, 16) with ``output_stride=16`` and (2, 4, 8, 8, 8) with 8.

    Dilation follows torchvision (the "atrous algorithm"): a layer whose stride is removed
    multiplies the dilation by 2; the conv that carried the stride keeps the previous dilation
    and every later 3x3 conv uses the new one, so the dilated map subsampled by
    ``32 / output_stride`` equals the undilated network's map (same weights, eval mode). With
    ``multi_grid=(r1, r2, r3)`` the 3x3 convs of layer4's blocks use ``unit_rate * r_i`` where
    the unit rate is layer4's dilation (1, 2 or 4 at output stride 32, 16, 8), so
    ``output_stride=16, multi_grid=(1, 2, 4)`` gives rates (2, 4, 8) as in DeepLab v3.
    """

    classifier_prefixes = ("fc.",)
    first_conv_key = "conv1.weight"

    def __init__(
        self,
        depth: int,
        *,
        in_channels: int = 3,
        output_stride: int = 32,
        multi_grid: tuple[int, ...] | None = None,
        weights: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__()
        if depth not in _LAYER_BLOCKS:
            raise ValueError(f"ResNet depth must be one of {sorted(_LAYER_BLOCKS)}, got {depth}")
        if output_stride not in _STRIDES_REPLACED:
            raise ValueError(f"output_stride must be 32, 16 or 8, got {output_stride}")
        if in_channels < 1:
            raise ValueError(f"in_channels must be >= 1, got {in_channels}")
        block: type[BasicBlock | Bottleneck] = BasicBlock if depth < 50 else Bottleneck
        blocks_per_layer = _LAYER_BLOCKS[depth]
        if multi_grid is not None and (
            len(multi_grid) != blocks_per_layer[3] or any(rate < 1 for rate in multi_grid)
        ):
            raise ValueError(
                f"multi_grid must hold {blocks_per_layer[3]} positive rates (one per block of "
                f"ResNet-{depth}'s layer4), got {multi_grid}"
            )
        self.depth = depth
        self.in_channels = in_channels
        self.weights_name = f"resnet{depth}"
        self.multi_grid = None if multi_grid is None else tuple(multi_grid)

        self.conv1 = nn.Conv2d(in_channels, 64, 7, 2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)

        replaced = _STRIDES_REPLACED[output_stride]
        in_planes, dilation = 64, 1
        layers: list[nn.Sequential] = []
        for index, channels in enumerate((64, 128, 256, 512)):
            stride, previous_dilation = (1 if index == 0 else 2), dilation
            if index > 0 and replaced[index - 1]:
                stride, dilation = 1, dilation * 2
            if multi_grid is not None and index == 3:
                dilations = [dilation * rate for rate in multi_grid]
                first_stride_dilation = dilations[0]
            else:
                dilations = [dilation] * blocks_per_layer[index]
                first_stride_dilation = previous_dilation
            layers.append(
                _make_layer(block, in_planes, channels, stride, dilations, first_stride_dilation)
            )
            in_planes = channels * block.expansion
        self.layer1, self.layer2, self.layer3, self.layer4 = layers

        expansion = block.expansion
        self.out_channels = (64, 64 * expansion, 128 * expansion, 256 * expansion, 512 * expansion)
        self.reductions = tuple(min(reduction, output_stride) for reduction in (2, 4, 8, 16, 32))
        self._init_weights()
        load_weights(self, weights)

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, x: Tensor) -> list[Tensor]:
        stem = self.relu(self.bn1(self.conv1(x)))
        features = [stem]
        out = self.maxpool(stem)
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            out = layer(out)
            features.append(out)
        return features
