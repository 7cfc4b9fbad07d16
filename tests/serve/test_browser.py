"""End to end in a real headless browser: Debian's chromium driven by Playwright.

Needs ``apt-get install -y chromium`` (``/usr/bin/chromium``) and ``pip install playwright``
(never ``playwright install``: the system chromium is used). Missing either is a failure with
the fix in the message, not a skip. Screenshots go to ``$PIXELWISE_TEST_ARTIFACTS/serve`` (default
``test-artifacts/serve`` at the repository root).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from serve_helpers import scene_png
from serve_live import live_server

from pixelwise.data import SYNTHETIC_CLASSES
from pixelwise.serve import ServeSettings, build_app

pytestmark = pytest.mark.browser

CHROMIUM = Path(os.environ.get("PIXELWISE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_MS = 180_000


@pytest.fixture(scope="module")
def artifacts() -> Path:
    base = Path(os.environ.get("PIXELWISE_TEST_ARTIFACTS", ROOT / "test-artifacts"))
    folder = base / "serve"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the browser tests need Playwright for Python: pip install playwright")
    if not CHROMIUM.is_file():
        pytest.fail(
            f"the browser tests need chromium at {CHROMIUM}: apt-get install -y chromium "
            "(or set PIXELWISE_CHROMIUM); do not run 'playwright install'"
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


def _wait_for_new_result(page: Any, previous: str | None) -> str:
    """Wait until a job other than ``previous`` is shown; returns its id."""
    page.wait_for_function(
        "(previous) => document.body.dataset.state === 'done'"
        " && document.getElementById('overlay').dataset.job"
        " && document.getElementById('overlay').dataset.job !== previous",
        arg=previous,
        timeout=TIMEOUT_MS,
    )
    return str(page.get_attribute("#overlay", "data-job"))


def test_the_page_end_to_end(  # type: ignore[no-untyped-def]
    browser, tiny_loaded, upload_root: Path, artifacts: Path
) -> None:
    app = build_app(tiny_loaded, settings=ServeSettings(tmp_root=upload_root))
    problems: list[str] = []
    with live_server(app) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.on(
            "response",
            lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None,
        )
        page.goto(url + "/")
        page.wait_for_selector("body[data-state=ready]", timeout=60_000)
        names = page.locator("#legend tbody .name").all_text_contents()
        assert names == tiny_loaded.record.labels.names == SYNTHETIC_CLASSES.names

        # a random gallery image: input beside the overlay, legend with shares and IoU
        page.click("#random")
        job = _wait_for_new_result(page, None)
        assert page.evaluate("document.getElementById('overlay').naturalWidth") > 0
        assert page.evaluate("document.getElementById('input-img').naturalWidth") > 0
        page.fill("#opacity", "35")
        assert (
            page.evaluate("getComputedStyle(document.getElementById('overlay')).opacity") == "0.35"
        )
        shares = page.locator("#legend tbody td.share").all_text_contents()
        assert len(shares) == 5 and all(s.endswith("%") for s in shares)
        assert page.locator("#legend tfoot").inner_text().startswith("mean IoU")
        assert "prediction" in page.inner_text("#timing")
        page.screenshot(path=str(artifacts / "1-random-image.png"), full_page=True)

        # an upload of our own
        page.set_input_files(
            "#upload",
            files=[{"name": "field.png", "mimeType": "image/png", "buffer": scene_png(240, 320)}],
        )
        job = _wait_for_new_result(page, job)
        assert "field.png" in page.inner_text("#image-name")
        assert page.is_hidden("#mask-panel")
        page.screenshot(path=str(artifacts / "2-upload.png"), full_page=True)

        # the dense CRF: before and after side by side, the legend gets its columns
        page.check("#crf")
        job = _wait_for_new_result(page, job)
        assert page.is_visible("#crf-panel")
        assert page.evaluate("document.getElementById('overlay-crf').naturalWidth") > 0
        assert page.is_visible("#legend thead th.crf-col")
        assert "CRF" in page.inner_text("#timing")
        page.screenshot(path=str(artifacts / "3-crf-before-after.png"), full_page=True)

        # a large gallery image goes through the tiled predictor, progress shown in tiles
        page.uncheck("#crf")
        job = _wait_for_new_result(page, job)
        page.click(".thumb[data-id=s7]")
        page.wait_for_function(
            "() => document.getElementById('status-text').textContent.includes(' of ')",
            timeout=TIMEOUT_MS,
        )
        assert page.is_visible("#progress")
        page.screenshot(path=str(artifacts / "4-large-image-progress.png"), full_page=True)
        job = _wait_for_new_result(page, job)
        assert "2048×1536" in page.inner_text("#image-name")
        tiles = int(page.inner_text("#timing").split(" tile(s)")[0].rsplit(" ", 1)[-1])
        assert tiles > 4
        page.screenshot(path=str(artifacts / "5-large-image.png"), full_page=True)

        # a refused upload shows the server's message
        page.set_input_files(
            "#upload", files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hi"}]
        )
        page.wait_for_selector("body[data-state=error]", timeout=60_000)
        assert "not a PNG, JPEG or TIFF image (415)" in page.inner_text("#error")
        page.screenshot(path=str(artifacts / "6-refused-upload.png"), full_page=True)
        page.close()
    # the refused upload (415) is the one failed request the browser may report
    problems = [p for p in problems if "415" not in p]
    assert problems == [], problems
    assert list(upload_root.iterdir()) == []
