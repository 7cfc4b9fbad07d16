"""FCN: torchvision's fcn_resnet50 (parameters, state-dict keys) and FCN-32s/16s/8s on VGG16."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from pixelwise import create_model
from pixelwise.models.fcn import FCNVGG, bilinear_kernel, bilinear_transposed_conv
from shared_paths import FIXTURES  # noqa: E402

VGG16_PARAMETERS = 138_357_544  # torchvision vgg16 (fixtures README)
VGG16_CLASSIFIER = (25088 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 1000 + 1000)


def _count(model: nn.Module) -> int:
    return sum(parameter.numel() for parameter in model.parameters())


def test_resnet50_parameter_counts_equal_torchvision() -> None:
    with torch.device("meta"):
        with_aux = create_model("fcn", num_classes=21, encoder="resnet50", aux=True)
        without_aux = create_model("fcn", num_classes=21, encoder="resnet50")
    assert _count(with_aux) == 35_322_218
    assert _count(without_aux) == 32_957_013
    assert with_aux.output_stride == 8  # layer3 and layer4 dilated


def test_resnet101_parameter_count_equals_torchvision() -> None:
    """ResNet-101 without fc (fixtures README count) + FCNHead(2048) + FCNHead(1024)."""
    with torch.device("meta"):
        model = create_model("fcn", num_classes=21, encoder="resnet101", aux=True)
    backbone = 44_549_160 - (2048 * 1000 + 1000)
    head = (2048 * 512 * 9 + 2 * 512) + (512 * 21 + 21)
    aux_head = (1024 * 256 * 9 + 2 * 256) + (256 * 21 + 21)
    assert _count(model) == backbone + head + aux_head == 54_314_346


def test_resnet50_loads_a_state_dict_with_torchvision_keys_strictly() -> None:
    fixture = json.loads((FIXTURES / "fcn_resnet50.json").read_text())["state_dict"]
    model = create_model("fcn", num_classes=21, encoder="resnet50", aux=True)
    assert {k: list(v.shape) for k, v in model.state_dict().items()} == fixture
    torch.manual_seed(0)
    state = {
        key: torch.randint(0, 9, ()) if not shape else torch.randn(shape)
        for key, shape in fixture.items()
    }
    model.load_state_dict(state, strict=True)
    torch.testing.assert_close(model.classifier[4].weight, state["classifier.4.weight"])
    torch.testing.assert_close(
        model.backbone.layer4[2].conv3.weight, state["backbone.layer4.2.conv3.weight"]
    )


@pytest.mark.parametrize(
    ("variant", "extra"),
    [
        ("32s", 0),
        ("16s", (512 * 21 + 21) + 21 * 21 * 16),
        ("8s", (512 * 21 + 21) + 21 * 21 * 16 + (256 * 21 + 21) + 21 * 21 * 16),
    ],
)
def test_vgg_parameter_counts_by_hand(variant: str, extra: int) -> None:
    """VGG16 convs + fc6 (7x7x512x4096) + fc7 (1x1x4096x4096) + score_fr, plus per skip a
    1x1 score layer and a 4x4 bilinear-initialised deconv (no bias); the final upsampling is
    fixed. The paper (Table 1) lists 134M parameters for FCN-VGG16."""
    with torch.device("meta"):
        model = create_model("fcn", num_classes=21, variant=variant)
    fc = (512 * 49 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 21 + 21)
    expected = VGG16_PARAMETERS - VGG16_CLASSIFIER + fc + extra
    assert _count(model) == expected
    assert round(expected / 1e6) == 134


def test_bilinear_kernel_is_fcn_upsample_filt() -> None:
    taps = torch.tensor([0.25, 0.75, 0.75, 0.25])
    torch.testing.assert_close(bilinear_kernel(4), torch.outer(taps, taps))
    taps3 = torch.tensor([0.5, 1.0, 0.5])
    torch.testing.assert_close(bilinear_kernel(3), torch.outer(taps3, taps3))


def test_bilinear_transposed_conv_equals_bilinear_interpolation_inside() -> None:
    """The initialised 2x deconv upsamples each channel on its own exactly as
    ``F.interpolate(bilinear, align_corners=False)`` away from the 1-pixel border."""
    torch.manual_seed(0)
    deconv = bilinear_transposed_conv(3)
    x = torch.randn(2, 3, 6, 7)
    with torch.no_grad():
        ours = deconv(x)
    reference = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    assert ours.shape == (2, 3, 12, 14)
    torch.testing.assert_close(ours[..., 1:-1, 1:-1], reference[..., 1:-1, 1:-1])


def test_skip_layers_start_at_zero_and_32s_has_none() -> None:
    with torch.device("meta"):
        fcn8 = FCNVGG(num_classes=4, variant="8s", fc_channels=8)
        fcn32 = FCNVGG(num_classes=4, variant="32s", fc_channels=8)
    assert fcn32.score_pool4 is None and fcn32.upscore2 is None and fcn32.score_pool3 is None
    assert fcn8.score_pool4 is not None and fcn8.score_pool3 is not None
    fcn8 = FCNVGG(num_classes=4, variant="8s", fc_channels=8)
    for layer in (fcn8.score_fr, fcn8.score_pool4, fcn8.score_pool3):
        assert layer is not None and not layer.weight.any() and not layer.bias.any()


def test_fc_weights_of_torchvision_vgg16_become_convolutions() -> None:
    """fc6 loaded from a (reduced) torchvision classifier computes on a 7x7 map what the
    linear layer computes on the flattened map."""
    torch.manual_seed(0)
    model = FCNVGG(num_classes=2, fc_channels=8)
    state = {
        "classifier.0.weight": torch.randn(8, 25088),
        "classifier.0.bias": torch.randn(8),
        "classifier.3.weight": torch.randn(8, 8),
        "classifier.3.bias": torch.randn(8),
    }
    model.load_vgg_classifier(state)
    pool5 = torch.randn(1, 512, 7, 7)
    with torch.no_grad():
        conv_out = F.conv2d(pool5, model.fc6.weight, model.fc6.bias)  # no padding: one window
    linear_out = F.linear(
        pool5.flatten(1), state["classifier.0.weight"], state["classifier.0.bias"]
    )
    torch.testing.assert_close(conv_out.flatten(1), linear_out, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("variant", ["32s", "16s"])
def test_vgg_variants_give_input_size_on_odd_inputs(variant: str) -> None:
    model = create_model("fcn", num_classes=3, variant=variant, fc_channels=16).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 45, 71)).shape == (1, 3, 45, 71)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"encoder": "vgg16", "aux": True}, "aux=True needs a non-VGG encoder"),
        ({"encoder": "resnet50", "variant": "8s"}, "variant='8s' applies to VGG"),
        ({"encoder": "resnet50", "fc_channels": 1024}, "fc_channels and dropout"),
        ({"variant": "4s"}, "'4s'"),
        ({"encoder": "alexnet"}, "'fcn': unknown encoder 'alexnet'.*resnet101.*vgg16"),
        ({"encoder": "vgg16_bn", "output_stride": 16}, "FCN-32s/16s/8s.*output_stride=16"),
    ],
)
def test_bad_options_are_explained(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        create_model("fcn", num_classes=2, **options)
