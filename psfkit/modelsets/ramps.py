"""
Up-the-ramp fitting of IR detector cubes.

Each pixel's non-destructive reads are fitted with a line (or a low-order
polynomial) in time; the slope is the count rate.  Saturated reads and
masked or NaN reads are dropped, cosmic-ray jumps split a ramp into
segments that are fitted separately and combined by inverse variance, and
the slope uncertainty is the exact variance of the estimator used under
read noise plus Poisson noise.  The cube is processed in chunks of pixels
through the batched least-squares engine of `psfkit.modelsets`.
"""

from dataclasses import dataclass, fields

from astropy.nddata import NDData
import astropy.units as u
import numpy as np

from ..utils import (
    check_in,
    check_integer,
    check_positive,
    coerce_data,
    resolve_threads,
    run_chunked,
)
from ._jumps import detect_jumps
from ._solve import _shared_solver, solve_batch, subtract_outer

__all__ = ["fit_ramps", "RampFitResult", "SATURATED", "JUMP_DET",
           "TOO_FEW_READS", "NAN_INPUT", "RAMP_FLAGS"]

#: A read of the pixel reached the saturation level (it and later reads
#: were not used).
SATURATED = 1
#: A cosmic-ray jump was found; the ramp was split into segments.
JUMP_DET = 2
#: Too few usable reads for a slope; the results are NaN.
TOO_FEW_READS = 4
#: At least one read was NaN, infinite or masked on input.
NAN_INPUT = 8
#: The flag bits by name.
RAMP_FLAGS = {"SATURATED": SATURATED, "JUMP_DET": JUMP_DET,
              "TOO_FEW_READS": TOO_FEW_READS, "NAN_INPUT": NAN_INPUT}

# Fixsen et al. (2000) weighting exponents by segment signal-to-noise
_SNR_EDGES = np.array([5.0, 10.0, 20.0, 50.0, 100.0])
_SNR_POWERS = np.array([0.0, 0.4, 1.0, 3.0, 6.0, 10.0])


@dataclass
class RampFitResult:
    """
    Per-pixel results of `fit_ramps` (arrays of the cube's pixel shape).

    Attributes
    ----------
    slope : array
        The count rate, in data units per unit of ``times``.
    intercept : array
        The fitted value at ``time = 0`` (of the first segment).
    slope_err : array
        The 1-sigma uncertainty of ``slope``: ``sqrt(var_poisson +
        var_readnoise)`` when ``read_noise`` was given, otherwise from the
        scatter of the reads about the fit.
    var_poisson, var_readnoise : array or None
        The Poisson and read-noise parts of the slope variance (only when
        ``read_noise`` was given).
    n_used : array of int
        The number of reads that entered the slope.
    n_segments : array of int
        The number of ramp segments combined.
    flags : array of int
        Bit flags, see `RAMP_FLAGS`.
    """

    slope: np.ndarray
    intercept: np.ndarray
    slope_err: np.ndarray
    var_poisson: np.ndarray | None
    var_readnoise: np.ndarray | None
    n_used: np.ndarray
    n_segments: np.ndarray
    flags: np.ndarray


_FIELDS = [f.name for f in fields(RampFitResult)]


def _snr_class(slope, span, read_noise, gain):
    """Index into ``_SNR_POWERS`` of segments of ``span`` at ``slope``."""
    signal = np.clip(slope, 0.0, None) * span
    snr = signal / np.sqrt(read_noise**2 + signal / gain)
    return np.searchsorted(_SNR_EDGES, np.nan_to_num(snr))


def _fixsen_classes(times, valid, slope, read_noise, gain):
    """
    The span ``(t0, t1)`` of every row's valid reads and its Fixsen et al.
    (2000) weighting exponent, from the signal-to-noise of the segment.
    """
    any_valid = valid.any(axis=1)
    t0 = np.where(any_valid, np.where(valid, times, np.inf).min(axis=1), 0.0)
    t1 = np.where(any_valid, np.where(valid, times, -np.inf).max(axis=1), 0.0)
    power = _SNR_POWERS[_snr_class(slope, t1 - t0, read_noise, gain)]
    return t0, t1, power


