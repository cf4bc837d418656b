"""
Scalar and 2-D background and background-RMS estimators.

The scalar estimators are callables: ``bkg(data)`` returns one number for
the whole input, ``bkg(data, axis=...)`` an array of them.  Each
sigma-clips its input first (``SigmaClip(sigma=3, maxiters=10)`` unless
told otherwise), ignores NaN and masked values, keeps the unit of a
`~astropy.units.Quantity` input, and returns NaN where no value is left.
``calc_background`` / ``calc_background_rms`` are aliases of the call.

`Background2D` estimates a spatially varying sky: a robust estimate in
each box of a mesh, a median filter over the boxes, and a smooth
interpolation back to every pixel.
"""

import warnings

from astropy.stats import (
    SigmaClip,
    biweight_location,
    biweight_scale,
    mad_std,
)
import astropy.units as u
import numpy as np

from ..utils import InputDataError, as_pair, check_positive, coerce_data
from ._background_mesh import (
    box_edges,
    box_stack,
    fill_rejected,
    median_filter_mesh,
    mesh_spline,
)

__all__ = [
    "MeanBackground",
    "MedianBackground",
    "MMMBackground",
    "SExtractorBackground",
    "BiweightLocationBackground",
    "StdBackgroundRMS",
    "MADStdBackgroundRMS",
    "BiweightScaleBackgroundRMS",
    "Background2D",
]


class _Default:
    def __repr__(self):
        return "SigmaClip(sigma=3, maxiters=10)"


_DEFAULT = _Default()


def _sigma_clipper(sigma_clip):
    if sigma_clip is _DEFAULT:
        return SigmaClip(sigma=3.0, maxiters=10)
    if sigma_clip is not None and not isinstance(sigma_clip, SigmaClip):
        msg = (f"sigma_clip must be an astropy SigmaClip instance or None, "
               f"got {type(sigma_clip).__name__}")
        raise TypeError(msg)
    return sigma_clip


def _clip(sigma_clip, values, axis):
    """Sigma-clip, replacing clipped values by NaN (same shape if axis)."""
    if sigma_clip is None:
        return values
    with warnings.catch_warnings():
        # NaN marks masked pixels here: being clipped is what they are for
        warnings.filterwarnings("ignore", message="Input data contains invalid")
        warnings.simplefilter("ignore", RuntimeWarning)
        return sigma_clip(values, axis=axis, masked=False, copy=False)


class _Estimator:
    """Shared input handling: coerce, mask, clip, compute, attach unit."""

    def __init__(self, *, sigma_clip=_DEFAULT):
        self.sigma_clip = _sigma_clipper(sigma_clip)

    def __repr__(self):
        return f"{type(self).__name__}(sigma_clip={self.sigma_clip!r})"

    def __call__(self, data, *, axis=None, mask=None):
        arr = coerce_data(data, name="data", ndim=None, mask=mask,
                          allow_all_masked=True)
        if axis is None:
            values = arr.data[~arr.mask]
        elif self.sigma_clip is None and not np.any(arr.mask & ~np.isnan(arr.data)):
            # NaN already marks every ignored value and nothing writes to
            # the array: no copy needed
            values = arr.data
        else:
            # the clipping works in place on this copy
            values = arr.filled(np.nan)
        values = _clip(self.sigma_clip, values, axis)
        with warnings.catch_warnings():
            # all-NaN slices give NaN, as documented
            warnings.simplefilter("ignore", RuntimeWarning)
            if axis is None:
                values = values[np.isfinite(values)]
                result = self._statistic(values, None) if values.size else np.nan
            else:
                result = self._statistic(values, axis)
        result = np.asarray(result, dtype=float)
        result = float(result) if result.ndim == 0 else result
        if arr.unit is not None:
            return u.Quantity(result, arr.unit)
        return result


class _BackgroundEstimator(_Estimator):
    def calc_background(self, data, *, axis=None, mask=None):
        """
        Estimate the background (the same as calling the estimator).

        Parameters
        ----------
        data : array-like, masked array, ``Quantity`` or ``NDData``
            The values; NaN and masked values are ignored.
        axis : int or tuple of int, optional
            Reduce along these axes; `None` reduces everything.
        mask : array-like of bool, optional
            `True` for values to ignore.

        Returns
        -------
        background : float, `~numpy.ndarray` or `~astropy.units.Quantity`
        """
        return self(data, axis=axis, mask=mask)


class _RMSEstimator(_Estimator):
    def calc_background_rms(self, data, *, axis=None, mask=None):
        """
        Estimate the background RMS (the same as calling the estimator).

        Parameters
        ----------
        data : array-like, masked array, ``Quantity`` or ``NDData``
            The values; NaN and masked values are ignored.
        axis : int or tuple of int, optional
            Reduce along these axes; `None` reduces everything.
        mask : array-like of bool, optional
            `True` for values to ignore.

        Returns
        -------
        rms : float, `~numpy.ndarray` or `~astropy.units.Quantity`
        """
        return self(data, axis=axis, mask=mask)


_PARAMS = """
    Parameters
    ----------
    sigma_clip : `~astropy.stats.SigmaClip` or None, optional
        The clipping applied first; default ``SigmaClip(sigma=3,
        maxiters=10)``, `None` for none.
"""


