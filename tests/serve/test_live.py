"""A real server on loopback: inference never blocks the event loop, and the queue is bounded."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from serve_helpers import scene_png
from serve_live import live_server

from pixelwise.serve import ServeSettings, build_app


def _slow_app(loaded, root: Path, seconds: float, **settings):  # type: ignore[no-untyped-def]
    app = build_app(loaded, settings=ServeSettings(tmp_root=root, **settings))
    predictor = app.state.serve.predictor
    original = predictor.predict

    def slow(*args, **kwargs):  # type: ignore[no-untyped-def]
        time.sleep(seconds)
        return original(*args, **kwargs)

    predictor.predict = slow
    return app


def _upload(url: str, data: bytes) -> httpx.Response:
    return httpx.post(f"{url}/predict", files={"file": ("a.png", data)}, timeout=60)


def test_the_event_loop_answers_during_inference(tiny_loaded, upload_root: Path) -> None:  # type: ignore[no-untyped-def]
    app = _slow_app(tiny_loaded, upload_root, 2.0, workers=1, queue=2)
    data = scene_png(64, 64)
    with live_server(app) as url:
        result: list[httpx.Response] = []
        worker = threading.Thread(target=lambda: result.append(_upload(url, data)))
        worker.start()
        time.sleep(0.4)  # the prediction is running now
        assert app.state.serve.pool.in_use == 1
        started = time.perf_counter()
        assert httpx.get(f"{url}/health", timeout=5).json()["pool"]["in_use"] == 1
        assert httpx.get(f"{url}/model", timeout=5).status_code == 200
        assert time.perf_counter() - started < 1.0
        worker.join(30)
        assert result[0].status_code == 200
    assert list(upload_root.iterdir()) == []


def test_a_full_queue_refuses_at_once(tiny_loaded, upload_root: Path) -> None:  # type: ignore[no-untyped-def]
    app = _slow_app(tiny_loaded, upload_root, 2.0, workers=1, queue=1)
    data = scene_png(64, 64)
    with live_server(app) as url, ThreadPoolExecutor(4) as clients:
        started = time.perf_counter()
        responses = list(clients.map(lambda _: _upload(url, data), range(4)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [200, 200, 503, 503], codes
    refused = [r for r in responses if r.status_code == 503]
    assert all(int(r.headers["retry-after"]) >= 1 for r in refused)
    assert all(r.json()["error"].startswith("the server is busy") for r in refused)
    assert time.perf_counter() - started < 15
    assert list(upload_root.iterdir()) == []
