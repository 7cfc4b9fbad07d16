"""``optimize_for_inference``: BatchNorm folding is exact and never breaks shared tensors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pixelwise import create_model
from pixelwise.models._inference import fold_batchnorm, optimize_for_inference


def _randomise_batchnorms(model: nn.Module, seed: int = 0) -> None:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                channels = module.num_features
                module.running_mean.copy_(torch.rand(channels, generator=generator) - 0.5)
                module.running_var.copy_(torch.rand(channels, generator=generator) + 0.5)
                module.weight.copy_(torch.rand(channels, generator=generator) * 0.5 + 0.5)
                module.bias.copy_(torch.rand(channels, generator=generator) - 0.5)


def _batchnorm_count(model: nn.Module) -> int:
    return sum(isinstance(module, nn.BatchNorm2d) for module in model.modules())


@pytest.mark.parametrize(("groups", "bias"), [(1, False), (1, True), (4, False), (8, True)])
def test_fold_batchnorm_matches_conv_then_batchnorm_in_float64(groups, bias):
    torch.manual_seed(0)
    conv = nn.Conv2d(8, 16, 3, padding=2, dilation=2, groups=groups, bias=bias).double()
    bn = nn.BatchNorm2d(16).double()
    _randomise_batchnorms(bn)
    bn.eval()
    x = torch.randn(2, 8, 11, 13, dtype=torch.float64)
    # Reference: the BatchNorm formula written out, y = g * (conv(x) - m) / sqrt(v + eps) + b.
    conv_out = conv(x)
    expected = (conv_out - bn.running_mean[:, None, None]) / torch.sqrt(
        bn.running_var[:, None, None] + bn.eps
    ) * bn.weight[:, None, None] + bn.bias[:, None, None]
    with torch.no_grad():
        fold_batchnorm(conv, bn)
        torch.testing.assert_close(conv(x), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("deeplab_v3", {"encoder": "resnet18"}),
        ("deeplab_v3plus", {"encoder": "mobilenet_v2"}),
        ("pspnet", {"encoder": "resnet18", "aux": True}),
    ],
)
def test_optimize_for_inference_is_exact_and_folds_every_batchnorm(name, options):
    torch.manual_seed(0)
    model = create_model(name, num_classes=5, **options)
    _randomise_batchnorms(model)
    model.eval()
    original_state = {k: v.clone() for k, v in model.state_dict().items()}
    optimized = optimize_for_inference(model)
    # Every BatchNorm that runs in eval mode is folded; the auxiliary head only runs in training.
    aux_batchnorms = _batchnorm_count(model.aux_head) if model.aux_head is not None else 0
    assert _batchnorm_count(optimized) == aux_batchnorms
    assert not optimized.training
    # The original model is left untouched.
    assert _batchnorm_count(model) > 0
    for key, value in model.state_dict().items():
        assert torch.equal(value, original_state[key])
    x = torch.randn(1, 3, 57, 71)
    with torch.no_grad():
        expected = model(x)
        actual = optimized(x.to(memory_format=torch.channels_last))
    scale = expected.abs().max()
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-5 * float(scale))


class _SharedConvOutput(nn.Module):
    """A conv whose output feeds both a BatchNorm and a residual add (pre-activation wiring)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 4, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(4)
        self.in_channels = 3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.conv(x)
        return features + self.bn2(self.conv2(torch.relu(self.bn(features))))


def test_batchnorm_after_a_shared_conv_output_is_not_folded():
    model = _SharedConvOutput()
    _randomise_batchnorms(model)
    model.eval()
    optimized = optimize_for_inference(model, channels_last=False)
    assert isinstance(optimized.bn, nn.BatchNorm2d)  # conv output also feeds the residual add
    assert isinstance(optimized.bn2, nn.Identity)  # conv2's output feeds only bn2
    x = torch.randn(2, 3, 9, 10)
    with torch.no_grad():
        torch.testing.assert_close(optimized(x), model(x), rtol=1e-5, atol=1e-6)


def test_channels_last_parameters():
    model = create_model("deeplab_v3", num_classes=2, encoder="resnet18")
    optimized = optimize_for_inference(model)
    weight = optimized.backbone.layer1[0].conv1.weight
    assert weight.is_contiguous(memory_format=torch.channels_last)
    assert not weight.is_contiguous()
