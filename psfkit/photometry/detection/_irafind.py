"""
Vectorised IRAF starfind measurements on a stack of source cutouts.

Each source is described by the image moments of its sky-subtracted,
zero-clipped pixels inside the kernel footprint: the first moments give
the centroid, the second central moments the FWHM, roundness and
orientation.  All sources are measured at once from ``(n_sources, ny,
nx)`` cutouts of the kernel box.

The sky of a source is the mean of the box pixels outside the kernel
footprint.  When the footprint fills the whole box (FWHM about 4.5 pixels
with the default ``sigma_radius``), IRAF's rule applies instead: the
maximum of the data cutout minus the maximum of the convolved cutout.
"""

import numpy as np

from ..._numerics.peaks import cutout_indices

__all__ = []


def measure_starfind(filled, convolved, xs, ys, kernel, *, level=0.0,
                     sky=None):
    """
    IRAF starfind statistics for sources at the pixels ``(xs, ys)``.

    Parameters
    ----------
    filled : ndarray
        The 2-D image with masked pixels replaced by the padding level.
    convolved : ndarray
        The image convolved with ``kernel.kernel`` (same padding).
    xs, ys : ndarray
        The cutout centres (rounded to the nearest pixel for the cutouts).
    kernel : `~psfkit.photometry.detection._kernel.DetectionKernel`
        The detection kernel; its footprint selects the source pixels and
        the rest of its box the sky pixels.
    level : float, optional
        The padding level: the value of box pixels beyond the edges.
    sky : float or None, optional
        A fixed sky level; `None` measures it per source.

    Returns
    -------
    stats : dict of ndarray
        ``dx, dy`` (centroid offsets from ``xs``, ``ys``), ``fwhm,
        roundness, orientation`` (degrees in [0, 360)), ``n_pixels, sky,
        peak, flux``.
    """
    hy, hx = kernel.half_size
    yi = np.rint(ys).astype(np.intp)
    xi = np.rint(xs).astype(np.intp)
    rows, cols, inside = cutout_indices(filled.shape, yi, xi, hy, hx)
    raw = np.where(inside, filled[rows, cols], level)
    fp = kernel.footprint
    n_sky = np.count_nonzero(~fp)
    if sky is not None:
        skyval = np.full(xs.size, float(sky))
    elif n_sky:
        skyval = np.einsum("nyx,yx->n", raw, (~fp).astype(float)) / n_sky
    else:
        conv = np.where(inside, convolved[rows, cols], 0.0)
        skyval = raw.max(axis=(1, 2)) - conv.max(axis=(1, 2))
    img = np.where(fp, raw - skyval[:, None, None], 0.0)
    img = np.clip(img, 0.0, None)

    u = np.arange(-hx, hx + 1, dtype=float)
    v = np.arange(-hy, hy + 1, dtype=float)
    m00 = img.sum(axis=(1, 2))
    row_sums = img.sum(axis=2)
    col_sums = img.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        xc = col_sums @ u / m00
        yc = row_sums @ v / m00
        du = u[None, :] - xc[:, None]
        dv = v[None, :] - yc[:, None]
        mxx = np.einsum("nx,nx->n", col_sums, du**2) / m00
        myy = np.einsum("ny,ny->n", row_sums, dv**2) / m00
        mxy = np.einsum("nyx,ny,nx->n", img, dv, du) / m00
        fwhm = 2.0 * np.sqrt(np.log(2.0) * (mxx + myy))
        roundness = np.sqrt((mxx - myy)**2 + 4.0 * mxy**2) / (mxx + myy)
    orientation = np.mod(np.rad2deg(0.5 * np.arctan2(2.0 * mxy, mxx - myy)),
                         360.0)
    return {
        "dx": xc,
        "dy": yc,
        "fwhm": fwhm,
        "roundness": roundness,
        "orientation": orientation,
        "n_pixels": np.count_nonzero(img, axis=(1, 2)),
        "sky": skyval,
        "peak": img.max(axis=(1, 2)),
        "flux": m00,
    }
