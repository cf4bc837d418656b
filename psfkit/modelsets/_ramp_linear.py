"""
Straight-line fits of complete ramps in one pass over each chunk.

For the common case (degree 1, nothing masked, no saturation or jumps) the
least-squares line is a fixed linear combination of the reads:
``slope = w_s . y`` and ``intercept = w_i . y`` with the rows of the
pseudo-inverse of the design.  Each chunk is converted to float64 once, in
a work buffer that stays in cache, and both combinations are single BLAS
matrix-vector products.  With optimal weighting a complete ramp's weights
depend only on its signal-to-noise class, so the unweighted slope picks one
of six precomputed weighted combinations per pixel.  Pixels holding a
non-finite read come out non-finite and are refitted by the general engine
(`psfkit.modelsets._ramp_engine`).  The variances use the same factors as
the general engine, so both give the same numbers.
"""

import numpy as np

from ._ramp_engine import fit_chunk, variance_factors
from ._ramp_weights import SNR_POWERS, complete_weights, snr_class
from ._solve import shared_solver, subtract_outer
from .flags import UNDETERMINED_ERR

__all__ = []


class LinearRamps:
    """The one-pass route: precomputed combinations of the reads."""

    def __init__(self, times, opts):
        self.opts = opts
        self.times = times
        A = np.vander(times, 2, increasing=True)
        self.A = A
        self.w_icpt, self.w_slope = np.linalg.pinv(A)
        hinv = np.linalg.inv(A.T @ A)
        self.hinv11 = hinv[1, 1]
        self.f_rn, self.f_p = variance_factors(A, hinv[None],
                                               np.ones(len(times)), times)
        self.classes = None
        if opts["weighting"] == "optimal":
            self.classes = self._weight_classes()

    def _weight_classes(self):
        """Per signal-to-noise class: (pinv rows, var_rn, var_p / rate)."""
        times, A, opts = self.times, self.A, self.opts
        K = times.size
        rcond = np.finfo(float).eps * K
        M_all, var_rn, f_p = [], [], []
        for power in SNR_POWERS:
            w = complete_weights(times, power)
            M, rank, hinv, _ = shared_solver(A, w, rcond)
            if M is None or rank < 2:
                # left to the general engine (NaN sends pixels there)
                M, f = np.full((2, K), np.nan), (np.nan, np.nan)
            else:
                f = variance_factors(A, hinv, w, times)
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
        cls = snr_class(slope, times[-1] - times[0], opts["read_noise"],
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

    def _scatter(self, y, out, sl):
        """Slope errors from the scatter of the reads about the line."""
        K = y.shape[0]
        slope = out["slope"][sl]
        if K == 2:
            # a line through two reads leaves no scatter to measure
            out["slope_err"][sl] = np.nan
            out["flags"][sl] = UNDETERMINED_ERR
            return
        # residuals in place: y -= intercept + t * slope
        subtract_outer(y, self.A[:, 0], out["intercept"][sl])
        subtract_outer(y, self.A[:, 1], slope)
        np.multiply(y, y, out=y)
        rss = np.add.reduce(y, axis=0)
        np.sqrt(self.hinv11 * rss / (K - 2), out=out["slope_err"][sl])

    def fit(self, block, out, start, scratch):
        """Fit the pixels ``block`` (K reads, n pixels) into ``out``."""
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
            self._scatter(y, out, sl)
        out["n_used"][sl] = K
        out["n_segments"][sl] = 1
        # one sum finds out whether any pixel held a non-finite read
        if np.isfinite(np.add.reduce(slope)):
            return
        bad = np.flatnonzero(~np.isfinite(slope))
        if bad.size:
            res = fit_chunk(block[:, bad].T, None, self.times, self.A, opts)
            for name, arr in out.items():
                arr[start + bad] = res[name]
