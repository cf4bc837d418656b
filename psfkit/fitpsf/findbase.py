"""
Base-selection plug-ins: which reference images are used for a region.

Every function here is a plug-in for the ``findbase`` slot of a fitter:
``findbase(self, region)`` takes the fitter and the region (sorted flat pixel
indices) and returns the selected bases, as a boolean array over the bases or
as base indices.

Fitter attributes used by `rotation_exclusion`:

``base_parangs``
    The parallactic angle of every base (degrees, or an angle
    `~astropy.units.Quantity`).
``image_parang``
    The parallactic angle of the image being fitted (degrees, or an angle
    Quantity).
``n_delta``, ``fwhm``
    A base is used only if the field rotated between it and the image by
    enough to move a source at the region's mean radius by at least
    ``n_delta * fwhm`` pixels (Lafreniere et al. 2007).
``sector_center``
    The ``(x, y)`` centre of the field rotation (`None`: image centre; read
    as the sectors read it, see ``convention``).
"""

import numpy as np

from ..utils import check_integer, check_positive
from ._geometry import angle_value, angle_values, rotated_enough
from ._sectors import sector_center_xy
from .utils import PluginCallable

__all__ = ["allbases", "nonmaskedbases", "best_correlated", "rotation_exclusion"]


def allbases(self, region):
    """
    Use every base.

    Returns
    -------
    indpsf : `~numpy.ndarray` of int
        All base indices.
    """
    return np.arange(self.n_bases)


def nonmaskedbases(self, region):
    """
    Use the bases that are unmasked on every pixel of the region where the
    image is unmasked.

    Pixels masked in the image have no residual whatever the bases hold
    there, so a mask shared by the image and the bases (a coronagraph)
    does not exclude every base on the regions at its edge.

    Returns
    -------
    indpsf : `~numpy.ndarray` of bool
        `True` for the usable bases.
    """
    bmask = self.base_mask1d
    if bmask is None:
        return np.ones(self.n_bases, dtype=bool)
    region = np.asarray(region)
    if self.image is not None:
        region = region[~self.image_mask1d[region]]
    if region.size == 0:
        return np.zeros(self.n_bases, dtype=bool)
    return ~bmask[region].any(axis=0)


class best_correlated(PluginCallable):  # noqa: N801
    """
    Use the ``n`` bases best correlated with the image in the region.

    Among the bases unmasked on the region, the ``n`` with the largest
    Pearson correlation coefficient with the image (over the unmasked
    pixels of the region) are selected.  This is the usual reference
    selection for reference-star differential imaging.

    Parameters
    ----------
    n : int
        The number of bases to select.

    Examples
    --------
    >>> from psfkit.fitpsf import LOCI
    >>> from psfkit.fitpsf.findbase import best_correlated
    >>> class Best5(LOCI):
    ...     findbase = best_correlated(5)
    """

    def __init__(self, n):
        self.n = check_integer("n", n, minimum=1)

    def __call__(self, fitter, region):
        region = np.asarray(region)
        cand = np.flatnonzero(nonmaskedbases(fitter, region))
        pix = region[~fitter.image_mask1d[region]]
        if cand.size <= self.n or pix.size < 2:
            return cand
        img = fitter.image1d[pix]
        base = fitter.base1d[np.ix_(pix, cand)]
        img = img - img.mean()
        base = base - base.mean(axis=0)
        norm = np.sqrt((base ** 2).sum(axis=0) * (img ** 2).sum())
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = np.where(norm > 0, base.T @ img / norm, -np.inf)
        best = np.argsort(-corr, kind="stable")[: self.n]
        return np.sort(cand[best])


def rotation_exclusion(self, region):
    """
    Use only bases whose field rotation moves a source far enough (ADI).

    Among the bases unmasked on the region, select those whose parallactic
    angle differs from the image's by at least
    ``n_delta * fwhm / r`` radians, with ``r`` the mean distance of the
    region's pixels from the rotation centre.  A companion then appears at
    a different place in the selected bases and is not subtracted.

    Returns
    -------
    indpsf : `~numpy.ndarray` of bool
    """
    parangs = getattr(self, "base_parangs", None)
    target = getattr(self, "image_parang", None)
    if parangs is None or target is None:
        msg = ("rotation_exclusion needs the fitter attributes base_parangs "
               "(one angle per base) and image_parang")
        raise AttributeError(msg)
    parangs = angle_values("base_parangs", parangs).ravel()
    if parangs.size != self.n_bases:
        msg = (f"base_parangs must have one angle per base ({self.n_bases}), "
               f"got {parangs.size}")
        raise ValueError(msg)
    fwhm = check_positive("fwhm", getattr(self, "fwhm", None))
    n_delta = check_positive("n_delta", getattr(self, "n_delta", 1.0),
                             strict=False)
    ny, nx = self.image_shape
    xc, yc = sector_center_xy(self, (ny, nx))
    rows, cols = np.divmod(np.asarray(region), nx)
    radius = float(np.mean(np.hypot(cols - xc, rows - yc))) if rows.size else 0.0
    ok = rotated_enough(parangs, angle_value("image_parang", target), radius,
                        n_delta=n_delta, fwhm=fwhm)
    return ok & nonmaskedbases(self, region)
