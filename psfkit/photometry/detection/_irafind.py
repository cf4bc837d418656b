"""
Vectorised IRAF starfind measurements on a stack of source cutouts.

Each source is described by the image moments of its sky-subtracted,
zero-clipped pixels inside the kernel footprint: the first moments give
the centroid, the second central moments the FWHM, roundness and position
angle.  All sources are measured at once from ``(n_sources, ny, nx)``
cutouts.
"""

import numpy as np

from ..._numerics.peaks import cutout_indices

__all__ = []


def measure_starfind(data, valid, ys, xs, kernel, sky, fallback_sky):
    """
    IRAF starfind statistics for sources peaking at pixels ``(ys, xs)``.

    Parameters
    ----------
    data : ndarray
        The 2-D image.
    valid : ndarray of bool
        `True` for usable pixels.
    ys, xs : ndarray of int
        The peak pixels.
    kernel : `~psfkit.photometry.detection._kernel.DetectionKernel`
        The detection kernel; its footprint selects the source pixels and
        the rest of its box the local sky pixels.
    sky : float or None
        A fixed sky level; `None` measures it per source as the mean of
        the valid cutout pixels outside the footprint.
    fallback_sky : float
        The sky used for a source whose sky pixels are all invalid.

    Returns
    -------
    stats : dict of ndarray
        ``xcentroid, ycentroid, fwhm, roundness, pa, npix, sky, peak,
        flux``.
    """
    hy, hx = kernel.half_size
    rows, cols, inside = cutout_indices(data.shape, ys, xs, hy, hx)
    ok = inside & valid[rows, cols]
    raw = np.where(ok, data[rows, cols], 0.0)
    fp = kernel.footprint
    if sky is None:
        sky_pix = ok & ~fp
        nsky = sky_pix.sum(axis=(1, 2))
        with np.errstate(invalid="ignore", divide="ignore"):
            skyval = np.where(sky_pix, raw, 0.0).sum(axis=(1, 2)) / nsky
        skyval = np.where(nsky > 0, skyval, fallback_sky)
    else:
        skyval = np.full(ys.size, float(sky))
    inner = ok & fp
    img = np.where(inner, raw - skyval[:, None, None], 0.0)
    img = np.clip(img, 0.0, None)

    u = np.arange(-hx, hx + 1, dtype=float)[None, None, :]
    v = np.arange(-hy, hy + 1, dtype=float)[None, :, None]
    m00 = img.sum(axis=(1, 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        xc = (img * u).sum(axis=(1, 2)) / m00
        yc = (img * v).sum(axis=(1, 2)) / m00
        du = u - xc[:, None, None]
        dv = v - yc[:, None, None]
        mxx = (img * du**2).sum(axis=(1, 2)) / m00
        myy = (img * dv**2).sum(axis=(1, 2)) / m00
        mxy = (img * du * dv).sum(axis=(1, 2)) / m00
        fwhm = 2.0 * np.sqrt(np.log(2.0) * (mxx + myy))
        roundness = np.sqrt((mxx - myy)**2 + 4.0 * mxy**2) / (mxx + myy)
    pa = np.mod(np.rad2deg(0.5 * np.arctan2(2.0 * mxy, mxx - myy)), 180.0)
    return {
        "xcentroid": xs + xc,
        "ycentroid": ys + yc,
        "fwhm": fwhm,
        "roundness": roundness,
        "pa": pa,
        "npix": inner.sum(axis=(1, 2)),
        "sky": skyval,
        "peak": img.max(axis=(1, 2)),
        "flux": m00,
    }
