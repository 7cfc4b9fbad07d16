"""Every encoder-based architecture x every encoder of ``list_encoders()`` x every output stride.

Each combination is built with ``num_classes=3`` (the auxiliary head on where the architecture
has one), trained one AdamW step with cross-entropy on a batch of two images, and must give
logits of the input size, a finite loss, parameters that changed at both ends of the network
(the encoder's first layer and the last layer) and a single tensor in eval mode. Once per
architecture the same is done with ``in_channels=4`` (``FOUR_CHANNELS``: each encoder at least
once). Combinations that cannot work are listed in ``EXPECTED_ERRORS`` and must raise that
error; nothing is skipped.

Speed: a small odd input (17 x 25: 3 x 4 maps at output stride 8, 1 x 1 at 32; odd sizes
exercise every crop and resize), the heaviest cases first (so that xdist's workers finish
together), and the native CPU convolutions instead of oneDNN, whose weight gradient of FCN's
fc6 (7x7, 512 -> 4096) on such small maps takes ~12 s instead of ~1 s.
"""

from __future__ import annotations

import inspect

import pytest
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from pixelwise import create_model, model_info
from pixelwise.encoders import encoder_info, list_encoders

# Output strides each architecture takes (``output_stride=``), or None where it has no such
# option: DeepLab v1 is fixed at 8 (the paper's), U-Net, ResUNet and SegNet use the encoder at 32.
ARCHITECTURES: dict[str, tuple[int, ...] | None] = {
    "deeplab_v1": None,
    "deeplab_v2": (8, 16, 32),
    "deeplab_v3": (8, 16, 32),
    "deeplab_v3plus": (8, 16, 32),
    "pspnet": (8, 16, 32),
    "fcn": (8, 16, 32),
    "parsenet": (8, 16, 32),
    "unet": None,
    "resunet": None,
    "segnet": None,
}
VGGS = ("vgg16", "vgg16_bn")
WITHOUT_POOL_INDICES = ("mobilenet_v2", "resnet101", "resnet18", "resnet34", "resnet50")
FCN_VGG = "FCN-32s/16s/8s, which fuse pool3/pool4/pool5 at output stride 32"
NO_POOL_INDICES = "provides no max-pool indices .* encoders that do: vgg16, vgg16_bn"
# (architecture, encoder, output stride or None) -> the error it must raise.
EXPECTED_ERRORS: dict[tuple[str, str, int | None], str] = {
    **{("fcn", vgg, stride): FCN_VGG for vgg in VGGS for stride in (8, 16)},
    **{("segnet", name, None): NO_POOL_INDICES for name in WITHOUT_POOL_INDICES},
}
# in_channels=4: one encoder per architecture, every encoder at least once.
FOUR_CHANNELS = {
    "deeplab_v1": "vgg16",
    "deeplab_v2": "resnet34",
    "deeplab_v3": "mobilenet_v2",
    "deeplab_v3plus": "resnet50",
    "pspnet": "resnet18",
    "fcn": "resnet101",
    "parsenet": "vgg16_bn",
    "unet": "resnet34",
    "resunet": "mobilenet_v2",
    "segnet": "vgg16_bn",
}
# FCN on VGG16 carries the convolutionalised fc6/fc7 (134M parameters): the slowest cases.
SLOW = {("fcn", vgg, 32) for vgg in VGGS}
SIZE = (17, 25)
NUM_CLASSES = 3
Case = tuple[str, str, int | None]


def _param(case: Case) -> object:
    architecture, encoder, stride = case
    label = f"{architecture}-{encoder}" + ("" if stride is None else f"-os{stride}")
    return pytest.param(*case, marks=[pytest.mark.slow] if case in SLOW else [], id=label)


def _heaviest_first(cases: list[Case]) -> list[object]:
    def cost(case: Case) -> tuple[bool, bool, int]:
        architecture, encoder, stride = case
        return (case not in SLOW, "101" not in encoder, stride or 8)

    return [_param(case) for case in sorted(cases, key=cost)]


ALL_CASES: list[Case] = [
    (architecture, encoder, stride)
    for architecture, strides in ARCHITECTURES.items()
    for encoder in list_encoders()
    for stride in strides or (None,)
]
FOUR_CHANNEL_CASES: list[Case] = [
    (architecture, encoder, None if ARCHITECTURES[architecture] is None else 32)
    for architecture, encoder in FOUR_CHANNELS.items()
]


