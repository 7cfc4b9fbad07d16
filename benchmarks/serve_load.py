"""Load test of ``pixelwise serve``: N concurrent clients on loopback, p50/p95 latency, errors.

The server runs in its own process (``run_serve``: the command's code path, one inference
worker, a queue of 8 by default) with a small U-Net; each client is a thread with its own
keep-alive HTTP connection that posts 360 x 480 PNGs (8 different synthetic scenes) to
``POST /predict`` (labels PNG back) as fast as it can for ``--seconds``, after a short warm-up.
Latency is measured by the client (upload, decode, queue, inference, PNG encode, download); the
server's own time (``X-Pixelwise-Seconds``: inference and encoding) is reported beside it, and
so is the CPU other processes used meanwhile (``/proc/stat`` minus the benchmark's and the
server's own CPU time, in cores), since the 2 cores may be shared with other jobs.

Model: by default the ``pixelwise demo --quick`` U-Net (``base_channels=8, depth=3``, 5 classes,
121k parameters) with untrained weights (latency does not depend on them), saved with a model
record as a ``save_pretrained`` folder; ``--checkpoint`` serves any checkpoint or folder.

Run: ``python benchmarks/serve_load.py [--seconds 20] [--clients 1 4 8]``; prints a table and
writes ``benchmarks/results/serve_load.json`` (with the CPU's model name from ``lscpu``).
Targets: p50 under 150 ms for one client, no errors under 8 concurrent clients.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from io import BytesIO
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import torch
from PIL import Image

RESULTS = Path(__file__).resolve().parent / "results" / "serve_load.json"
UNET_OPTIONS = {"base_channels": 8, "depth": 3}


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return platform.processor() or "unknown"
    for line in out.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def small_unet_folder(folder: Path) -> Path:
    """The demo's quick U-Net, untrained, as a ``save_pretrained`` folder with its record."""
    from pixelwise import create_model
    from pixelwise.data import SYNTHETIC_CLASSES
    from pixelwise.pretrained import save_pretrained
    from pixelwise.record import ModelRecord, Preprocessing

    torch.manual_seed(0)
    model = create_model("unet", num_classes=5, in_channels=3, **UNET_OPTIONS)
    record = ModelRecord(
        architecture="unet",
        options=dict(UNET_OPTIONS),
        num_outputs=5,
        classes=SYNTHETIC_CLASSES,
        preprocessing=Preprocessing(
            in_channels=3,
            dtype="uint8",
            scale=(1 / 255,) * 3,
            mean=(0.45,) * 3,
            std=(0.25,) * 3,
        ),
    )
    return save_pretrained(model, folder, record=record)


def scenes(height: int, width: int, count: int = 8) -> list[bytes]:
    from pixelwise.data import synthetic_raster

    out = []
    for seed in range(count):
        image, _ = synthetic_raster(height, width, seed=700 + seed)
        buffer = BytesIO()
        Image.fromarray(image).save(buffer, format="PNG")
        out.append(buffer.getvalue())
    return out


def busy_seconds() -> float:
    """CPU seconds all processes have used since boot (``/proc/stat``; 0 where unavailable)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def process_seconds(pid: int) -> float:
    """CPU seconds of process ``pid`` (``/proc/PID/stat``: utime + stime)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    model: Path, port: int, workers: int, queue: int, threads: int | None
) -> subprocess.Popen[bytes]:
    code = (
        "from pixelwise.commands.serve import run_serve; "
        f"run_serve({str(model)!r}, port={port}, workers={workers}, queue={queue}, "
        f"threads={threads}, device='cpu', log_level='warning')"
    )
    server = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with code {server.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.3)
    server.terminate()
    raise RuntimeError("the server did not start within 120 s")


