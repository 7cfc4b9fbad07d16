"""Convolution -> normalisation -> activation, the unit every architecture here is built from."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

NormSpec = str | Callable[[int], nn.Module] | None
ActSpec = str | Callable[[], nn.Module] | None

_NORMS = ("batch", "group", "instance", "none")
_ACTS = ("relu", "relu6", "leaky_relu", "gelu", "silu", "sigmoid", "tanh", "none")


class SafeBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm that falls back to its running statistics when a batch has one value per channel.

    Branches that pool the whole image to 1x1 (DeepLab v3's image pooling, PSPNet's bin 1) feed
    BatchNorm a single value per channel when the batch size is 1, which plain BatchNorm rejects
    in training mode. Here that case is normalised with the running statistics (as in eval mode)
    and the statistics are not updated. Keys and parameters are those of ``nn.BatchNorm2d``.
    """

    def forward(self, x: Tensor) -> Tensor:
        if self.training and x.shape[0] * x.shape[2] * x.shape[3] == 1:
            return nn.functional.batch_norm(
                x, self.running_mean, self.running_var, self.weight, self.bias, False, 0.0, self.eps
            )
        return super().forward(x)


def make_norm(norm: NormSpec, channels: int) -> nn.Module | None:
    """Build a normalisation layer: ``"batch"``, ``"group"`` (32 groups or fewer), ``"instance"``,
    ``"none"``/``None``, or a callable taking the channel count."""
    if norm is None or norm == "none":
        return None
    if callable(norm):
        return norm(channels)
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    if norm == "group":
        groups = next(g for g in (32, 16, 8, 4, 2, 1) if channels % g == 0)
        return nn.GroupNorm(groups, channels)
    if norm == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    raise ValueError(f"unknown norm {norm!r}; choose one of {', '.join(_NORMS)} or pass a callable")


def make_activation(act: ActSpec) -> nn.Module | None:
    """Build an activation: ``"relu"``, ``"relu6"``, ``"leaky_relu"``, ``"gelu"``, ``"silu"``,
    ``"sigmoid"``, ``"tanh"``, ``"none"``/``None``, or a zero-argument callable."""
    if act is None or act == "none":
        return None
    if callable(act):
        return act()
    table: dict[str, Callable[[], nn.Module]] = {
        "relu": lambda: nn.ReLU(inplace=True),
        "relu6": lambda: nn.ReLU6(inplace=True),
        "leaky_relu": lambda: nn.LeakyReLU(0.01, inplace=True),
        "gelu": nn.GELU,
        "silu": lambda: nn.SiLU(inplace=True),
        "sigmoid": nn.Sigmoid,
        "tanh": nn.Tanh,
    }
    if act not in table:
        raise ValueError(f"unknown activation {act!r}; choose one of {', '.join(_ACTS)}")
    return table[act]()


class ConvNormAct(nn.Sequential):
    """``Conv2d`` -> optional norm -> optional activation, as an ``nn.Sequential``.

    Padding defaults to ``dilation * (kernel_size - 1) // 2`` ("same" for odd kernels at stride
    1). The convolution has a bias only when there is no norm layer (a bias before BatchNorm is
    redundant). Indices follow torchvision's blocks (``0`` conv, ``1`` norm, ``2`` act), so
    state-dict keys line up with theirs.

    Shapes: ``(N, in_channels, H, W) -> (N, out_channels, H', W')`` with
    ``H' = floor((H + 2p - d(k-1) - 1) / s) + 1``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        *,
        stride: int = 1,
        padding: int | None = None,
        dilation: int = 1,
        groups: int = 1,
        norm: NormSpec = "batch",
        act: ActSpec = "relu",
        bias: bool | None = None,
    ) -> None:
        if padding is None:
            padding = dilation * (kernel_size - 1) // 2
        norm_layer = make_norm(norm, out_channels)
        conv = nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=padding,
            dilation=dilation,
            groups=groups,
            bias=(norm_layer is None) if bias is None else bias,
        )
        layers: list[nn.Module] = [conv]
        if norm_layer is not None:
            layers.append(norm_layer)
        act_layer = make_activation(act)
        if act_layer is not None:
            layers.append(act_layer)
        super().__init__(*layers)
        self.in_channels = in_channels
        self.out_channels = out_channels


def pooled_conv_norm_act(in_channels: int, out_channels: int) -> nn.Sequential:
    """1x1 conv -> ``SafeBatchNorm2d`` -> ReLU, for branches that see a pooled (tiny) map."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 1, bias=False),
        SafeBatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


def resize_to(x: Tensor, size: tuple[int, int] | torch.Size, mode: str = "bilinear") -> Tensor:
    """Bilinear (``align_corners=False``) or nearest resize to ``size`` (H, W); no-op if equal."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    if mode == "nearest":
        return nn.functional.interpolate(x, size=tuple(size), mode="nearest")
    return nn.functional.interpolate(x, size=tuple(size), mode=mode, align_corners=False)
