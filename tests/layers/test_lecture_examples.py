"""The lecture's worked examples, reproduced exactly with the operations as defined.

Where a slide's arithmetic slips, the test asserts the true value and says what the slide printed.
"""

from __future__ import annotations

import torch

from pixelwise.layers import (
    MaxPoolWithIndices,
    MaxUnpool,
    TransposedConvUpsample,
    bed_of_nails_upsample,
    conv_cost,
    nearest_upsample,
    separable_conv_cost,
)

SMALL = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 1, 2, 2)


def test_nearest_neighbour_unpooling() -> None:
    expected = torch.tensor(
        [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]], dtype=torch.float32
    )
    assert torch.equal(nearest_upsample(SMALL)[0, 0], expected)


def test_bed_of_nails_unpooling() -> None:
    expected = torch.tensor(
        [[1, 0, 2, 0], [0, 0, 0, 0], [3, 0, 4, 0], [0, 0, 0, 0]], dtype=torch.float32
    )
    assert torch.equal(bed_of_nails_upsample(SMALL)[0, 0], expected)


def test_max_pooling_and_max_unpooling_with_indices() -> None:
    image = torch.tensor(
        [[1, 2, 6, 3], [3, 5, 2, 1], [1, 2, 2, 1], [7, 3, 4, 8]], dtype=torch.float32
    ).view(1, 1, 4, 4)
    pooled, indices, size = MaxPoolWithIndices()(image)
    assert torch.equal(pooled[0, 0], torch.tensor([[5.0, 6.0], [7.0, 8.0]]))
    # The maxima sit at (1,1), (0,2), (3,0), (3,3) of the 4x4 input.
    assert indices.flatten().tolist() == [5, 2, 12, 15]
    unpooled = MaxUnpool()(SMALL, indices, size)
    expected = torch.tensor(
        [[0, 0, 2, 0], [0, 1, 0, 0], [0, 0, 0, 0], [3, 0, 0, 4]], dtype=torch.float32
    )
    assert torch.equal(unpooled[0, 0], expected)


def test_transposed_convolution_example() -> None:
    layer = TransposedConvUpsample(1, 1, 3, stride=2, padding=1, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, 2, 1], [2, 4, 2], [1, 2, 1]]).view(1, 1, 3, 3))
    x = torch.tensor([[0.2, 0.5], [0.1, 0.3]]).view(1, 1, 2, 2)
    out = layer(x)[0, 0]
    # Worked by hand: output o = 2*i + k - 1, summing filter copies scaled by each input value.
    # The slides print row 0 as ".8 1.4 2 .1" on the last slide (true last value: 1.0 = .5*2)
    # and row 1 as ".6 .8 1 .5"; the true row 1 is .6 1.1 1.6 .8 (e.g. (1,1) = .2+.5+.1+.3).
    expected = torch.tensor(
        [
            [0.8, 1.4, 2.0, 1.0],
            [0.6, 1.1, 1.6, 0.8],
            [0.4, 0.8, 1.2, 0.6],
            [0.2, 0.4, 0.6, 0.3],
        ]
    )
    assert out.shape == (4, 4)
    torch.testing.assert_close(out, expected)


def test_convolution_cost_example() -> None:
    positions = (8, 8)  # the slide counts 8x8 output positions for a 5x5 filter on 8x8x3
    one = conv_cost(3, 1, 5, positions)
    assert (one.params, one.mults) == (75, 4_800)
    many = conv_cost(3, 256, 5, positions)
    # The slide prints 1,245,952 multiplications; 75 * 64 * 256 = 1,228,800.
    assert (many.params, many.mults) == (19_200, 1_228_800)
    separable_one = separable_conv_cost(3, 1, 5, positions)
    # The slide prints 74,992; 4,800 + 3 * 64 = 4,992.
    assert (separable_one.params, separable_one.mults) == (78, 4_992)
    separable_many = separable_conv_cost(3, 256, 5, positions)
    assert (separable_many.params, separable_many.mults) == (843, 53_952)


def test_module_cost_matches_formula_for_real_layers() -> None:
    from pixelwise.layers import DepthwiseSeparableConv2d, module_cost

    conv = torch.nn.Conv2d(3, 256, 5, padding=2, bias=False)
    assert module_cost(conv, (1, 3, 8, 8)) == conv_cost(3, 256, 5, (8, 8))
    separable = DepthwiseSeparableConv2d(3, 256, 5, norm=None, act=None, bias=False)
    assert module_cost(separable, (1, 3, 8, 8)) == separable_conv_cost(3, 256, 5, (8, 8))
