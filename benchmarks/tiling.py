"""Tiled inference benchmark: overhead over the bare forward, MONAI comparison, big rasters.

Every variant runs in its own child process; the parent reads the child's peak resident set
size with ``os.wait4`` (``ru_maxrss``), so the numbers do not contaminate each other.

1. Overhead: ``predict_large`` (array in, labels out) vs the bare model forward on the same
   tiles in the same batches, for ``crop``, ``mean`` and ``gaussian``.
2. MONAI: ``monai.inferers.sliding_window_inference`` (gaussian and constant) with the same
   model, tile, overlap and batch, on a 2048 x 2048 image, vs ``predict_tensor`` (full K x H x W
   probabilities in memory) and ``predict_large`` (labels only), plus whole-image inference.
3. Big rasters: a 3-band GeoTIFF (tiled, deflate) read from and written to disk by
   ``predict_file`` with a 1x1-conv model, 10000^2 and 20000^2, peak RSS and time.

Usage: ``python benchmarks/tiling.py [--quick] [--model own|pixelwise-unet]``; prints a table and
writes ``benchmarks/results/tiling.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

RESULTS = Path(__file__).resolve().parent / "results" / "tiling.json"


class SmallUNet(nn.Module):
    """U-Net-like net (Ronneberger et al. 2015), widths 16-32-64-128, 6 classes, BN + ReLU."""

    def __init__(self, in_channels: int = 3, num_classes: int = 6, width: int = 16) -> None:
        super().__init__()
        self.in_channels = in_channels
        widths = [width * 2**i for i in range(4)]

        def block(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(cin, cout, 3, padding=1, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(inplace=True),
                nn.Conv2d(cout, cout, 3, padding=1, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(inplace=True),
            )

        self.down = nn.ModuleList(
            [block(c_in, c_out) for c_in, c_out in zip([in_channels] + widths[:-1], widths)]
        )
        self.up = nn.ModuleList(
            [nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2) for i in range(3)]
        )
        self.fuse = nn.ModuleList([block(2 * widths[i], widths[i]) for i in range(3)])
        self.head = nn.Conv2d(widths[0], num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, stage in enumerate(self.down):
            x = stage(x if i == 0 else nn.functional.max_pool2d(x, 2))
            skips.append(x)
        x = skips.pop()
        for i in reversed(range(3)):
            x = self.fuse[i](torch.cat([self.up[i](x), skips.pop()], dim=1))
        return self.head(x)


def build_model(kind: str) -> nn.Module:
    torch.manual_seed(0)
    if kind == "pixelwise-unet":
        from pixelwise import create_model

        return create_model("unet", num_classes=6, in_channels=3).eval()
    if kind == "pointwise":
        return nn.Conv2d(3, 4, 1).eval()
    return SmallUNet().eval()


# ----------------------------------------------------------------------------- child variants


class TimedModel(nn.Module):
    """Wraps a model and adds up the CPU time spent inside it: everything else a tiled-inference
    run does (reading, softmax, blending, labels) is its overhead, measured in the same run."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model, self.cpu_seconds = model, 0.0
        self.in_channels = getattr(model, "in_channels", 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        start = time.process_time()
        out = self.model(x)
        self.cpu_seconds += time.process_time() - start
        return out


def _batches(image: torch.Tensor, tile: int, overlap: int, batch: int) -> list[torch.Tensor]:
    from pixelwise.tiling import TileGrid

    grid = TileGrid(image.shape[1], image.shape[2], tile=tile, overlap=overlap)
    tiles = [image[:, t.y : t.y + tile, t.x : t.x + tile] for t in grid]
    return [torch.stack(tiles[i : i + batch]) for i in range(0, len(tiles), batch)]


def child(args: argparse.Namespace) -> dict:
    from pixelwise.tiling import ArraySink, ArraySource, predict_large, predict_tensor

    torch.set_grad_enabled(False)
    if args.variant.startswith("file"):
        return child_file(args)
    model = build_model(args.model)
    size, tile, overlap, batch = args.size, args.tile, args.overlap, args.batch
    image = torch.rand(3, size, size, generator=torch.Generator().manual_seed(0))
    variant, times, cpu_times, model_cpu, extra = args.variant, [], [], [], {}
    if variant.split("-")[0] in ("large", "tensor", "monai"):
        model = TimedModel(model)
    batches = _batches(image, tile, overlap, batch) if variant == "bare" else []
    for _ in range(args.repeats):
        if isinstance(model, TimedModel):
            model.cpu_seconds = 0.0
        start, cpu_start = time.perf_counter(), time.process_time()
        if variant == "setup":
            pass
        elif variant == "bare":
            for tiles in batches:  # the same tiles and batches, sliced beforehand
                model(tiles)
        elif variant == "whole":
            model(image[None])
        elif variant.startswith("monai"):
            from monai.inferers import sliding_window_inference

            out = sliding_window_inference(
                image[None], (tile, tile), batch, model, overlap=overlap / tile,
                mode="gaussian" if variant == "monai-gaussian" else "constant",
                sigma_scale=0.125,
            )  # fmt: skip
            labels = out.max(1).indices
        elif variant.startswith("tensor"):
            probs = predict_tensor(model, image, tile=tile, overlap=overlap,
                                   blend=variant.split("-")[1], batch_size=batch)  # fmt: skip
            labels = probs.max(0).indices
        elif variant.startswith("large"):
            sink = ArraySink(labels=True)
            blend = variant.split("-")[1]
            predict_large(model, ArraySource(image), sink, tile=tile, overlap=overlap,
                          blend=blend, batch_size=batch, progress=False)  # fmt: skip
            labels = sink.labels
        else:
            raise ValueError(variant)
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
        if isinstance(model, TimedModel):
            model_cpu.append(model.cpu_seconds)
    if variant == "monai-gaussian":  # agreement check: our gaussian blend of logits vs MONAI
        ours = predict_tensor(model, image, tile=tile, overlap=overlap, blend="gaussian",
                              batch_size=batch, space="logits")  # fmt: skip
        extra["max_abs_logit_diff_vs_pixelwise_gaussian"] = float((ours - out[0]).abs().max())
        extra["label_agreement_vs_pixelwise"] = float((ours.argmax(0) == labels[0]).float().mean())
    if model_cpu:  # overhead outside the model, in the fastest (least disturbed) repeat
        best = int(np.argmin(cpu_times))
        extra["model_cpu_seconds"] = model_cpu[best]
        extra["overhead_outside_model"] = cpu_times[best] / model_cpu[best] - 1.0
    return {
        "seconds": min(times) if times else 0.0,
        "cpu_seconds": min(cpu_times) if cpu_times else 0.0,
        "all_seconds": times,
        "all_cpu_seconds": cpu_times,
        **extra,
    }


def make_raster(path: Path, size: int) -> None:
    """A smooth 3-band uint8 GeoTIFF, tiled 512 and deflate-compressed, written by row blocks."""
    import rasterio
    from affine import Affine
    from rasterio.crs import CRS
    from rasterio.windows import Window

    profile = {
        "driver": "GTiff", "height": size, "width": size, "count": 3, "dtype": "uint8",
        "crs": CRS.from_epsg(32633), "transform": Affine(0.5, 0, 500000, 0, -0.5, 5200000),
        "nodata": 0, "tiled": True, "blockxsize": 512, "blockysize": 512,
        "compress": "deflate", "BIGTIFF": "IF_SAFER",
    }  # fmt: skip
    x = np.arange(size, dtype=np.float32)
    with rasterio.Env(GDAL_CACHEMAX=64), rasterio.open(path, "w", **profile) as dst:
        for row0 in range(0, size, 512):
            rows = min(512, size - row0)
            y = np.arange(row0, row0 + rows, dtype=np.float32)[:, None]
            bands = [np.sin(y / (40 + 9 * b)) * np.cos(x / (60 + 7 * b)) for b in range(3)]
            block = ((np.stack(bands) + 1) * 120 + 10).astype(np.uint8)
            dst.write(block, window=Window(0, row0, size, rows))


def child_file(args: argparse.Namespace) -> dict:
    from pixelwise.tiling import Normalization, predict_file

    model = build_model("pointwise")
    start = time.perf_counter()
    written = predict_file(model, args.path, args.out, tile=args.tile, overlap=args.overlap,
                           blend=args.blend, batch_size=args.batch, progress=False,
                           normalization=Normalization(scale=1 / 255))  # fmt: skip
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "output_bytes": sum(p.stat().st_size for p in written)}


