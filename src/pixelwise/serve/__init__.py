"""``pixelwise serve``: a web page and a JSON/HTTP API around one trained model.

Needs the ``[serve]`` extra (FastAPI, uvicorn, python-multipart). :func:`build_app` loads a
checkpoint (``.pt``) or a ``save_pretrained`` folder and returns the FastAPI application;
:func:`pixelwise.commands.serve.run_serve` runs it with uvicorn. See docs/serve.md.

Modules: :mod:`~pixelwise.serve.decode` (upload checks and decoding), :mod:`~pixelwise.serve.
inference` (the prediction, with tile progress), :mod:`~pixelwise.serve.pool` (worker threads,
bounded places, jobs), :mod:`~pixelwise.serve.gallery`, :mod:`~pixelwise.serve.render`,
:mod:`~pixelwise.serve.app` and :mod:`~pixelwise.serve.routes`; the page is ``static/``.
"""

from __future__ import annotations

from pixelwise.serve.app import ServeSettings, create_app
from pixelwise.serve.decode import Limits
from pixelwise.serve.errors import ServeError
from pixelwise.serve.gallery import Gallery
from pixelwise.serve.inference import Predictor
from pixelwise.serve.loading import build_app, load_model

__all__ = [
    "Gallery",
    "Limits",
    "Predictor",
    "ServeError",
    "ServeSettings",
    "build_app",
    "create_app",
    "load_model",
]
