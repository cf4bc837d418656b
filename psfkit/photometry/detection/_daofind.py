"""
Vectorised DAOFIND measurements on a stack of source cutouts.

Shape and position statistics of every detected peak are computed at once
from ``(n_sources, ny, nx)`` cutouts of the image, of the smoothed image
and of the validity mask.

Centroids come from Gaussian fits to the x and y marginal distributions,
weighted by DAOFIND's triangular weights.  Where DAOFIND takes a single
linearised step from the peak pixel, the fits here iterate a batched
Gauss-Newton solve of amplitude, offset and local sky to convergence, which
removes the step's sub-pixel bias (its error grows with the distance of
the star from the pixel centre).
"""

import numpy as np

from ..._numerics.peaks import cutout_indices

__all__ = []

_GN_ITERATIONS = 8
_MAX_SHIFT = 1.5  # a fitted centroid further than this from the peak is rejected


def _triangle_weights(half):
    return half + 1.0 - np.abs(np.arange(-half, half + 1, dtype=float))


def _linear_amplitude(prof, wts, model):
    """Weighted least-squares ``prof = h*model + b`` for fixed ``model``."""
    sw = wts.sum(axis=1)
    sm = (wts * model).sum(axis=1)
    smm = (wts * model * model).sum(axis=1)
    sp = (wts * prof).sum(axis=1)
    smp = (wts * model * prof).sum(axis=1)
    det = sw * smm - sm**2
    with np.errstate(invalid="ignore", divide="ignore"):
        h = (sw * smp - sm * sp) / det
        b = (sp - h * sm) / sw
    return h, b


def fit_marginal_gaussians(prof, wts, sigma):
    """
    Fit ``h*exp(-(u-d)**2/(2 sigma**2)) + b`` to many 1-D profiles at once.

    Parameters
    ----------
    prof : ndarray
        ``(n, L)`` profiles sampled at ``u = arange(L) - L//2``.
    wts : ndarray
        ``(n, L)`` non-negative weights (0 for missing samples).
    sigma : float
        The Gaussian standard deviation (held fixed).

    Returns
    -------
    shift, amplitude : ndarray
        ``(n,)`` fitted offsets ``d`` from the central sample and
        amplitudes ``h``; NaN where the fit failed or ``h <= 0``.
    """
    n, length = prof.shape
    u = np.arange(length, dtype=float) - length // 2
    inv_s2 = 1.0 / sigma**2
    d = np.zeros(n)
    h, b = _linear_amplitude(prof, wts, np.broadcast_to(
        np.exp(-0.5 * u**2 * inv_s2), prof.shape))
    eye = np.eye(3)
    for _ in range(_GN_ITERATIONS):
        du = u[None, :] - d[:, None]
        e = np.exp(-0.5 * du**2 * inv_s2)
        jac = np.stack([e, np.ones_like(e), h[:, None] * e * du * inv_s2],
                       axis=-1)
        resid = prof - (h[:, None] * e + b[:, None])
        jw = jac * wts[..., None]
        lhs = np.einsum("nli,nlj->nij", jw, jac)
        rhs = np.einsum("nli,nl->ni", jw, resid)
        # a tiny ridge keeps degenerate systems (h ~ 0) solvable
        scale = np.trace(lhs, axis1=1, axis2=2)[:, None, None]
        lhs = lhs + 1e-10 * np.where(scale > 0, scale, 1.0) * eye
        bad = ~np.all(np.isfinite(lhs), axis=(1, 2)) | ~np.all(
            np.isfinite(rhs), axis=1)
        lhs[bad] = eye
        rhs[bad] = 0.0
        step = np.linalg.solve(lhs, rhs[..., None])[..., 0]
        h = h + step[:, 0]
        b = b + step[:, 1]
        d = d + np.clip(step[:, 2], -0.5, 0.5)
    with np.errstate(invalid="ignore"):
        failed = ~(np.isfinite(d) & np.isfinite(h) & (h > 0)
                   & (np.abs(d) <= _MAX_SHIFT))
    d[failed] = np.nan
    h[failed] = np.nan
    return d, h


