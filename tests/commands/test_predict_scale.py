"""Block-wise, torchrun-sharded, resumable prediction (``pixelwise predict --format cog``).

One tiny trained checkpoint and one 700 x 900 GeoTIFF are shared by the module; the reference
output is a 1-process run. Every run uses ``OMP_NUM_THREADS=1`` (torchrun's default for
several processes), so that floating-point reductions are the same in every process.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml

from pixelwise.cli import main
from training_helpers import tiny_config

rasterio = pytest.importorskip("rasterio")

BLOCK = 256
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


@dataclass
class Setup:
    checkpoint: Path
    image: Path
    colors: list[tuple[int, int, int]]


def _image(path: Path) -> None:
    from rasterio.transform import from_origin

    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, size=(3, 700, 900), dtype=np.uint8)
    image[:, 100:400, 200:600] //= 4  # some structure for the model to see
    profile = {
        "driver": "GTiff",
        "height": 700,
        "width": 900,
        "count": 3,
        "dtype": "uint8",
        "crs": "EPSG:32633",
        "transform": from_origin(500000, 4100000, 10, 10),
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(image)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Setup:
    from pixelwise.training import load_trained_model

    root = tmp_path_factory.mktemp("scale")
    config = tiny_config(
        root / "run",
        data={"train_samples": 8},
        train={"epochs": 1},
        tiling={"tile": 128, "overlap": 16, "blend": "gaussian"},
    )
    (root / "config.yaml").write_text(yaml.safe_dump(config))
    assert main(["train", str(root / "config.yaml")]) == 0
    checkpoint = root / "run" / "best.pt"
    _image(root / "big.tif")
    colors = [tuple(c) for c in load_trained_model(checkpoint).record.labels.colors]
    return Setup(checkpoint, root / "big.tif", colors)  # type: ignore[arg-type]


def _command(setup: Setup, out: Path, *extra: str) -> list[str]:
    return [
        "-m",
        "pixelwise",
        "predict",
        str(setup.checkpoint),
        str(setup.image),
        "--out",
        str(out),
        "--format",
        "cog",
        "--block",
        str(BLOCK),
        "--probs",
        "uint8",
        "--device",
        "cpu",
        *extra,
    ]


def _run(args: list[str]) -> None:
    done = subprocess.run(args, env=ENV, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


def _read(path: Path) -> np.ndarray:
    with rasterio.open(path) as ds:
        return ds.read()


@pytest.fixture(scope="module")
def reference(setup: Setup, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("one")
    _run([sys.executable, *_command(setup, out)])
    assert not (out / "big.parts").exists()
    return out


def test_two_processes_equal_one(
    setup: Setup, reference: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    out = tmp_path_factory.mktemp("two")
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    _run([*torchrun, "--nproc_per_node=2", *_command(setup, out)])
    for name in ("big_labels.tif", "big_probs.tif"):
        np.testing.assert_array_equal(_read(out / name), _read(reference / name))
    assert not (out / "big.parts").exists()


def test_kill_and_resume_gives_the_same_file(
    setup: Setup, reference: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    rng = random.Random(11)
    expected = {n: _read(reference / n) for n in ("big_labels.tif", "big_probs.tif")}
    interrupted = 0
    for attempt in range(3):
        out = tmp_path_factory.mktemp(f"kill{attempt}")
        args = [sys.executable, *_command(setup, out)]
        process = subprocess.Popen(args, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        parts = out / "big.parts"
        _wait_for(parts / "manifest.json", process)  # past the imports: predicting blocks
        time.sleep(rng.uniform(0.0, 2.5))
        process.send_signal(signal.SIGKILL)
        process.wait()
        interrupted += parts.exists()
        blocks = sorted(parts.glob("block_*.npy")) if parts.exists() else []
        for block in blocks:  # every visible block file is whole
            assert np.load(block).size > 0
        if parts.exists() and len([b for b in blocks if "probs" not in b.name]) < 12:
            assert not (out / "big_labels.tif").exists()  # incomplete: no final file
            assert not (out / "big_probs.tif").exists()
        for name, array in expected.items():  # a final file that exists is complete
            if (out / name).exists():
                np.testing.assert_array_equal(_read(out / name), array)
        _run(args)
        for name, array in expected.items():
            np.testing.assert_array_equal(_read(out / name), array)
        assert not parts.exists()
    assert interrupted, "no kill landed before the end of a run"


def _wait_for(path: Path, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while not path.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)


def test_cloud_optimised_geotiff(setup: Setup, reference: Path) -> None:
    with rasterio.open(setup.image) as src:
        crs, transform = src.crs, src.transform
    with rasterio.open(reference / "big_labels.tif") as ds:
        assert ds.profile["tiled"] and ds.profile["blockxsize"] == ds.profile["blockysize"] == 512
        assert ds.profile["compress"] == "deflate"
        assert ds.overviews(1), "internal overviews"
        assert ds.crs == crs and ds.transform == transform
        assert ds.nodata == 255 and (ds.width, ds.height) == (900, 700)
        assert ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        colormap = ds.colormap(1)
        for index, color in enumerate(setup.colors):
            assert colormap[index][:3] == color
    with rasterio.open(reference / "big_probs.tif") as ds:
        assert ds.count == len(setup.colors) and ds.dtypes[0] == "uint8"
        assert ds.overviews(1) and ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        probs = ds.read().astype(int)
    labels = _read(reference / "big_labels.tif")[0]
    chosen = np.take_along_axis(probs, labels[None].astype(int), axis=0)[0]
    np.testing.assert_array_equal(chosen, probs.max(0))  # rounding keeps the order (ties aside)


def test_gtiff_float16_probabilities_and_a_foreign_journal(setup: Setup, tmp_path: Path) -> None:
    from pixelwise.commands import run_predict

    common = {"fmt": "gtiff", "block": BLOCK, "probs": "float16", "device": "cpu"}
    parts = tmp_path / "big.parts"
    parts.mkdir()
    (parts / "manifest.json").write_text('{"block": 512}')
    with pytest.raises(ValueError, match="another run"):
        run_predict(setup.checkpoint, [setup.image], tmp_path, **common)  # type: ignore[arg-type]
    (parts / "manifest.json").unlink()
    written = run_predict(setup.checkpoint, [setup.image], tmp_path, **common)  # type: ignore[arg-type]
    assert [p.name for p in written] == ["big_labels.tif", "big_probs.tif"]
    assert not parts.exists()
    with rasterio.open(tmp_path / "big_probs.tif") as ds:
        assert ds.dtypes[0] == "float32" and not ds.overviews(1)  # GDAL 3.10: no Float16
        probs = ds.read()
    assert np.isfinite(probs).all() and np.allclose(probs.sum(0), 1, atol=5e-3)
    assert np.array_equal(probs, probs.astype(np.float16).astype(np.float32))