def _fixsen_weights(times, valid, t0, t1, power):
    """Per-read weights ``|t - mid| / half`` to the row's power (or 1)."""
    mid = 0.5 * (t0 + t1)
    half = np.where(t1 > t0, 0.5 * (t1 - t0), 1.0)
    with np.errstate(invalid="ignore"):
        rel = np.abs((times[None, :] - mid[:, None]) / half[:, None])
        w = np.where(power[:, None] > 0, rel ** power[:, None], 1.0)
    return np.where(valid, w, 0.0)


def _complete_weights(times, power):
    """The Fixsen et al. weights of a ramp with every read valid."""
    return _fixsen_weights(times, np.ones((1, times.size), bool), times[:1],
                           times[-1:], np.array([power]))[0]


def _variance_factors(A, hinv, W, times):
    """
    Read-noise and Poisson variance factors of the fitted slopes.

    The slope is ``c . y`` with ``c = W * (A hinv[1])``.  Read noise gives
    ``RN**2 * sum(c**2)``; the charge collected since the reset has
    covariance ``rate/gain * min(t_i, t_j)``, and
    ``c^T min(t_i, t_j) c = sum_k dt_k * (sum_{i>=k} c_i)**2``.  Returns
    ``sum(c**2)`` and that Poisson factor for every row.
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
           "n": n_reads, "complete": complete}
    if not noise:
        out["ok"] = sol.n_points > P
        dof = sol.n_points - P
        with np.errstate(invalid="ignore", divide="ignore"):
            out["var"] = np.where(dof > 0, sol.hinv[:, 1, 1] * sol.rss / dof,
                                  np.nan)
        return out
    out["ok"] = (sol.n_points >= P) & (sol.status == 0)
    frn0, fp0 = _variance_factors(A, sol.hinv_shared, np.ones(A.shape[0]),
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
    f_rn[rest], f_p[rest] = _variance_factors(A, sol.hinv[rest], Wr, times)
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
    t0, t1, power = _fixsen_classes(times, vw, slope, opts["read_noise"],
                                    opts["gain"])
    out = {"slope": np.empty(n), "intercept": np.empty(n),
           "ok": np.empty(n, dtype=bool), "f_rn": np.empty(n),
           "f_p": np.empty(n)}

    def store(rows, sol, f_rn, f_p):
        out["slope"][rows] = sol.columns[1]
        out["intercept"][rows] = sol.columns[0]
        out["ok"][rows] = (sol.n_points >= P) & (sol.status == 0)
        out["f_rn"][rows], out["f_p"][rows] = f_rn, f_p

    full = vw.all(axis=1)
    for p in np.unique(power[full]):
        rows = np.flatnonzero(full & (power == p))
        w = _complete_weights(times, p)
        sol = solve_batch(A, Y[rows], weights=w, want_rss=False)
        store(rows, sol, *_variance_factors(A, sol.hinv_shared, w, times))
    rest = np.flatnonzero(~full)
    if rest.size:
        W = _fixsen_weights(times, vw[rest], t0[rest], t1[rest], power[rest])
        sol = solve_batch(A, Y[rest], weights=W, want_rss=False,
                          valid=None if valid is None else valid[rest],
                          want_hinv=True)
        store(rest, sol, *_variance_factors(A, sol.hinv, W, times))
    return out


def _fit_chunk(Y, valid, times, A, opts):
    """Fit a chunk of ramps: Y and valid are (n pixels, K reads)."""
    n, K = Y.shape
    flags = np.zeros(n, dtype=np.int16)
    if valid is not None:
        flags[~valid.all(axis=1)] |= NAN_INPUT
    if opts["saturation"] is not None:
        with np.errstate(invalid="ignore"):
            sat = np.logical_or.accumulate(Y >= opts["saturation"], axis=1)
        if sat.any():
            flags[sat.any(axis=1)] |= SATURATED
            valid = ~sat if valid is None else valid & ~sat
    n_seg_max = 1
    if opts["detect_jumps"]:
        vfull = np.isfinite(Y) if valid is None else valid
        starts = detect_jumps(Y, vfull, times, read_noise=opts["read_noise"],
                              gain=opts["gain"],
                              threshold=opts["jump_threshold"])
        seg = np.cumsum(starts, axis=1)
        n_seg_max = int(seg.max()) + 1 if n else 1
        flags[seg[:, -1] > 0] |= JUMP_DET

    if n_seg_max > 1:
        # one row per (pixel, segment); most pixels have a single segment
        pix = np.repeat(np.arange(n), n_seg_max)
        sid = np.tile(np.arange(n_seg_max), n)
        keep = sid <= seg[pix, -1]
        pix, sid = pix[keep], sid[keep]
        Yu = Y[pix]
        vu = vfull[pix] & (seg[pix] == sid[:, None])
    else:
        pix = np.arange(n)
        Yu, vu = Y, valid
    res = _fit_units(Yu, vu, times, A, opts)
    if (valid is None and n_seg_max == 1 and res["complete"] is not None
            and not res["complete"].all()):
        # no mask was given: rows the engine could not solve with the
        # shared design held non-finite reads
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
    out["n_used"] = np.bincount(pix, np.where(ok, res["n"], 0), minlength=n)
    out["n_segments"] = np.bincount(pix, ok, minlength=n)
    bad = out["n_segments"] == 0
    flags[bad] |= TOO_FEW_READS
    for name in ("slope", "slope_err", "intercept", "var_readnoise",
                 "var_poisson"):
        if name in out:
            out[name][bad] = np.nan
    out["flags"] = flags
    return out


def _single_segment(res, ok, var, var_rn, var_p, flags):
    """Results for pixels fitted as one segment each (the common case)."""
    n = ok.size
    out = {"slope": res["slope"], "intercept": res["intercept"],
           "slope_err": np.sqrt(var), "n_used": res["n"],
           "n_segments": np.ones(n, dtype=np.int64), "flags": flags}
    if var_rn is not None:
        out["var_readnoise"] = np.broadcast_to(var_rn, (n,))
        out["var_poisson"] = var_p
    if not ok.all():
        bad = ~ok
        flags[bad] |= TOO_FEW_READS
        for name in ("slope", "slope_err", "intercept", "var_readnoise",
                     "var_poisson"):
            if name in out:
                out[name] = np.where(bad, np.nan, out[name])
        out["n_used"] = np.where(bad, 0, out["n_used"])
        out["n_segments"] = ok.astype(np.int64)
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


def _check_times(times, K):
    if times is None:
        return np.arange(K, dtype=np.float64)
    times = np.asarray(times, dtype=np.float64).ravel()
    if times.size != K:
        msg = f"times has {times.size} values but the cube has {K} reads"
        raise ValueError(msg)
    if not np.all(np.isfinite(times)) or np.any(np.diff(times) <= 0):
        msg = "times must be finite and strictly increasing"
        raise ValueError(msg)
    return times


def _is_dask(obj):
    return type(obj).__module__.split(".")[0] == "dask"


def fit_ramps(cube, times=None, *, degree=1, read_noise=None, gain=1.0,
              weighting="unweighted", mask=None, saturation=None,
              detect_jumps=False, jump_threshold=4.0, axis=0,
              chunk_pixels=None, n_threads=None):
    """
    Fit the slope of every pixel's up-the-ramp reads.

    Parameters
    ----------
    cube : array-like, masked array, NDData or dask array
        The reads, with time along ``axis`` (data units, e.g. DN).
        Integer and big-endian data (as read from FITS) are converted
        chunk by chunk; NaN marks a bad read.
    times : array-like or `~astropy.units.Quantity`, optional
        The time of every read (strictly increasing); default
        ``0, 1, 2, ...``.  Only their differences matter.  With units
        (or a cube with units) the results are Quantities: the slope in
        data units per time unit.
    degree : int, optional
        The polynomial degree in time; the slope is the linear
        coefficient (the rate at ``time = 0`` for degree > 1).
    read_noise : float, optional
        The read noise of one read (data units).  With it, ``slope_err``
        is the exact standard deviation of the estimator under read noise
        plus Poisson noise; without it, ``slope_err`` comes from the
        residual scatter.  Required for ``weighting='optimal'`` and jump
        detection.
    gain : float, optional
        Electrons per data unit, for the Poisson variance.
    weighting : {'unweighted', 'optimal'}, optional
        ``'optimal'`` uses the signal-to-noise dependent weights of Fixsen
        et al. (2000) within each segment.
    mask : array-like of bool, optional
        `True` marks reads to ignore; same shape as ``cube``.
    saturation : float, optional
        Reads at or above this level, and every later read of the pixel,
        are not used.
    detect_jumps : bool, optional
        Find cosmic-ray jumps and fit the segments between them separately.
    jump_threshold : float, optional
        The jump detection threshold in standard deviations of the jump
        statistic (a standard normal variable without a jump).
    axis : int, optional
        The time axis of ``cube``.
    chunk_pixels : int, optional
        The number of pixels fitted at a time (bounds the extra memory).
    n_threads : int, optional
        Threads fitting chunks of pixels at the same time; default every
        available core (at most 8).  ``1`` fits in the calling thread.  A
        dask array is fitted one thread per block, on dask's scheduler.

    Returns
    -------
    result : `RampFitResult`
        Arrays of the pixel shape (dask arrays for a dask input).

    Notes
    -----
    Each usable stretch of reads (between saturation, masked reads and
    jumps) is a segment.  A segment's slope is a weighted least-squares
    fit; its variance is that of the estimator, ``c . y``, under read
    noise (``RN**2 * sum(c**2)``) and Poisson noise (covariance
    ``rate/gain * min(t_i, t_j)`` between reads), with the rate of the
    pixel.  Segments are combined by inverse variance; one-read segments
    carry no slope and are dropped.  The flags are `SATURATED`,
    `JUMP_DET`, `TOO_FEW_READS` and `NAN_INPUT` (see `RAMP_FLAGS`).
    Jump sizes are naturally measured in units of the standard deviation
    of a two-point difference, ``sqrt(2 RN**2 + rate dt / gain)``; the
    detection statistic is described in the user guide.

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.datasets import make_ramp_cube
    >>> from psfkit.modelsets import fit_ramps
    >>> cube, truth = make_ramp_cube((50, 50), 10, rate=20.0, read_noise=5.0,
    ...                              gain=2.0, random_state=0)
    >>> res = fit_ramps(cube, truth.times, read_noise=5.0, gain=2.0)
    >>> print(f"{np.mean(res.slope):.1f}")
    20.0
    >>> pull = (res.slope - truth.rate) / res.slope_err
    >>> bool(0.9 < np.std(pull) < 1.1)
    True
    """
    degree = check_integer("degree", degree, minimum=1)
    check_in("weighting", weighting, ("unweighted", "optimal"))
    if read_noise is not None:
        read_noise = check_positive("read_noise", read_noise)
    gain = check_positive("gain", gain)
    jump_threshold = check_positive("jump_threshold", jump_threshold)
    if saturation is not None:
        saturation = check_positive("saturation", saturation)
    if read_noise is None and (weighting == "optimal" or detect_jumps):
        need = "optimal weighting" if weighting == "optimal" else "jump detection"
        msg = f"{need} needs read_noise"
        raise ValueError(msg)
    if weighting == "optimal" and degree != 1:
        msg = "optimal weighting is defined for degree=1 only"
        raise ValueError(msg)
    if chunk_pixels is not None:
        chunk_pixels = check_integer("chunk_pixels", chunk_pixels, minimum=1)
    n_threads = resolve_threads(n_threads)
    opts = dict(degree=degree, read_noise=read_noise, gain=gain,
                weighting=weighting, saturation=saturation,
                detect_jumps=bool(detect_jumps),
                jump_threshold=jump_threshold)
    t_unit = None
    if isinstance(times, u.Quantity):
        t_unit, times = times.unit, times.value
    if _is_dask(cube):
        # dask results are plain arrays, in data units per unit of times
        return _fit_dask(cube, times, mask, axis, chunk_pixels, opts)
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != np.shape(cube):
            msg = (f"mask must have the shape of cube {np.shape(cube)}, got "
                   f"{mask.shape}")
            raise ValueError(msg)
    unit = None
    if isinstance(cube, (NDData, np.ma.MaskedArray, u.Quantity)) or \
            not isinstance(cube, np.ndarray):
        data = coerce_data(cube, name="cube", ndim=None, dtype=None,
                           allow_all_masked=True)
        cube, unit = data.data, data.unit
        mask = data.mask if mask is None else (data.mask | mask)
    if cube.ndim < 2:
        msg = f"cube must have at least 2 dimensions, got shape {cube.shape}"
        raise ValueError(msg)
    axis = int(axis)
    if not -cube.ndim <= axis < cube.ndim:
        msg = f"axis={axis} is out of range for a {cube.ndim}-D cube"
        raise ValueError(msg)
    result = _fit_array(cube, times, mask, axis, chunk_pixels, opts,
                        n_threads=n_threads)
    if unit is not None or t_unit is not None:
        level = u.dimensionless_unscaled if unit is None else unit
        rate = level if t_unit is None else level / t_unit
        result.slope = u.Quantity(result.slope, rate, copy=False)
        result.slope_err = u.Quantity(result.slope_err, rate, copy=False)
        result.intercept = u.Quantity(result.intercept, level, copy=False)
        for name in ("var_poisson", "var_readnoise"):
            if getattr(result, name) is not None:
                setattr(result, name, u.Quantity(getattr(result, name),
                                                 rate**2, copy=False))
    return result


class _LinearRamps:
    """
    Straight-line fits of complete ramps in one pass over each chunk.

    For the common case (degree 1, nothing masked, no saturation or
    jumps) the least-squares line is a fixed linear combination of the
    reads: ``slope = w_s . y`` and ``intercept = w_i . y`` with the rows of
    the pseudo-inverse of the design.  Each chunk is converted to float64
    once, in a work buffer that stays in cache, and both combinations are
    single BLAS matrix-vector products.  With optimal weighting a complete
    ramp's weights depend only on its signal-to-noise class, so the
    unweighted slope picks one of six precomputed weighted combinations
    per pixel.  Pixels holding a non-finite read come out non-finite and
    are refitted by the general engine.  The variances use the same
    factors as the general engine, so both give the same numbers.
    """

    def __init__(self, times, opts):
        self.opts = opts
        self.times = times
        A = np.vander(times, 2, increasing=True)
        self.A = A
        self.w_icpt, self.w_slope = np.linalg.pinv(A)
        hinv = np.linalg.inv(A.T @ A)
        self.hinv11 = hinv[1, 1]
        self.f_rn, self.f_p = _variance_factors(A, hinv[None], np.ones(len(times)),
                                                times)
        self.classes = None
        if opts["weighting"] == "optimal":
            self.classes = self._weight_classes()

    def _weight_classes(self):
        """Per signal-to-noise class: (pinv rows, var_rn, var_p / rate)."""
        times, A, opts = self.times, self.A, self.opts
        K = times.size
        rcond = np.finfo(float).eps * K
        M_all, var_rn, f_p = [], [], []
        for power in _SNR_POWERS:
            w = _complete_weights(times, power)
            M, rank, hinv, _ = _shared_solver(A, w, rcond)
            if M is None or rank < 2:
                # left to the general engine (NaN sends pixels there)
                M, f = np.full((2, K), np.nan), (np.nan, np.nan)
            else:
                f = _variance_factors(A, hinv, w, times)
            M_all.append(M)
            var_rn.append(opts["read_noise"] ** 2 * f[0])
            f_p.append(f[1] / opts["gain"])
        return np.array(M_all), np.array(var_rn), np.array(f_p)

    def _optimal(self, y, out, sl):
        """Slopes, intercepts and variances with Fixsen et al. weights."""
        M, var_rn, f_p = self.classes
        times, opts = self.times, self.opts
        slope = out["slope"][sl]
        np.dot(self.w_slope, y, out=slope)
        cls = _snr_class(slope, times[-1] - times[0], opts["read_noise"],
                         opts["gain"])
        counts = np.bincount(cls, minlength=len(M))
        for c in np.flatnonzero(counts):
            if counts[c] == cls.size:
                np.dot(M[c, 1], y, out=slope)
                np.dot(M[c, 0], y, out=out["intercept"][sl])
                break
            rows = np.flatnonzero(cls == c)
            part = y[:, rows]
            out["slope"][sl.start + rows] = M[c, 1] @ part
            out["intercept"][sl.start + rows] = M[c, 0] @ part
        np.take(var_rn, cls, out=out["var_readnoise"][sl])
        var_p = out["var_poisson"][sl]
        np.maximum(slope, 0.0, out=var_p)
        var_p *= f_p[cls]

    def fit(self, block, out, start, scratch):
        opts, K = self.opts, block.shape[0]
        n = block.shape[1]
        sl = slice(start, start + n)
        buf = scratch.get("y")
        if buf is None or buf.size < K * n:
            buf = scratch["y"] = np.empty(K * n)
        # a float64 copy: the caller's cube is never written to
        y = buf[:K * n].reshape(K, n)
        np.copyto(y, block, casting="unsafe")
        slope = out["slope"][sl]
        if self.classes is not None:
            self._optimal(y, out, sl)
            err = out["slope_err"][sl]
            np.add(out["var_poisson"][sl], out["var_readnoise"][sl], out=err)
            np.sqrt(err, out=err)
        elif opts["read_noise"] is not None:
            np.dot(self.w_slope, y, out=slope)
            np.dot(self.w_icpt, y, out=out["intercept"][sl])
            var_rn = opts["read_noise"] ** 2 * self.f_rn
            var_p = out["var_poisson"][sl]
            np.maximum(slope, 0.0, out=var_p)
            var_p *= self.f_p / opts["gain"]
            out["var_readnoise"][sl] = var_rn
            err = out["slope_err"][sl]
            np.add(var_p, var_rn, out=err)
            np.sqrt(err, out=err)
        else:
            np.dot(self.w_slope, y, out=slope)
            np.dot(self.w_icpt, y, out=out["intercept"][sl])
            # residuals in place: y -= intercept + t * slope
            subtract_outer(y, self.A[:, 0], out["intercept"][sl])
            subtract_outer(y, self.A[:, 1], slope)
            np.multiply(y, y, out=y)
            rss = np.add.reduce(y, axis=0)
            np.sqrt(self.hinv11 * rss / (K - 2), out=out["slope_err"][sl])
        out["n_used"][sl] = K
        out["n_segments"][sl] = 1
        # one sum finds out whether any pixel held a non-finite read
        if np.isfinite(np.add.reduce(slope)):
            return
        bad = np.flatnonzero(~np.isfinite(slope))
        if bad.size:
            res = _fit_chunk(block[:, bad].T, None, self.times, self.A, opts)
            for name, arr in out.items():
                arr[start + bad] = res[name]


def _fit_array(cube, times, mask, axis, chunk_pixels, opts, n_threads=1):
    K = cube.shape[axis]
    times = _check_times(times, K)
    if K < opts["degree"] + 1:
        msg = (f"the cube has {K} reads; a degree-{opts['degree']} fit "
               f"needs at least {opts['degree'] + 1}")
        raise ValueError(msg)
    pshape = cube.shape[:axis % cube.ndim] + cube.shape[axis % cube.ndim + 1:]
    flat = np.moveaxis(cube, axis, 0).reshape(K, -1)
    mflat = None if mask is None else np.moveaxis(mask, axis, 0).reshape(K, -1)
    npix = flat.shape[1]
    A = np.vander(times, opts["degree"] + 1, increasing=True)
    # about 4 MB of float64 per chunk: it stays in cache while it is used;
    # jump detection keeps a dozen arrays of that size, so it takes less
    per_chunk = 2**17 if opts["detect_jumps"] else 2**19
    chunk = chunk_pixels or max(1, min(65536, per_chunk // K))
    noise = opts["read_noise"] is not None
    out = {name: np.empty(npix) for name in
           ("slope", "intercept", "slope_err")}
    if noise:
        out["var_poisson"] = np.empty(npix)
        out["var_readnoise"] = np.empty(npix)
    # read and segment counts are small: int16 keeps the outputs compact
    out["n_used"] = np.empty(npix, dtype=np.int16)
    out["n_segments"] = np.empty(npix, dtype=np.int16)
    # zero-filled by the operating system: the pages of unflagged pixels
    # are never written by the one-pass route below
    out["flags"] = np.zeros(npix, dtype=np.int16)
    # native floating-point data needing no per-read masking go straight
    # to the engine, which converts each chunk to float64 and finds
    # non-finite reads itself; everything else is coerced chunk by chunk
    plain = (mflat is None and flat.dtype.kind == "f"
             and flat.dtype.itemsize >= 4 and flat.dtype.isnative
             and opts["saturation"] is None and not opts["detect_jumps"])
    linear = _LinearRamps(times, opts) if plain and opts["degree"] == 1 else None

    def fit_chunk(start, stop, scratch):
        if linear is not None:
            linear.fit(flat[:, start:stop], out, start, scratch)
            return
        if plain:
            res = _fit_chunk(flat[:, start:stop].T, None, times, A, opts)
        else:
            part = coerce_data(flat[:, start:stop], name="cube", ndim=2,
                               dtype=np.float64, allow_all_masked=True)
            invalid = part.mask
            if mflat is not None:
                invalid = invalid | mflat[:, start:stop]
            valid = ~invalid.T if invalid.any() else None
            res = _fit_chunk(part.data.T, valid, times, A, opts)
        for name, arr in out.items():
            arr[start:stop] = res[name]

    run_chunked(fit_chunk, npix, chunk, n_threads=n_threads, scratch=dict)
    values = {name: out[name].reshape(pshape) if name in out else None
              for name in _FIELDS}
    return RampFitResult(**values)


def _fit_dask(cube, times, mask, axis, chunk_pixels, opts):
    import dask.array as da

    cube = da.moveaxis(cube, axis, 0)
    K = cube.shape[0]
    times = _check_times(times, K)
    cube = cube.rechunk({0: -1})
    noise = opts["read_noise"] is not None
    names = [n for n in _FIELDS if noise or not n.startswith("var_")]

    def block(c, m=None):
        res = _fit_array(np.asarray(c), times,
                         None if m is None else np.asarray(m), 0,
                         chunk_pixels, opts)
        return np.stack([np.asarray(getattr(res, n), dtype=np.float64)
                         for n in names])

    chunks = ((len(names),),) + cube.chunks[1:]
    if mask is None:
        stacked = da.map_blocks(block, cube, dtype=np.float64, chunks=chunks)
    else:
        mask = da.moveaxis(da.asarray(mask), axis, 0).rechunk(cube.chunks)
        stacked = da.map_blocks(block, cube, mask, dtype=np.float64,
                                chunks=chunks)
    values = dict.fromkeys(_FIELDS)
    for i, name in enumerate(names):
        arr = stacked[i]
        if name in ("n_used", "n_segments"):
            arr = arr.astype(np.int64)
        elif name == "flags":
            arr = arr.astype(np.int16)
        values[name] = arr
    return RampFitResult(**values)
