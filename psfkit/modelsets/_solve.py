"""
Batched linear least squares: one design matrix, many right-hand sides.

Every model of a set shares the design matrix ``A`` (shape ``(K, P)``: K data
points, P free parameters) but has its own data row ``y_n`` and possibly its
own mask and weights.  The engine solves

    minimise  sum_k W[n, k] * (y[n, k] - (A c_n)[k])**2     for every n

without a Python loop over the models:

* rows with no masked point and shared weights: one pseudo-inverse of the
  (weighted) design, applied to all rows with a matrix product;
* rows with masked points and shared weights, when few distinct mask
  patterns occur: one pseudo-inverse per pattern;
* otherwise (per-row weights, or many patterns): per-row normal equations
  built with matrix products, solved by a batched Cholesky factorisation of
  the Jacobi-scaled Gram matrix, followed by one step of iterative
  refinement (corrected semi-normal equations).  Rows whose estimated
  1-norm condition number is too large for the normal equations, or whose
  factorisation fails, are solved by a batched SVD instead, which gives the
  minimum-norm solution of `numpy.linalg.lstsq` and its rank.

The data are processed in chunks of rows, converted to float64 chunk by
chunk, so float32 (or integer) inputs never need a full float64 copy.
"""

from dataclasses import dataclass

import numpy as np

__all__ = []

STATUS_OK = 0
STATUS_TOO_FEW_POINTS = 1
STATUS_SINGULAR = 2
STATUS_NAMES = {STATUS_OK: "ok", STATUS_TOO_FEW_POINTS: "too few points",
                STATUS_SINGULAR: "singular"}

# Above this 1-norm condition number of the scaled Gram matrix the normal
# equations lose too many digits even after refinement; use the SVD.
_COND_LIMIT = 1e10


@dataclass
class BatchSolution:
    """Per-row results of `solve_batch` (arrays indexed by row)."""

    params: np.ndarray      # (N, P)
    n_points: np.ndarray    # (N,) int: points with positive weight
    rank: np.ndarray        # (N,) int
    status: np.ndarray      # (N,) int8
    rss: np.ndarray | None  # (N,) weighted residual sum of squares
    hinv: np.ndarray | None  # (N, P, P) (pseudo-)inverse of A^T W A
    shared: np.ndarray       # (N,) bool: solved with the shared design
    hinv_shared: np.ndarray  # (P, P) inverse Gram matrix of those rows


