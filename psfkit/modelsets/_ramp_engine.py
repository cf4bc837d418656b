"""
The general ramp-fitting engine: one chunk of pixels at a time.

A pixel's usable reads (not masked, not NaN, before saturation) are split
at cosmic-ray jumps into segments; every segment is one row of a batched
least-squares solve (`psfkit.modelsets._solve`), and the segments of a
pixel are combined by inverse variance.  The variance of a segment's slope
is that of the estimator actually used, ``c . y``: read noise gives
``RN**2 * sum(c**2)`` and the charge collected since the reset, whose
covariance between reads is ``rate / gain * min(t_i, t_j)``, gives
``rate / gain * sum_k dt_k * (sum_{i>=k} c_i)**2``.  Without a read noise
the variance comes from the scatter of the reads about the fit.

Every chunk function returns a dict of per-pixel arrays named like the
fields of `~psfkit.modelsets.RampFitResult`.
"""

import numpy as np

from ._jumps import detect_jumps
from ._ramp_weights import complete_weights, fixsen_classes, fixsen_weights
from ._solve import STATUS_OK, solve_batch
from .flags import (
    JUMP_DET,
    NAN_INPUT,
    SATURATED,
    TOO_FEW_READS,
    UNDETERMINED_ERR,
)

__all__ = []

#: the per-pixel outputs that hold floating-point values
FLOAT_FIELDS = ("slope", "intercept", "slope_err", "var_poisson",
                "var_readnoise")
#: read and segment counts: int32 holds any number of reads a cube can have
COUNT_DTYPE = np.int32
FLAG_DTYPE = np.int16


def variance_factors(A, hinv, W, times):
    """
    Read-noise and Poisson variance factors of the fitted slopes.

    The slope is ``c . y`` with ``c = W * (A hinv[1])``; returns
    ``sum(c**2)`` and ``sum_k dt_k * (sum_{i>=k} c_i)**2`` for every row
    (see the module notes).
    """
    c = (hinv[..., 1, :] @ A.T) * W
    f_rn = np.einsum("...k,...k->...", c, c)
    tail = np.cumsum(c[..., ::-1], axis=-1)[..., ::-1]
    dt = np.diff(np.concatenate([[0.0], times]))
    f_p = (tail * tail) @ dt
    return f_rn, f_p


def _fit_units(Y, valid, times, A, opts):
    """Fit every row of Y (one ramp segment each); valid may be None."""
    noise = opts["read_noise"] is not None
    P = A.shape[1]
    sol = solve_batch(A, Y, valid=valid, want_rss=not noise,
                      want_hinv=True)
    # n counts the usable reads (a zero optimal weight at the centre of an
    # odd segment does not make a read unusable)
    n_reads = sol.n_points
    # rows not solved with the shared design held masked or non-finite
    # reads (None: every row was complete)
    complete = sol.shared
    if opts["weighting"] == "optimal":
        out = _fit_optimal(Y, valid, times, A, opts, sol.columns[1])
        out.update(n=n_reads, complete=complete)
        return out
    out = {"slope": sol.columns[1], "intercept": sol.columns[0],
           "n": n_reads, "complete": complete,
           "ok": (sol.n_points >= P) & (sol.status == STATUS_OK)}
    if not noise:
        # the scatter needs a read to spare: with exactly P reads the
        # coefficients are determined but their variance is not
        dof = sol.n_points - P
        with np.errstate(invalid="ignore", divide="ignore"):
            out["var"] = np.where(dof > 0, sol.hinv[:, 1, 1] * sol.rss / dof,
                                  np.nan)
        out["no_err"] = out["ok"] & (dof == 0)
        return out
    frn0, fp0 = variance_factors(A, sol.hinv_shared, np.ones(A.shape[0]),
                                 times)
    if complete is None or complete.all():
        # every row has the same design: the factors are scalars
        out["f_rn"], out["f_p"] = frn0, fp0
        return out
    f_rn = np.full(Y.shape[0], frn0)
    f_p = np.full(Y.shape[0], fp0)
    rest = np.flatnonzero(~complete)
    Wr = np.isfinite(Y[rest])
    if valid is not None:
        Wr &= valid[rest]
    f_rn[rest], f_p[rest] = variance_factors(A, sol.hinv[rest], Wr, times)
    out["f_rn"], out["f_p"] = f_rn, f_p
    return out


