"""PSPNet (Zhao et al., CVPR 2017): dilated ResNet, pyramid pooling head, auxiliary loss head."""

from __future__ import annotations

import pytest
import torch

from pixelwise import create_model, model_info

RESNET50_PARAMS = 23_508_032  # torchvision resnet50() without fc


def test_pspnet_resnet50_parameter_count_by_hand():
    model = create_model("pspnet", num_classes=21, aux=True)
    assert model_info("pspnet").default_encoder == "resnet50"
    pyramid = 4 * (2048 * 512 + 2 * 512)  # four 1x1 convs to 2048/4 channels + BN
    bottleneck = 9 * 4096 * 512 + 2 * 512  # 3x3 conv on the 4096 concatenated channels + BN
    classifier = 512 * 21 + 21
    aux = 9 * 1024 * 256 + 2 * 256 + 256 * 21 + 21  # FCN head on layer3
    expected = RESNET50_PARAMS + pyramid + bottleneck + classifier + aux
    assert sum(p.numel() for p in model.parameters()) == expected
    assert model.aux_weight == pytest.approx(0.4)
    assert model.output_stride == 8


def test_pspnet_pyramid_bins_and_dilated_backbone():
    model = create_model("pspnet", num_classes=4, encoder="resnet18").eval()
    pyramid = model.classifier[0]
    assert pyramid.bins == (1, 2, 3, 6)
    assert pyramid.out_channels == 1024  # 512 + 4 * 128
    features = model.backbone(torch.zeros(1, 3, 96, 64))
    assert features[-1].shape == (1, 512, 12, 8)  # output stride 8
    assert model(torch.zeros(1, 3, 97, 131)).shape == (1, 4, 97, 131)


def test_pspnet_aux_output_only_in_training_and_gradients_reach_both_heads():
    model = create_model("pspnet", num_classes=3, in_channels=1, encoder="resnet18", aux=True)
    x = torch.randn(2, 1, 33, 41)
    model.train()
    logits, aux_logits = model(x)
    assert logits.shape == aux_logits.shape == (2, 3, 33, 41)
    loss = logits.logsumexp(1).mean() + model.aux_weight * aux_logits.logsumexp(1).mean()
    loss.backward()
    assert model.classifier[-1].weight.grad is not None
    assert model.aux_classifier[-1].weight.grad.abs().sum() > 0
    assert model.backbone.conv1.weight.grad.abs().sum() > 0
    model.eval()
    out = model(x)
    assert isinstance(out, torch.Tensor) and out.shape == (2, 3, 33, 41)


def test_pspnet_without_aux_returns_tensor_in_training():
    model = create_model("pspnet", num_classes=2, encoder="resnet18")
    assert model.aux_head is None
    out = model.train()(torch.randn(2, 3, 32, 40))
    assert isinstance(out, torch.Tensor) and out.shape == (2, 2, 32, 40)


def test_pspnet_takes_any_encoder_and_rejects_unknown_names():
    model = create_model("pspnet", num_classes=2, encoder="mobilenet_v2", aux=True)
    assert model.encoder is model.backbone and model.output_stride == 8
    assert model.classifier[0].out_channels == 2 * 1280  # pyramid pooling on MobileNetV2's map
    with pytest.raises(ValueError, match=r"'pspnet': unknown encoder 'resnet152'; choose one of"):
        create_model("pspnet", num_classes=2, encoder="resnet152")


@pytest.mark.parametrize(("height", "width"), [(5, 6), (13, 17), (6, 6), (1, 4)])
@pytest.mark.parametrize("bins", [1, 2, 3, 6])
def test_export_pooling_matrix_matches_adaptive_avg_pool(height, width, bins):
    from torch.nn import functional as F

    from pixelwise.layers.pyramid_pooling import _bin_averaging_matrix

    x = torch.randn(2, 3, height, width, dtype=torch.float64)
    rows = _bin_averaging_matrix(height, bins, x)
    columns = _bin_averaging_matrix(width, bins, x)
    pooled = rows @ x @ columns.T
    torch.testing.assert_close(pooled, F.adaptive_avg_pool2d(x, bins), rtol=1e-12, atol=1e-12)
