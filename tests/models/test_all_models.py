"""The contract every registered model must keep, run over ``pixelwise.list_models()``.

Each model is built with light options where its builder offers them (``SMALL_OPTIONS``), and
once at its default configuration. Checked: logits ``(N, num_classes, H, W)`` for odd and even
sizes, finite values and gradients, other ``in_channels``/``num_classes``, the auxiliary output
only in training mode, and export (``torch.jit.trace``, ONNX run by ONNX Runtime) matching
eager PyTorch.
"""

from __future__ import annotations

import inspect
import io
import warnings

import numpy as np
import onnxruntime
import pytest
import torch
from torch import Tensor, nn

from pixelwise import create_model, list_models, model_info

# Light options per model name: small widths or a small backbone keep this file fast. Models
# not listed are tested at their defaults.
SMALL_OPTIONS: dict[str, dict[str, object]] = {
    "unet": {"base_channels": 8},
    "resunet": {"base_channels": 8},
    "segnet_basic": {"width": 16},
    "fcn": {"fc_channels": 64, "aux": False},  # the VGG FCN has no auxiliary head
    "parsenet": {"fc_channels": 64},
    "deeplab_v2": {"encoder": "resnet18", "output_stride": 16},
    "deeplab_v3": {"encoder": "resnet18"},
    "deeplab_v3plus": {"encoder": "resnet18"},
    "pspnet": {"encoder": "resnet18", "output_stride": 16},
}
# Further configurations that take a different code path of the same builder.
EXTRA_CONFIGS: list[tuple[str, dict[str, object]]] = [
    ("fcn", {"encoder": "resnet18", "aux": True}),
]

# Export input size: odd by default. PSPNet's adaptive average pooling has no ONNX export
# unless the feature map divides evenly into every bin (1, 2, 3, 6), a limitation of
# torch.onnx; 96x96 gives a 6x6 map at output stride 16.
EXPORT_SIZE: dict[str, tuple[int, int]] = {"pspnet": (96, 96)}
DEFAULT_EXPORT_SIZE = (41, 53)

MODEL_NAMES = list_models()
CONFIGS = [(name, SMALL_OPTIONS.get(name, {})) for name in MODEL_NAMES] + [
    (name, options) for name, options in EXTRA_CONFIGS if name in MODEL_NAMES
]
CONFIG_IDS = [
    name + "".join(f"-{key}={value}" for key, value in options.items()) for name, options in CONFIGS
]


def _uses_aux(name: str, options: dict[str, object]) -> bool:
    """Whether the config is built with an auxiliary head: as ``options`` say, else whenever
    the builder offers one."""
    if "aux" in options:
        return bool(options["aux"])
    return "aux" in inspect.signature(model_info(name).builder).parameters


def _build(name: str, options: dict[str, object], **overrides: object) -> nn.Module:
    torch.manual_seed(0)
    kwargs = {"num_classes": 19, **options, **overrides}
    if _uses_aux(name, options):
        kwargs["aux"] = True
    model = create_model(name, **kwargs)  # type: ignore[arg-type]
    # Zero-initialised layers (FCN's score layers, for one) would make every output equal;
    # give them small random values so the comparisons below are not trivial.
    with torch.no_grad():
        for parameter in model.parameters():
            if not parameter.any():
                parameter.normal_(0.0, 0.05)
    return model


def _logits(output: Tensor | tuple[Tensor, Tensor]) -> Tensor:
    return output[0] if isinstance(output, tuple) else output


def _check_forward_backward(model: nn.Module, x: Tensor, num_classes: int, aux: bool) -> None:
    output = model(x)
    expected = (x.shape[0], num_classes, *x.shape[-2:])
    if aux:
        assert isinstance(output, tuple) and len(output) == 2
        assert all(tuple(part.shape) == expected for part in output)
        loss = output[0].square().mean() + output[1].square().mean()
    else:
        assert isinstance(output, Tensor), f"expected a tensor, got {type(output).__name__}"
        assert tuple(output.shape) == expected
        loss = output.square().mean()
    assert all(torch.isfinite(part).all() for part in (output if aux else (output,)))
    model.zero_grad(set_to_none=True)
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert any(g is not None and g.abs().sum() > 0 for g in grads), "no parameter got a gradient"
    assert all(torch.isfinite(g).all() for g in grads if g is not None)


