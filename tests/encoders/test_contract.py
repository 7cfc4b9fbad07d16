"""The Encoder contract on every encoder of ``list_encoders()``: channels, reductions, sizes,
gradients, dtype, and what ``encoder_info`` says about it."""

from __future__ import annotations

import math

import pytest
import torch

from pixelwise.encoders import Encoder, create_encoder, encoder_info, list_encoders

NAMES = list_encoders()
# Written by hand (torchvision's models), not read from the code under test.
EXPECTED_CHANNELS = {
    "resnet18": (64, 64, 128, 256, 512),
    "resnet34": (64, 64, 128, 256, 512),
    "resnet50": (64, 256, 512, 1024, 2048),
    "resnet101": (64, 256, 512, 1024, 2048),
    "vgg16": (64, 128, 256, 512, 512),
    "vgg16_bn": (64, 128, 256, 512, 512),
    "mobilenet_v2": (16, 24, 32, 96, 1280),
}
EXPECTED_REDUCTIONS = {32: (2, 4, 8, 16, 32), 16: (2, 4, 8, 16, 16), 8: (2, 4, 8, 8, 8)}
# VGG's output strides 16 and 8 are DeepLab v1's stride-1 3x3 pools, not the atrous algorithm.
ATROUS = [name for name in NAMES if not name.startswith("vgg")]


def test_every_encoder_has_expected_channels() -> None:
    assert set(EXPECTED_CHANNELS) == set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_encoder_info_describes_the_built_encoder(name: str) -> None:
    info = encoder_info(name)
    assert info.name == name and info.out_channels == EXPECTED_CHANNELS[name]
    assert info.reductions == EXPECTED_REDUCTIONS[32]
    for output_stride in info.output_strides:
        with torch.device("meta"):
            encoder = create_encoder(name, output_stride=output_stride)
        assert encoder.out_channels == info.out_channels
        assert encoder.reductions == EXPECTED_REDUCTIONS[output_stride]
        assert encoder.pool_indices == info.pool_indices
    with torch.device("meta"):
        if info.multi_grid:
            create_encoder(name, multi_grid=(1,) * len(encoder.layer4))
        else:
            with pytest.raises(TypeError):
                create_encoder(name, multi_grid=(1, 2, 4))
    assert dict(info.weights).keys() == {"imagenet", "file"}


@pytest.mark.parametrize("output_stride", [32, 16, 8])
@pytest.mark.parametrize("name", NAMES)
def test_feature_shapes(name: str, output_stride: int) -> None:
    torch.manual_seed(0)
    encoder = create_encoder(name, output_stride=output_stride).eval()
    assert isinstance(encoder, Encoder)
    assert encoder.out_channels == EXPECTED_CHANNELS[name]
    assert encoder.reductions == EXPECTED_REDUCTIONS[output_stride]
    assert encoder.output_stride == output_stride
    # Odd sizes: 97 -> 49, 25, 13, 7, 4 and 131 -> 66, 33, 17, 9, 5 at strides 2..32
    # (every strided layer pads so that the output is ceil(size / stride)).
    for batch, height, width in ((1, 97, 131), (2, 64, 64)):
        with torch.no_grad():
            features = encoder(torch.randn(batch, 3, height, width))
        assert len(features) == 5
        for feature, channels, reduction in zip(features, encoder.out_channels, encoder.reductions):
            expected = (
                batch,
                channels,
                math.ceil(height / reduction),
                math.ceil(width / reduction),
            )
            assert tuple(feature.shape) == expected


def test_odd_sizes_worked_by_hand() -> None:
    encoder = create_encoder("resnet18").eval()
    with torch.no_grad():
        features = encoder(torch.randn(1, 3, 97, 131))
    assert [tuple(f.shape[-2:]) for f in features] == [(49, 66), (25, 33), (13, 17), (7, 9), (4, 5)]


@pytest.mark.parametrize("name", NAMES)
def test_forward_backward_float64(name: str) -> None:
    torch.manual_seed(0)
    encoder = create_encoder(name, output_stride=16).double().train()
    x = torch.randn(2, 3, 23, 29, dtype=torch.float64, requires_grad=True)
    features = encoder(x)
    assert all(feature.dtype == torch.float64 for feature in features)
    loss = sum(feature.square().mean() for feature in features)
    loss.backward()
    assert x.grad is not None and x.grad.dtype == torch.float64
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    for parameter_name, parameter in encoder.named_parameters():
        assert parameter.grad is not None, parameter_name
        assert torch.isfinite(parameter.grad).all(), parameter_name


@pytest.mark.parametrize("name", ATROUS)
def test_output_stride_is_the_atrous_algorithm(name: str) -> None:
    """Removing strides and dilating the later convs computes the same responses densely.

    With shared weights (eval mode), each map of the dilated network subsampled by
    ``r_32 / r`` (its reduction in the stride-32 network over its own) equals the stride-32
    network's map: the
    "atrous algorithm" of DeepLab (Chen et al., 2015, Sec. 3.1). This holds only if the conv
    that carried a removed stride keeps the previous rate and the later ones use the new rate.
    """
    torch.manual_seed(0)
    reference = create_encoder(name).double().eval()
    x = torch.randn(1, 3, 41, 53, dtype=torch.float64)
    with torch.no_grad():
        reference_features = reference(x)
    for output_stride in (16, 8):
        dilated = create_encoder(name, output_stride=output_stride).double().eval()
        dilated.load_state_dict(reference.state_dict())
        with torch.no_grad():
            dilated_features = dilated(x)
        for coarse, dense, r_coarse, r_dense in zip(
            reference_features, dilated_features, reference.reductions, dilated.reductions
        ):
            step = r_coarse // r_dense
            torch.testing.assert_close(dense[..., ::step, ::step], coarse, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("output_stride", [4, 12, 64])
def test_bad_output_stride(name: str, output_stride: int) -> None:
    with pytest.raises(ValueError, match=f"got {output_stride}"):
        create_encoder(name, output_stride=output_stride)


@pytest.mark.parametrize("name", NAMES)
def test_in_channels_changes_first_conv(name: str) -> None:
    encoder = create_encoder(name, in_channels=5).eval()
    with torch.no_grad():
        features = encoder(torch.randn(1, 5, 32, 32))
    assert features[-1].shape[1] == encoder.out_channels[-1]
    with pytest.raises(ValueError, match="got 0"):
        create_encoder(name, in_channels=0)
