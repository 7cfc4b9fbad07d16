"""ParseNet: DeepLab-LargeFOV VGG16 base with the global context module on fc7."""

from __future__ import annotations

import torch
from torch import nn

from pixelwise import create_model
from pixelwise.layers import GlobalContext
from pixelwise.models.parsenet import ParseNet

VGG16_PARAMETERS = 138_357_544  # torchvision vgg16 (fixtures README)
VGG16_CLASSIFIER = (25088 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 1000 + 1000)


def _count(model: nn.Module) -> int:
    return sum(parameter.numel() for parameter in model.parameters())


def test_parameter_count_by_hand() -> None:
    """VGG16 convs + fc6 (3x3x512x1024, dilation 12) + fc7 (1x1x1024x1024) + two L2-norm
    scale vectors + the 1x1 classifier on 2048 channels."""
    with torch.device("meta"):
        model = create_model("parsenet", num_classes=21)
    fc = (9 * 512 * 1024 + 1024) + (1024 * 1024 + 1024)
    expected = VGG16_PARAMETERS - VGG16_CLASSIFIER + fc + 2 * 1024 + (2048 * 21 + 21)
    assert _count(model) == expected == 20_528_981
    assert model.fc6.dilation == (12, 12) and model.fc6.padding == (12, 12)
    assert model.output_stride == 8
    assert isinstance(model.context, GlobalContext)


def test_global_context_reaches_beyond_the_local_field_of_view() -> None:
    """fc6 (3x3, dilation 12) and fc7 see +-12 cells; a change at column 0 reaches column 39 of
    the scores only through the image-level feature, and not when its scale is zero."""
    torch.manual_seed(0)
    model = ParseNet(num_classes=3, fc_channels=16).eval()
    pool5 = torch.rand(1, 512, 3, 40)
    changed = pool5.clone()
    changed[..., 0] += 5.0
    with torch.no_grad():
        difference = (model.scores(changed) - model.scores(pool5))[..., 39].abs().max()
        model.context.global_norm.scale.zero_()
        without_context = (model.scores(changed) - model.scores(pool5))[..., 39].abs().max()
    assert difference > 1e-4
    assert without_context == 0
