"""The FastAPI application: settings, shared state, safety middleware and error responses.

The routes live in :mod:`pixelwise.serve.routes`. Everything that can go wrong for a client is a
:class:`~pixelwise.serve.errors.ServeError` (or FastAPI's own validation and routing errors),
answered as ``{"error": ..., "detail": ...}`` with a 4xx/5xx status, or as a small HTML page
when a browser navigates to the URL.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pixelwise import __version__
from pixelwise.serve.decode import Limits
from pixelwise.serve.errors import BodyTooLarge, ServeError, error_page
from pixelwise.serve.gallery import Gallery
from pixelwise.serve.inference import Predictor
from pixelwise.serve.pool import InferencePool, JobStore

STATIC_DIR = Path(__file__).resolve().parent / "static"
MULTIPART_OVERHEAD = 64 * 1024  # boundaries, headers and form fields around the file
LOOPBACK_HOSTS = ["127.0.0.1", "localhost", "[::1]"]
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; "
        b"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    ),
]
log = logging.getLogger("pixelwise.serve")


@dataclass
class ServeSettings:
    """Limits and capacity. ``allowed_hosts``: Host headers accepted (``None``: any); the
    command sets the loopback names when it binds to loopback (DNS-rebinding protection).
    ``tmp_root``: where the private per-upload folders are made (default: the system's)."""

    limits: Limits = field(default_factory=Limits)
    workers: int = 1
    queue: int = 8
    allowed_hosts: list[str] | None = None
    tmp_root: Path | None = None
    max_jobs: int = 32


@dataclass
class ServeState:
    predictor: Predictor
    gallery: Gallery
    settings: ServeSettings
    pool: InferencePool
    jobs: JobStore


def _host_name(value: bytes) -> str:
    host = value.decode("latin-1").strip().lower()
    if host.startswith("["):  # [::1]:8000
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class Guard:
    """Pure ASGI middleware: refuses Host headers outside ``allowed_hosts`` (when given) and
    bodies over the upload limit (by Content-Length at once, else while they stream in), and
    adds the security headers to every response."""

    def __init__(
        self, app: ASGIApp, max_body: int, max_upload: int, allowed_hosts: list[str] | None
    ) -> None:
        self.app, self.max_body, self.max_upload = app, max_body, max_upload
        self.allowed = None if allowed_hosts is None else {h.lower() for h in allowed_hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + SECURITY_HEADERS
            await send(message)

        headers = dict(scope.get("headers", []))
        host = _host_name(headers.get(b"host", b""))
        if self.allowed is not None and host not in self.allowed:
            error = ServeError(400, "host not allowed", {"host": host[:100]})
            response = JSONResponse(error.to_json(), status_code=400)
            await response(scope, receive, send_with_headers)
            return
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            error = BodyTooLarge(self.max_upload)
            response = JSONResponse(
                error.to_json(), status_code=413, headers={"Connection": "close"}
            )
            await response(scope, receive, send_with_headers)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise BodyTooLarge(self.max_upload)
            return message

        await self.app(scope, limited_receive, send_with_headers)


def _wants_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return request.method == "GET" and "text/html" in accept.split(",")[0]


def error_response(
    request: Request,
    status: int,
    error: str,
    detail: Any = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    if _wants_html(request):
        return HTMLResponse(error_page(status, error, detail), status_code=status, headers=headers)
    return JSONResponse({"error": error, "detail": detail}, status_code=status, headers=headers)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServeError)
    async def serve_error(request: Request, exc: ServeError) -> Response:
        return error_response(request, exc.status, exc.error, exc.detail, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        detail = [
            {"where": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("msg")}
            for e in exc.errors()
        ]
        return error_response(request, 422, "invalid request", detail)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        messages = {404: "not found", 405: "method not allowed"}
        error = messages.get(exc.status_code, str(exc.detail))
        detail = {"path": request.url.path[:200]} if exc.status_code in messages else None
        return error_response(request, exc.status_code, error, detail, exc.headers)

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(request, 500, "internal server error", {"type": type(exc).__name__})


def create_app(predictor: Predictor, gallery: Gallery, settings: ServeSettings | None = None):
    """The application for ``predictor``'s model and ``gallery`` (see docs/serve.md)."""
    from pixelwise.serve.routes import router

    settings = settings or ServeSettings()
    pool = InferencePool(settings.workers, settings.queue)
    state = ServeState(predictor, gallery, settings, pool, JobStore(settings.max_jobs))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        pool.shutdown()

    app = FastAPI(
        title="pixelwise serve",
        version=__version__,
        docs_url=None,  # the interactive docs load scripts from a CDN; the schema stays
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.serve = state
    _install_error_handlers(app)
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    limit = settings.limits.max_upload_bytes
    app.add_middleware(
        Guard,
        max_body=limit + MULTIPART_OVERHEAD,
        max_upload=limit,
        allowed_hosts=settings.allowed_hosts,
    )
    return app
