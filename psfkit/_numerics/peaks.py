"""
Vectorised engines for detection: smoothing, local maxima and cutout stacks.

Everything here works on plain arrays.  Local maxima are found only among
the pixels above the threshold, by comparing each of them with its
neighbours one footprint offset at a time, which costs
``O(n_candidates * footprint_size)`` instead of a rank filter over the
whole image.  Cutouts of all sources are gathered with one fancy-indexing
operation into an ``(n_sources, ny, nx)`` stack, so per-source
measurements are array operations with no Python loop over sources.
"""

import numpy as np
from scipy import fft, ndimage

__all__ = []

# direct convolution beats the FFT for kernels up to about this many pixels
_DIRECT_MAX_TAPS = 100


def sky_level(data, valid):
    """
    A quick robust level of the valid pixels: the median of at most about
    a million of them, evenly strided (0 if none is valid).
    """
    step = max(1, data.size // 1_000_000)
    sample = data.ravel()[::step][valid.ravel()[::step]]
    if sample.size == 0:
        sample = data[valid]
    return float(np.median(sample)) if sample.size else 0.0


def smooth_image(data, valid, kernel, *, level=None):
    """
    Convolve an image with a detection kernel, robust to masks and edges.

    Masked pixels and the pixels beyond the image edges are replaced by
    ``level``, by default the median of the valid pixels (`sky_level`), so
    that a zero-sum kernel gives no response at mask boundaries or image
    edges on a flat sky.  ``level=0`` is the classical convolution with a
    zero boundary (DAOFIND's, IRAF's and photutils').

    Parameters
    ----------
    data : ndarray
        The 2-D image.
    valid : ndarray of bool
        `True` for the pixels to use.
    kernel : ndarray
        The (odd-shaped, point-symmetric) convolution kernel.
    level : float, optional
        The value given to masked pixels and to the pixels beyond the
        edges.  The result is exact for zero-sum kernels only when
        ``level`` is not 0 (the level is subtracted before convolving).

    Returns
    -------
    smoothed : ndarray
    """
    if level is None:
        level = sky_level(data, valid)
    filled = data - level if level else np.array(data, dtype=float)
    filled[~valid] = 0.0
    if kernel.size <= _DIRECT_MAX_TAPS:
        return ndimage.correlate(filled, kernel[::-1, ::-1], mode="constant",
                                 cval=0.0)
    return _fft_convolve_same(filled, kernel)


def _fft_convolve_same(image, kernel):
    """
    The convolution of ``image`` by an odd-shaped ``kernel`` through real
    FFTs, cropped to the image (``mode='same'`` of a full convolution);
    `scipy.fft` directly, which imports much faster than `scipy.signal`.
    """
    full = [a + b - 1 for a, b in zip(image.shape, kernel.shape, strict=True)]
    shape = [fft.next_fast_len(n, real=True) for n in full]
    out = fft.irfft2(fft.rfft2(image, shape) * fft.rfft2(kernel, shape),
                     shape)
    y0, x0 = ((k - 1) // 2 for k in kernel.shape)
    return out[y0:y0 + image.shape[0], x0:x0 + image.shape[1]]


def local_maxima(values, footprint, candidates, *, ties="first",
                 outside=None):
    """
    Find the local maxima of an image among candidate pixels.

    A candidate is a peak when no pixel of its footprint (within the
    image) is larger.  With ``ties='first'`` ties are broken in raster
    order so that a flat plateau yields a single peak: a pixel must be
    strictly larger than the footprint pixels that come before it (lower
    row, or same row and lower column) and at least as large as those
    after it.  With ``ties='all'`` every pixel equal to the maximum of its
    footprint is a peak, as ``values == maximum_filter(values)`` gives.

    Parameters
    ----------
    values : ndarray
        The 2-D image (``-inf`` for pixels that must never win).
    footprint : ndarray of bool
        The neighbourhood, odd shape, centred on the pixel.
    candidates : ndarray of bool
        The pixels that may be peaks.
    ties : {'first', 'all'}, optional
        One peak per plateau, or every tied pixel.
    outside : float, optional
        The value of the pixels beyond the image edges; by default they
        are not compared (``0.0`` is `scipy.ndimage.maximum_filter`'s
        ``mode='constant'``).  The footprint's centre is at index
        ``shape // 2`` along each axis, as in scipy, also for even sizes.

    Returns
    -------
    ys, xs : ndarray of int
        The peak pixel indices, in raster order.
    """
    ny, nx = values.shape
    ys, xs = np.nonzero(candidates)
    if ys.size == 0:
        return ys, xs
    vals = values[ys, xs]
    hy, hx = footprint.shape[0] // 2, footprint.shape[1] // 2
    dys, dxs = np.nonzero(footprint)
    dys = dys - hy
    dxs = dxs - hx
    # nearest neighbours first: they eliminate most candidates, and the
    # survivors are compressed after every offset
    order = np.argsort(dys**2 + dxs**2, kind="stable")
    for dy, dx in zip(dys[order], dxs[order], strict=True):
        if dy == 0 and dx == 0:
            continue
        yy = ys + dy
        xx = xs + dx
        inside = (yy >= 0) & (yy < ny) & (xx >= 0) & (xx < nx)
        neigh = values[np.clip(yy, 0, ny - 1), np.clip(xx, 0, nx - 1)]
        if outside is not None:
            neigh = np.where(inside, neigh, outside)
            inside = True
        before = ties == "first" and (dy < 0 or (dy == 0 and dx < 0))
        beaten = neigh >= vals if before else neigh > vals
        keep = ~(beaten & inside)
        ys, xs, vals = ys[keep], xs[keep], vals[keep]
    return ys, xs


def cutout_indices(shape, ys, xs, half_y, half_x):
    """
    Index arrays gathering ``(2*half_y+1, 2*half_x+1)`` cutouts.

    Parameters
    ----------
    shape : tuple of int
        The image shape.
    ys, xs : ndarray of int
        The cutout centres.
    half_y, half_x : int
        The cutout half sizes.

    Returns
    -------
    rows, cols : ndarray of int
        ``(n, ny, nx)`` indices clipped into the image.
    inside : ndarray of bool
        ``(n, ny, nx)``: `True` where the cutout pixel is inside the image.
    """
    rows = ys[:, None, None] + np.arange(-half_y, half_y + 1)[None, :, None]
    cols = xs[:, None, None] + np.arange(-half_x, half_x + 1)[None, None, :]
    inside = (rows >= 0) & (rows < shape[0]) & (cols >= 0) & (cols < shape[1])
    rows = np.clip(rows, 0, shape[0] - 1)
    cols = np.clip(cols, 0, shape[1] - 1)
    return rows, cols, inside


def border_ok(shape, ys, xs, half_y, half_x):
    """Whether a cutout of the given half sizes lies inside the image."""
    return ((ys >= half_y) & (ys < shape[0] - half_y)
            & (xs >= half_x) & (xs < shape[1] - half_x))
