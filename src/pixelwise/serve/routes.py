"""The page and the JSON/HTTP API (documented in docs/serve.md).

``GET /`` the page; ``GET /model`` the record; ``GET /gallery``, ``GET /gallery/{id}``,
``GET /gallery/{id}/image.jpg|mask.png``; ``POST /predict`` (an upload or a gallery item ->
labels PNG, probabilities ``.npy`` or a JSON summary); ``POST /jobs`` + ``GET /jobs/{id}``
(the page's path: progress in tiles) and ``GET /jobs/{id}/{file}``; ``GET /health``.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import asdict
from typing import Any, Literal

import numpy as np
from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from pixelwise import __version__
from pixelwise.record import TTAS
from pixelwise.serve.app import STATIC_DIR, ServeState
from pixelwise.serve.decode import Decoded, decode_upload, display_rgb
from pixelwise.serve.errors import ServeError
from pixelwise.serve.inference import Prediction
from pixelwise.serve.pool import Job
from pixelwise.serve.render import PREVIEW_SIDE, label_png, legend, overlay_png, probs_npy, rgb_jpeg

router = APIRouter()
TTA = Literal["none", "hflip", "flips", "all"]
IMAGE_HEADERS = {"Cache-Control": "private, max-age=3600"}
Input = tuple[Decoded, np.ndarray | None]


def _state(request: Request) -> ServeState:
    state: ServeState = request.app.state.serve
    return state


def _safe_name(name: str | None) -> str:
    """The client's file name, for messages only (never a path on this machine)."""
    cleaned = re.sub(r"[^\w.\- ]", "_", (name or "upload").rsplit("/", 1)[-1])[:80]
    return cleaned or "upload"


async def _input(request: Request, state: ServeState, gallery: str | None) -> Input:
    """The image of a request: a gallery id (query or form field) or the multipart ``file``."""
    data, name = b"", "upload"
    if gallery is None:
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            raise ServeError(
                415,
                "send the image as multipart/form-data in the field 'file' (or ?gallery=ID)",
                {"content_type": request.headers.get("content-type")},
            )
        form = await request.form(max_files=1, max_fields=8)
        try:
            upload, field = form.get("file"), form.get("gallery")
            gallery = field if isinstance(field, str) and field else None
            if gallery is None:
                if not isinstance(upload, UploadFile):
                    raise ServeError(422, "no file in the multipart field 'file'", None)
                limit = state.settings.limits.max_upload_bytes
                data = await upload.read(limit + 1)
                name = _safe_name(upload.filename)
        finally:
            await form.close()
    if gallery is not None:
        return await run_in_threadpool(state.gallery.load, gallery)
    decoded = await run_in_threadpool(
        decode_upload,
        data,
        state.predictor.record,
        state.settings.limits,
        name=name,
        tmp_root=state.settings.tmp_root,
    )
    return decoded, None


def _summary(state: ServeState, decoded: Decoded, pred: Prediction, mask: Any) -> dict[str, Any]:
    table = state.predictor.table
    nodata = float(np.mean(pred.labels >= table.num_classes)) if decoded.nodata is not None else 0.0
    return {
        "name": decoded.name,
        "height": decoded.height,
        "width": decoded.width,
        "bands": decoded.bands,
        "dtype": decoded.array.dtype.name,
        "tta": pred.tta,
        "crf": pred.crf_labels is not None,
        "tiles": pred.tiles,
        "seconds": {k: round(v, 4) for k, v in pred.seconds.items()},
        "has_mask": mask is not None,
        "nodata_share": nodata,
        **legend(table, pred.labels, pred.crf_labels, mask),
    }


def _crf_fits(state: ServeState, decoded: Decoded) -> bool:
    return decoded.height * decoded.width <= state.settings.limits.crf_max_pixels


# -- the page and the model --------------------------------------------------------------------
@router.get("/", include_in_schema=False)
async def page() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


@router.get("/health")
async def health(request: Request) -> dict[str, Any]:
    state = _state(request)
    return {"status": "ok", "pool": state.pool.status(), "jobs": len(state.jobs)}


@router.get("/model")
async def model(request: Request) -> dict[str, Any]:
    """The model record, the labels a prediction uses, the limits and the pool."""
    state = _state(request)
    record = state.predictor.record
    labels = [{"label": c.id, "name": c.name, "color": list(c.color)} for c in record.labels]
    return {
        "record": record.to_dict(),
        "labels": labels,
        "ignore_index": record.labels.ignore_index,
        "tiling": asdict(record.tiling),
        "tta_choices": list(TTAS),
        "limits": state.settings.limits.to_json(),
        "pool": state.pool.status(),
        "pixelwise_version": __version__,
    }


# -- the gallery ---------------------------------------------------------------------------------
@router.get("/gallery")
async def gallery_list(request: Request) -> dict[str, Any]:
    return _state(request).gallery.listing()


@router.get("/gallery/{item_id}")
async def gallery_item(request: Request, item_id: str) -> dict[str, Any]:
    return _state(request).gallery.get(item_id).to_json()


@router.get("/gallery/{item_id}/image.jpg")
async def gallery_image(
    request: Request, item_id: str, side: int = Query(PREVIEW_SIDE, ge=16, le=4096)
) -> Response:
    """The item as the page shows it (JPEG, longest side at most ``side``)."""
    data = await run_in_threadpool(_state(request).gallery.preview, item_id, "image", side)
    return Response(data, media_type="image/jpeg", headers=IMAGE_HEADERS)


@router.get("/gallery/{item_id}/mask.png")
async def gallery_mask(
    request: Request, item_id: str, side: int = Query(PREVIEW_SIDE, ge=16, le=4096)
) -> Response:
    """The item's mask in the class colours (PNG, transparent where ignored)."""
    data = await run_in_threadpool(_state(request).gallery.preview, item_id, "mask", side)
    return Response(data, media_type="image/png", headers=IMAGE_HEADERS)


