"""``pixelwise serve``: a web page and a JSON/HTTP API for one trained model (see docs/serve.md).

Safe by default: it listens on 127.0.0.1 only and then accepts only loopback Host headers
(DNS-rebinding protection); uploads are limited in bytes and pixels and checked against the
model record; inference runs on a bounded worker pool (503 + Retry-After when it is full).
"""

from __future__ import annotations

import sys
from pathlib import Path

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _require_serve_extra() -> None:
    from importlib.util import find_spec

    missing = [name for name in ("fastapi", "uvicorn", "multipart") if find_spec(name) is None]
    if missing:
        raise ImportError(
            f"pixelwise serve needs FastAPI, uvicorn and python-multipart ({', '.join(missing)} "
            "missing): pip install 'pixelwise[serve]'"
        )


def run_serve(
    checkpoint: str | Path,
    *,
    images: str | Path | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    max_upload_mb: float = 32,
    workers: int = 1,
    queue: int = 8,
    max_pixels: int = 0,
    crf_max_pixels: int = 4096 * 4096,
    device: str = "auto",
    threads: int | None = None,
    log_level: str = "info",
) -> None:
    """Serve ``checkpoint`` (a ``.pt`` checkpoint or a ``save_pretrained`` folder) until
    interrupted.

    Args:
        images: gallery folder (``DIR/images`` + ``DIR/masks`` paired by stem, or a folder of
            images); default: the embedded synthetic scenes.
        host, port: where to listen; anything but loopback is announced with a warning (the
            server has no authentication).
        max_upload_mb: the largest upload accepted (413 above).
        workers: inference threads; ``queue``: requests allowed to wait for them (503 beyond).
        max_pixels: the largest image in pixels (0: Pillow's ``MAX_IMAGE_PIXELS``).
        crf_max_pixels: the largest image the dense CRF is offered for (it holds the whole
            image and its probabilities in memory).
        device: ``auto`` (CUDA when present), ``cpu`` or ``cuda``.
        threads: torch's CPU threads (default: torch's choice, one per core); on a machine
            shared with other jobs fewer threads than cores avoid oversubscription.
    """
    _require_serve_extra()
    import uvicorn

    from pixelwise.serve import Limits, ServeSettings, build_app
    from pixelwise.serve.app import LOOPBACK_HOSTS

    if max_upload_mb <= 0 or workers < 1 or queue < 0 or max_pixels < 0:
        raise ValueError(
            "max_upload_mb must be > 0, workers >= 1, queue >= 0 and max_pixels >= 0; got "
            f"{max_upload_mb}, {workers}, {queue}, {max_pixels}"
        )
    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads must be >= 1; got {threads}")
        import torch

        torch.set_num_threads(threads)
    loopback = host in LOOPBACK
    if not loopback:
        print(
            f"pixelwise serve: warning: listening on {host}, reachable from other machines; "
            "the server has no authentication",
            file=sys.stderr,
        )
    settings = ServeSettings(
        limits=Limits(
            max_upload_bytes=int(max_upload_mb * 2**20),
            max_pixels=max_pixels,
            crf_max_pixels=crf_max_pixels,
        ),
        workers=workers,
        queue=queue,
        allowed_hosts=LOOPBACK_HOSTS if loopback else None,
    )
    app = build_app(checkpoint, images=images, settings=settings, device=device)
    record = app.state.serve.predictor.record
    shown = f"[{host}]" if ":" in host else host
    print(f"pixelwise serve: {record.architecture} ({record.labels.num_classes} labels)")
    print(f"pixelwise serve: open http://{shown}:{port}/  (Ctrl+C to stop)")
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=log_level,
        limit_concurrency=max(64, 4 * (workers + queue)),
        timeout_graceful_shutdown=5,
    )
