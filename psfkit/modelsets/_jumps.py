"""
Cosmic-ray jump detection on up-the-ramp data.

Works on the two-point differences ``d_j = y[j+1] - y[j]`` of every pixel
(between consecutive valid reads: a NaN or masked read does not hide a
jump across it).
Without a jump they share one mean, ``rate * dt_j``; their noise is the
read noise of both reads (so neighbouring differences are anti-correlated:
``C = RN**2 * tridiag(-1, 2, -1)``) plus the Poisson noise of the charge
collected in between (``rate * dt_j / gain``, independent).  A jump adds
an offset to one difference.  For every difference j the generalised
least-squares test of "an extra offset in d_j" against "no jump", with the
common rate fitted, gives

    z_j = (P d)_j / sqrt(P_jj),   P = C^-1 - C^-1 dt (dt^T C^-1 dt)^-1 dt^T C^-1

which is exactly standard normal without a jump, so a threshold of
``k`` sigma gives the Gaussian false-positive rate ``2 * Phi(-k)`` per
difference.  Using the full covariance makes the test more sensitive than
comparing a single difference with the median of the others, because the
reads on both sides of the jump are used.  The largest ``|z|`` above the
threshold is flagged, that difference is removed, and the test repeats
until nothing is above the threshold.
"""

import numpy as np

__all__ = []


def _rate_estimate(d, dvalid, dt):
    """
    Robust count rate per pixel: median of the valid differences over
    their time steps ``dt`` (shared, or one per difference and pixel).
    """
    with np.errstate(invalid="ignore"):
        per_time = np.where(dvalid, d / dt, np.nan)
    n_ok = dvalid.sum(axis=1)
    rate = np.zeros(d.shape[0])
    # complete pixels (nearly all) take the plain median, which is much
    # faster than nanmedian; the others skip their invalid differences
    full = n_ok == d.shape[1]
    if np.any(full):
        rate[full] = np.median(per_time[full], axis=1)
    some = (n_ok > 0) & ~full
    if np.any(some):
        rate[some] = np.nanmedian(per_time[some], axis=1)
    return np.clip(rate, 0.0, None)


def _z_scores(d, dvalid, dt, rate, read_noise, gain):
    """
    The GLS jump statistic of every difference (0 where invalid); ``d``
    and ``dvalid`` are (pixels, differences), the time steps ``dt`` the
    same or (differences,), shared by every pixel.

    ``C`` is tridiagonal and positive definite, so everything the statistic
    needs (``C^-1 dt``, ``C^-1 d`` and the diagonal of ``C^-1``) comes from
    one LDL^T factorisation per pixel, vectorised over pixels: a handful of
    array operations per difference instead of a dense inverse per pixel.
    An invalid difference gets a unit diagonal and no coupling, which
    leaves it out of the others' statistics.
    """
    rn2 = read_noise**2
    # differences along the first axis: every step below is a row operation
    valid = dvalid.T
    dt = dt[:, None] if dt.ndim == 1 else dt.T
    M = valid.shape[0]
    a = np.where(valid, 2 * rn2 + rate[None, :] * dt / gain, 1.0)
    b = np.where(valid[1:] & valid[:-1], -rn2, 0.0)
    x = np.where(valid, dt, 0.0)
    y = np.where(valid, d.T, 0.0)
    # C = L D L^T with unit lower-bidiagonal L (subdiagonal l)
    D = np.empty_like(a)
    l = np.empty_like(b)
    D[0] = a[0]
    for j in range(1, M):
        l[j - 1] = b[j - 1] / D[j - 1]
        D[j] = a[j] - l[j - 1] * b[j - 1]
    u = _ldl_solve(D, l, x)       # C^-1 dt
    Cid = _ldl_solve(D, l, y)     # C^-1 d
    # diagonal of C^-1, from the last difference backwards
    S = np.empty_like(a)
    S[M - 1] = 1.0 / D[M - 1]
    for j in range(M - 2, -1, -1):
        S[j] = 1.0 / D[j] + l[j] * l[j] * S[j + 1]
    s = np.einsum("jn,jn->n", x, u)
    with np.errstate(invalid="ignore", divide="ignore"):
        # s is zero only for pixels without a valid difference
        Pd = Cid - u * (np.einsum("jn,jn->n", u, y) / s)
        Pjj = S - u * u / s
        z = np.where(valid & (Pjj > 0), Pd / np.sqrt(np.abs(Pjj)), 0.0)
    return z.T


def _ldl_solve(D, l, r):
    """Solve ``L D L^T v = r`` for every column (pixel) of ``r``."""
    M = r.shape[0]
    v = np.empty_like(r)
    v[0] = r[0]
    for j in range(1, M):
        v[j] = r[j] - l[j - 1] * v[j - 1]
    v /= D
    for j in range(M - 2, -1, -1):
        v[j] -= l[j] * v[j + 1]
    return v


def detect_jumps(Y, valid, times, *, read_noise, gain, threshold):
    """
    Flag jumps in the ramps of ``Y`` (n pixels x K reads).

    The differences are between consecutive valid reads: in a pixel with a
    NaN or masked read between valid ones, the valid reads are moved to the
    front (in their order), so that a jump across the gap is tested too.

    Returns
    -------
    jumps : ndarray (n, K) of bool
        `True` at the first read after a jump (a new segment starts there).
    """
    n, K = Y.shape
    jumps = np.zeros((n, K), dtype=bool)
    if K < 4 or read_noise is None:
        return jumps
    options = {"read_noise": read_noise, "gain": gain, "threshold": threshold}
    # (invalid reads at the end only, as after saturation, leave no gap)
    gaps = np.any(valid[:, 1:] & ~valid[:, :-1], axis=1)
    if not gaps.any():
        return _find_jumps(Y, valid, np.diff(times), **options)
    plain = np.flatnonzero(~gaps)
    jumps[plain] = _find_jumps(Y[plain], valid[plain], np.diff(times),
                               **options)
    rows = np.flatnonzero(gaps)[:, None]
    order = np.argsort(~valid[rows[:, 0]], axis=1, kind="stable")
    found = _find_jumps(Y[rows, order], valid[rows, order],
                        np.diff(times[order], axis=1), **options)
    jumps[rows, order] = found
    return jumps


def _find_jumps(Y, valid, dt, *, read_noise, gain, threshold):
    """
    `detect_jumps` of ramps whose valid reads come first; ``dt`` are the
    time steps between the reads, shared (K - 1,) or per pixel (n, K - 1).
    """
    n, K = Y.shape
    jumps = np.zeros((n, K), dtype=bool)
    d = np.diff(np.where(valid, Y, 0.0), axis=1)
    dvalid = valid[:, 1:] & valid[:, :-1]
    rate = _rate_estimate(d, dvalid, dt)
    active = np.flatnonzero(dvalid.sum(axis=1) >= 3)
    rows = np.arange(K - 1)
    while active.size:
        z = _z_scores(d[active], dvalid[active],
                      dt if dt.ndim == 1 else dt[active], rate[active],
                      read_noise, gain)
        best = np.argmax(np.abs(z), axis=1)
        hit = np.abs(z[np.arange(active.size), best]) > threshold
        active, best = active[hit], best[hit]
        if not active.size:
            break
        jumps[active, best + 1] = True
        dvalid[active, best] = False
        active = active[dvalid[active][:, rows].sum(axis=1) >= 3]
    return jumps
