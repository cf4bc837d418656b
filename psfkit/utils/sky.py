"""
Sky positions of pixel positions, the one way every psfkit table gets
its ``sky_centroid`` (or ``ra``/``dec``) column.
"""

import numpy as np

__all__ = ["pixel_to_sky"]


def pixel_to_sky(wcs, x, y):
    """
    The sky positions of pixel positions.

    Parameters
    ----------
    wcs : WCS object
        An astropy `~astropy.wcs.WCS` or any other WCS following the
        shared Python WCS interface (APE 14), with celestial axes.
    x, y : array-like
        Zero-based pixel positions along the image's first (column) and
        second (row) axis.

    Returns
    -------
    sky : `~astropy.coordinates.SkyCoord`
        The positions in the WCS's own frame (``icrs``, ``fk5``,
        ``galactic``...), whatever the order of the celestial axes in
        the header; use for example ``sky.icrs`` for right ascension and
        declination.  Non-finite pixel positions give NaN coordinates.

    Examples
    --------
    >>> from astropy.wcs import WCS
    >>> from psfkit.utils import pixel_to_sky
    >>> wcs = WCS(naxis=2)
    >>> wcs.wcs.ctype = ['DEC--TAN', 'RA---TAN']  # declination first
    >>> wcs.wcs.crval = [30.0, 150.0]
    >>> wcs.wcs.cdelt = [1e-4, -1e-4]
    >>> wcs.wcs.crpix = [1.0, 1.0]  # pixel (0, 0) is the reference
    >>> sky = pixel_to_sky(wcs, [0.0], [0.0])
    >>> round(float(sky.ra.deg[0]), 4), round(float(sky.dec.deg[0]), 4)
    (150.0, 30.0)
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    return wcs.pixel_to_world(x, y)
