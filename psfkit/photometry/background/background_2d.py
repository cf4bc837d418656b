"""
`Background2D`: a spatially varying sky and its RMS.

A robust estimate in each box of a mesh, a median filter over the boxes,
and a smooth interpolation back to every pixel.
"""


import astropy.units as u
import numpy as np

from ...utils import InputDataError, as_pair, coerce_data
from ._mesh import (
    box_edges,
    box_stack,
    fill_rejected,
    median_filter_mesh,
    mesh_spline,
)
from .estimators import (
    _DEFAULT,
    SExtractorBackground,
    StdBackgroundRMS,
    _clip,
    _sigma_clipper,
)

__all__ = ["Background2D"]


def _check_estimator(name, estimator):
    if not callable(estimator):
        msg = f"{name} must be callable as {name}(data, axis=...), got {estimator!r}"
        raise TypeError(msg)
    return estimator


class Background2D:
    """
    A spatially varying background and background RMS.

    The image is cut into a mesh of boxes; each box gets a robust
    background and RMS estimate from its sigma-clipped pixels; boxes with
    too many masked pixels are rejected and filled from their neighbours;
    the mesh is median filtered; and a bicubic spline through the box
    centres gives full-resolution maps.

    Parameters
    ----------
    data : array-like, masked array, ``Quantity`` or ``NDData``
        The 2-D image; NaN and masked pixels are ignored.
    box_size : int or tuple of 2 int
        The ``(ny, nx)`` box size in pixels.  The boxes tile the image
        exactly: there are ``round(ny / box_ny)`` of them along y (at
        least one), of sizes that differ by at most one pixel.
    mask : array-like of bool, optional
        `True` for pixels to ignore (e.g. masked sources).
    filter_size : int or tuple of 2 int, optional
        The size of the median filter over the mesh, in boxes (odd).
    sigma_clip : `~astropy.stats.SigmaClip` or None, optional
        The clipping applied to the pixels of each box; default
        ``SigmaClip(sigma=3, maxiters=10)``.
    bkg_estimator : callable, optional
        ``f(stack, axis=1)`` giving one background per box; default
        ``SExtractorBackground(sigma_clip=None)``.
    bkgrms_estimator : callable, optional
        The same for the RMS; default ``StdBackgroundRMS(sigma_clip=None)``.
    exclude_percentile : float, optional
        Boxes with more than this percentage of masked pixels are
        rejected and filled from their neighbours.

    Attributes
    ----------
    background, background_rms : `~numpy.ndarray` or `~astropy.units.Quantity`
        The full-resolution maps.
    background_mesh, background_rms_mesh : `~numpy.ndarray`
        The filtered mesh values, one per box.
    mesh_x, mesh_y : `~numpy.ndarray`
        The pixel coordinates of the box centres.
    mesh_rejected : `~numpy.ndarray` of bool
        The boxes that were rejected and filled.

    Notes
    -----
    The rejected-box filling (a distance-weighted local plane fit), the
    median filter (over a mesh padded by linear extrapolation) and the
    spline (whose end polynomials extend to the image edges) all preserve
    a planar sky exactly, so a sky gradient is recovered up to the image
    edges.

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.photometry import Background2D
    >>> y, x = np.mgrid[:100, :120]
    >>> sky = 50. + 0.1 * x + 0.05 * y
    >>> noise = np.random.default_rng(1).normal(0., 1., sky.shape)
    >>> bkg = Background2D(sky + noise, 20)
    >>> bkg.background_mesh.shape
    (5, 6)
    >>> bool(np.max(np.abs(bkg.background - sky)) < 0.6)  # box noise ~0.1
    True
    """

    def __init__(self, data, box_size, *, mask=None, filter_size=(3, 3),
                 sigma_clip=_DEFAULT, bkg_estimator=None,
                 bkgrms_estimator=None, exclude_percentile=10.0):
        arr = coerce_data(data, name="data", mask=mask)
        self.box_size = as_pair("box_size", box_size, lower_bound=(1, True))
        self.filter_size = as_pair("filter_size", filter_size, check_odd=True)
        self.sigma_clip = _sigma_clipper(sigma_clip)
        if bkg_estimator is None:
            bkg_estimator = SExtractorBackground(sigma_clip=None)
        if bkgrms_estimator is None:
            bkgrms_estimator = StdBackgroundRMS(sigma_clip=None)
        self.bkg_estimator = _check_estimator("bkg_estimator", bkg_estimator)
        self.bkgrms_estimator = _check_estimator("bkgrms_estimator",
                                                 bkgrms_estimator)
        pct = float(exclude_percentile)
        if not 0.0 <= pct <= 100.0:
            msg = f"exclude_percentile must be in [0, 100], got {exclude_percentile}"
            raise ValueError(msg)
        self.exclude_percentile = pct
        self.unit = arr.unit
        self._compute(arr)

    def _compute(self, arr):
        ny, nx = arr.shape
        edges_y = box_edges(ny, self.box_size[0])
        edges_x = box_edges(nx, self.box_size[1])
        self.mesh_y = 0.5 * (edges_y[:-1] + edges_y[1:] - 1)
        self.mesh_x = 0.5 * (edges_x[:-1] + edges_x[1:] - 1)

        stack = box_stack(arr.filled(np.nan), edges_y, edges_x)
        npix = np.outer(np.diff(edges_y), np.diff(edges_x))
        nvalid = np.isfinite(stack).sum(axis=2)
        pct_masked = 100.0 * (npix - nvalid) / npix
        good = (pct_masked <= self.exclude_percentile) & (nvalid > 0)
        if not np.any(good):
            msg = (f"every box has more than exclude_percentile="
                   f"{self.exclude_percentile}% masked pixels; use a larger "
                   "box_size or exclude_percentile, or a smaller mask")
            raise InputDataError(msg)

        clipped = _clip(self.sigma_clip, stack[good], 1)
        bkg_mesh = np.full(good.shape, np.nan)
        rms_mesh = np.full(good.shape, np.nan)
        bkg_mesh[good] = np.asarray(self.bkg_estimator(clipped, axis=1))
        rms_mesh[good] = np.asarray(self.bkgrms_estimator(clipped, axis=1))
        good &= np.isfinite(bkg_mesh) & np.isfinite(rms_mesh)
        if not np.any(good):
            msg = "the estimators returned no finite value for any box"
            raise InputDataError(msg)
        self.mesh_rejected = ~good

        self.background_mesh = median_filter_mesh(
            fill_rejected(bkg_mesh, good), self.filter_size)
        self.background_rms_mesh = median_filter_mesh(
            fill_rejected(rms_mesh, good), self.filter_size)
        self._bkg_spline = mesh_spline(self.background_mesh, self.mesh_y,
                                       self.mesh_x)
        self._rms_spline = mesh_spline(self.background_rms_mesh, self.mesh_y,
                                       self.mesh_x)
        rows = np.arange(ny, dtype=float)
        cols = np.arange(nx, dtype=float)
        self._background = self._bkg_spline(rows, cols)
        self._background_rms = self._rms_spline(rows, cols)

    def _with_unit(self, values):
        if self.unit is None:
            return values
        return u.Quantity(values, self.unit)

    @property
    def background(self):
        """The full-resolution background map."""
        return self._with_unit(self._background)

    @property
    def background_rms(self):
        """The full-resolution background RMS map."""
        return self._with_unit(self._background_rms)

    @property
    def background_median(self):
        """The median of the background mesh."""
        return self._with_unit(float(np.median(self.background_mesh)))

    @property
    def background_rms_median(self):
        """The median of the background RMS mesh."""
        return self._with_unit(float(np.median(self.background_rms_mesh)))

    def background_at(self, x, y):
        """
        Evaluate the background at arbitrary pixel positions.

        Parameters
        ----------
        x, y : float or array-like
            Pixel coordinates (``(0, 0)`` the centre of the first pixel).

        Returns
        -------
        background : float, `~numpy.ndarray` or `~astropy.units.Quantity`
        """
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        values = self._bkg_spline.ev(y, x)
        return self._with_unit(float(values) if values.ndim == 0 else values)
