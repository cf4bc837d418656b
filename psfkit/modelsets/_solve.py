"""
Batched linear least squares: one design matrix, many right-hand sides.

Every model of a set shares the design matrix ``A`` (shape ``(K, P)``: K data
points, P free parameters) but has its own data row ``y_n`` and possibly its
own mask and weights.  The engine solves

    minimise  sum_k W[n, k] * (y[n, k] - (A c_n)[k])**2     for every n

without a Python loop over the models:

* rows with no masked point and shared weights: one pseudo-inverse of the
  (weighted) design, each parameter one BLAS matrix-vector product over a
  chunk of rows, and the residuals formed in place by rank-1 updates;
* rows with masked points and shared weights, when few distinct mask
  patterns occur: one pseudo-inverse per pattern, remembered in a
  `PatternCache` for the rest of the call (a caller that solves many
  batches with the same design, such as ``fit_ramps`` chunk by chunk of
  pixels, passes one cache to all of them);
* otherwise (per-row weights, or many patterns): per-row normal equations
  built with matrix products, solved by a batched Cholesky factorisation of
  the Jacobi-scaled Gram matrix, followed by one step of iterative
  refinement (corrected semi-normal equations).  Rows whose estimated
  1-norm condition number is too large for the normal equations, or whose
  factorisation fails, are solved by a batched SVD instead, which gives the
  minimum-norm solution of `numpy.linalg.lstsq` and its rank.

Why not `psfkit._numerics.linalg`: the shared core solves independent
systems, each with its own design.  Here every row shares the design
``A``, so all the Gram matrices come from one matrix product,
``W @ B`` with ``B[k] = outer(A[k], A[k])`` flattened, which BLAS runs
at full speed; the core's ``normal_equations`` forms one small product
per row.  Section 7 of ``benchmarks/bench_modelsets.py`` times both on
the same systems: the core takes 1.7 to 3.5 times as long for the
solves with covariances (10 to 20 times for the normal equations
alone), and its plain LU solve, without the refinement step, agrees
only to about 1e-7 on the 6-parameter case.  The shared-design route
(one pseudo-inverse for every complete row) has no counterpart in the
core at all.

The data are processed in chunks of rows, each copied into a float64 work
buffer with the points along its first axis, so float32 (or integer)
inputs never need a full float64 copy and every operation streams through
cache-resident memory.  Chunks can be shared among threads
(`psfkit.utils.run_chunked`); each writes only its own rows of the outputs.
Outputs that are the same for every row are returned as broadcast views.
"""

from dataclasses import dataclass
import threading

import numpy as np
from scipy.linalg.blas import dger as _dger

from ..utils.threads import run_chunked

__all__ = []

STATUS_OK = 0
STATUS_TOO_FEW_POINTS = 1
STATUS_SINGULAR = 2
STATUS_NAMES = {STATUS_OK: "ok", STATUS_TOO_FEW_POINTS: "too few points",
                STATUS_SINGULAR: "singular"}

#: At most this many mask patterns are remembered by one `PatternCache`.
_PATTERN_CACHE_SIZE = 4096

# Above this 1-norm condition number of the scaled Gram matrix the normal
# equations lose too many digits even after refinement; use the SVD.
_COND_LIMIT = 1e10


@dataclass
class BatchSolution:
    """
    Per-row results of `solve_batch` (arrays indexed by row).

    Columns that are the same for every row (when all rows were solved with
    the shared design) are read-only broadcast views of one value.
    """

    columns: list            # P arrays (N,): the fitted parameters
    n_points: np.ndarray     # (N,) int: points with positive weight
    rank: np.ndarray         # (N,) int
    status: np.ndarray       # (N,) int8
    rss: np.ndarray | None   # (N,) weighted residual sum of squares
    hinv: np.ndarray | None  # (N, P, P) (pseudo-)inverse of A^T W A
    shared: np.ndarray | None  # (N,) bool: solved with the shared design
    hinv_shared: np.ndarray | None  # (P, P) inverse Gram matrix of those

    @property
    def params(self):
        """The parameters as one (N, P) array (a new array)."""
        return np.stack(self.columns, axis=1)