def default_chunk(n_points, n_params=1):
    """A number of rows per chunk that keeps temporaries near 1 MB."""
    per_row = max(n_points, n_params * n_params)
    return int(np.clip(2**17 // per_row, 16, 16384))


def _pinv_shared(A, W):
    """Pseudo-inverse data for rows sharing the weights ``W`` (K,)."""
    sw = np.sqrt(W)
    aw = A * sw[:, None]
    u, s, vt = np.linalg.svd(aw, full_matrices=False)
    return u, s, vt, sw


def _shared_solver(A, W, rcond):
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


def _shared_rss(Yc, pc, A, W):
    """Weighted residual sums of rows fitted with the shared design."""
    if Yc.flags.f_contiguous:
        # points-major layout (a transposed cube): work on the C-ordered
        # transpose so every operation streams through memory
        res = A @ pc.T
        np.subtract(Yc.T, res, out=res)
        np.multiply(res, res, out=res)
        return W @ res
    res = pc @ A.T
    np.subtract(Yc, res, out=res)
    np.multiply(res, res, out=res)
    return res @ W


def solve_batch(A, Y, *, valid=None, weights=None, rcond=None,
                want_rss=True, want_hinv=False, chunk=None, offset=None,
                fixed=None):
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
    want_hinv : bool or 'masked'
        Compute the inverse Gram matrix of every row (`True`) or only of
        the rows not solved with the shared design (``'masked'``; the
        others are `BatchSolution.hinv_shared`).
    chunk : int, optional
        Rows per chunk.
    offset : ndarray (K,), optional
        A known term subtracted from every row before fitting.
    fixed : tuple (A_fixed, p_fixed), optional
        Columns ``(K, F)`` of fixed parameters and their values ``(N, F)``;
        their contribution is subtracted row by row before fitting.

    Returns
    -------
    solution : BatchSolution
    """
    A = np.asarray(A, dtype=np.float64)
    K, P = A.shape
    N = Y.shape[0]
    if rcond is None:
        rcond = np.finfo(float).eps * max(K, P)
    per_row_w = weights is not None and np.ndim(weights) == 2
    Wshared = (np.ones(K) if weights is None or per_row_w
               else np.asarray(weights, dtype=np.float64))
    wpos = Wshared > 0
    chunk = default_chunk(K, P) if chunk is None else int(chunk)
    B = (A[:, :, None] * A[:, None, :]).reshape(K, P * P)

    # every row of these is written below
    params = np.empty((N, P))
    n_points = np.empty(N, dtype=np.int32)
    rank = np.empty(N, dtype=np.int16)
    shared_rows = np.empty(N, dtype=bool)
    rss = np.empty(N) if want_rss else None
    all_hinv = want_hinv is True
    # in 'masked' mode the array is only created once a row needs it
    hinv = np.full((N, P, P), np.nan) if all_hinv else None
    shared = (_shared_solver(A, Wshared, rcond) if not per_row_w
              else (None, 0, np.full((P, P), np.nan), 0))
    M_all = shared[0]
    check = np.ones(P)
    for start in range(0, N, chunk):
        stop = min(start + chunk, N)
        sl = slice(start, stop)
        Yc = np.asarray(Y[sl], dtype=np.float64)
        if offset is not None:
            Yc = Yc - offset
        if fixed is not None and fixed[0].shape[1]:
            Yc = Yc - fixed[1][sl] @ fixed[0].T
        if per_row_w:
            Wc = np.asarray(weights[sl], dtype=np.float64)
            full = np.zeros(stop - start, dtype=bool)
            params[sl] = np.nan
            shared_rows[sl] = False
        else:
            if not wpos.all():
                # zero-weight points never matter, whatever their value
                Yc = np.where(wpos, Yc, 0.0)
            full = (np.ones(stop - start, dtype=bool) if valid is None
                    else np.asarray(valid[sl], dtype=bool)[:, wpos].all(axis=1))
            if M_all is not None:
                # one product fits every row; a non-finite value anywhere
                # in a row makes its parameters non-finite, which is how
                # rows needing the masked treatment are found in one pass
                pc = np.matmul(Yc, M_all.T, out=params[sl])
                full &= np.isfinite(pc @ check)
            else:
                full &= np.isfinite(Yc).all(axis=1)
                params[sl] = np.nan
            n_points[sl] = shared[3]
            rank[sl] = shared[1]
            shared_rows[sl] = full
            if all_hinv:
                hinv[sl] = shared[2]
        if full.all():
            if want_rss:
                rss[sl] = _shared_rss(Yc, params[sl], A, Wshared)
            continue
        rows = np.flatnonzero(~full)
        Yr = Yc[rows]
        ok = np.isfinite(Yr)
        if valid is not None:
            ok &= np.asarray(valid[sl], dtype=bool)[rows]
        Wn = (Wc[rows] if per_row_w else Wshared[None, :]) * ok
        Yz = np.where(ok, Yr, 0.0)
        params[sl][rows] = np.nan
        rank[sl][rows] = 0
        if want_hinv and hinv is None:
            hinv = np.full((N, P, P), np.nan)
        _solve_masked(A, B, Wn, Yz, rows, per_row_w, rcond,
                      params[sl], n_points[sl], rank[sl],
                      hinv[sl] if want_hinv else None)
        if want_rss:
            if not per_row_w:
                rss[sl] = _shared_rss(Yc, params[sl], A, Wshared)
            res_r = Yz - params[sl][rows] @ A.T
            rss[sl][rows] = np.einsum("nk,nk->n", Wn, res_r * res_r)

    status = np.full(N, STATUS_OK, dtype=np.int8)
    status[rank < P] = STATUS_SINGULAR
    few = n_points < P
    status[few] = STATUS_TOO_FEW_POINTS
    params[few] = np.nan
    shared_rows[few] = False
    if want_rss:
        rss[few] = np.nan
    if hinv is not None:
        hinv[few] = np.nan
    return BatchSolution(params=params, n_points=n_points, rank=rank,
                         status=status, rss=rss, hinv=hinv,
                         shared=shared_rows, hinv_shared=shared[2])


def _solve_masked(A, B, Wn, Yz, rows, per_row_w, rcond, params, n_points,
                  rank, hinv):
    P = A.shape[1]
    npts = np.count_nonzero(Wn > 0, axis=1)
    n_points[rows] = npts
    enough = npts >= P
    if not per_row_w:
        patterns, inverse = _pattern_groups(Wn == 0)
        if patterns.shape[0] <= max(8, rows.size // 32):
            for g, pattern in enumerate(patterns):
                members = np.flatnonzero(inverse == g)
                good = ~pattern
                W = Wn[members[0]]
                M, r, h, _ = _shared_solver(A[good], W[good], rcond)
                dest = rows[members]
                rank[dest] = r
                if M is not None:
                    params[dest] = Yz[np.ix_(members, np.flatnonzero(good))] @ M.T
                if hinv is not None:
                    hinv[dest] = h
            return
    idx = np.flatnonzero(enough)
    if idx.size == 0:
        return
    p, r, h = _normal_rows(A, B, Wn[idx], Yz[idx], rcond, P)
    params[rows[idx]] = p
    rank[rows[idx]] = r
    if hinv is not None:
        hinv[rows[idx]] = h
