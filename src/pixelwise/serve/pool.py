"""Inference off the event loop: a worker thread pool with a bounded number of places, and the
jobs the page polls.

A request first *reserves* a place (:meth:`InferencePool.reserve`), before its body is even
read; when all ``workers + queue`` places are taken it is refused at once with 503 and a
``Retry-After`` estimated from recent run times. The place is held while the upload is decoded
and the model runs, and given back when the work is done (or when the request fails before
submitting), so memory and waiting time stay bounded however many clients connect.
"""

from __future__ import annotations

import math
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from pixelwise.serve.errors import ServeError
from pixelwise.serve.inference import Progress

T = TypeVar("T")


class Slot:
    """One reserved place in the pool, given back exactly once: by the work :meth:`submit`
    runs when it finishes, or by :meth:`release_unused` when nothing was submitted."""

    def __init__(self, pool: InferencePool) -> None:
        self._pool = pool
        self._lock = threading.Lock()
        self._released = False
        self._submitted = False

    def submit(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:
        """Run ``fn`` on a worker thread; the place is given back when it finishes."""
        if self._submitted or self._released:
            raise RuntimeError("this slot was already used")
        self._submitted = True
        try:
            future = self._pool._executor.submit(self._pool._timed, fn, *args, **kwargs)
        except BaseException:
            self._release()
            raise
        future.add_done_callback(lambda _: self._release())
        return future

    def release_unused(self) -> None:
        """Give the place back if no work was submitted on it (safe to call always)."""
        if not self._submitted:
            self._release()

    def _release(self) -> None:
        with self._lock:
            if self._released:
                return
            self._released = True
        self._pool._give_back()


class InferencePool:
    """``workers`` threads run the model; at most ``workers + queue`` requests hold a place."""

    def __init__(self, workers: int = 1, queue: int = 8) -> None:
        if workers < 1 or queue < 0:
            raise ValueError(f"workers must be >= 1 and queue >= 0; got {workers}, {queue}")
        self.workers, self.queue = workers, queue
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="pixelwise-inference")
        self._slots = threading.BoundedSemaphore(workers + queue)
        self._capacity = workers + queue
        self._durations: deque[float] = deque(maxlen=32)
        self._count_lock = threading.Lock()
        self._in_use = 0

    def _give_back(self) -> None:
        with self._count_lock:
            self._in_use -= 1
        self._slots.release()

    def _timed(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        started = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            self._durations.append(time.perf_counter() - started)

    def retry_after(self) -> int:
        """Seconds until a place is likely free: the queue's work at the recent mean run time."""
        mean = sum(self._durations) / len(self._durations) if self._durations else 1.0
        return max(1, math.ceil(mean * self._capacity / self.workers))

    @property
    def in_use(self) -> int:
        """Places held now (running, queued, or decoding their upload)."""
        return self._in_use

    def reserve(self) -> Slot:
        """A place, or 503 with ``Retry-After`` when all are taken."""
        if not self._slots.acquire(blocking=False):
            wait = self.retry_after()
            raise ServeError(
                503,
                "the server is busy: all inference places are taken",
                {"workers": self.workers, "queue": self.queue, "retry_after_s": wait},
                headers={"Retry-After": str(wait)},
            )
        with self._count_lock:
            self._in_use += 1
        return Slot(self)

    def status(self) -> dict[str, int]:
        return {"workers": self.workers, "queue": self.queue, "in_use": self.in_use}

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


@dataclass
class Job:
    """A prediction the page follows by polling ``GET /jobs/{id}``."""

    id: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    created: float = field(default_factory=time.time)
    progress: Progress = field(default_factory=Progress)
    result: dict[str, Any] | None = None
    images: dict[str, bytes] = field(default_factory=dict)
    labels: dict[str, np.ndarray] = field(default_factory=dict)
    error: ServeError | None = None

    @property
    def finished(self) -> bool:
        return self.progress.stage in ("done", "error")

    @property
    def nbytes(self) -> int:
        images = sum(len(data) for data in self.images.values())
        return images + sum(int(labels.nbytes) for labels in self.labels.values())

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.id, **self.progress.to_json()}
        if self.result is not None:
            body["result"] = self.result
        if self.error is not None:
            body["error"] = {"status": self.error.status, **self.error.to_json()}
        return body


class JobStore:
    """The latest jobs by id: at most ``max_jobs``, holding at most ``max_bytes`` of images and
    labels (the oldest finished jobs are dropped first)."""

    def __init__(self, max_jobs: int = 32, max_bytes: int = 1 << 30) -> None:
        self.max_jobs, self.max_bytes = max_jobs, max_bytes
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, job: Job) -> Job:
        with self._lock:
            self._jobs[job.id] = job
            held = sum(j.nbytes for j in self._jobs.values())
            for old in [j for j in self._jobs.values() if j.finished]:
                if len(self._jobs) <= self.max_jobs and held <= self.max_bytes:
                    break
                held -= old.nbytes
                del self._jobs[old.id]
        return job

    def get(self, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise ServeError(404, "no such job", {"id": job_id[:64]})
        return job

    def __len__(self) -> int:
        return len(self._jobs)
