"""Threads: CPU count, the ``n_threads`` option and chunked loops."""

import threading

import numpy as np
import pytest

from psfkit.utils import (
    available_cpus,
    resolve_threads,
    run_chunked,
    single_threaded_blas,
)


def test_available_cpus_and_resolve():
    assert available_cpus() >= 1
    assert 1 <= resolve_threads(None) <= min(available_cpus(), 8)
    assert resolve_threads(3) == 3
    assert resolve_threads(np.int64(2)) == 2
    with pytest.raises(ValueError, match="n_threads must be a positive"):
        resolve_threads(0)
    with pytest.raises(TypeError, match="jobs must be a positive"):
        resolve_threads(2.5, name="jobs")
    with pytest.raises(TypeError, match="n_threads"):
        resolve_threads(True)


@pytest.mark.parametrize("n_threads", [1, 2, 4])
@pytest.mark.parametrize("n_items,chunk", [(0, 3), (1, 5), (10, 3), (97, 7),
                                           (64, 64), (64, 100)])
def test_run_chunked_covers_every_item_once(n_threads, n_items, chunk):
    counts = np.zeros(n_items, dtype=int)
    seen = []
    lock = threading.Lock()

    def func(start, stop, scratch):
        assert 0 <= start < stop <= n_items
        assert stop - start <= chunk
        with lock:
            counts[start:stop] += 1
            seen.append(start)
            scratch.append(start)

    run_chunked(func, n_items, chunk, n_threads=n_threads, scratch=list)
    assert np.all(counts == 1)
    assert sorted(seen) == list(range(0, n_items, chunk))


def test_run_chunked_scratch_is_per_thread():
    owners = {}
    lock = threading.Lock()

    def func(start, stop, scratch):
        with lock:
            owners.setdefault(id(scratch), set()).add(threading.get_ident())

    run_chunked(func, 200, 1, n_threads=3, scratch=dict)
    # every scratch object was used by one thread only
    assert all(len(v) == 1 for v in owners.values())


def test_run_chunked_raises_and_stops():
    calls = []

    def func(start, stop, _):
        calls.append(start)
        if start == 20:
            raise RuntimeError("chunk 20 failed")

    with pytest.raises(RuntimeError, match="chunk 20 failed"):
        run_chunked(func, 10_000, 10, n_threads=2)
    # the other thread stopped soon after, instead of finishing the loop
    assert len(calls) < 1000


@pytest.mark.parametrize("n_threads", [1, 2])
def test_run_chunked_keeps_the_callers_errstate(n_threads):
    def func(start, stop, _):
        np.ones(3) / np.zeros(3)

    with np.errstate(divide="raise"):
        with pytest.raises(FloatingPointError):
            run_chunked(func, 4, 2, n_threads=n_threads)
    with np.errstate(divide="ignore"):
        run_chunked(func, 4, 2, n_threads=n_threads)


def test_single_threaded_blas_nests():
    with single_threaded_blas(), single_threaded_blas():
        x = np.linalg.solve(2.0 * np.eye(3), np.ones(3))
    assert x.tolist() == [0.5, 0.5, 0.5]
