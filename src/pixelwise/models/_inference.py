"""Inference-time rewrites that leave a model's outputs unchanged (up to float rounding):
BatchNorm folded into the preceding convolution and the channels-last memory format."""

from __future__ import annotations

import copy
from collections import Counter

import torch
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_leaves

# Tensor functions that read metadata only; every other function taking a convolution's output
# counts as a consumer of it (over-counting only makes folding more conservative).
_METADATA_FUNCTIONS = {
    Tensor.size,
    Tensor.dim,
    Tensor.numel,
    Tensor.stride,
    Tensor.is_contiguous,
    Tensor.__len__,
    Tensor.shape.__get__,  # type: ignore[attr-defined]
    Tensor.ndim.__get__,  # type: ignore[attr-defined]
    Tensor.dtype.__get__,  # type: ignore[attr-defined]
    Tensor.device.__get__,  # type: ignore[attr-defined]
    Tensor.requires_grad.__get__,  # type: ignore[attr-defined]
}


class _ConsumerCounter(TorchFunctionMode):
    """Counts, per tensor id, the torch functions that take the tensor as an input."""

    def __init__(self) -> None:
        super().__init__()
        self.uses: Counter[int] = Counter()

    def __torch_function__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        kwargs = kwargs or {}
        if func not in _METADATA_FUNCTIONS:
            for leaf in tree_leaves((args, kwargs)):
                if isinstance(leaf, Tensor):
                    self.uses[id(leaf)] += 1
        return func(*args, **kwargs)


def _foldable_pairs(model: nn.Module, example: Tensor) -> list[tuple[str, str]]:
    """Names ``(conv, batchnorm)`` where, in one traced forward pass, the BatchNorm's input is
    the convolution's output, nothing else reads that output and each runs exactly once."""
    calls: Counter[str] = Counter()
    conv_outputs: dict[int, str] = {}
    kept_alive: list[Tensor] = []  # so tensor ids stay unique during the pass
    bn_inputs: dict[str, int] = {}
    counter = _ConsumerCounter()

    def conv_hook(name: str):  # type: ignore[no-untyped-def]
        def hook(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> None:
            calls[name] += 1
            conv_outputs[id(output)] = name
            kept_alive.append(output)
            counter.uses[id(output)] = 0

        return hook

    def bn_hook(name: str):  # type: ignore[no-untyped-def]
        def hook(module: nn.Module, inputs: tuple[Tensor, ...]) -> None:
            calls[name] += 1
            bn_inputs[name] = id(inputs[0])

        return hook

    handles = []
    for name, module in model.named_modules():
        if type(module) is nn.Conv2d:
            handles.append(module.register_forward_hook(conv_hook(name)))
        elif isinstance(module, nn.BatchNorm2d) and module.track_running_stats:
            handles.append(module.register_forward_pre_hook(bn_hook(name)))
    try:
        with torch.no_grad(), counter:
            model(example)
    finally:
        for handle in handles:
            handle.remove()
    pairs = []
    for bn_name, input_id in bn_inputs.items():
        conv_name = conv_outputs.get(input_id)
        if (
            conv_name is not None
            and calls[conv_name] == 1
            and calls[bn_name] == 1
            and counter.uses[input_id] == 1
        ):
            pairs.append((conv_name, bn_name))
    return pairs


@torch.no_grad()
def fold_batchnorm(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> None:
    """Fold an eval-mode ``bn`` into ``conv`` in place:
    ``W' = W * g / sqrt(v + eps)`` per output channel, ``b' = (b - m) * g / sqrt(v + eps) + beta``.
    """
    assert bn.running_mean is not None and bn.running_var is not None
    scale = torch.rsqrt(bn.running_var + bn.eps)
    if bn.weight is not None:
        scale = scale * bn.weight
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    new_bias = (bias - bn.running_mean) * scale
    if bn.bias is not None:
        new_bias = new_bias + bn.bias
    conv.weight.mul_(scale.reshape(-1, 1, 1, 1))
    conv.bias = nn.Parameter(
        new_bias.to(conv.weight.dtype), requires_grad=conv.weight.requires_grad
    )


def _set_submodule(model: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, attribute = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, attribute, module)


def optimize_for_inference(
    model: nn.Module,
    *,
    example_input: Tensor | None = None,
    channels_last: bool = True,
    inplace: bool = False,
) -> nn.Module:
    """Return an eval-mode copy of ``model`` with every BatchNorm that directly follows a
    convolution folded into it (and replaced by ``nn.Identity``) and, if ``channels_last``, its
    parameters in the channels-last memory format (feed it ``x.to(memory_format=
    torch.channels_last)`` for full effect). Outputs match the original to float rounding.

    Foldable pairs are found by running ``example_input`` (default: zeros of shape
    ``(1, model.in_channels, 64, 64)``) and keeping BatchNorms whose input is a convolution's
    output that nothing else reads, so residual or pre-activation wiring is never broken.
    """
    if not inplace:
        model = copy.deepcopy(model)
    model.eval()
    if example_input is None:
        in_channels = int(getattr(model, "in_channels", 3))
        parameter = next(model.parameters(), None)
        device = parameter.device if parameter is not None else torch.device("cpu")
        example_input = torch.zeros(1, in_channels, 64, 64, device=device)
    for conv_name, bn_name in _foldable_pairs(model, example_input):
        conv = model.get_submodule(conv_name)
        bn = model.get_submodule(bn_name)
        assert isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d)
        fold_batchnorm(conv, bn)
        _set_submodule(model, bn_name, nn.Identity())
    if channels_last:
        model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    return model