# -- prediction --------------------------------------------------------------------------------
def _respond(
    state: ServeState, decoded: Decoded, mask: Any, output: str, tta: str | None, crf: bool
) -> Response:
    """Runs on a worker thread: the prediction and its encoding."""
    limit = state.settings.limits.crf_max_pixels
    if output == "probs" and decoded.height * decoded.width > limit:
        raise ServeError(
            422,
            "probabilities are sent for images up to the CRF's pixel limit; ask for labels",
            {"pixels": decoded.height * decoded.width, "max_pixels_for_probs": limit},
        )
    started = time.perf_counter()
    pred = state.predictor.predict(
        decoded.array,
        decoded.nodata,
        tta=tta,
        crf=crf,
        keep_probs=output == "probs",
        crf_max_pixels=state.settings.limits.crf_max_pixels,
    )
    labels = pred.crf_labels if pred.crf_labels is not None else pred.labels
    headers = {
        "X-Pixelwise-Seconds": f"{time.perf_counter() - started:.4f}",
        "X-Pixelwise-TTA": pred.tta,
        "X-Pixelwise-CRF": "1" if pred.crf_labels is not None else "0",
        "Cache-Control": "no-store",
    }
    if output == "json":
        return JSONResponse(_summary(state, decoded, pred, mask), headers=headers)
    if output == "probs":
        assert pred.probs is not None
        headers["Content-Disposition"] = 'attachment; filename="probs.npy"'
        return Response(
            probs_npy(pred.probs), media_type="application/octet-stream", headers=headers
        )
    colors = state.predictor.table.colors
    return Response(label_png(labels, colors), media_type="image/png", headers=headers)


@router.post("/predict")
async def predict(
    request: Request,
    output: Literal["labels", "probs", "json"] = "labels",
    tta: TTA | None = None,
    crf: bool = False,
    gallery: str | None = None,
) -> Response:
    """Segment the uploaded image (multipart field ``file``) or ``?gallery=ID``; synchronous."""
    state = _state(request)
    slot = state.pool.reserve()  # before the body is read: a full server refuses at once
    try:
        decoded, mask = await _input(request, state, gallery)
        future = slot.submit(_respond, state, decoded, mask, output, tta, crf)
    finally:
        slot.release_unused()
    return await asyncio.wrap_future(future)


def _run_job(
    state: ServeState, job: Job, decoded: Decoded, mask: Any, tta: str | None, crf: bool
) -> None:
    """Runs on a worker thread: predict, render the page's images, publish the result."""
    try:
        colors = state.predictor.table.colors
        pred = state.predictor.predict(
            decoded.array, decoded.nodata, tta=tta, crf=crf, progress=job.progress
        )
        job.progress.stage = "rendering"
        images = {
            "input.jpg": rgb_jpeg(display_rgb(decoded.array)),
            "overlay.png": overlay_png(pred.labels, colors),
        }
        job.labels = {"labels.png": pred.labels}
        if pred.crf_labels is not None:
            images["overlay_crf.png"] = overlay_png(pred.crf_labels, colors)
            job.labels["labels_crf.png"] = pred.crf_labels
        if mask is not None:
            images["mask.png"] = overlay_png(mask, colors)
        result = _summary(state, decoded, pred, mask)
        result["crf_available"] = _crf_fits(state, decoded)
        files = [*images, *job.labels]
        result["images"] = {f.split(".")[0]: f"/jobs/{job.id}/{f}" for f in files}
        job.images, job.result = images, result
        job.progress.stage = "done"
    except ServeError as error:
        job.error, job.progress.stage = error, "error"
    except Exception as error:  # reported to the page; the server keeps running
        job.error = ServeError(500, "the prediction failed", {"type": type(error).__name__})
        job.progress.stage = "error"


@router.post("/jobs", status_code=202)
async def create_job(
    request: Request,
    tta: TTA | None = None,
    crf: bool = False,
    gallery: str | None = None,
) -> JSONResponse:
    """Start a prediction (upload or gallery item) and return its id; poll ``GET /jobs/{id}``.
    A CRF asked for an image above the CRF's pixel limit is left out (``crf_available``)."""
    state = _state(request)
    slot = state.pool.reserve()
    try:
        decoded, mask = await _input(request, state, gallery)
        job = state.jobs.add(Job())
        slot.submit(_run_job, state, job, decoded, mask, tta, crf and _crf_fits(state, decoded))
    finally:
        slot.release_unused()
    return JSONResponse({"status_url": f"/jobs/{job.id}", **job.to_json()}, status_code=202)


@router.get("/jobs/{job_id}")
async def job_status(request: Request, job_id: str) -> dict[str, Any]:
    return _state(request).jobs.get(job_id).to_json()


@router.get("/jobs/{job_id}/{name}")
async def job_file(request: Request, job_id: str, name: str) -> Response:
    """The page's previews (``input.jpg``, ``overlay.png``, ``overlay_crf.png``, ``mask.png``)
    and the full-resolution label PNGs (``labels.png``, ``labels_crf.png``)."""
    state = _state(request)
    job = state.jobs.get(job_id)
    if name in job.images:
        media = "image/jpeg" if name.endswith(".jpg") else "image/png"
        return Response(job.images[name], media_type=media, headers=IMAGE_HEADERS)
    if name in job.labels:
        data = await run_in_threadpool(label_png, job.labels[name], state.predictor.table.colors)
        return Response(data, media_type="image/png", headers=IMAGE_HEADERS)
    raise ServeError(404, "no such image for this job", {"job": job.id, "name": name[:64]})
