"""Write ``golden_outputs.json``: reference logits of every registered model.

Run ``python tests/models/make_golden.py`` after an intended change of a model's numbers (a new
init, a new layer, a new default) or after registering a new model, and commit the JSON with
the change; ``test_golden_outputs.py`` then guards against unintended drift.

Each model is built the same way here and in the test (:func:`golden_model` and
:func:`golden_input`): ``torch.manual_seed(0)``, ``create_model(name, num_classes=3,
in_channels=3, **options)`` with the default options (``OPTIONS`` lists the exceptions, none
today), eval mode; then every parameter that is entirely zero (biases, FCN's zero-initialised
score layers, which would otherwise make FCN's logits all zero) is filled with N(0, 0.05) from
a generator seeded with 2, so the logits depend on every layer. The input is N(0, 1) of shape
``INPUT_SHAPE`` from a generator seeded with 1. Recorded per model: the options, the input and
output shapes, the sum and the sum of squares of the logits, and ``NUM_SAMPLES`` logits at
fixed ``(channel, y, x)`` positions spread over the channels and the image.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

import pixelwise

GOLDEN_PATH = Path(__file__).with_name("golden_outputs.json")
NUM_CLASSES = 3
IN_CHANNELS = 3
INPUT_SHAPE = (1, IN_CHANNELS, 64, 64)
NUM_SAMPLES = 16
# Options for models whose defaults cannot run on ``INPUT_SHAPE``; every model runs at its
# defaults today. An entry here is recorded in the JSON and used by the test.
OPTIONS: dict[str, dict[str, Any]] = {}
MODEL_SEED = 0
INPUT_SEED = 1
ZERO_PARAMETER_SEED = 2
ZERO_PARAMETER_STD = 0.05


def golden_model(name: str, options: dict[str, Any]) -> nn.Module:
    """The model ``name`` built with ``options`` as described in the module docstring."""
    torch.manual_seed(MODEL_SEED)
    model = pixelwise.create_model(
        name, num_classes=NUM_CLASSES, in_channels=IN_CHANNELS, **options
    ).eval()
    generator = torch.Generator().manual_seed(ZERO_PARAMETER_SEED)
    with torch.no_grad():
        for parameter in model.parameters():
            if not parameter.any():
                noise = torch.randn(parameter.shape, generator=generator) * ZERO_PARAMETER_STD
                parameter.copy_(noise)
    return model


def golden_input(shape: tuple[int, ...] | list[int] = INPUT_SHAPE) -> Tensor:
    """The fixed N(0, 1) input of ``shape``."""
    return torch.randn(tuple(shape), generator=torch.Generator().manual_seed(INPUT_SEED))


def sample_positions(channels: int, height: int, width: int) -> list[list[int]]:
    """``NUM_SAMPLES`` ``[channel, y, x]`` positions: every channel in turn, pixels spread over
    the image (border rows and columns included) by odd strides 37 and 23."""
    return [[i % channels, (i * 37 + 3) % height, (i * 23 + 5) % width] for i in range(NUM_SAMPLES)]


def run_model(name: str, options: dict[str, Any], input_shape: tuple[int, ...]) -> Tensor:
    """Logits of the golden model ``name`` on the golden input (no gradients)."""
    model = golden_model(name, options)
    with torch.no_grad():
        output = model(golden_input(input_shape))
    if not isinstance(output, Tensor):
        raise TypeError(f"{name}: eval-mode output is {type(output).__name__}, not a tensor")
    return output


def golden_entry(name: str) -> dict[str, Any]:
    """The JSON record of model ``name``."""
    options = OPTIONS.get(name, {})
    logits = run_model(name, options, INPUT_SHAPE).double()
    positions = sample_positions(*logits.shape[1:])
    return {
        "options": options,
        "input_shape": list(INPUT_SHAPE),
        "output_shape": list(logits.shape),
        "sum": logits.sum().item(),
        "sum_of_squares": logits.square().sum().item(),
        "positions": positions,
        "values": [logits[0, c, y, x].item() for c, y, x in positions],
    }


def to_json(golden: dict[str, Any]) -> str:
    """Pretty JSON with sorted keys; a short list of numbers (a shape, a position) stays on
    one line."""
    text = json.dumps(golden, indent=2, sort_keys=True)

    def compact(match: re.Match[str]) -> str:
        items = [item.strip() for item in match.group(1).split(",")]
        line = "[" + ", ".join(items) + "]"
        return line if len(line) <= 40 else match.group(0)

    return re.sub(r"\[([-+0-9.eE,\s]+)\]", compact, text) + "\n"


def settings() -> dict[str, Any]:
    """How the records were made (for the reader; the test compares ``models`` only)."""
    return {
        "generated_by": "python tests/models/make_golden.py",
        "torch": torch.__version__,
        "num_classes": NUM_CLASSES,
        "in_channels": IN_CHANNELS,
        "model_seed": MODEL_SEED,
        "input_seed": INPUT_SEED,
        "zero_parameters": f"N(0, {ZERO_PARAMETER_STD}) from seed {ZERO_PARAMETER_SEED}",
        "dtype": "float32 (statistics summed in float64)",
    }


def main() -> None:
    """Record every registered model and write :data:`GOLDEN_PATH`."""
    models = {}
    for name in pixelwise.list_models():
        entry = models[name] = golden_entry(name)
        print(f"{name}: sum={entry['sum']:.6g} sum_of_squares={entry['sum_of_squares']:.6g}")
    golden = {"settings": settings(), "models": models}
    GOLDEN_PATH.write_text(to_json(golden))
    print(f"wrote {GOLDEN_PATH}")


if __name__ == "__main__":
    main()
