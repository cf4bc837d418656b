"""
Threads: the BLAS/LAPACK thread pool around many small solves, and
chunked loops spread over a few threads.
"""

from concurrent.futures import ThreadPoolExecutor
import contextlib
import contextvars
import os
import threading

import numpy as np

from .exceptions import call_collecting_warnings, issue_warnings

__all__ = ["single_threaded_blas", "available_cpus", "resolve_threads",
           "run_chunked"]

#: At most this many threads by default: the chunked engines are limited
#: by memory bandwidth, which a few cores already saturate.
MAX_DEFAULT_THREADS = 8

_LOCK = threading.Lock()
_STATE = {"count": 0, "limiter": None, "controller": None}


@contextlib.contextmanager
def single_threaded_blas():
    """
    Run BLAS and LAPACK single-threaded inside the ``with`` block.

    psfkit's engines solve many small systems (tens of unknowns each).
    Threaded BLAS only adds synchronisation to each of them, which on a busy
    machine can cost ten times the arithmetic.  Nested and concurrent uses
    are counted, so the user's setting is restored when the last one ends.
    Uses ``threadpoolctl``; without it this does nothing.

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.utils import single_threaded_blas
    >>> with single_threaded_blas():
    ...     x = np.linalg.solve(np.eye(3), np.ones(3))
    >>> x.tolist()
    [1.0, 1.0, 1.0]
    """
    with _LOCK:
        if _STATE["count"] == 0:
            try:
                if _STATE["controller"] is None:
                    from threadpoolctl import ThreadpoolController

                    _STATE["controller"] = ThreadpoolController()
                limiter = _STATE["controller"].limit(limits=1, user_api="blas")
            except ImportError:
                limiter = None
            _STATE["limiter"] = limiter
        _STATE["count"] += 1
    try:
        yield
    finally:
        with _LOCK:
            _STATE["count"] -= 1
            if _STATE["count"] == 0 and _STATE["limiter"] is not None:
                _STATE["limiter"].restore_original_limits()
                _STATE["limiter"] = None


def available_cpus():
    """
    The number of CPU cores this process may run on.

    Honours CPU affinity (``taskset``, batch-system slots) where the
    platform reports it, otherwise ``os.cpu_count()``.

    Examples
    --------
    >>> from psfkit.utils import available_cpus
    >>> available_cpus() >= 1
    True
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def resolve_threads(n_threads, name="n_threads"):
    """
    Check an ``n_threads`` option; `None` means every available core.

    Returns a positive int: `None` gives ``available_cpus()`` (at most
    ``MAX_DEFAULT_THREADS``).

    Examples
    --------
    >>> from psfkit.utils import resolve_threads
    >>> resolve_threads(1)
    1
    >>> resolve_threads(0)
    Traceback (most recent call last):
    ...
    ValueError: n_threads must be a positive integer or None, got 0
    """
    if n_threads is None:
        return min(available_cpus(), MAX_DEFAULT_THREADS)
    if isinstance(n_threads, bool) or not isinstance(n_threads, int | np.integer):
        msg = f"{name} must be a positive integer or None, got {n_threads!r}"
        raise TypeError(msg)
    if n_threads < 1:
        msg = f"{name} must be a positive integer or None, got {n_threads!r}"
        raise ValueError(msg)
    return int(n_threads)


def run_chunked(func, n_items, chunk, *, n_threads=1, scratch=None):
    """
    Call ``func(start, stop, scratch)`` for consecutive chunks of items.

    With ``n_threads > 1`` the chunks are handed out one at a time to that
    many threads, so uneven chunks balance themselves; ``func`` must then
    write only its own slice of any shared output.  NumPy releases the
    interpreter lock in its array loops and BLAS calls, so the threads
    work in parallel.  BLAS itself is kept single-threaded meanwhile,
    also with one thread.  Every
    thread runs in a copy of the caller's context (NumPy's ``errstate``
    included) and gets its own ``scratch()`` object (for example a work
    buffer), or `None`.  The first exception raised in a thread stops the
    others and is re-raised here.

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.utils import run_chunked
    >>> x = np.arange(10.0)
    >>> out = np.empty(10)
    >>> def square(start, stop, _):
    ...     out[start:stop] = x[start:stop] ** 2
    >>> run_chunked(square, 10, 3, n_threads=2)
    >>> out.tolist() == (x ** 2).tolist()
    True
    """
    n_items, chunk = int(n_items), max(1, int(chunk))
    starts = range(0, n_items, chunk)
    n_threads = min(int(n_threads), len(starts))
    if n_threads <= 1:
        local = scratch() if scratch is not None else None
        # threaded BLAS on the thin products of a chunk only synchronises
        # (and with some chunk shapes is a hundred times slower)
        with single_threaded_blas():
            for start in starts:
                func(start, min(start + chunk, n_items), local)
        return
    lock = threading.Lock()
    state = {"next": 0, "stop": False}
    # NumPy >= 2 keeps errstate in a context variable (copied below); older
    # NumPy keeps it per thread, so it is also set again in each worker
    errors = np.geterr()

    def worker():
        with np.errstate(**errors):
            _work()

    def _work():
        local = scratch() if scratch is not None else None
        while True:
            with lock:
                i = state["next"]
                if state["stop"] or i >= len(starts):
                    return
                state["next"] = i + 1
            start = starts[i]
            try:
                func(start, min(start + chunk, n_items), local)
            except BaseException:
                state["stop"] = True
                raise

    # the workers' warnings are issued here, at the caller's line
    with single_threaded_blas(), ThreadPoolExecutor(n_threads) as pool:
        futures = [pool.submit(contextvars.copy_context().run,
                               call_collecting_warnings, worker)
                   for _ in range(n_threads)]
        notes = [note for future in futures for note in future.result()[1]]
    issue_warnings(notes)
