"""The JSON/HTTP API: good requests, and every refusal a clear 4xx that leaves nothing behind."""

from __future__ import annotations

import time
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from serve_helpers import make_client, png_bytes, scene_png, tiff_bytes

from pixelwise.data import SYNTHETIC_CLASSES
from pixelwise.serve import Limits


def _post(client, data: bytes, query: str = "", name: str = "image.png"):  # type: ignore[no-untyped-def]
    return client.post(f"/predict{query}", files={"file": (name, data, "application/x-anything")})


def _assert_error(response, status: int, words: str) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "detail"}
    assert words in body["error"], body
    return body


def test_model_route_returns_the_record(client) -> None:  # type: ignore[no-untyped-def]
    body = client.get("/model").json()
    assert body["record"]["architecture"] == "unet"
    assert [c["name"] for c in body["record"]["classes"]["classes"]] == SYNTHETIC_CLASSES.names
    assert [row["name"] for row in body["labels"]] == SYNTHETIC_CLASSES.names
    assert body["limits"]["max_upload_bytes"] == 32 * 2**20


def test_predict_returns_a_palette_label_png(client, upload_root: Path) -> None:  # type: ignore[no-untyped-def]
    response = _post(client, scene_png(96, 128))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    assert float(response.headers["x-pixelwise-seconds"]) > 0
    image = Image.open(BytesIO(response.content))
    assert image.mode == "P" and image.size == (128, 96)
    assert np.asarray(image).max() < 5
    palette = image.getpalette()
    assert palette is not None and tuple(palette[6:9]) == SYNTHETIC_CLASSES.colors[2]
    assert list(upload_root.iterdir()) == []


def test_predict_gives_what_pixelwise_predict_writes(  # type: ignore[no-untyped-def]
    client, tiny_checkpoint: Path, tmp_path: Path
) -> None:
    from pixelwise.commands import run_predict

    data = scene_png(300, 200, seed=11)  # larger than the record's 256 tile: tiled
    (tmp_path / "scene.png").write_bytes(data)
    written = run_predict(tiny_checkpoint, [tmp_path / "scene.png"], tmp_path / "out")
    expected = np.asarray(Image.open(written[0]))
    served = np.asarray(Image.open(BytesIO(_post(client, data).content)))
    np.testing.assert_array_equal(served, expected)


def test_predict_probs_npy_and_tta(client) -> None:  # type: ignore[no-untyped-def]
    response = _post(client, scene_png(64, 80), "?output=probs&tta=all")
    assert response.status_code == 200, response.text
    assert response.headers["x-pixelwise-tta"] == "all"
    probs = np.load(BytesIO(response.content), allow_pickle=False)
    assert probs.shape == (5, 64, 80) and probs.dtype == np.float16
    np.testing.assert_allclose(probs.astype(np.float32).sum(0), 1.0, atol=5e-3)


def test_gallery_json_prediction_has_iou_and_crf(client) -> None:  # type: ignore[no-untyped-def]
    items = client.get("/gallery").json()["items"]
    assert items and all(item["has_mask"] for item in items)
    assert client.get(f"/gallery/{items[0]['id']}").json()["name"] == items[0]["name"]
    image = client.get(items[0]["image"] + "?side=64")
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    assert max(Image.open(BytesIO(image.content)).size) == 64
    body = client.post(f"/predict?gallery={items[0]['id']}&output=json&crf=true").json()
    assert body["crf"] is True and body["has_mask"] is True
    assert [row["name"] for row in body["classes"]] == SYNTHETIC_CLASSES.names
    assert sum(row["share"] for row in body["classes"]) == pytest.approx(1.0)
    assert 0 <= body["mean_iou"] <= 1 and "mean_iou_crf" in body
    assert set(body["seconds"]) == {"predict", "crf"}


def test_oversized_upload_by_content_length(tiny_loaded, upload_root: Path) -> None:  # type: ignore[no-untyped-def]
    with make_client(tiny_loaded, upload_root, limits=Limits(max_upload_bytes=4096)) as client:
        body = _assert_error(_post(client, b"\x89PNG\r\n\x1a\n" + bytes(200_000)), 413, "too large")
        assert body["detail"]["max_upload_bytes"] == 4096
        # under the body limit (multipart overhead allowed) but over the file limit
        _assert_error(_post(client, b"\x89PNG\r\n\x1a\n" + bytes(8000)), 413, "too large")
    assert list(upload_root.iterdir()) == []


