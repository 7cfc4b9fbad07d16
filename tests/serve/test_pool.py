"""The bounded worker pool and the job store."""

from __future__ import annotations

import numpy as np
import pytest

from pixelwise.serve import ServeError
from pixelwise.serve.pool import InferencePool, Job, JobStore


def test_places_are_bounded_and_given_back_once() -> None:
    pool = InferencePool(workers=1, queue=1)
    first, second = pool.reserve(), pool.reserve()
    with pytest.raises(ServeError) as refused:
        pool.reserve()
    assert refused.value.status == 503 and int(refused.value.headers["Retry-After"]) >= 1
    assert pool.in_use == 2
    first.release_unused()
    first.release_unused()  # idempotent
    assert pool.in_use == 1
    assert second.submit(lambda: 41 + 1).result(timeout=10) == 42
    second.release_unused()  # submitted: the work gave the place back
    assert pool.in_use == 0
    with pytest.raises(RuntimeError):
        second.submit(lambda: None)
    pool.shutdown()


def test_failed_work_gives_its_place_back() -> None:
    pool = InferencePool(workers=1, queue=0)
    future = pool.reserve().submit(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        future.result(timeout=10)
    assert pool.in_use == 0
    pool.reserve().release_unused()
    pool.shutdown()


def _finished(nbytes: int = 0) -> Job:
    job = Job()
    job.progress.stage = "done"
    job.labels = {"labels.png": np.zeros(nbytes, dtype=np.uint8)}
    return job


def test_job_store_drops_the_oldest_finished_jobs() -> None:
    store = JobStore(max_jobs=2, max_bytes=1000)
    running = store.add(Job())
    old, new = store.add(_finished()), store.add(_finished())
    assert len(store) == 2 and store.get(running.id) is running and store.get(new.id) is new
    with pytest.raises(ServeError):
        store.get(old.id)
    store = JobStore(max_jobs=10, max_bytes=1000)
    big = store.add(_finished(800))
    store.add(_finished(300))
    with pytest.raises(ServeError, match="no such job"):
        store.get(big.id)
