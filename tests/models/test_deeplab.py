"""DeepLab v1/v2/v3/v3+: architecture facts from the papers, torchvision compatibility of v3."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

from pixelwise import create_model, model_info
from pixelwise.models.deeplab_v3 import TORCHVISION_DEEPLABV3_RESNET50
from shared_paths import FIXTURES  # noqa: E402

FIXTURE = FIXTURES / "deeplabv3_resnet50.json"
VGG16_CONV_PARAMS = 14_714_688  # torchvision vgg16().features


def _fixture_shapes() -> dict[str, list[int]]:
    return json.loads(FIXTURE.read_text())["state_dict"]


@pytest.fixture(scope="module")
def torchvision_deeplabv3() -> nn.Module:
    return create_model("deeplab_v3", num_classes=21, **TORCHVISION_DEEPLABV3_RESNET50)


def test_deeplabv3_resnet50_parameter_counts_match_torchvision(torchvision_deeplabv3):
    # torchvision.models.segmentation.deeplabv3_resnet50(num_classes=21, aux_loss=True/None).
    model = torchvision_deeplabv3
    total = sum(p.numel() for p in model.parameters())
    aux = sum(p.numel() for p in model.aux_classifier.parameters())
    assert total == 42_004_074
    assert total - aux == 39_638_869
    without_aux = create_model("deeplab_v3", num_classes=21, encoder="resnet50", output_stride=8)
    assert without_aux.aux_classifier is None
    assert sum(p.numel() for p in without_aux.parameters()) == 39_638_869


def test_deeplabv3_resnet50_loads_torchvision_state_dict_strictly(torchvision_deeplabv3):
    shapes = _fixture_shapes()
    # The fixture itself agrees with torchvision's published parameter count.
    learnable = sum(
        math.prod(shape)
        for key, shape in shapes.items()
        if not key.endswith(("running_mean", "running_var", "num_batches_tracked"))
    )
    assert learnable == 42_004_074
    generator = torch.Generator().manual_seed(0)
    state_dict = {
        key: torch.randint(0, 5, (), dtype=torch.long)
        if key.endswith("num_batches_tracked")
        else torch.rand(shape, generator=generator)
        for key, shape in shapes.items()
    }
    model = torchvision_deeplabv3
    result = model.load_state_dict(state_dict, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    loaded = model.state_dict()
    for key in (
        "backbone.layer4.2.conv3.weight",
        "classifier.0.convs.4.1.weight",
        "classifier.0.project.0.weight",
        "classifier.4.bias",
        "aux_classifier.4.weight",
    ):
        assert torch.equal(loaded[key], state_dict[key])


def test_deeplabv3_torchvision_preset_structure(torchvision_deeplabv3):
    model = torchvision_deeplabv3
    assert model.output_stride == 8
    aspp = model.classifier[0]
    rates = [aspp.convs[i][0].dilation[0] for i in (1, 2, 3)]
    assert rates == [12, 24, 36]
    # torchvision's ResNet-50 with replace_stride_with_dilation=[False, True, True].
    assert model.backbone.layer4[2].conv2.dilation == (4, 4)
    assert model.backbone.layer3[0].conv2.stride == (1, 1)


@pytest.mark.parametrize(("output_stride", "rates"), [(16, [6, 12, 18]), (8, [12, 24, 36])])
def test_deeplabv3_aspp_rates_follow_output_stride(output_stride, rates):
    model = create_model(
        "deeplab_v3", num_classes=2, encoder="resnet18", output_stride=output_stride
    )
    aspp = model.classifier[0]
    assert [aspp.convs[i][0].dilation[0] for i in (1, 2, 3)] == rates
    features = model.backbone(torch.zeros(1, 3, 64, 64))
    assert features[-1].shape[-2:] == (64 // output_stride, 64 // output_stride)


def test_deeplabv3_multi_grid_rates():
    # DeepLab v3, Sec. 4.1: Multi_Grid = (1, 2, 4) at output stride 16 gives rates 2 * (1, 2, 4).
    model = create_model(
        "deeplab_v3", num_classes=2, encoder="resnet50", output_stride=16, multi_grid=(1, 2, 4)
    )
    assert [block.conv2.dilation[0] for block in model.backbone.layer4] == [2, 4, 8]


def test_deeplabv3_mobilenet_v2_and_aux_only_in_training():
    model = create_model(
        "deeplab_v3", num_classes=1, in_channels=2, encoder="mobilenet_v2", aux=True
    )
    x = torch.randn(2, 2, 29, 35)
    model.train()
    logits, aux_logits = model(x)
    assert logits.shape == aux_logits.shape == (2, 1, 29, 35)
    (logits.mean() + aux_logits.mean()).backward()
    assert model.aux_classifier[0].weight.grad is not None
    model.eval()
    assert model(x).shape == (2, 1, 29, 35)
    assert model.classifier[0].convs[0][0].in_channels == 1280
    assert model.aux_classifier[0].in_channels == 96


def test_deeplabv3plus_decoder_layout_and_stride4_logits():
    model = create_model("deeplab_v3plus", num_classes=5, encoder="resnet50").eval()
    assert model.output_stride == 16
    assert model.skip_index == 1  # ResNet layer1 (stride 4, 256 channels)
    assert model.decoder.reduce_skip[0].in_channels == 256
    assert model.decoder.reduce_skip[0].out_channels == 48
    first, second = model.decoder.refine
    assert first[0][0].groups == 304 and first[1][0].out_channels == 256  # depthwise, pointwise
    assert second[0][0].groups == 256
    # Atrous separable ASPP: the atrous branches are depthwise with the v3 rates.
    assert [model.aspp.convs[i][0][0].dilation[0] for i in (1, 2, 3)] == [6, 12, 18]
    assert model.aspp.convs[1][0][0].groups == 2048
    seen: dict[str, torch.Size] = {}

    def record_shape(module: nn.Module, args: tuple, output: torch.Tensor) -> None:
        seen["shape"] = output.shape

    model.decoder.classifier.register_forward_hook(record_shape)
    logits = model(torch.randn(1, 3, 97, 131))
    assert logits.shape == (1, 5, 97, 131)
    # Decoder logits sit at stride 4 (ResNet: ceil(ceil(H / 2) / 2)).
    assert seen["shape"][-2:] == (25, 33)


def test_deeplabv3plus_mobilenet_v2_uses_24_channel_skip():
    model = create_model("deeplab_v3plus", num_classes=3, encoder="mobilenet_v2", aux=True)
    assert model.backbone.reductions[model.skip_index] == 4
    assert model.decoder.reduce_skip[0].in_channels == 24
    model.train()
    logits, aux_logits = model(torch.randn(2, 3, 33, 50))
    assert logits.shape == aux_logits.shape == (2, 3, 33, 50)


def test_deeplab_v1_largefov_parameters_and_output_stride():
    model = create_model("deeplab_v1", num_classes=21)
    fc6 = model.classifier.fc6
    assert (fc6.kernel_size, fc6.dilation, fc6.out_channels) == ((3, 3), (12, 12), 1024)
    # VGG-16 convs + fc6 (3x3x512x1024) + fc7 (1024x1024) + fc8 (1024x21), with biases.
    expected = VGG16_CONV_PARAMS + (9 * 512 * 1024 + 1024) + (1024 * 1024 + 1024) + (1024 * 21 + 21)
    assert sum(p.numel() for p in model.parameters()) == expected
    assert model.output_stride == 8 and model.postprocess == "dense_crf"
    model.eval()
    features = model.backbone(torch.zeros(1, 3, 64, 96))
    assert features[-1].shape == (1, 512, 8, 12)
    assert model(torch.zeros(1, 3, 61, 83)).shape == (1, 21, 61, 83)


def test_deeplab_v2_vgg_branches_are_summed_fc_heads():
    model = create_model("deeplab_v2", num_classes=21, encoder="vgg16")
    branch = 9 * 512 * 1024 + 1024 + 1024 * 1024 + 1024 + 1024 * 21 + 21
    assert sum(p.numel() for p in model.parameters()) == VGG16_CONV_PARAMS + 4 * branch
    assert model.classifier.rates == (6, 12, 18, 24)
    model.eval()
    features = model.backbone(torch.randn(1, 3, 40, 40))[-1]
    summed = sum(b(features) for b in model.classifier.branches)
    torch.testing.assert_close(model.classifier(features), summed)


def test_deeplab_v2_resnet101_is_default_with_single_conv_branches():
    assert model_info("deeplab_v2").default_encoder == "resnet101"
    model = create_model("deeplab_v2", num_classes=21)
    assert model.output_stride == 8 and model.postprocess == "dense_crf"
    assert [b.dilation[0] for b in model.classifier.branches] == [6, 12, 18, 24]
    assert all(b.in_channels == 2048 and b.out_channels == 21 for b in model.classifier.branches)


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("deeplab_v3", {"encoder": "vgg19"}, "unknown encoder 'vgg19'; choose one of .*vgg16"),
        ("deeplab_v3", {"output_stride": 4}, "output_stride must be 8, 16 or 32"),
        ("deeplab_v3plus", {"encoder": "mobilenet_v2", "multi_grid": (1, 2, 4)}, "multi_grid"),
        ("deeplab_v3", {"encoder": "resnet18", "multi_grid": (1, 2, 4)}, "multi_grid must hold 2"),
        ("deeplab_v1", {"encoder": "resnet51"}, "'deeplab_v1': unknown encoder 'resnet51'"),
    ],
)
def test_bad_options_raise_clear_errors(name, options, message):
    with pytest.raises(ValueError, match=message):
        create_model(name, num_classes=2, **options)
