"""
Gaussian-windowed centroids, iterated for many sources at once.

The first moment of a star seen through a Gaussian window centred at a
trial position ``x_k`` is pulled towards ``x_k``; for a Gaussian star of
the window's width, twice the windowed offset is exactly the offset of
the star, so iterating ``x_{k+1} = x_k + 2 <x - x_k>_w`` converges to the
true centre of any symmetric star, wherever it lies within its pixel.
This is the windowed-position iteration of SExtractor (``XWIN``).
"""

import numpy as np

from ..._numerics.peaks import cutout_indices

__all__ = []

_MAX_ITER = 20
_TOLERANCE = 1e-5  # pixels
_MAX_SHIFT = 1.5  # a recentred position further than this is rejected


def windowed_centroids(data, valid, x, y, sigma, sky):
    """
    Iterate Gaussian-windowed centroids from starting positions.

    Parameters
    ----------
    data : ndarray
        The 2-D image.
    valid : ndarray of bool
        `True` for usable pixels.
    x, y : ndarray
        Starting positions.
    sigma : float
        The Gaussian window width (the stars' sigma).
    sky : ndarray
        The sky level of each source.

    Returns
    -------
    x, y : ndarray
        The refined positions; the starting positions where the iteration
        ran away (further than 1.5 px) or had no positive windowed flux.
    """
    x0 = np.asarray(x, dtype=float)
    y0 = np.asarray(y, dtype=float)
    half = max(2, int(np.ceil(3.0 * sigma)))
    xi = np.round(x0).astype(int)
    yi = np.round(y0).astype(int)
    rows, cols, inside = cutout_indices(data.shape, yi, xi, half, half)
    ok = inside & valid[rows, cols]
    img = np.where(ok, data[rows, cols] - np.asarray(sky)[:, None, None], 0.0)
    offs = np.arange(-half, half + 1, dtype=float)
    gx = (xi[:, None] + offs[None, :])[:, None, :]
    gy = (yi[:, None] + offs[None, :])[:, :, None]
    xc = x0.copy()
    yc = y0.copy()
    inv2s2 = 0.5 / sigma**2
    active = np.ones(x0.size, dtype=bool)
    for _ in range(_MAX_ITER):
        idx = np.nonzero(active)[0]
        if idx.size == 0:
            break
        du = gx[idx] - xc[idx, None, None]
        dv = gy[idx] - yc[idx, None, None]
        w = np.exp(-(du**2 + dv**2) * inv2s2) * img[idx]
        sw = w.sum(axis=(1, 2))
        with np.errstate(invalid="ignore", divide="ignore"):
            sx = 2.0 * (w * du).sum(axis=(1, 2)) / sw
            sy = 2.0 * (w * dv).sum(axis=(1, 2)) / sw
        good = (sw > 0) & np.isfinite(sx) & np.isfinite(sy)
        sx = np.where(good, np.clip(sx, -0.5, 0.5), 0.0)
        sy = np.where(good, np.clip(sy, -0.5, 0.5), 0.0)
        xc[idx] += sx
        yc[idx] += sy
        active[idx] = good & (np.maximum(np.abs(sx), np.abs(sy)) > _TOLERANCE)
        active[idx[~good]] = False
        xc[idx[~good]] = x0[idx[~good]]
        yc[idx[~good]] = y0[idx[~good]]
    runaway = np.hypot(xc - x0, yc - y0) > _MAX_SHIFT
    xc[runaway] = x0[runaway]
    yc[runaway] = y0[runaway]
    return xc, yc