def client_loop(url: str, images: list[bytes], offset: int, until: float, out: list) -> None:
    with httpx.Client(timeout=60) as client:
        index = offset
        while time.perf_counter() < until:
            data = images[index % len(images)]
            index += 1
            started = time.perf_counter()
            try:
                response = client.post(url, files={"file": ("scene.png", data, "image/png")})
                status = response.status_code
                server = float(response.headers.get("x-pixelwise-seconds", "nan"))
            except httpx.HTTPError as error:
                status, server = type(error).__name__, float("nan")
            out.append((time.perf_counter() - started, status, server))


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def run_level(url: str, images: list[bytes], clients: int, seconds: float) -> dict[str, Any]:
    for data in images[:3]:  # warm-up (first forward passes, allocator)
        httpx.post(url, files={"file": ("w.png", data, "image/png")}, timeout=60)
    samples: list[tuple[float, Any, float]] = []
    until = time.perf_counter() + seconds
    threads = [
        threading.Thread(target=client_loop, args=(url, images, i, until, samples))
        for i in range(clients)
    ]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    ok = [s for s in samples if s[1] == 200]
    latency = [s[0] * 1000 for s in ok]
    server = [s[2] * 1000 for s in ok if s[2] == s[2]]
    errors: dict[str, int] = {}
    for sample in samples:
        if sample[1] != 200:
            errors[str(sample[1])] = errors.get(str(sample[1]), 0) + 1
    return {
        "clients": clients,
        "seconds": round(elapsed, 2),
        "requests": len(samples),
        "ok": len(ok),
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "throughput_rps": round(len(ok) / elapsed, 2),
        "p50_ms": round(percentile(latency, 50), 1),
        "p95_ms": round(percentile(latency, 95), 1),
        "mean_ms": round(statistics.fmean(latency), 1) if latency else None,
        "server_p50_ms": round(percentile(server, 50), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--checkpoint", help="checkpoint or pretrained folder (default: small U-Net)"
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="per client level")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--size", type=int, nargs=2, default=(360, 480), metavar=("H", "W"))
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--queue", type=int, default=8)
    parser.add_argument("--threads", type=int, help="server torch threads (default: torch's)")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--note", default="", help="recorded in the JSON (e.g. the conditions)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="serve-load-") as tmp:
        model = Path(args.checkpoint) if args.checkpoint else small_unet_folder(Path(tmp) / "unet")
        port = free_port()
        load_before = os.getloadavg()
        server = start_server(model, port, args.workers, args.queue, args.threads)
        try:
            url = f"http://127.0.0.1:{port}/predict"
            images = scenes(*args.size)
            levels = []
            for clients in args.clients:
                busy, ours = busy_seconds(), process_seconds(server.pid) + sum(os.times()[:2])
                level = run_level(url, images, clients, args.seconds)
                ours = process_seconds(server.pid) + sum(os.times()[:2]) - ours
                others = busy_seconds() - busy - ours
                level["other_processes_cpus"] = round(max(others, 0.0) / level["seconds"], 2)
                levels.append(level)
        finally:
            server.terminate()
            server.wait(timeout=30)
    report = {
        "benchmark": "pixelwise serve: POST /predict (labels PNG) on loopback",
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "server_torch_threads": args.threads or torch.get_num_threads(),
        "python": platform.python_version(),
        "model": str(args.checkpoint or f"unet {UNET_OPTIONS}, 5 classes, untrained weights"),
        "image": list(args.size),
        "workers": args.workers,
        "queue": args.queue,
        "load_average_before": [round(v, 2) for v in load_before],
        "load_average_after": [round(v, 2) for v in os.getloadavg()],
        "targets": {"p50_ms_1_client": 150, "errors_8_clients": 0},
        "note": args.note,
        "results": levels,
    }
    header = (
        f"{'clients':>7} {'requests':>8} {'errors':>6} {'req/s':>6} {'p50 ms':>7} {'p95 ms':>7} "
        f"{'server p50':>10} {'other CPUs':>10}"
    )
    print(
        f"{report['cpu']}, {report['cpu_count']} CPUs, load before {report['load_average_before']}"
    )
    print(header)
    for r in levels:
        print(
            f"{r['clients']:>7} {r['requests']:>8} {r['errors']:>6} {r['throughput_rps']:>6} "
            f"{r['p50_ms']:>7} {r['p95_ms']:>7} {r['server_p50_ms']:>10} "
            f"{r['other_processes_cpus']:>10}"
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