def test_non_image_and_truncated_png(client, upload_root: Path) -> None:  # type: ignore[no-untyped-def]
    body = _assert_error(_post(client, b"%PDF-1.4 not an image", name="../../x.pdf"), 415, "PNG")
    assert body["detail"]["file"] == "x.pdf"  # the client's name is only echoed, cleaned
    _assert_error(_post(client, b""), 422, "empty")
    data = scene_png(64, 64)
    body = _assert_error(_post(client, data[: len(data) // 2]), 422, "cannot be decoded")
    assert "tmp" not in str(body["detail"])  # no server path in the message
    _assert_error(client.post("/predict", content=data), 415, "multipart")
    assert list(upload_root.iterdir()) == []


def test_wrong_band_count_and_dtype(client, upload_root: Path) -> None:  # type: ignore[no-untyped-def]
    four = np.zeros((4, 32, 32), dtype=np.uint8)
    body = _assert_error(_post(client, tiff_bytes(four, photometric="minisblack")), 422, "bands")
    assert body["detail"]["bands"] == 4 and body["detail"]["expected"] == 3
    grey = np.zeros((32, 32), dtype=np.uint8)
    _assert_error(_post(client, png_bytes(grey)), 422, "bands")
    rgb16 = np.zeros((32, 32, 3), dtype=np.uint16)
    body = _assert_error(_post(client, tiff_bytes(rgb16, photometric="rgb")), 422, "pixel type")
    assert body["detail"]["dtype"] == "uint16"
    ok = _post(client, tiff_bytes(np.zeros((32, 32, 3), np.uint8), photometric="rgb"))
    assert ok.status_code == 200, ok.text
    assert list(upload_root.iterdir()) == []


def test_pixel_limits_and_decompression_bomb(  # type: ignore[no-untyped-def]
    tiny_loaded, upload_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = np.zeros((1200, 1000), dtype=bool)  # bilevel PNG: a few hundred bytes
    limits = Limits(max_pixels=1_000_000)
    with make_client(tiny_loaded, upload_root, limits=limits) as client:
        body = _assert_error(_post(client, png_bytes(big)), 413, "too many pixels")
        assert body["detail"]["pixels"] == 1_200_000
        tiff = tiff_bytes(np.zeros((1200, 1000, 3), np.uint8), compression="zlib")
        assert len(tiff) < 100_000
        _assert_error(_post(client, tiff), 413, "too many pixels")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500_000)
    with make_client(tiny_loaded, upload_root, limits=Limits(max_pixels=10**8)) as client:
        _assert_error(_post(client, png_bytes(big)), 413, "decompression bomb")
    assert list(upload_root.iterdir()) == []


def test_full_queue_answers_503_with_retry_after(tiny_loaded, upload_root: Path) -> None:  # type: ignore[no-untyped-def]
    with make_client(tiny_loaded, upload_root, workers=1, queue=0) as client:
        slot = client.app.state.serve.pool.reserve()  # the only place, taken
        try:
            response = _post(client, scene_png(32, 32))
            _assert_error(response, 503, "busy")
            assert int(response.headers["retry-after"]) >= 1
        finally:
            slot.release_unused()
        assert _post(client, scene_png(32, 32)).status_code == 200


def test_ids_not_paths_and_error_formats(client) -> None:  # type: ignore[no-untyped-def]
    _assert_error(client.get("/gallery/..%2F..%2Fetc%2Fpasswd"), 404, "not found")
    _assert_error(client.get("/gallery/nope"), 404, "no such gallery item")
    _assert_error(client.post("/predict?gallery=/etc/passwd"), 404, "no such gallery item")
    _assert_error(client.get("/jobs/nope"), 404, "no such job")
    body = _assert_error(client.post("/predict?tta=sideways&gallery=s0"), 422, "invalid request")
    assert body["detail"][0]["where"] == "query.tta"
    page = client.get("/jobs/<script>", headers={"accept": "text/html"})
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "<script>" not in page.text and "no such job" in page.text
    assert client.get("/").headers["content-security-policy"].startswith("default-src 'self'")


def test_jobs_report_progress_and_images(client) -> None:  # type: ignore[no-untyped-def]
    response = client.post("/jobs?gallery=s6")  # 720 x 960: several tiles
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    deadline = time.monotonic() + 120
    while (job := client.get(f"/jobs/{job_id}").json())["stage"] not in ("done", "error"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert job["stage"] == "done", job
    assert job["tiles_done"] == job["tiles_total"] == job["result"]["tiles"] > 1
    images = job["result"]["images"]
    assert set(images) == {"input", "overlay", "mask", "labels"}
    labels = client.get(images["labels"])
    assert Image.open(BytesIO(labels.content)).size == (960, 720)
    assert client.get(images["input"]).headers["content-type"] == "image/jpeg"
    _assert_error(client.post("/jobs", files={"file": ("x", b"nope", "")}), 415, "PNG")


def test_loopback_host_check(tiny_loaded, upload_root: Path) -> None:  # type: ignore[no-untyped-def]
    hosts = ["127.0.0.1", "localhost", "testserver"]
    with make_client(tiny_loaded, upload_root, allowed_hosts=hosts) as client:
        assert client.get("/health").status_code == 200
        for host in ("localhost:8000", "127.0.0.1"):
            assert client.get("/health", headers={"host": host}).status_code == 200
        for host in ("attacker.example", "localhost.attacker.example:8000", ""):
            refused = client.get("/health", headers={"host": host})
            _assert_error(refused, 400, "host not allowed")


def test_probabilities_only_for_images_the_crf_could_take(tiny_loaded, upload_root: Path) -> None:  # type: ignore[no-untyped-def]
    limits = Limits(crf_max_pixels=1000)
    with make_client(tiny_loaded, upload_root, limits=limits) as client:
        body = _assert_error(_post(client, scene_png(40, 40), "?output=probs"), 422, "labels")
        assert body["detail"]["max_pixels_for_probs"] == 1000
        _assert_error(
            _post(client, scene_png(40, 40), "?crf=true"), 422, "too large for the dense CRF"
        )
        job = client.post("/jobs?crf=true", files={"file": ("a.png", scene_png(40, 40))}).json()
        while (job := client.get(f"/jobs/{job['id']}").json())["stage"] not in ("done", "error"):
            time.sleep(0.02)
        assert job["result"]["crf"] is False and job["result"]["crf_available"] is False
        assert _post(client, scene_png(40, 40)).status_code == 200
    assert list(upload_root.iterdir()) == []
