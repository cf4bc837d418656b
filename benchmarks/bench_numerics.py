"""
Benchmark of the batched products of the shared numerical core.

Every fitting engine of psfkit forms the normal equations ``J^T W J`` and
``J^T W r`` of a stack of small systems.  ``psfkit._numerics.linalg``
forms them with stacked ``@`` (``numpy.matmul``, one BLAS call per
system); this script times that choice against the two alternatives on
the shapes the engines use, on one BLAS thread, in the same run:

* ``einsum``: ``np.einsum("nli,nl,nlj->nij", J, W, J)``, without path
  optimisation (as the engines used to write it);
* a loop: one ``J_k^T (W_k J_k)`` BLAS product per system in Python.

The shapes: PSF groups and ePSF stars (thousands of 81 x 3 to 121 x 12
systems), kernel candidates (hundreds of 1681 x 30 systems), spatial
kernels and LOCI regions (a few 40000 x 30 systems).  Each line prints the
core's time, each alternative's time and the ratio alternative / core (a
ratio above 1 means the core's product is faster).

Run: python benchmarks/bench_numerics.py
"""

from functools import partial
import time

import numpy as np

from psfkit._numerics.linalg import normal_equations
from psfkit.utils import single_threaded_blas

#: (systems, rows, unknowns)
SHAPES = [(3000, 81, 3), (3000, 121, 12), (400, 1681, 30), (4, 40000, 30)]


def best_of(func, repeat=3):
    """Best wall time of ``repeat`` runs after one untimed call."""
    out = func()
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = func()
        best = min(best, time.perf_counter() - t0)
    return best, out


def with_einsum(jac, resid, weights):
    a = np.einsum("nli,nl,nlj->nij", jac, weights, jac)
    g = np.einsum("nli,nl,nl->ni", jac, weights, resid)
    return a, g


def with_loop(jac, resid, weights):
    n, _, p = jac.shape
    a = np.empty((n, p, p))
    g = np.empty((n, p))
    for k in range(n):
        jw = jac[k] * weights[k][:, None]
        a[k] = jac[k].T @ jw
        g[k] = jw.T @ resid[k]
    return a, g


def main():
    rng = np.random.default_rng(0)
    print("normal equations of a stack of systems, one BLAS thread "
          "(times in ms; ratio = alternative / core)")
    for n, rows, p in SHAPES:
        jac = rng.normal(size=(n, rows, p))
        resid = rng.normal(size=(n, rows))
        weights = rng.uniform(0.5, 2.0, size=(n, rows))
        args = (jac, resid, weights)
        with single_threaded_blas():
            t_core, (a0, g0) = best_of(partial(normal_equations, *args))
            t_ein, (a1, g1) = best_of(partial(with_einsum, *args))
            t_loop, (a2, g2) = best_of(partial(with_loop, *args))
        diff = max(np.max(np.abs(a1 - a0)), np.max(np.abs(a2 - a0)),
                   np.max(np.abs(g1 - g0)), np.max(np.abs(g2 - g0)))
        print(f"  {n:5d} x {rows:5d} x {p:2d}: core (stacked @) "
              f"{t_core * 1e3:8.2f}, einsum {t_ein * 1e3:8.2f} "
              f"({t_ein / t_core:4.1f}x), loop {t_loop * 1e3:8.2f} "
              f"({t_loop / t_core:4.1f}x); max |difference| {diff:.1e}")


if __name__ == "__main__":
    t_start = time.perf_counter()
    main()
    print(f"total benchmark time {time.perf_counter() - t_start:.0f} s")
