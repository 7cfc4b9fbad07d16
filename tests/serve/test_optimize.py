"""The CPU copy of the model the server runs: same logits, or the model as loaded."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pixelwise import create_model
from pixelwise.serve import optimize
from pixelwise.serve.optimize import ChannelsLast, optimize_for_cpu


def test_unet_is_folded_and_channels_last() -> None:
    model = create_model("unet", num_classes=5, in_channels=3, base_channels=8, depth=2).eval()
    served = optimize_for_cpu(model, 3)
    assert isinstance(served, ChannelsLast)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in served.modules())
    x = torch.rand(2, 3, 40, 56)
    with torch.inference_mode():
        torch.testing.assert_close(served(x), model(x), atol=1e-4, rtol=1e-4)


class Branchy(nn.Module):
    """A BatchNorm that follows a convolution outside a Sequential: not folded."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.bn = nn.Conv2d(3, 2, 3, padding=1), nn.BatchNorm2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x) + 1)


def test_batchnorm_outside_a_sequential_stays() -> None:
    model = Branchy().eval()
    model.bn.running_mean.fill_(0.3)
    served = optimize_for_cpu(model, 3)
    assert isinstance(served, ChannelsLast)
    assert any(isinstance(m, nn.BatchNorm2d) for m in served.modules())
    x = torch.rand(1, 3, 8, 8)
    with torch.inference_mode():
        torch.testing.assert_close(served(x), model(x))


def test_a_copy_that_differs_is_not_served(monkeypatch: pytest.MonkeyPatch) -> None:
    model = Branchy().eval()
    monkeypatch.setattr(optimize, "_fused", lambda m: nn.Conv2d(3, 2, 1))
    assert optimize_for_cpu(model, 3) is model
