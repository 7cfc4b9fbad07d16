"""VGG16 / VGG16-BN encoder (Simonyan & Zisserman, 2015) for FCN, SegNet and DeepLab v1.

``features`` is torchvision's ``vgg16(_bn).features`` index for index, so its ImageNet
weights load strictly; the classifier (``classifier.*``) is dropped and can be turned into
convolutions with :func:`vgg_fc_to_conv` (FCN's "convolutionalisation", Long et al., 2015).
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pixelwise.encoders.weights import TorchvisionEncoder, load_weights

# Configuration "D" of the paper: conv widths, "M" = 2x2 max pooling.
_VGG16_CONFIG: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"
)  # fmt: skip


class VGGEncoder(TorchvisionEncoder):
    """VGG16 backbone returning the 5 pooled maps ``[pool1, ..., pool5]``.

    For ``x`` of shape ``(N, in_channels, H, W)`` the maps have channels (64, 128, 256, 512, 512)
    and spatial size ``ceil(H / r)`` for ``r`` in ``reductions`` = (2, 4, 8, 16, 32). The pools
    use ``ceil_mode=True`` (Caffe's rounding, as in the original FCN/SegNet/DeepLab models):
    every pixel of an odd-sized map falls in some pooling window, and the sizes agree with
    the ResNet and MobileNetV2 encoders. On even sizes this is identical to torchvision.

    ``output_stride`` 16 or 8 is DeepLab v1's modification (Chen et al., 2015, Sec. 3.1):
    pool5 (and pool4 for 8) become 3x3 stride-1 pools with padding 1 and the convs after a
    stride-1 pool are dilated (conv5_x by 2 when ``output_stride=8``); reductions become
    (2, 4, 8, 16, 16) or (2, 4, 8, 8, 8). ``next_dilation`` (32 / output_stride) is the rate a
    convolution after the encoder (fc6) needs to keep the stride-32 network's field of view.

    ``stage_end_indices`` are the indices of the 5 pools in ``features``.
    """

    classifier_prefixes = ("classifier.",)
    first_conv_key = "features.0.weight"

    def __init__(
        self,
        depth: int = 16,
        *,
        batch_norm: bool = False,
        in_channels: int = 3,
        output_stride: int = 32,
        weights: str | os.PathLike[str] | None = None,
    ) -> None:
        super().__init__()
        if depth != 16:
            raise ValueError(f"only VGG depth 16 is provided, got {depth}")
        if output_stride not in (8, 16, 32):
            raise ValueError(f"output_stride must be 32, 16 or 8, got {output_stride}")
        if in_channels < 1:
            raise ValueError(f"in_channels must be >= 1, got {in_channels}")
        self.in_channels = in_channels
        self.batch_norm = batch_norm
        self.weights_name = "vgg16_bn" if batch_norm else "vgg16"
        self.next_dilation = 32 // output_stride

        layers: list[nn.Module] = []
        pool_indices: list[int] = []
        channels, reduction, dilation = in_channels, 1, 1
        for item in _VGG16_CONFIG:
            if item == "M":
                if reduction * 2 <= output_stride:
                    pool = nn.MaxPool2d(2, 2, ceil_mode=True, return_indices=True)
                    reduction *= 2
                else:  # DeepLab v1: stride-1 pool, the following convs dilated
                    pool = nn.MaxPool2d(3, 1, padding=1, ceil_mode=True, return_indices=True)
                    dilation *= 2
                pool_indices.append(len(layers))
                layers.append(pool)
                continue
            assert isinstance(item, int)
            layers.append(nn.Conv2d(channels, item, 3, padding=dilation, dilation=dilation))
            if batch_norm:
                layers.append(nn.BatchNorm2d(item))
            layers.append(nn.ReLU(inplace=True))
            channels = item
        self.features = nn.Sequential(*layers)
        self.stage_end_indices = tuple(pool_indices)
        self.out_channels = (64, 128, 256, 512, 512)
        self.reductions = tuple(min(reduction, output_stride) for reduction in (2, 4, 8, 16, 32))
        self._init_weights()
        load_weights(self, weights)

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                assert module.bias is not None  # every VGG conv is built with a bias
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def _run(self, x: Tensor, indices_out: list[tuple[Tensor, torch.Size]] | None) -> list[Tensor]:
        pooled_maps: list[Tensor] = []
        for layer in self.features:
            if isinstance(layer, nn.MaxPool2d) and indices_out is not None:
                pre_pool_size = x.shape[-2:]
                x, indices = layer(x)
                indices_out.append((indices, pre_pool_size))
                pooled_maps.append(x)
            elif isinstance(layer, nn.MaxPool2d):  # same pool without the int64 indices
                x = F.max_pool2d(
                    x, layer.kernel_size, layer.stride, layer.padding, ceil_mode=layer.ceil_mode
                )
                pooled_maps.append(x)
            else:
                x = layer(x)
        return pooled_maps

    def forward(self, x: Tensor) -> list[Tensor]:
        return self._run(x, None)

    def forward_with_indices(self, x: Tensor) -> tuple[Tensor, list[tuple[Tensor, torch.Size]]]:
        """Return pool5's output and, per pool, ``(indices, pre-pool (H, W))`` for SegNet.

        ``F.max_unpool2d(y, indices, kernel_size=2, stride=2, output_size=size)`` restores
        each pre-pool size exactly, odd sizes included.
        """
        pool_records: list[tuple[Tensor, torch.Size]] = []
        pooled_maps = self._run(x, pool_records)
        return pooled_maps[-1], pool_records


def vgg_fc_to_conv(state_dict: dict[str, Tensor]) -> dict[str, Tensor]:
    """Reshape torchvision VGG's fc6/fc7 into convolution kernels (FCN, Long et al., 2015).

    ``classifier.0`` (Linear 25088 -> 4096 on the map ``(512, 7, 7)`` flattened in C, H, W
    order) becomes ``fc6.weight`` of shape ``(4096, 512, 7, 7)``; ``classifier.3``
    (Linear 4096 -> 4096) becomes ``fc7.weight`` of shape ``(4096, 4096, 1, 1)``; the biases
    are copied to ``fc6.bias`` and ``fc7.bias``. A ``Conv2d(512, 4096, 7)`` with these weights
    on a 7x7 map equals the linear layer on the flattened map, and on a larger map it slides
    the classifier over every 7x7 window. Only the input sizes are checked, so reduced
    output widths convert the same way.
    """
    result: dict[str, Tensor] = {}
    for source, target in (("classifier.0", "fc6"), ("classifier.3", "fc7")):
        weight_key, bias_key = f"{source}.weight", f"{source}.bias"
        if weight_key not in state_dict or bias_key not in state_dict:
            raise KeyError(f"{weight_key!r}/{bias_key!r} missing: not a torchvision VGG state dict")
        weight = state_dict[weight_key]
        if weight.ndim != 2:
            raise ValueError(f"{weight_key} must be 2-D (a Linear weight), got {weight.ndim}-D")
        if target == "fc6":
            if weight.shape[1] != 512 * 7 * 7:
                raise ValueError(
                    f"{weight_key} has {weight.shape[1]} inputs; expected 25088 = 512 x 7 x 7"
                )
            kernel = weight.reshape(weight.shape[0], 512, 7, 7)
        else:
            kernel = weight.reshape(weight.shape[0], weight.shape[1], 1, 1)
        result[f"{target}.weight"] = kernel.clone()
        result[f"{target}.bias"] = state_dict[bias_key].clone()
    return result