def _fit_optimal(Y, valid, times, A, opts, slope):
    """
    Refit every row with the weights of Fixsen et al. (2000).

    The weights depend on a row's span of valid reads and on one of six
    exponents.  Complete rows all span the whole ramp, so they fall into
    at most six classes that share their weights: each class is one
    shared-design solve.  The other rows are solved with their own weights.
    """
    P, n = A.shape[1], Y.shape[0]
    vw = np.isfinite(Y) if valid is None else valid & np.isfinite(Y)
    t0, t1, power = fixsen_classes(times, vw, slope, opts["read_noise"],
                                   opts["gain"])
    out = {"slope": np.empty(n), "intercept": np.empty(n),
           "ok": np.empty(n, dtype=bool), "f_rn": np.empty(n),
           "f_p": np.empty(n)}

    def store(rows, sol, f_rn, f_p):
        out["slope"][rows] = sol.columns[1]
        out["intercept"][rows] = sol.columns[0]
        out["ok"][rows] = (sol.n_points >= P) & (sol.status == STATUS_OK)
        out["f_rn"][rows], out["f_p"][rows] = f_rn, f_p

    full = vw.all(axis=1)
    for p in np.unique(power[full]):
        rows = np.flatnonzero(full & (power == p))
        w = complete_weights(times, p)
        sol = solve_batch(A, Y[rows], weights=w, want_rss=False)
        store(rows, sol, *variance_factors(A, sol.hinv_shared, w, times))
    rest = np.flatnonzero(~full)
    if rest.size:
        W = fixsen_weights(times, vw[rest], t0[rest], t1[rest], power[rest])
        sol = solve_batch(A, Y[rest], weights=W, want_rss=False,
                          valid=None if valid is None else valid[rest],
                          want_hinv=True)
        store(rest, sol, *variance_factors(A, sol.hinv, W, times))
    return out


def segment_reads(Y, valid, times, opts):
    """
    Which reads of each ramp are used, and the segment each belongs to.

    Parameters
    ----------
    Y : ndarray (n, K)
        The reads of ``n`` pixels.
    valid : ndarray (n, K) of bool or None
        `False` for reads masked on input (`None`: none masked).

    Returns
    -------
    valid : ndarray (n, K) of bool or None
        The usable reads after saturation (`None` when every read may be
        used, non-finite ones aside).
    segment : ndarray (n, K) of int or None
        The segment number of every read (0 before the first jump; `None`
        without jump detection).
    flags : ndarray (n,) of int16
        `NAN_INPUT`, `SATURATED` and `JUMP_DET` as found.
    """
    n = Y.shape[0]
    flags = np.zeros(n, dtype=FLAG_DTYPE)
    if valid is not None:
        flags[~valid.all(axis=1)] |= NAN_INPUT
    if opts["saturation"] is not None:
        with np.errstate(invalid="ignore"):
            sat = np.logical_or.accumulate(Y >= opts["saturation"], axis=1)
        if sat.any():
            flags[sat.any(axis=1)] |= SATURATED
            valid = ~sat if valid is None else valid & ~sat
    segment = None
    if opts["detect_jumps"]:
        finite = np.isfinite(Y)
        flags[~finite.all(axis=1)] |= NAN_INPUT
        vfull = finite if valid is None else valid & finite
        starts = detect_jumps(Y, vfull, times, read_noise=opts["read_noise"],
                              gain=opts["gain"],
                              threshold=opts["jump_threshold"])
        segment = np.cumsum(starts, axis=1)
        flags[segment[:, -1] > 0] |= JUMP_DET
        valid = vfull
    return valid, segment, flags