@pytest.mark.parametrize(("name", "options"), CONFIGS, ids=CONFIG_IDS)
def test_train_forward_backward_odd_and_batched(name: str, options: dict[str, object]) -> None:
    """Training mode, 19 classes: 1x3x97x131 and 2x3x128x128 give finite logits of the input
    size (with the auxiliary pair when the builder offers ``aux``) and finite gradients."""
    model = _build(name, options).train()
    aux = _uses_aux(name, options)
    torch.manual_seed(1)
    _check_forward_backward(model, torch.randn(1, 3, 97, 131), 19, aux)
    _check_forward_backward(model, torch.randn(2, 3, 128, 128), 19, aux)


@pytest.mark.parametrize(("name", "options"), CONFIGS, ids=CONFIG_IDS)
def test_eval_four_channels_one_class(name: str, options: dict[str, object]) -> None:
    """``in_channels=4``, ``num_classes=1``: eval mode returns one tensor (no auxiliary output
    even when built with one), of the input size, each image independent of the batch."""
    model = _build(name, options, in_channels=4, num_classes=1).eval()
    assert model.in_channels == 4 and model.num_classes == 1
    torch.manual_seed(2)
    x = torch.randn(2, 4, 45, 61)
    with torch.no_grad():
        batched = model(x)
        alone = model(x[1:])
    assert isinstance(batched, Tensor)
    assert batched.shape == (2, 1, 45, 61)
    assert torch.isfinite(batched).all()
    torch.testing.assert_close(alone, batched[1:], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(("name", "options"), CONFIGS, ids=CONFIG_IDS)
def test_trace_and_onnx_match_eager(name: str, options: dict[str, object]) -> None:
    """``torch.jit.trace`` and the ONNX export (run by ONNX Runtime) reproduce eager outputs
    to 1e-4 on an input the trace has not seen."""
    model = _build(name, options, num_classes=5).eval()
    torch.manual_seed(3)
    size = EXPORT_SIZE.get(name, DEFAULT_EXPORT_SIZE)
    example, probe = torch.randn(1, 3, *size), torch.randn(1, 3, *size)
    with torch.no_grad():
        expected = model(probe)
    assert expected.std() > 0, "constant output makes the comparison meaningless"

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about shapes baked as constants
        traced = torch.jit.trace(model, (example,), check_trace=False)
        buffer = io.BytesIO()
        torch.onnx.export(
            model, (example,), buffer, dynamo=False, input_names=["x"], output_names=["logits"]
        )
    with torch.no_grad():
        torch.testing.assert_close(traced(probe), expected, rtol=1e-4, atol=1e-4)

    session = onnxruntime.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
    (onnx_logits,) = session.run(None, {"x": probe.numpy()})
    np.testing.assert_allclose(onnx_logits, expected.numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_default_configuration_forward(name: str) -> None:
    """The default configuration (paper widths and backbone) builds and runs once."""
    torch.manual_seed(0)
    model = create_model(name, num_classes=3).eval()
    with torch.no_grad():
        logits = model(torch.randn(1, 3, 48, 56))
    assert isinstance(logits, Tensor)
    assert logits.shape == (1, 3, 48, 56)
    assert torch.isfinite(logits).all()


def test_every_model_registered_with_a_paper() -> None:
    assert {"fcn", "segnet", "segnet_basic", "unet", "resunet", "parsenet"} <= set(MODEL_NAMES)
    for name in MODEL_NAMES:
        assert model_info(name).paper, f"{name} has no paper reference"
