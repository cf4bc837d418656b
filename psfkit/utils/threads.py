"""Control of the BLAS/LAPACK thread pool around many small solves."""

import contextlib
import threading

__all__ = ["single_threaded_blas"]

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