def _marginal(cut, valid, kernel, axis):
    """The triangle-weighted marginal profile along ``axis`` ('x' or 'y')."""
    hy, hx = kernel.half_size
    wy = _triangle_weights(hy)
    wx = _triangle_weights(hx)
    vf = valid.astype(float)
    if axis == "x":
        # average over rows with the row weights
        num = np.einsum("nyx,y->nx", cut * vf, wy)
        den = np.einsum("nyx,y->nx", vf, wy)
        line_w, total = wx, wy.sum()
    else:
        num = np.einsum("nyx,x->ny", cut * vf, wx)
        den = np.einsum("nyx,x->ny", vf, wx)
        line_w, total = wy, wx.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        prof = np.where(den > 0, num / den, 0.0)
    wts = line_w[None, :] * den / total
    return prof, wts


def _quadrant_signs(half_y, half_x):
    """+1/-1 signs of the four quadrants used by DAOFIND's roundness1."""
    q = np.zeros((2 * half_y + 1, 2 * half_x + 1))
    q[:half_y + 1, half_x + 1:] = -1.0   # lower right
    q[:half_y, :half_x + 1] = 1.0        # lower left
    q[half_y:, :half_x] = -1.0           # upper left
    q[half_y + 1:, half_x:] = 1.0        # upper right
    q[half_y, half_x] = 0.0
    return q


def measure_daofind(data, smoothed, valid, ys, xs, kernel, sky):
    """
    DAOFIND statistics for sources peaking at pixels ``(ys, xs)``.

    Parameters
    ----------
    data : ndarray
        The 2-D image.
    smoothed : ndarray
        The image convolved with ``kernel.kernel``.
    valid : ndarray of bool
        `True` for usable pixels.
    ys, xs : ndarray of int
        The peak pixels.
    kernel : `~psfkit.photometry.detection._kernel.DetectionKernel`
        The detection kernel.
    sky : float
        The sky level subtracted for ``peak`` and ``flux``.

    Returns
    -------
    stats : dict of ndarray
        ``xcentroid, ycentroid, sharpness, roundness1, roundness2, npix,
        peak, flux, hx, hy``.
    """
    hy, hx = kernel.half_size
    rows, cols, inside = cutout_indices(data.shape, ys, xs, hy, hx)
    ok = inside & valid[rows, cols]
    cut = np.where(ok, data[rows, cols] - sky, 0.0)
    conv = np.where(inside, smoothed[rows, cols], 0.0)
    fp = kernel.footprint
    inner = ok & fp
    peak = cut[:, hy, hx]
    conv_peak = conv[:, hy, hx]
    npix = inner.sum(axis=(1, 2))

    with np.errstate(invalid="ignore", divide="ignore"):
        others = inner.copy()
        others[:, hy, hx] = False
        n_others = others.sum(axis=(1, 2))
        mean_others = np.where(others, cut, 0.0).sum(axis=(1, 2)) / n_others
        sharpness = (peak - mean_others) / conv_peak

        conv0 = conv.copy()
        conv0[:, hy, hx] = 0.0
        sum2 = np.einsum("nyx,yx->n", conv0, _quadrant_signs(hy, hx))
        sum4 = np.abs(conv0).sum(axis=(1, 2))
        roundness1 = 2.0 * sum2 / sum4

    prof_x, wts_x = _marginal(cut, ok, kernel, "x")
    prof_y, wts_y = _marginal(cut, ok, kernel, "y")
    dx, amp_x = fit_marginal_gaussians(prof_x, wts_x, kernel.marginal_sigma("x"))
    dy, amp_y = fit_marginal_gaussians(prof_y, wts_y, kernel.marginal_sigma("y"))
    with np.errstate(invalid="ignore", divide="ignore"):
        roundness2 = 2.0 * (amp_x - amp_y) / (amp_x + amp_y)
    flux = np.where(inner, cut, 0.0).sum(axis=(1, 2))
    return {
        "xcentroid": xs + dx,
        "ycentroid": ys + dy,
        "sharpness": sharpness,
        "roundness1": roundness1,
        "roundness2": roundness2,
        "npix": npix,
        "peak": peak,
        "flux": flux,
        "hx": amp_x,
        "hy": amp_y,
    }
