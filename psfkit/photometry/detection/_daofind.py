"""
Vectorised DAOFIND measurements on a stack of source cutouts.

Shape and position statistics of every detected peak are computed at once
from ``(n_sources, ny, nx)`` cutouts of the image and of the convolved
image.  The classical measurements (``centroid='daofind'``) are DAOFIND's
as photutils computes them: sharpness and roundness1 from the kernel-box
cutouts, and one linearised least-squares step of a Gaussian fit to the
triangle-weighted x and y marginals, from the peak pixel, for the centroid
and roundness2.

``centroid='iterated'`` instead iterates a batched Gauss-Newton fit of
amplitude, offset and local sky to each marginal until it converges, on
the valid pixels only; this removes the single step's sub-pixel bias,
which grows with the distance of the star from the pixel centre.
"""

import numpy as np

from ..._numerics import linalg
from ..._numerics.peaks import cutout_indices

__all__ = []

_GN_ITERATIONS = 8
_MAX_SHIFT = 1.5  # an iterated centroid further than this from the peak is rejected


def _triangle_weights(half):
    return half + 1.0 - np.abs(np.arange(-half, half + 1, dtype=float))


def _daofind_step(data_1d, kern_1d, weights, sigma, data_offsets):
    """
    DAOFIND's single linearised Gaussian fit to marginal profiles.

    Parameters
    ----------
    data_1d : ndarray
        ``(n, L)`` marginal data profiles.
    kern_1d : ndarray
        ``(L,)`` marginal of the (untruncated) kernel Gaussian.
    weights : ndarray
        ``(L,)`` triangular weights along the profile.
    sigma : float
        The kernel's sigma along this axis.
    data_offsets : ndarray
        ``(L,)`` offsets used for the first-moment fallback.

    Returns
    -------
    shift, amplitude : ndarray
        ``(n,)``; NaN where the fitted amplitude is not positive.
    """
    size = kern_1d.size
    center = (size - 1) // 2
    offsets = center - np.arange(size, dtype=float)
    dkern = kern_1d * offsets
    wt_sum = weights.sum()
    kern_sum = (kern_1d * weights).sum()
    kern2_sum = (kern_1d**2 * weights).sum()
    dkern_sum = (dkern * weights).sum()
    dkern2_sum = (dkern**2 * weights).sum()
    kern_dkern_sum = (kern_1d * dkern * weights).sum()

    data_sum = data_1d @ weights
    data_kern_sum = data_1d @ (kern_1d * weights)
    data_dkern_sum = data_1d @ (dkern * weights)
    data_off_sum = data_1d @ (data_offsets * weights)

    numer = data_kern_sum - data_sum * kern_sum / wt_sum
    denom = kern2_sum - kern_sum**2 / wt_sum
    bad = (numer <= 0.0) | (denom <= 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        amplitude = numer / denom
        shift = ((kern_dkern_sum - (data_dkern_sum - dkern_sum * data_sum))
                 / (amplitude * dkern2_sum / sigma**2))
        moment = data_off_sum / data_sum
    half = size / 2.0
    # a step beyond the box falls back to the first moment, and to zero
    # when that is no better
    far = np.abs(shift) > half
    shift = np.where(far, np.where(data_sum == 0.0, 0.0, moment), shift)
    shift = np.where(np.abs(shift) > half, 0.0, shift)
    shift[bad] = np.nan
    amplitude[bad] = np.nan
    return shift, amplitude


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
        lhs, rhs = linalg.normal_equations(jac, resid, wts)
        bad = ~np.all(np.isfinite(lhs), axis=(1, 2)) | ~np.all(
            np.isfinite(rhs), axis=1)
        lhs[bad] = eye
        rhs[bad] = 0.0
        # degenerate systems (h ~ 0) get the core's pseudo-inverse step
        step = linalg.solve(lhs, rhs, check_condition=False)[0]
        h = h + step[:, 0]
        b = b + step[:, 1]
        d = d + np.clip(step[:, 2], -0.5, 0.5)
    with np.errstate(invalid="ignore"):
        failed = ~(np.isfinite(d) & np.isfinite(h) & (h > 0)
                   & (np.abs(d) <= _MAX_SHIFT))
    d[failed] = np.nan
    h[failed] = np.nan
    return d, h


def _valid_marginal(cut, valid, wy, wx, axis):
    """The triangle-weighted mean profile along ``axis`` over valid pixels."""
    vf = valid.astype(float)
    if axis == "x":
        num = np.einsum("nyx,y->nx", cut * vf, wy)
        den = np.einsum("nyx,y->nx", vf, wy)
        line_w, total = wx, wy.sum()
    else:
        num = np.einsum("nyx,x->ny", cut * vf, wx)
        den = np.einsum("nyx,x->ny", vf, wx)
        line_w, total = wy, wx.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        prof = np.where(den > 0, num / den, 0.0)
    return prof, line_w[None, :] * den / total


def _quadrant_signs(half_y, half_x):
    """+1/-1 signs of the four quadrants used by DAOFIND's roundness1."""
    q = np.zeros((2 * half_y + 1, 2 * half_x + 1))
    q[:half_y + 1, half_x + 1:] = -1.0   # lower right
    q[:half_y, :half_x + 1] = 1.0        # lower left
    q[half_y:, :half_x] = -1.0           # upper left
    q[half_y + 1:, half_x:] = 1.0        # upper right
    q[half_y, half_x] = 0.0
    return q


def _marginal_centroids(cut, valid, kernel, centroid):
    hy, hx = kernel.half_size
    wy = _triangle_weights(hy)
    wx = _triangle_weights(hx)
    if centroid == "iterated":
        prof_x, wts_x = _valid_marginal(cut, valid, wy, wx, "x")
        prof_y, wts_y = _valid_marginal(cut, valid, wy, wx, "y")
        dx, amp_x = fit_marginal_gaussians(prof_x, wts_x,
                                           kernel.marginal_sigma("x"))
        dy, amp_y = fit_marginal_gaussians(prof_y, wts_y,
                                           kernel.marginal_sigma("y"))
        return dx, dy, amp_x, amp_y
    gauss = kernel.gaussian
    dx, amp_x = _daofind_step(
        np.einsum("nyx,y->nx", cut, wy), wy @ gauss, wx, kernel.sigma_x,
        hx - np.arange(2 * hx + 1, dtype=float))
    dy, amp_y = _daofind_step(
        np.einsum("nyx,x->ny", cut, wx), gauss @ wx, wy, kernel.sigma_y,
        np.arange(2 * hy + 1, dtype=float) - hy)
    return dx, dy, amp_x, amp_y


def measure_daofind(filled, convolved, valid, xs, ys, kernel, *, level=0.0,
                    centroid="daofind"):
    """
    DAOFIND statistics for sources at the pixels ``(xs, ys)``.

    Parameters
    ----------
    filled : ndarray
        The 2-D image with masked pixels replaced by the padding level.
    convolved : ndarray
        The image convolved with ``kernel.kernel`` (same padding).
    valid : ndarray of bool
        `True` for unmasked pixels (used by ``centroid='iterated'``).
    xs, ys : ndarray
        The cutout centres (rounded to the nearest pixel for the
        cutouts).
    kernel : `~psfkit.photometry.detection._kernel.DetectionKernel`
        The detection kernel.
    level : float, optional
        The padding level: the value of box pixels beyond the edges.
    centroid : {'daofind', 'iterated'}, optional
        DAOFIND's single step or the iterated marginal fits.

    Returns
    -------
    stats : dict of ndarray
        ``dx, dy, sharpness, roundness1, roundness2, peak, flux,
        conv_peak, hx, hy``; ``dx`` and ``dy`` are the centroid offsets
        from ``xs`` and ``ys``.
    """
    hy, hx = kernel.half_size
    yi = np.rint(ys).astype(np.intp)
    xi = np.rint(xs).astype(np.intp)
    rows, cols, inside = cutout_indices(filled.shape, yi, xi, hy, hx)
    cut = np.where(inside, filled[rows, cols], level)
    conv = np.where(inside, convolved[rows, cols], 0.0)
    peak = cut[:, hy, hx]
    conv_peak = conv[:, hy, hx].copy()
    fp = kernel.footprint
    npix = kernel.npix

    with np.errstate(invalid="ignore", divide="ignore"):
        # the same sum as photutils': with a huge peak the order matters
        mean_others = ((cut * fp).sum(axis=(1, 2)) - peak) / (npix - 1)
        sharpness = (peak - mean_others) / conv_peak
        conv[:, hy, hx] = 0.0
        sum2 = np.einsum("nyx,yx->n", conv, _quadrant_signs(hy, hx))
        sum4 = np.abs(conv).sum(axis=(1, 2))
        roundness1 = 2.0 * sum2 / sum4

    ok = inside & valid[rows, cols]
    dx, dy, amp_x, amp_y = _marginal_centroids(cut, ok, kernel, centroid)
    with np.errstate(invalid="ignore", divide="ignore"):
        roundness2 = 2.0 * (amp_x - amp_y) / (amp_x + amp_y)
    return {
        "dx": dx,
        "dy": dy,
        "sharpness": sharpness,
        "roundness1": roundness1,
        "roundness2": roundness2,
        "peak": peak,
        "flux": cut.sum(axis=(1, 2)),
        "conv_peak": conv_peak,
        "hx": amp_x,
        "hy": amp_y,
    }
