"""Golden outputs: every registered model, built and fed as ``make_golden.py`` does, still gives
the recorded logits, so an unintended change of an init, a layer, an op or a default fails.

Tolerances are relative to the logits' scale ``rms`` (the recorded root mean square): each
sampled logit within ``1e-4 * |expected| + 1e-4 * rms``, the sum of squares within a relative
``1e-4`` and the sum within ``1e-4 * |sum| + 1e-5 * rms * numel``. On this float32 path the
logits differ from a float64 evaluation of the same model by at most ~1.3e-5 rms per pixel and
~6e-7 rms per pixel on average (measured with oneDNN on and off, one and two threads), so other
x86 CPUs fit with margin, while a changed model moves logits by a sizeable fraction of ``rms``.

After an intended change, regenerate with ``python tests/models/make_golden.py``.
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from pixelwise import list_models

SAMPLE_RTOL = 1e-4
SAMPLE_ATOL_PER_RMS = 1e-4
SUM_OF_SQUARES_RTOL = 1e-4
SUM_RTOL = 1e-4
SUM_ATOL_PER_RMS_AND_ELEMENT = 1e-5
REGENERATE = "run `python tests/models/make_golden.py` and commit tests/models/golden_outputs.json"


def _load_make_golden() -> ModuleType:
    """Import the sibling script by path (tests/models is not a package)."""
    path = Path(__file__).with_name("make_golden.py")
    spec = importlib.util.spec_from_file_location("pixelwise_tests_make_golden", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


make_golden = _load_make_golden()
GOLDEN: dict[str, dict[str, Any]] = json.loads(make_golden.GOLDEN_PATH.read_text())["models"]


def test_no_stale_entries() -> None:
    """Every recorded model is still registered."""
    stale = sorted(set(GOLDEN) - set(list_models()))
    assert not stale, f"golden outputs for unregistered model(s) {stale}; {REGENERATE}"


@pytest.mark.parametrize("name", list_models())
def test_golden_outputs(name: str) -> None:
    if name not in GOLDEN:
        pytest.fail(f"model {name!r} has no golden outputs; {REGENERATE}")
    golden = GOLDEN[name]
    assert golden["options"] == make_golden.OPTIONS.get(name, {}), (
        f"{name}: options differ from make_golden.OPTIONS; {REGENERATE}"
    )
    logits = make_golden.run_model(name, golden["options"], tuple(golden["input_shape"]))
    assert list(logits.shape) == golden["output_shape"]
    logits = logits.double()
    numel = logits.numel()
    rms = math.sqrt(golden["sum_of_squares"] / numel)
    assert rms > 0, f"{name}: recorded logits are all zero, the comparison would be vacuous"

    values = [logits[0, c, y, x].item() for c, y, x in golden["positions"]]
    atol = SAMPLE_ATOL_PER_RMS * rms
    mismatches = [
        f"[{c}, {y}, {x}]: got {got:.9g}, expected {want:.9g}"
        for (c, y, x), got, want in zip(golden["positions"], values, golden["values"])
        if not math.isclose(got, want, rel_tol=SAMPLE_RTOL, abs_tol=atol)
    ]
    assert not mismatches, (
        f"{name}: {len(mismatches)} of {len(values)} sampled logits drifted (rms {rms:.4g}): "
        + "; ".join(mismatches[:4])
        + f". If intended, {REGENERATE}"
    )
    sum_of_squares = logits.square().sum().item()
    assert math.isclose(sum_of_squares, golden["sum_of_squares"], rel_tol=SUM_OF_SQUARES_RTOL), (
        f"{name}: sum of squares {sum_of_squares:.9g}, expected {golden['sum_of_squares']:.9g}"
    )
    total = logits.sum().item()
    sum_atol = SUM_ATOL_PER_RMS_AND_ELEMENT * rms * numel
    assert math.isclose(total, golden["sum"], rel_tol=SUM_RTOL, abs_tol=sum_atol), (
        f"{name}: sum {total:.9g}, expected {golden['sum']:.9g}"
    )