def fit_chunk(Y, valid, times, A, opts):
    """Fit a chunk of ramps: Y and valid are (n pixels, K reads)."""
    n = Y.shape[0]
    valid, seg, flags = segment_reads(Y, valid, times, opts)
    n_seg_max = int(seg.max()) + 1 if seg is not None and n else 1
    if n_seg_max > 1:
        # one row per (pixel, segment); most pixels have a single segment
        pix = np.repeat(np.arange(n), n_seg_max)
        sid = np.tile(np.arange(n_seg_max), n)
        keep = sid <= seg[pix, -1]
        pix, sid = pix[keep], sid[keep]
        Yu = Y[pix]
        vu = valid[pix] & (seg[pix] == sid[:, None])
    else:
        pix = np.arange(n)
        Yu, vu = Y, valid
    res = _fit_units(Yu, vu, times, A, opts)
    if (valid is None and res["complete"] is not None
            and not res["complete"].all()):
        # no read was masked or cut: rows the engine could not solve with
        # the shared design held non-finite reads
        flags[~res["complete"]] |= NAN_INPUT
    ok = res["ok"] & np.isfinite(res["slope"])

    noise = opts["read_noise"] is not None
    if noise:
        rn2, gain = opts["read_noise"] ** 2, opts["gain"]
        var_rn = rn2 * res["f_rn"]
        # the pixel rate is combined with read-noise weights only, so that
        # the Poisson variance does not favour segments that came out low
        rate = _combine(pix, ok, res["slope"], var_rn, n)[0]
        rate = rate if n_seg_max == 1 else rate[pix]
        var_p = np.fmax(rate, 0.0) * (res["f_p"] / gain)
        var = var_rn + var_p
    else:
        var = res["var"]
        var_rn = var_p = None
        flags[res["no_err"] & ok] |= UNDETERMINED_ERR
        if n_seg_max > 1:
            ok &= np.isfinite(var) & (var > 0)
    if n_seg_max == 1:
        return _single_segment(res, ok, var, var_rn, var_p, flags)
    slope, comb_var, wsum, wt = _combine(pix, ok, res["slope"], var, n)
    out = {"slope": slope, "slope_err": np.sqrt(comb_var)}
    if noise:
        for name, v in (("var_readnoise", var_rn), ("var_poisson", var_p)):
            out[name] = _combine_var(pix, ok, wt, wsum, v, n)
    first = np.full(n, np.nan)
    order = np.flatnonzero(ok)[::-1]
    first[pix[order]] = res["intercept"][order]
    out["intercept"] = first
    out["n_used"] = np.bincount(pix, np.where(ok, res["n"], 0),
                                minlength=n).astype(COUNT_DTYPE)
    out["n_segments"] = np.bincount(pix, ok, minlength=n).astype(COUNT_DTYPE)
    bad = out["n_segments"] == 0
    flags[bad] |= TOO_FEW_READS
    for name in FLOAT_FIELDS:
        if name in out:
            out[name][bad] = np.nan
    out["flags"] = flags
    return out


def _single_segment(res, ok, var, var_rn, var_p, flags):
    """Results for pixels fitted as one segment each (the common case)."""
    n = ok.size
    out = {"slope": res["slope"], "intercept": res["intercept"],
           "slope_err": np.sqrt(var), "n_used": res["n"],
           "n_segments": np.ones(n, dtype=COUNT_DTYPE), "flags": flags}
    if var_rn is not None:
        out["var_readnoise"] = np.broadcast_to(var_rn, (n,))
        out["var_poisson"] = var_p
    if not ok.all():
        bad = ~ok
        flags[bad] |= TOO_FEW_READS
        for name in FLOAT_FIELDS:
            if name in out:
                out[name] = np.where(bad, np.nan, out[name])
        out["n_used"] = np.where(bad, 0, out["n_used"])
        out["n_segments"] = ok.astype(COUNT_DTYPE)
    return out


def _combine_var(pix, ok, wt, wsum, var, n):
    """The variance of a weighted combination of independent segments."""
    if pix.size == n:
        return np.where(ok, var, np.nan)
    return np.bincount(pix, wt * wt * np.where(ok, var, 0.0),
                       minlength=n) / np.where(wsum > 0, wsum, 1.0) ** 2


def _combine(pix, ok, value, var, n):
    """Inverse-variance combination of segment values per pixel."""
    if pix.size == n:
        # one segment per pixel: nothing to combine
        if ok.all():
            return value, var, None, None
        wt = np.where(ok, 1.0, 0.0)
        val = np.where(ok, value, np.nan)
        return val, np.where(ok, var, np.nan), wt, wt
    with np.errstate(divide="ignore", invalid="ignore"):
        wt = np.where(ok & (var > 0), 1.0 / var, 0.0)
    wsum = np.bincount(pix, wt, minlength=n)
    num = np.bincount(pix, wt * np.where(ok, value, 0.0), minlength=n)
    with np.errstate(divide="ignore", invalid="ignore"):
        val = num / wsum
        comb_var = np.bincount(pix, wt * wt * np.where(ok, var, 0.0),
                               minlength=n) / wsum**2
    return val, comb_var, wsum, wt
