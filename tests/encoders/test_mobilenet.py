"""MobileNetV2: torchvision's block layout and DeepLab's stride/rate bookkeeping."""

from __future__ import annotations

import pytest

from pixelwise.encoders import MobileNetV2Encoder
from pixelwise.encoders.mobilenet import InvertedResidual

# Blocks of torchvision's mobilenet_v2 with an identity shortcut (stride 1, C_in == C_out).
TORCHVISION_RESIDUAL_BLOCKS = {3, 5, 6, 8, 9, 10, 12, 13, 15, 16}


def _depthwise_layout(encoder: MobileNetV2Encoder) -> dict[int, tuple[int, int]]:
    layout = {}
    for index, block in enumerate(encoder.features):
        if isinstance(block, InvertedResidual):
            depthwise = block.conv[0][0] if len(block.conv) == 3 else block.conv[1][0]
            assert depthwise.groups == depthwise.in_channels
            assert depthwise.padding == depthwise.dilation
            layout[index] = (depthwise.stride[0], depthwise.dilation[0])
    return layout


# Worked from DeepLab's TF-slim rule: at current_stride == output_stride a strided block runs
# with stride 1 at the current rate, and the rate is multiplied by the stride afterwards.
@pytest.mark.parametrize(
    ("output_stride", "changed"),
    [
        (32, {}),
        (16, {14: (1, 1), 15: (1, 2), 16: (1, 2), 17: (1, 2)}),
        (8, {7: (1, 1), **{i: (1, 2) for i in range(8, 14)}, 14: (1, 2), 15: (1, 4), 16: (1, 4),
             17: (1, 4)}),
    ],
)  # fmt: skip
def test_strides_and_rates(output_stride: int, changed: dict[int, tuple[int, int]]) -> None:
    torchvision_strides = {2: 2, 4: 2, 7: 2, 14: 2}
    expected = {i: (torchvision_strides.get(i, 1), 1) for i in range(1, 18)}
    expected.update(changed)
    encoder = MobileNetV2Encoder(output_stride=output_stride)
    assert _depthwise_layout(encoder) == expected
    residual = {
        i for i, block in enumerate(encoder.features)
        if isinstance(block, InvertedResidual) and block.use_res_connect
    }  # fmt: skip
    assert residual == TORCHVISION_RESIDUAL_BLOCKS
    assert encoder.stage_end_indices == (1, 3, 6, 13, 18)