# ----------------------------------------------------------------------------- parent


def run_child(argv: list[str]) -> dict:
    """Run this script as a child, return its JSON result plus its own peak RSS in MB."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        out_json = handle.name
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}  # no spinning threads: CPU time is work
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", "--json", out_json, *argv], env=env
    )
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"child {argv} failed with exit code {proc.returncode}")
    result = json.loads(Path(out_json).read_text())
    os.unlink(out_json)
    result["peak_rss_mb"] = usage.ru_maxrss / 1024  # Linux: kilobytes
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--model", default="own", choices=["own", "pixelwise-unet"])
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--json", help=argparse.SUPPRESS)
    parser.add_argument("--variant", default="setup", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, default=2048, help=argparse.SUPPRESS)
    parser.add_argument("--tile", type=int, default=512, help=argparse.SUPPRESS)
    parser.add_argument("--overlap", type=int, default=128, help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, default=4, help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=2, help=argparse.SUPPRESS)
    parser.add_argument("--blend", default="gaussian", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        torch.set_num_threads(int(os.environ.get("BENCH_THREADS", torch.get_num_threads())))
        Path(args.json).write_text(json.dumps(child(args)))
        return

    size = 1024 if args.quick else 2048
    common = ["--size", str(size), "--model", args.model, "--repeats", "2"]
    variants = ["setup", "bare", "large-crop", "large-mean", "large-gaussian", "tensor-gaussian",
                "monai-gaussian", "monai-constant", "whole"]  # fmt: skip
    inference: dict[str, dict] = {}
    for variant in variants:
        inference[variant] = run_child([*common, "--variant", variant])
        print(f"  {variant:<16} {inference[variant]['seconds']:7.2f} s "
              f"{inference[variant]['cpu_seconds']:7.2f} s CPU "
              f"{inference[variant]['peak_rss_mb']:8.0f} MB", flush=True)  # fmt: skip
    bare, bare_cpu = inference["bare"]["seconds"], inference["bare"]["cpu_seconds"]
    for result in inference.values():
        result["ratio_to_bare_forward"] = result["seconds"] / bare if bare else None
        result["cpu_ratio_to_bare_forward"] = result["cpu_seconds"] / bare_cpu if bare_cpu else None

    rasters: dict[str, dict] = {}
    sizes = [2000, 4000] if args.quick else [10000, 20000]
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        for raster_size in sizes:
            path = Path(tmp) / f"in_{raster_size}.tif"
            start = time.perf_counter()
            make_raster(path, raster_size)
            written_s = time.perf_counter() - start
            result = run_child(["--variant", "file", "--path", str(path), "--out", tmp,
                                "--tile", "512", "--overlap", "64", "--blend", "gaussian",
                                "--batch", "4"])  # fmt: skip
            result.update(input_bytes=path.stat().st_size, input_write_seconds=written_s)
            rasters[f"{raster_size}x{raster_size}"] = result
            print(f"  raster {raster_size}^2: {result['seconds']:.1f} s, "
                  f"{result['peak_rss_mb']:.0f} MB", flush=True)  # fmt: skip
            path.unlink()

    tiles = len(_batches(torch.zeros(1, size, size), 512, 128, 1))
    print(
        f"\nTiled inference, {size}x{size} RGB, tile 512, overlap 128 (0.25), batch 4, "
        f"{tiles} tiles, model {args.model} (6 classes), CPU threads {torch.get_num_threads()}"
    )
    print(f"{'variant':<18}{'wall s':>9}{'x bare':>9}{'CPU s':>9}{'x bare':>9}"
          f"{'outside model':>15}{'peak RSS MB':>13}")  # fmt: skip
    for variant, r in inference.items():
        outside = r.get("overhead_outside_model")
        outside_text = f"{outside:>14.1%} " if outside is not None else f"{'-':>15}"
        print(f"{variant:<18}{r['seconds']:>9.2f}{r['ratio_to_bare_forward']:>9.3f}"
              f"{r['cpu_seconds']:>9.2f}{r['cpu_ratio_to_bare_forward']:>9.3f}"
              f"{outside_text}{r['peak_rss_mb']:>13.0f}")  # fmt: skip
    if "max_abs_logit_diff_vs_pixelwise_gaussian" in inference["monai-gaussian"]:
        m = inference["monai-gaussian"]
        print(f"MONAI vs pixelwise gaussian (logits): max |diff| "
              f"{m['max_abs_logit_diff_vs_pixelwise_gaussian']:.2e}, label agreement "
              f"{m['label_agreement_vs_pixelwise']:.5f}")  # fmt: skip
    print("\nGeoTIFF on disk -> predict_file (1x1 conv, tile 512, overlap 64, gaussian, labels)")
    print(f"{'raster':<14}{'time s':>9}{'peak RSS MB':>13}{'input MB':>10}")
    for name, result in rasters.items():
        print(f"{name:<14}{result['seconds']:>9.1f}{result['peak_rss_mb']:>13.0f}"
              f"{result['input_bytes'] / 2**20:>10.1f}")  # fmt: skip

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "conditions": {
            "image": size, "tile": 512, "overlap": 128, "batch": 4, "tiles": tiles,
            "model": args.model, "quick": args.quick, "torch": torch.__version__,
            "threads": torch.get_num_threads(), "machine": platform.platform(),
            "note": "2 CPU cores shared with other jobs: wall times are noisy; min of 2 runs "
            "per variant; CPU time (process_time, OMP_WAIT_POLICY=PASSIVE) is steadier",
        },
        "inference": inference,
        "rasters": rasters,
    }, indent=2))  # fmt: skip
    print(f"\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
