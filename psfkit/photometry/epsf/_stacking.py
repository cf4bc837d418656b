"""
Numerical steps of the Anderson & King (2000) ePSF construction on plain
arrays: stacking the residuals of all star pixels onto the oversampled grid
(sigma-clipped means through ``np.bincount``), polynomial smoothing kernels,
and recentring by resampling the spline interpolant.
"""

import numpy as np
from scipy import ndimage

from ..models._interpolation import spline_coefficients, spline_evaluate

__all__ = []


def polynomial_smoothing_kernel(degree, size=5):
    """
    The 2-D least-squares polynomial (Savitzky-Golay) smoothing kernel.

    Convolving with it replaces each value by the value at the centre of
    the polynomial of total degree ``degree`` fitted by least squares to
    the ``size`` x ``size`` neighbourhood.  Polynomials up to that degree
    pass unchanged; higher spatial frequencies are damped.
    """
    half = size // 2
    yy, xx = np.mgrid[-half:half + 1, -half:half + 1]
    terms = [(xx ** i * yy ** j).ravel() for i in range(degree + 1)
             for j in range(degree + 1 - i)]
    design = np.stack(terms, axis=1).astype(float)
    # the first term is the constant: its row of the pseudo-inverse gives
    # the fitted value at the centre
    return np.linalg.pinv(design)[0].reshape(size, size)


def resolve_smoothing_kernel(kernel):
    """Turn the ``smoothing_kernel`` option into an array (or None)."""
    if kernel is None:
        return None
    if isinstance(kernel, str):
        degrees = {"quartic": 4, "quadratic": 2}
        if kernel not in degrees:
            msg = ("smoothing_kernel must be 'quartic', 'quadratic', None or a "
                   f"2-D array, got {kernel!r}")
            raise ValueError(msg)
        return polynomial_smoothing_kernel(degrees[kernel])
    arr = np.asarray(kernel, dtype=float)
    if (arr.ndim != 2 or arr.shape[0] % 2 == 0 or arr.shape[1] % 2 == 0
            or not np.all(np.isfinite(arr))):
        msg = ("smoothing_kernel array must be 2-D, finite, with odd sizes; "
               f"got shape {arr.shape}")
        raise ValueError(msg)
    return arr


def stack_residuals(coef, shape, origin, oversampling, pixels, centers,
                    fluxes, use, *, sigma=3.0, max_clip_iters=5):
    """
    Mean residual of all star pixels on each cell of the oversampled grid.

    Parameters
    ----------
    coef : ndarray or None
        Spline coefficients of the current ePSF (None: the ePSF is zero).
    shape : tuple
        The ePSF grid shape ``(ny, nx)``.
    origin : tuple
        The ``(x, y)`` grid position of the ePSF centre.
    oversampling : tuple
        ``(y, x)`` oversampling.
    pixels : dict
        Flat star pixels: ``x``, ``y`` (cutout coordinates), ``value``,
        ``good`` and ``star`` (index of the star of each pixel).
    centers : ndarray
        ``(n_stars, 2)`` centres in cutout coordinates.
    fluxes : ndarray
        ``(n_stars,)`` fluxes.
    use : ndarray of bool
        Which stars take part.
    sigma : float or None, optional
        The clipping threshold in standard deviations (None: plain mean).
    max_clip_iters : int, optional
        The maximum number of clipping passes.

    Returns
    -------
    mean : ndarray
        The clipped mean residual per cell (0 where no pixel falls).
    count : ndarray
        The number of pixels kept per cell.
    """
    ny, nx = shape
    osy, osx = oversampling
    star = pixels["star"]
    u = origin[0] + (pixels["x"] - centers[star, 0]) * osx
    v = origin[1] + (pixels["y"] - centers[star, 1]) * osy
    resid = pixels["value"] / fluxes[star]
    if coef is not None:
        resid = resid - spline_evaluate(coef, u, v)
    gu = np.rint(u).astype(np.intp)
    gv = np.rint(v).astype(np.intp)
    ok = (pixels["good"] & use[star] & (gu >= 0) & (gu < nx) & (gv >= 0)
          & (gv < ny))
    cell = gv[ok] * nx + gu[ok]
    resid = resid[ok]
    keep = np.ones(resid.size)
    size = ny * nx
    for _ in range(max_clip_iters):
        count = np.bincount(cell, weights=keep, minlength=size)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.bincount(cell, weights=keep * resid,
                               minlength=size) / count
            var = np.bincount(cell, weights=keep * resid ** 2,
                              minlength=size) / count - mean ** 2
        mean = np.where(count > 0, mean, 0.0)
        if sigma is None:
            break
        std = np.sqrt(np.clip(np.nan_to_num(var), 0.0, None))
        new = ((np.abs(resid - mean[cell]) <= sigma * std[cell])
               | (count[cell] < 3)).astype(float)
        if np.array_equal(new, keep):
            break
        keep = new
    return mean.reshape(shape), count.reshape(shape)


def smooth(grid, kernel):
    """Convolve with the smoothing kernel (zero beyond the grid)."""
    if kernel is None:
        return grid
    return ndimage.convolve(grid, kernel, mode="constant", cval=0.0)


def recenter(epsf, origin, half_box, *, maxiters=20, tol=1e-4,
             centroid=None):
    """
    Resample the ePSF so that its centroid near the origin is the origin.

    The centroid is measured in a box of ``half_box`` grid pixels around
    the origin; the image is shifted by spline interpolation, the centroid
    measured again on the shifted image, up to ``maxiters`` times, and the
    original image is resampled once with the total shift.  The centroid
    is the centre of mass of the box, or ``centroid(box)``, an ``(x, y)``
    position in box pixels, when given.

    Returns
    -------
    epsf : ndarray
        The recentred image.
    shift : ndarray
        The total ``(x, y)`` shift applied, in grid pixels.
    """
    coef = spline_coefficients(epsf)
    ox, oy = origin
    offsets = np.arange(-half_box, half_box + 1, dtype=float)
    bx = ox + offsets[None, :]
    by = oy + offsets[:, None]
    shift = np.zeros(2)
    for _ in range(maxiters):
        vals = spline_evaluate(coef, bx + shift[0], by + shift[1])
        total = vals.sum()
        if not total > 0:
            break
        if centroid is None:
            step = np.array([np.sum(vals * offsets[None, :]) / total,
                             np.sum(vals * offsets[:, None]) / total])
        else:
            step = np.asarray(centroid(vals), dtype=float)[:2] - half_box
            if not np.all(np.isfinite(step)):
                break
        shift += step
        if np.hypot(*step) < tol:
            break
    ny, nx = epsf.shape
    gy, gx = np.mgrid[0:ny, 0:nx].astype(float)
    return spline_evaluate(coef, gx + shift[0], gy + shift[1]), shift