def subtract_outer(y, a, b):
    """
    ``y -= np.outer(a, b)`` in place, without the temporary outer product.

    ``y`` is a C-contiguous float64 (K, n) array; BLAS ``dger`` updates its
    Fortran-ordered transpose directly.
    """
    yt = y.T
    r = _dger(-1.0, b, a, a=yt, overwrite_a=1)
    if r.ctypes.data != yt.ctypes.data:  # pragma: no cover
        yt[...] = r  # BLAS made a copy after all


def default_chunk(n_points, n_params=1):
    """A number of rows per chunk that keeps the work buffer near 4 MB."""
    per_row = max(n_points, n_params * n_params)
    return int(np.clip(2**19 // per_row, 16, 65536))


def _pinv_shared(A, W):
    """Pseudo-inverse data for rows sharing the weights ``W`` (K,)."""
    sw = np.sqrt(W)
    aw = A * sw[:, None]
    u, s, vt = np.linalg.svd(aw, full_matrices=False)
    return u, s, vt, sw


def shared_solver(A, W, rcond):
    """Return (M, rank, hinv, n_points) with params = y @ M.T for all rows."""
    P = A.shape[1]
    n_points = int(np.count_nonzero(W > 0))
    if n_points < P:
        return None, 0, np.full((P, P), np.nan), n_points
    u, s, vt, sw = _pinv_shared(A, W)
    tol = rcond * s[0] if s.size and s[0] > 0 else np.inf
    keep = s > tol
    rank = int(np.count_nonzero(keep))
    sinv = np.where(keep, 1.0 / np.where(keep, s, 1.0), 0.0)
    # params = V S^-1 U^T (sw * y)
    M = (vt.T * sinv) @ u.T * sw[None, :]
    hinv = (vt.T * sinv**2) @ vt
    return M, rank, hinv, n_points


def _spd_inverse_batch(G):
    """
    Inverse of a stack of symmetric positive-definite matrices via Cholesky.

    Returns the inverses and a boolean array marking the rows whose
    factorisation broke down (non-positive pivot); those inverses are
    meaningless and must be recomputed by the caller.
    """
    n, P, _ = G.shape
    L = np.zeros_like(G)
    ok = np.ones(n, dtype=bool)
    for j in range(P):
        d = G[:, j, j] - np.einsum("nk,nk->n", L[:, j, :j], L[:, j, :j])
        good = d > 0
        ok &= good
        ljj = np.sqrt(np.where(good, d, 1.0))
        L[:, j, j] = ljj
        for i in range(j + 1, P):
            L[:, i, j] = (G[:, i, j] - np.einsum("nk,nk->n", L[:, i, :j],
                                                 L[:, j, :j])) / ljj
    linv = np.zeros_like(G)
    for j in range(P):
        linv[:, j, j] = 1.0 / L[:, j, j]
        for i in range(j + 1, P):
            acc = np.einsum("nk,nk->n", L[:, i, j:i], linv[:, j:i, j])
            linv[:, i, j] = -acc / L[:, i, i]
    H = np.einsum("nki,nkj->nij", linv, linv)
    return H, ~ok


def _svd_rows(A, Wn, Yz, rcond):
    """Minimum-norm weighted solutions row by row, batched through the SVD."""
    sw = np.sqrt(Wn)
    aw = sw[:, :, None] * A[None, :, :]
    u, s, vt = np.linalg.svd(aw, full_matrices=False)
    tol = rcond * s[:, :1]
    keep = s > tol
    rank = np.count_nonzero(keep, axis=1)
    sinv = np.where(keep, 1.0 / np.where(keep, s, 1.0), 0.0)
    uty = np.einsum("nki,nk->ni", u, sw * Yz)
    params = np.einsum("nij,ni->nj", vt, sinv * uty)
    hinv = np.einsum("nij,ni,nik->njk", vt, sinv**2, vt)
    return params, rank, hinv


def _normal_rows(A, B, Wn, Yz, rcond, P):
    """Batched normal equations for rows with their own weights (n, K)."""
    n = Wn.shape[0]
    G = (Wn @ B).reshape(n, P, P)
    b = (Wn * Yz) @ A
    d = np.sqrt(np.einsum("nii->ni", G))
    zero_col = np.any(d == 0, axis=1)
    d = np.where(d > 0, d, 1.0)
    Gs = G / (d[:, :, None] * d[:, None, :])
    Hs, broke = _spd_inverse_batch(Gs)
    cond = (np.abs(Gs).sum(axis=1).max(axis=1)
            * np.abs(Hs).sum(axis=1).max(axis=1))
    bad = broke | zero_col | ~(cond < _COND_LIMIT)
    params = np.einsum("nij,nj->ni", Hs, b / d) / d
    # one step of refinement against the weighted residual
    resid = Wn * (Yz - params @ A.T)
    g = resid @ A
    params += np.einsum("nij,nj->ni", Hs, g / d) / d
    hinv = Hs / (d[:, :, None] * d[:, None, :])
    rank = np.full(n, P)
    if np.any(bad):
        idx = np.flatnonzero(bad)
        p_b, r_b, h_b = _svd_rows(A, Wn[idx], Yz[idx], rcond)
        params[idx] = p_b
        rank[idx] = r_b
        hinv[idx] = h_b
    return params, rank, hinv


class PatternCache:
    """
    Solutions of mask patterns, shared by the solves of one call.

    A solution depends on the design, the shared weights and the pattern,
    and all three are in the key, so one cache can serve batches with
    different designs.  Safe to share among threads: a solution computed
    twice by two threads at once is stored once.
    """

    def __init__(self, max_size=_PATTERN_CACHE_SIZE):
        self.max_size = max_size
        self._solutions = {}
        self._lock = threading.Lock()

    def __len__(self):
        return len(self._solutions)

    def get(self, key):
        with self._lock:
            return self._solutions.get(key)

    def put(self, key, solution):
        with self._lock:
            if len(self._solutions) < self.max_size:
                self._solutions.setdefault(key, solution)


def _pattern_groups(invalid):
    """Group rows by identical mask pattern; returns (patterns, inverse)."""
    packed = np.packbits(invalid, axis=1, bitorder="little")
    pad = (-packed.shape[1]) % 8
    if pad:
        packed = np.concatenate(
            [packed, np.zeros((packed.shape[0], pad), np.uint8)], axis=1)
    keys = np.ascontiguousarray(packed).view(np.uint64)
    if keys.shape[1] == 1:
        uniq, first, inverse = np.unique(keys[:, 0], return_index=True,
                                         return_inverse=True)
    else:
        uniq, first, inverse = np.unique(keys, axis=0, return_index=True,
                                         return_inverse=True)
    return invalid[first], inverse.ravel()


class _Batch:
    """The inputs, shared solution and outputs of one `solve_batch` call."""

    def __init__(self, A, Y, valid, weights, rcond, want_rss, want_hinv,
                 offset, fixed, out, pattern_cache=None):
        self.A = A
        K, P = A.shape
        self.Y, self.valid = Y, valid
        N = Y.shape[0]
        self.N, self.K, self.P = N, K, P
        self.rcond = rcond
        self.per_row_w = weights is not None and np.ndim(weights) == 2
        self.weights = weights
        self.W = (np.ones(K) if weights is None or self.per_row_w
                  else np.asarray(weights, dtype=np.float64))
        self.wpos = self.W > 0
        self.all_wpos = bool(self.wpos.all())
        self.B = (A[:, :, None] * A[:, None, :]).reshape(K, P * P)
        self.offset = None if offset is None else np.asarray(offset, float)
        self.fixed = fixed if fixed is not None and fixed[0].shape[1] else None
        self.want_hinv = bool(want_hinv)
        if self.per_row_w:
            self.M, rank, hinv, npts = None, 0, np.full((P, P), np.nan), 0
        else:
            self.M, rank, hinv, npts = shared_solver(A, self.W, rcond)
        self.hinv_shared = hinv
        self.shared_values = {
            "n_points": npts, "rank": rank,
            "status": (STATUS_TOO_FEW_POINTS if npts < P else
                       STATUS_SINGULAR if rank < P else STATUS_OK)}
        if out is None:
            out = list(np.empty((P, N)))
        self.columns = out
        self.rss = np.empty(N) if want_rss else None
        # created when a row needs its own solution (see per_row)
        self.n_points = self.rank = self.status = self.shared = None
        self.hinv = None
        # solutions of the mask patterns met so far (shared weights only:
        # the pattern then determines the solution), reused across chunks
        self.patterns = (PatternCache() if pattern_cache is None
                         else pattern_cache)
        self.design_key = (A.tobytes(), self.W.tobytes(), rcond)
        self._lock = threading.Lock()
        # a progress bar told of every chunk solved (see solve_batch)
        self.progress = None
        if self.per_row_w or self.M is None:
            self.per_row()

    def per_row(self):
        """Create the per-row arrays, filled with the shared values."""
        with self._lock:
            if self.shared is not None:
                return
            N, P, sv = self.N, self.P, self.shared_values
            self.n_points = np.full(N, sv["n_points"], dtype=np.int32)
            self.rank = np.full(N, sv["rank"], dtype=np.int16)
            self.status = np.full(N, sv["status"], dtype=np.int8)
            if self.want_hinv:
                hinv = np.empty((N, P, P))
                hinv[...] = self.hinv_shared
                self.hinv = hinv
            # set last: the other arrays exist once this is not None
            self.shared = np.ones(N, dtype=bool)

    def solution(self):
        """The `BatchSolution`, once every chunk is solved."""
        N, P, sv = self.N, self.P, self.shared_values
        if self.shared is None:
            # every row was solved with the shared design
            def const(value, dtype):
                return np.broadcast_to(np.asarray(value, dtype=dtype), (N,))

            return BatchSolution(
                columns=self.columns, n_points=const(sv["n_points"], np.int32),
                rank=const(sv["rank"], np.int16),
                status=const(sv["status"], np.int8), rss=self.rss,
                hinv=(np.broadcast_to(self.hinv_shared, (N, P, P))
                      if self.want_hinv else None),
                shared=None, hinv_shared=self.hinv_shared)
        return BatchSolution(columns=self.columns, n_points=self.n_points,
                             rank=self.rank, status=self.status, rss=self.rss,
                             hinv=self.hinv, shared=self.shared,
                             hinv_shared=self.hinv_shared)

    def chunk(self, start, stop, scratch):
        """Solve rows ``start:stop`` and report them to the progress bar."""
        # rows with non-finite values come out flagged, not as warnings
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            self._chunk(start, stop, scratch)
        if self.progress is not None:
            self.progress.update(stop - start)

    def _chunk(self, start, stop, scratch):
        n, K = stop - start, self.K
        sl = slice(start, stop)
        buf = scratch.get("y")
        if buf is None or buf.size < K * n:
            buf = scratch["y"] = np.empty(K * n)
        # the chunk's data as a contiguous (K, n) float64 array: every
        # operation below then streams along rows, whatever the caller's
        # layout and dtype
        y = buf[:K * n].reshape(K, n)
        np.copyto(y, self.Y[sl].T, casting="unsafe")
        if self.offset is not None:
            y -= self.offset[:, None]
        if self.fixed is not None:
            y -= self.fixed[0] @ self.fixed[1][sl].T
        cols = [c[sl] for c in self.columns]
        if self.M is None:
            for c in cols:
                c[...] = np.nan
            bad = np.ones(n, dtype=bool)
        else:
            if not self.all_wpos:
                # zero-weight points never matter, whatever their value
                y[~self.wpos] = 0.0
            for j, c in enumerate(cols):
                np.dot(self.M[j], y, out=c)
            # a non-finite value anywhere in a row makes its parameters
            # non-finite: one cheap sum finds whether any row needs the
            # masked treatment
            bad = None
            if not np.isfinite(sum(float(np.add.reduce(c)) for c in cols)):
                bad = ~np.isfinite(cols[0])
                for c in cols[1:]:
                    bad |= ~np.isfinite(c)
            if self.valid is not None:
                vbad = ~np.asarray(self.valid[sl], dtype=bool)[:, self.wpos]
                vbad = vbad.any(axis=1)
                bad = vbad if bad is None else bad | vbad
        rows = (np.empty(0, dtype=np.intp) if bad is None
                else np.flatnonzero(bad))
        Yr = y[:, rows].T.copy() if rows.size else None
        if self.rss is not None:
            if self.M is None:
                self.rss[sl] = np.nan
            elif rows.size < n:
                # residuals formed in place in the work buffer, one rank-1
                # update per parameter
                for j, c in enumerate(cols):
                    subtract_outer(y, self.A[:, j], c)
                np.multiply(y, y, out=y)
                np.dot(self.W, y, out=self.rss[sl])
        if rows.size:
            self._rows(sl, rows, Yr, cols)

    def _rows(self, sl, rows, Yr, cols):
        """Rows with masked points or their own weights."""
        self.per_row()
        ok = np.isfinite(Yr)
        if self.valid is not None:
            ok &= np.asarray(self.valid[sl], dtype=bool)[rows]
        if self.per_row_w:
            Wn = np.asarray(self.weights[sl], dtype=np.float64)[rows] * ok
        else:
            Wn = self.W[None, :] * ok
        Yz = np.where(ok, Yr, 0.0)
        params, npts, rank, hinv = _solve_rows(
            self.A, self.B, Wn, Yz, self.per_row_w, self.rcond,
            self.want_hinv, cache=self.patterns, design_key=self.design_key)
        P = self.P
        dest = rows + sl.start
        for j, c in enumerate(cols):
            c[rows] = params[:, j]
        self.n_points[dest] = npts
        self.rank[dest] = rank
        status = np.where(rank < P, STATUS_SINGULAR, STATUS_OK)
        status[npts < P] = STATUS_TOO_FEW_POINTS
        self.status[dest] = status
        self.shared[dest] = False
        if hinv is not None:
            self.hinv[dest] = hinv
        if self.rss is not None:
            res = Yz - params @ self.A.T
            rss = np.einsum("nk,nk->n", Wn, res * res)
            rss[npts < P] = np.nan
            self.rss[dest] = rss


def solve_batch(A, Y, *, valid=None, weights=None, rcond=None,
                want_rss=True, want_hinv=False, chunk=None, offset=None,
                fixed=None, out=None, n_threads=1, progress=None,
                pattern_cache=None):
    """
    Solve the weighted, masked least-squares problem for every row of ``Y``.

    Parameters
    ----------
    A : ndarray (K, P)
        The shared design matrix (float64).
    Y : ndarray (N, K)
        The data, any real dtype and memory layout; non-finite values are
        treated as masked.
    valid : ndarray (N, K) of bool, optional
        `False` marks a point to ignore.
    weights : ndarray (K,) or (N, K), optional
        Weights of the squared residuals (inverse variances); zero weight
        drops a point.
    rcond : float, optional
        Relative cut-off for small singular values; default
        ``eps * max(K, P)`` as in `numpy.linalg.lstsq`.
    want_rss : bool
        Compute the weighted residual sums of squares.
    want_hinv : bool
        Compute the inverse Gram matrix of every row (a broadcast view of
        `BatchSolution.hinv_shared` when every row shares the design).
    chunk : int, optional
        Rows per chunk.
    offset : ndarray (K,), optional
        A known term subtracted from every row before fitting.
    fixed : tuple (A_fixed, p_fixed), optional
        Columns ``(K, F)`` of fixed parameters and their values ``(N, F)``;
        their contribution is subtracted row by row before fitting.
    out : list of P ndarrays (N,), optional
        Contiguous float64 arrays to receive the parameters.
    n_threads : int, optional
        Threads solving chunks at the same time.
    progress : object, optional
        A progress bar (`psfkit.utils.progress_bar`) told of every chunk
        of rows solved.
    pattern_cache : PatternCache, optional
        Where the solutions of mask patterns are kept; pass one cache to
        several calls to solve each pattern once (a new one by default).

    Returns
    -------
    solution : BatchSolution
    """
    A = np.asarray(A, dtype=np.float64)
    K, P = A.shape
    if rcond is None:
        rcond = np.finfo(float).eps * max(K, P)
    batch = _Batch(A, Y, valid, weights, rcond, want_rss, want_hinv, offset,
                   fixed, out, pattern_cache)
    batch.progress = progress
    chunk = default_chunk(K, P) if chunk is None else int(chunk)
    # each thread keeps its work buffer in a dict of its own
    run_chunked(batch.chunk, batch.N, chunk, n_threads=n_threads,
                scratch=dict)
    return batch.solution()


def _pattern_solver(A, W, pattern, rcond):
    """`shared_solver` of the points not in ``pattern``, as (M, rank, hinv)
    with M spanning all K points (zero columns at the masked ones)."""
    good = ~pattern
    M, rank, hinv, _ = shared_solver(A[good], W[good], rcond)
    if M is not None:
        full = np.zeros((A.shape[1], A.shape[0]))
        full[:, good] = M
        M = full
    return M, rank, hinv


def _solve_rows(A, B, Wn, Yz, per_row_w, rcond, want_hinv, cache=None,
                design_key=None):
    """
    Solutions of rows with their own valid points or weights.

    Returns ``(params (m, P), n_points, rank, hinv or None)``; rows with
    fewer points than parameters get NaN parameters and inverse.  With
    shared weights, rows are grouped by mask pattern; ``cache`` (a
    `PatternCache`) keeps each pattern's solver for later calls, under
    ``design_key`` (what identifies ``A``, the weights and ``rcond``).
    """
    m, P = Wn.shape[0], A.shape[1]
    params = np.full((m, P), np.nan)
    rank = np.zeros(m, dtype=np.int16)
    hinv = np.full((m, P, P), np.nan) if want_hinv else None
    npts = np.count_nonzero(Wn > 0, axis=1)
    if not per_row_w:
        patterns, inverse = _pattern_groups(Wn == 0)
        if patterns.shape[0] <= max(8, m // 32):
            # rows of one pattern are contiguous in this order
            order = np.argsort(inverse, kind="stable")
            bounds = np.concatenate([[0], np.cumsum(np.bincount(
                inverse, minlength=patterns.shape[0]))])
            for g, pattern in enumerate(patterns):
                members = order[bounds[g]:bounds[g + 1]]
                key = (design_key, pattern.tobytes())
                solved = None if cache is None else cache.get(key)
                if solved is None:
                    solved = _pattern_solver(A, Wn[members[0]], pattern,
                                             rcond)
                    if cache is not None:
                        cache.put(key, solved)
                M, r, h = solved
                rank[members] = r
                if M is not None:
                    # masked points are zero in Yz and in M's columns
                    params[members] = Yz[members] @ M.T
                    if hinv is not None:
                        hinv[members] = h
            return params, npts, rank, hinv
    idx = np.flatnonzero(npts >= P)
    if idx.size:
        p, r, h = _normal_rows(A, B, Wn[idx], Yz[idx], rcond, P)
        params[idx] = p
        rank[idx] = r
        if hinv is not None:
            hinv[idx] = h
    return params, npts, rank, hinv