@pytest.fixture(autouse=True)
def _native_convolutions() -> object:
    previous = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = False
    yield
    torch.backends.mkldnn.enabled = previous


def _options(architecture: str, encoder: str, stride: int | None) -> dict[str, object]:
    options: dict[str, object] = {"encoder": encoder}
    if stride is not None:
        options["output_stride"] = stride
    takes_aux = "aux" in inspect.signature(model_info(architecture).builder).parameters
    if takes_aux and not (architecture == "fcn" and encoder in VGGS):  # FCN-VGG has no aux head
        options["aux"] = True
    return options


def _train_one_step(model: nn.Module, in_channels: int) -> None:
    torch.manual_seed(1)
    encoder = model.encoder
    assert isinstance(encoder, nn.Module)
    in_encoder = {id(p) for p in encoder.parameters()}
    head = [p for p in model.parameters() if id(p) not in in_encoder]
    with torch.no_grad():  # zero-initialised layers (FCN's score layers) would stop gradients
        for parameter in head:
            if not parameter.any():
                parameter.normal_(0.0, 0.05)
    first, last = next(encoder.parameters()), head[-1]
    first_before, last_before = first.detach().clone(), last.detach().clone()
    x = torch.randn(2, in_channels, *SIZE)
    target = torch.randint(0, NUM_CLASSES, (2, *SIZE))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.0)

    output = model.train()(x)
    outputs = output if isinstance(output, tuple) else (output,)
    assert all(tuple(part.shape) == (2, NUM_CLASSES, *SIZE) for part in outputs)
    loss = sum(weight * F.cross_entropy(part, target) for weight, part in zip((1, 0.4), outputs))
    assert isinstance(loss, Tensor) and torch.isfinite(loss), loss
    loss.backward()
    optimizer.step()
    assert not torch.equal(first, first_before), "the encoder's first layer did not change"
    assert not torch.equal(last, last_before), "the last layer did not change"

    with torch.no_grad():
        evaluated = model.eval()(x)
    assert isinstance(evaluated, Tensor) and evaluated.shape == (2, NUM_CLASSES, *SIZE)
    assert torch.isfinite(evaluated).all()


def _check(architecture: str, encoder: str, stride: int | None, in_channels: int) -> None:
    options = _options(architecture, encoder, stride)
    expected = EXPECTED_ERRORS.get((architecture, encoder, stride))
    torch.manual_seed(0)
    if expected is not None:
        with pytest.raises(ValueError, match=f"^model '{architecture}': .*{expected}"):
            create_model(architecture, num_classes=NUM_CLASSES, in_channels=in_channels, **options)
        return
    model = create_model(architecture, num_classes=NUM_CLASSES, in_channels=in_channels, **options)
    assert model.in_channels == in_channels
    if stride is not None:
        assert model.encoder.output_stride == stride
    _train_one_step(model, in_channels)


@pytest.mark.parametrize(("architecture", "encoder", "stride"), _heaviest_first(ALL_CASES))
def test_train_step(architecture: str, encoder: str, stride: int | None) -> None:
    _check(architecture, encoder, stride, in_channels=3)


@pytest.mark.parametrize(("architecture", "encoder", "stride"), _heaviest_first(FOUR_CHANNEL_CASES))
def test_train_step_four_channels(architecture: str, encoder: str, stride: int | None) -> None:
    _check(architecture, encoder, stride, in_channels=4)


def test_the_matrix_is_complete_and_its_exceptions_are_real() -> None:
    """Every architecture that takes ``encoder=`` is here; the listed exceptions are exactly the
    encoders without pool indices (SegNet) and VGG at a dilated stride (FCN)."""
    from pixelwise import list_models

    takes_encoder = {
        name
        for name in list_models()
        if "encoder" in inspect.signature(model_info(name).builder).parameters
    }
    assert takes_encoder == set(ARCHITECTURES) == set(FOUR_CHANNELS)
    assert set(FOUR_CHANNELS.values()) == set(list_encoders())
    assert not any(case in EXPECTED_ERRORS for case in FOUR_CHANNEL_CASES)
    assert list(WITHOUT_POOL_INDICES) == [
        name for name in list_encoders() if not encoder_info(name).pool_indices
    ]
    for architecture, strides in ARCHITECTURES.items():
        if strides is not None:
            builder = model_info(architecture).builder
            assert "output_stride" in inspect.signature(builder).parameters, architecture
