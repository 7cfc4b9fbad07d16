"""The one error type of the server: an HTTP status, a short message and a detail.

Every refusal (a bad upload, a full queue, an unknown id) is a :class:`ServeError`; the app turns
it into ``{"error": ..., "detail": ...}`` with its status (JSON clients) or a small HTML page
(browsers), so no route builds error responses by hand.
"""

from __future__ import annotations

import html
from typing import Any


class ServeError(Exception):
    """A client-facing error: ``status`` (4xx/5xx), ``error`` (one sentence), ``detail`` (any
    JSON value: numbers the client can act on), extra response ``headers`` (e.g. Retry-After)."""

    def __init__(
        self,
        status: int,
        error: str,
        detail: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.detail = detail
        self.headers = dict(headers or {})

    def to_json(self) -> dict[str, Any]:
        return {"error": self.error, "detail": self.detail}


class BodyTooLarge(ServeError):
    """The request body grew past the upload limit while it was being received."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            413,
            "upload too large",
            {"max_upload_bytes": limit, "hint": "start the server with a larger --max-upload-mb"},
        )


def error_page(status: int, error: str, detail: Any = None) -> str:
    """A minimal self-contained HTML error page (no scripts, everything escaped)."""
    text = "" if detail is None else f"<pre>{html.escape(str(detail))}</pre>"
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{status} {html.escape(error)}</title>"
        "<style>body{font:16px system-ui,sans-serif;margin:3em;color:#222}"
        "pre{background:#f3f3f3;padding:1em;white-space:pre-wrap}</style></head><body>"
        f"<h1>{status}: {html.escape(error)}</h1>{text}"
        "<p><a href='/'>Back to the segmentation page</a></p></body></html>"
    )
