"""
Cosmic-ray jump detection on up-the-ramp data.

Works on the two-point differences ``d_j = y[j+1] - y[j]`` of every pixel.
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
    """Robust count rate per pixel: median of the valid differences / dt."""
    with np.errstate(invalid="ignore"):
        per_time = np.where(dvalid, d / dt, np.nan)
    n_ok = dvalid.sum(axis=1)
    rate = np.zeros(d.shape[0])
    has = n_ok > 0
    if np.any(has):
        rate[has] = np.nanmedian(per_time[has], axis=1)
    return np.clip(rate, 0.0, None)


def _z_scores(d, dvalid, dt, rate, read_noise, gain):
    """The GLS jump statistic of every difference (0 where invalid)."""
    n, M = d.shape
    rn2 = read_noise**2
    C = np.zeros((n, M, M))
    idx = np.arange(M)
    C[:, idx, idx] = np.where(dvalid, 2 * rn2 + rate[:, None] * dt / gain, 1.0)
    both = dvalid[:, 1:] & dvalid[:, :-1]
    C[:, idx[1:], idx[:-1]] = np.where(both, -rn2, 0.0)
    C[:, idx[:-1], idx[1:]] = np.where(both, -rn2, 0.0)
    Ci = np.linalg.inv(C)
    x = np.where(dvalid, dt, 0.0)
    dd = np.where(dvalid, d, 0.0)
    u = np.einsum("nij,nj->ni", Ci, x)
    s = np.einsum("ni,ni->n", x, u)
    Cid = np.einsum("nij,nj->ni", Ci, dd)
    Pd = Cid - u * (np.einsum("ni,ni->n", u, dd) / s)[:, None]
    Pjj = np.einsum("nii->ni", Ci) - u * u / s[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(dvalid & (Pjj > 0), Pd / np.sqrt(np.abs(Pjj)), 0.0)
    return z


def detect_jumps(Y, valid, times, *, read_noise, gain, threshold):
    """
    Flag jumps in the ramps of ``Y`` (n pixels x K reads).

    Returns
    -------
    jumps : ndarray (n, K) of bool
        `True` at the first read after a jump (a new segment starts there).
    """
    n, K = Y.shape
    jumps = np.zeros((n, K), dtype=bool)
    if K < 4 or read_noise is None:
        return jumps
    d = np.diff(np.where(valid, Y, 0.0), axis=1)
    dt = np.diff(times)
    dvalid = valid[:, 1:] & valid[:, :-1]
    rate = _rate_estimate(d, dvalid, dt)
    active = np.flatnonzero(dvalid.sum(axis=1) >= 3)
    rows = np.arange(K - 1)
    while active.size:
        z = _z_scores(d[active], dvalid[active], dt, rate[active], read_noise,
                      gain)
        best = np.argmax(np.abs(z), axis=1)
        hit = np.abs(z[np.arange(active.size), best]) > threshold
        active, best = active[hit], best[hit]
        if not active.size:
            break
        jumps[active, best + 1] = True
        dvalid[active, best] = False
        active = active[dvalid[active][:, rows].sum(axis=1) >= 3]
    return jumps
