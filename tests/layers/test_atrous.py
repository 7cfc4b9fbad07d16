from __future__ import annotations

import pytest
import torch
from torch.nn import functional as F

from pixelwise.layers import AtrousConv2d, AtrousSeparableConv2d, upsample_filter


@pytest.mark.parametrize("rate", [1, 2, 3, 6])
def test_atrous_equals_convolution_with_zero_inserted_filter(rate: int) -> None:
    torch.manual_seed(rate)
    layer = AtrousConv2d(4, 5, 3, rate=rate).double()
    x = torch.randn(2, 4, 23, 31, dtype=torch.float64)
    dense = upsample_filter(layer.weight, rate)
    assert dense.shape[-1] == 2 * rate + 1
    reference = F.conv2d(x, dense, layer.bias, padding=rate)
    torch.testing.assert_close(layer(x), reference)
    assert layer(x).shape == x.shape[:1] + (5,) + x.shape[2:]


def test_atrous_definition_in_one_dimension() -> None:
    # y(i) = sum_k x(i + r k) w(k), evaluated literally on a 1-D signal (no padding).
    rate, taps = 3, torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64)
    signal = torch.arange(20, dtype=torch.float64) ** 1.5
    layer = AtrousConv2d(1, 1, (1, 3), rate=rate, padding=0, bias=False).double()  # type: ignore[arg-type]
    with torch.no_grad():
        layer.weight.copy_(taps.view(1, 1, 1, 3))
    out = layer(signal.view(1, 1, 1, -1)).flatten()
    literal = [sum(signal[i + rate * k] * taps[k] for k in range(3)) for i in range(20 - 2 * rate)]
    torch.testing.assert_close(out, torch.stack(literal))


def test_atrous_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="rate"):
        AtrousConv2d(1, 1, rate=0)


def test_atrous_separable_has_fewer_parameters() -> None:
    layer = AtrousSeparableConv2d(64, 128, 3, rate=4, norm=None, act=None, bias=False)
    assert sum(p.numel() for p in layer.parameters()) == 3 * 3 * 64 + 64 * 128
    x = torch.randn(1, 64, 17, 19)
    assert layer(x).shape == (1, 128, 17, 19)
