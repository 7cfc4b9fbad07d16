"""SegNet and SegNet-Basic: unpooling with the encoder's indices, sizes, parameter counts."""

from __future__ import annotations

import json

import torch
from torch import nn
from torch.nn import functional as F

from pixelwise import create_model
from pixelwise.layers import max_unpool
from pixelwise.models.segnet import PAPER_PARAMETERS, SegNet, SegNetBasic
from shared_paths import FIXTURES  # noqa: E402

VGG16_BN_PARAMETERS = 138_365_992  # torchvision vgg16_bn (fixtures README)
VGG16_CLASSIFIER = (25088 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 1000 + 1000)


def _count(model: nn.Module) -> int:
    return sum(parameter.numel() for parameter in model.parameters())


def test_max_unpool_matches_torch_max_unpool2d_on_odd_sizes() -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 3, 9, 11, requires_grad=True)
    pooled, indices = F.max_pool2d(x, 2, 2, ceil_mode=True, return_indices=True)
    ours = max_unpool(pooled, indices, x.shape)
    reference = F.max_unpool2d(pooled, indices, 2, 2, output_size=(9, 11))
    torch.testing.assert_close(ours, reference)
    # Each max goes back to where it came from: unpooled values equal x there, 0 elsewhere.
    kept = ours != 0
    torch.testing.assert_close(ours[kept], x[kept])
    assert int(kept.sum()) == pooled.numel()
    (grad,) = torch.autograd.grad(ours.sum(), pooled)
    torch.testing.assert_close(grad, torch.ones_like(pooled))


def test_segnet_parameter_count_against_vgg16_bn_and_paper() -> None:
    with torch.device("meta"):
        model = create_model("segnet", num_classes=11)
    encoder = VGG16_BN_PARAMETERS - VGG16_CLASSIFIER
    assert _count(model.encoder) == encoder == 14_723_136
    decoder_convs = [
        (512, 512), (512, 512), (512, 512), (512, 512), (512, 512), (512, 256),
        (256, 256), (256, 256), (256, 128), (128, 128), (128, 64), (64, 64),
    ]  # fmt: skip
    decoder = sum(9 * c_in * c_out + 2 * c_out for c_in, c_out in decoder_convs)
    classifier = 9 * 64 * 11 + 11
    assert _count(model) == encoder + decoder + classifier == 29_445_643
    # The paper reports 29.5M; ours omits the decoder convs' biases (BN follows).
    assert abs(_count(model) - PAPER_PARAMETERS) / PAPER_PARAMETERS < 0.01


def test_segnet_encoder_keys_are_torchvision_vgg16_bn_features() -> None:
    fixture = json.loads((FIXTURES / "vgg16_bn.json").read_text())["state_dict"]
    expected = {key: shape for key, shape in fixture.items() if key.startswith("features.")}
    with torch.device("meta"):
        model = SegNet(num_classes=11)
    ours = {key: list(value.shape) for key, value in model.encoder.state_dict().items()}
    assert ours == expected


def test_decoder_upsamples_with_the_pool_indices() -> None:
    """The map entering each decoder conv holds at most one non-zero per 2x2 window and
    channel, at the position of the encoder's maximum."""
    torch.manual_seed(0)
    model = SegNetBasic(num_classes=3, width=8).eval()
    unpooled: list[torch.Tensor] = []
    handles = [
        conv.register_forward_pre_hook(lambda _, args: unpooled.append(args[0]))
        for conv in model.decoder
    ]
    with torch.no_grad():
        logits = model(torch.randn(1, 3, 37, 50))
    for handle in handles:
        handle.remove()
    assert logits.shape == (1, 3, 37, 50)
    assert [tuple(t.shape[-2:]) for t in unpooled] == [(5, 7), (10, 13), (19, 25), (37, 50)]
    for features in unpooled:
        nonzero = (features != 0).float()
        even = F.pad(nonzero, (0, nonzero.shape[-1] % 2, 0, nonzero.shape[-2] % 2))
        per_window = F.avg_pool2d(even, 2, 2) * 4  # non-zeros in each 2x2 pooling window
        assert per_window.max() == 1
        assert nonzero.sum() > 0


def test_segnet_basic_matches_the_prototxt() -> None:
    """4 x [7x7 conv 64, BN, ReLU, pool] / 4 x [unpool, 7x7 conv 64, BN] / 1x1 classifier, with
    LRN on the input and no ReLU in the decoder."""
    model = SegNetBasic(num_classes=11)
    assert isinstance(model.input_norm, nn.LocalResponseNorm)
    assert (model.input_norm.size, model.input_norm.alpha, model.input_norm.beta) == (5, 1e-4, 0.75)
    assert not any(isinstance(m, nn.ReLU) for m in model.decoder.modules())
    assert sum(isinstance(m, nn.ReLU) for m in model.encoder.modules()) == 4
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [c.kernel_size for c in convs] == [(7, 7)] * 8 + [(1, 1)]
    expected = (49 * 3 * 64 + 128) + 7 * (49 * 64 * 64 + 128) + (64 * 11 + 11)
    assert _count(model) == expected == 1_416_075
    assert model.output_stride == 16
