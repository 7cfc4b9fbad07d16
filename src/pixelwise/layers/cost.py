"""Counting parameters and multiplications of convolutions, as the lecture's
"normal vs separable convolution" slides do, and of whole models by forward hooks."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class LayerCost:
    """Weights (biases excluded unless asked) and multiply-accumulates of one or more layers."""

    params: int
    mults: int

    def __add__(self, other: LayerCost) -> LayerCost:
        return LayerCost(self.params + other.params, self.mults + other.mults)

    @property
    def flops(self) -> int:
        """Floating-point operations, counting a multiply-accumulate as two."""
        return 2 * self.mults


def conv_cost(
    in_channels: int,
    out_channels: int,
    kernel_size: int | tuple[int, int],
    output_size: tuple[int, int],
    *,
    groups: int = 1,
    bias: bool = False,
) -> LayerCost:
    """Cost of a 2-D convolution producing an ``output_size`` (H, W) map.

    ``params = k_h * k_w * (C_in / groups) * C_out (+ C_out)``;
    ``mults = k_h * k_w * (C_in / groups) * C_out * H_out * W_out``.

    Example (the lecture's 5x5 filter over 8x8x3, counted at 8x8 positions):
        >>> conv_cost(3, 256, 5, (8, 8))
        LayerCost(params=19200, mults=1228800)
    """
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    if in_channels % groups or out_channels % groups:
        raise ValueError(f"channels {in_channels}->{out_channels} not divisible by groups={groups}")
    per_output = kh * kw * (in_channels // groups)
    weights = per_output * out_channels
    positions = output_size[0] * output_size[1]
    return LayerCost(weights + (out_channels if bias else 0), per_output * out_channels * positions)


def separable_conv_cost(
    in_channels: int, out_channels: int, kernel_size: int, output_size: tuple[int, int]
) -> LayerCost:
    """Depthwise ``k x k`` (``groups=C_in``) plus pointwise ``1x1`` cost, biases excluded."""
    depthwise = conv_cost(in_channels, in_channels, kernel_size, output_size, groups=in_channels)
    pointwise = conv_cost(in_channels, out_channels, 1, output_size)
    return depthwise + pointwise


def module_cost(
    model: nn.Module, input_shape: tuple[int, ...], *, include_bias: bool = True
) -> LayerCost:
    """Parameters of ``model`` and multiply-accumulates of its convolutions, transposed
    convolutions and linear layers for one forward pass on a zero tensor of ``input_shape``.

    Element-wise work (norms, activations, interpolation) is not counted, as is usual for FLOP
    tables. The model is run in eval mode under ``torch.no_grad`` and restored afterwards.
    """
    mults = 0

    def conv_hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor):
        nonlocal mults
        assert isinstance(module, nn.Conv2d)
        kh, kw = module.kernel_size
        per_output = kh * kw * module.in_channels // module.groups
        mults += per_output * output.numel()

    def tconv_hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor):
        nonlocal mults
        assert isinstance(module, nn.ConvTranspose2d)
        kh, kw = module.kernel_size
        mults += inputs[0].numel() * kh * kw * module.out_channels // module.groups

    def linear_hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor):
        nonlocal mults
        assert isinstance(module, nn.Linear)
        mults += output.numel() * module.in_features

    handles = []
    for sub in model.modules():
        if isinstance(sub, nn.Conv2d):
            handles.append(sub.register_forward_hook(conv_hook))
        elif isinstance(sub, nn.ConvTranspose2d):
            handles.append(sub.register_forward_hook(tconv_hook))
        elif isinstance(sub, nn.Linear):
            handles.append(sub.register_forward_hook(linear_hook))
    was_training = model.training
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(input_shape, device=device))
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    params = sum(
        p.numel()
        for name, p in model.named_parameters()
        if include_bias or not name.endswith("bias")
    )
    return LayerCost(params, mults)


def count_parameters(model: nn.Module, *, trainable_only: bool = False) -> int:
    """Number of parameters (all, or only those with ``requires_grad``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