class MeanBackground(_BackgroundEstimator):
    __doc__ = """
    The background as the (sigma-clipped) mean.
    """ + _PARAMS + """
    Examples
    --------
    >>> from psfkit.photometry import MeanBackground
    >>> MeanBackground(sigma_clip=None)([1., 2., 3., 10.])
    4.0
    """

    def _statistic(self, values, axis):
        return np.nanmean(values, axis=axis)


class MedianBackground(_BackgroundEstimator):
    __doc__ = """
    The background as the (sigma-clipped) median.
    """ + _PARAMS + """
    Examples
    --------
    >>> from psfkit.photometry import MedianBackground
    >>> MedianBackground(sigma_clip=None)([1., 2., 3., 10.])
    2.5
    """

    def _statistic(self, values, axis):
        return np.nanmedian(values, axis=axis)


class MMMBackground(_BackgroundEstimator):
    __doc__ = """
    The background as the mode estimate ``3 * median - 2 * mean``.

    This is the "mean, median, mode" estimate in the simple form used by
    photutils, applied to the sigma-clipped values: for a sky skewed by
    faint sources, the mode lies further from the mean than the median.
    """ + _PARAMS + """
    Examples
    --------
    >>> from psfkit.photometry import MMMBackground
    >>> MMMBackground(sigma_clip=None)([1., 2., 3., 10.])
    -0.5
    """

    def _statistic(self, values, axis):
        return (3.0 * np.nanmedian(values, axis=axis)
                - 2.0 * np.nanmean(values, axis=axis))


class SExtractorBackground(_BackgroundEstimator):
    __doc__ = """
    The SExtractor background: ``2.5 * median - 1.5 * mean``.

    Where ``|mean - median| / std >= 0.3`` (a crowded distribution) the
    median is used instead, and where ``std == 0`` the mean.
    """ + _PARAMS + """
    Examples
    --------
    >>> from psfkit.photometry import SExtractorBackground
    >>> SExtractorBackground(sigma_clip=None)([1., 2., 2., 3., 3., 3., 4.])
    3.0
    """

    def _statistic(self, values, axis):
        med = np.nanmedian(values, axis=axis)
        mean = np.nanmean(values, axis=axis)
        std = np.nanstd(values, axis=axis)
        mode = 2.5 * med - 1.5 * mean
        with np.errstate(invalid="ignore", divide="ignore"):
            crowded = np.abs(mean - med) / std >= 0.3
        return np.where(std == 0, mean, np.where(crowded, med, mode))


class BiweightLocationBackground(_BackgroundEstimator):
    __doc__ = """
    The background as the biweight location.
    """ + _PARAMS + """    c : float, optional
        The tuning constant of the biweight.
    M : float, optional
        The initial location guess (default: the median).

    Examples
    --------
    >>> from psfkit.photometry import BiweightLocationBackground
    >>> print(f"{BiweightLocationBackground()([1., 2., 3., 2.5, 1.5]):.3f}")
    2.000
    """

    def __init__(self, *, sigma_clip=_DEFAULT, c=6.0, M=None):  # noqa: N803
        super().__init__(sigma_clip=sigma_clip)
        self.c = check_positive("c", c)
        self.M = M

    def _statistic(self, values, axis):
        return biweight_location(values, c=self.c, M=self.M, axis=axis,
                                 ignore_nan=True)


class StdBackgroundRMS(_RMSEstimator):
    __doc__ = """
    The background RMS as the (sigma-clipped) standard deviation.
    """ + _PARAMS + """
    Examples
    --------
    >>> from psfkit.photometry import StdBackgroundRMS
    >>> StdBackgroundRMS(sigma_clip=None)([1., 3., 1., 3.])
    1.0
    """

    def _statistic(self, values, axis):
        return np.nanstd(values, axis=axis)


class MADStdBackgroundRMS(_RMSEstimator):
    __doc__ = """
    The background RMS as ``1.4826 * MAD``, the median absolute deviation
    scaled to the standard deviation of a Gaussian.
    """ + _PARAMS + """
    Examples
    --------
    >>> from psfkit.photometry import MADStdBackgroundRMS
    >>> print(f"{MADStdBackgroundRMS(sigma_clip=None)([1., 2., 3., 4., 100.]):.4f}")
    1.4826
    """

    def _statistic(self, values, axis):
        return mad_std(values, axis=axis, ignore_nan=True)


class BiweightScaleBackgroundRMS(_RMSEstimator):
    __doc__ = """
    The background RMS as the biweight scale.
    """ + _PARAMS + """    c : float, optional
        The tuning constant of the biweight.
    M : float, optional
        The location about which the scale is computed (default: the
        median).

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.photometry import BiweightScaleBackgroundRMS
    >>> noise = np.random.default_rng(0).normal(0., 2., 10000)
    >>> print(f"{BiweightScaleBackgroundRMS()(noise):.1f}")
    2.0
    """

    def __init__(self, *, sigma_clip=_DEFAULT, c=9.0, M=None):  # noqa: N803
        super().__init__(sigma_clip=sigma_clip)
        self.c = check_positive("c", c)
        self.M = M

    def _statistic(self, values, axis):
        return biweight_scale(values, c=self.c, M=self.M, axis=axis,
                              ignore_nan=True)


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
