"""
Star finders: DAOFIND, IRAF starfind and local-peak detection.

The finders are callables, ``finder(data, mask=None) -> QTable``, so that
the photometry classes can use any of them (or any user function with the
same signature).  They accept every input `~psfkit.utils.coerce_data`
accepts; NaN and masked pixels are ignored.  When nothing is found they
warn with `~psfkit.utils.NoDetectionsWarning` and return a zero-row table
with the full set of columns.

The heavy lifting happens in private engines working on plain arrays:
the smoothing and peak search in ``_peaks``, the per-source measurements
in ``_daofind`` and ``_irafind``, all vectorised over sources.
"""


from astropy.table import QTable
import astropy.units as u
import numpy as np

from ..._numerics.peaks import border_ok, local_maxima, sky_level, smooth_image
from ...utils import (
    NoDetectionsWarning,
    as_pair,
    check_in,
    check_integer,
    check_positive,
    coerce_data,
    warn,
)
from ._centroids import windowed_centroids
from ._daofind import measure_daofind
from ._irafind import measure_starfind
from ._kernel import make_detection_kernel

__all__ = ["DAOStarFinder", "IRAFStarFinder", "find_peaks"]


def _in_data_unit(name, value, unit, *, allow_array=False):
    """Return ``value`` as a float (array) in the data unit."""
    if value is None:
        return None
    if isinstance(value, u.Quantity):
        if unit is None:
            msg = (f"{name} has a unit ({value.unit}) but the data do not; "
                   "give both or neither a unit")
            raise u.UnitsError(msg)
        value = value.to_value(unit)
    arr = np.asarray(value, dtype=float)
    if arr.ndim != 0 and not allow_array:
        msg = f"{name} must be a scalar, got an array of shape {arr.shape}"
        raise ValueError(msg)
    return arr if arr.ndim else float(arr)


def _check_threshold(threshold):
    if isinstance(threshold, u.Quantity):
        value = threshold.value
    else:
        value = threshold
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf" or not np.all(np.isfinite(arr)):
        msg = f"threshold must be a finite number or 2-D array, got {threshold!r}"
        raise ValueError(msg)
    if arr.ndim not in (0, 2):
        msg = f"threshold must be a scalar or a 2-D array, got {arr.ndim}-D"
        raise ValueError(msg)
    return threshold


def _threshold_array(threshold, unit, shape):
    thr = _in_data_unit("threshold", threshold, unit, allow_array=True)
    if np.ndim(thr) == 2 and np.shape(thr) != shape:
        msg = (f"threshold must be a scalar or have the shape of the data "
               f"{shape}, got {np.shape(thr)}")
        raise ValueError(msg)
    return thr


def _check_range(lo_name, lo, hi_name, hi):
    lo = float(lo)
    hi = float(hi)
    if not lo <= hi:
        msg = f"{lo_name} must be <= {hi_name}, got {lo} > {hi}"
        raise ValueError(msg)
    return lo, hi


def _magnitude(flux):
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(flux > 0, -2.5 * np.log10(np.where(flux > 0, flux, 1.0)),
                        np.nan)


def _build_table(schema, values, unit, unit_columns):
    """A QTable with the columns of ``schema`` ((name, dtype) pairs)."""
    table = QTable()
    for name, dtype in schema:
        col = np.asarray(values[name], dtype=dtype)
        if unit is not None and name in unit_columns:
            col = u.Quantity(col, unit)
        table[name] = col
    return table


def _empty_result(schema, unit, unit_columns, reason):
    warn(f"No sources were found: {reason}", NoDetectionsWarning)
    values = {name: np.zeros(0, dtype=dtype) for name, dtype in schema}
    return _build_table(schema, values, unit, unit_columns)


def _select(stats, keep, *, brightest, order_key="flux"):
    """Apply a boolean selection, then keep the ``brightest`` by flux."""
    idx = np.nonzero(keep)[0]
    if brightest is not None and idx.size > brightest:
        order = np.argsort(-stats[order_key][idx], kind="stable")
        idx = idx[order[:brightest]]
    return {name: np.asarray(val)[idx] for name, val in stats.items()}


def _within(values, lo, hi):
    with np.errstate(invalid="ignore"):
        return (values >= lo) & (values <= hi)


class _StarFinderBase:
    """Shared input handling of the star finders."""

    _schema = ()
    _unit_columns = ("sky", "peak", "flux")

    def __call__(self, data, mask=None):
        """Find stars in an image (the same as ``find_stars``)."""
        return self.find_stars(data, mask=mask)

    def find_stars(self, data, mask=None):
        """
        Find stars in an image.

        Parameters
        ----------
        data : array-like, masked array, ``Quantity`` or ``NDData``
            The 2-D image; NaN and masked pixels are ignored.
        mask : array-like of bool, optional
            `True` for pixels to ignore.

        Returns
        -------
        table : `~astropy.table.QTable`
            One row per star (see the class notes for the columns); zero
            rows, with a `~psfkit.utils.NoDetectionsWarning`, if none.
        """
        arr, thr = self._prepare(data, mask)
        sky = _in_data_unit("sky", self.sky, arr.unit)
        if arr.n_valid == 0:
            return _empty_result(self._schema, arr.unit, self._unit_columns,
                                 "every pixel is masked")
        kernel = self.kernel
        valid = ~arr.mask
        smoothed = smooth_image(arr.data, valid, kernel.kernel)
        threshold, footprint = self._peak_criteria(thr, kernel)
        ys, xs = self._peaks(arr, smoothed, threshold, footprint, kernel)
        if ys.size == 0:
            return _empty_result(self._schema, arr.unit, self._unit_columns,
                                 "no peak above the threshold")
        stats, keep = self._measure(arr, smoothed, valid, ys, xs, kernel, sky)
        return self._finish(stats, keep, arr.unit)

    def _prepare(self, data, mask):
        arr = coerce_data(data, name="data", mask=mask, allow_all_masked=True)
        thr = _threshold_array(self.threshold, arr.unit, arr.shape)
        return arr, thr

    def _peaks(self, arr, smoothed, threshold, footprint, kernel):
        with np.errstate(invalid="ignore"):
            candidates = smoothed > threshold
        values = smoothed
        if np.any(arr.mask):
            candidates &= ~arr.mask
            values = np.where(arr.mask, -np.inf, smoothed)
        ys, xs = local_maxima(values, footprint, candidates)
        if self.exclude_border:
            hy, hx = kernel.half_size
            inside = border_ok(arr.shape, ys, xs, hy, hx)
            ys, xs = ys[inside], xs[inside]
        return ys, xs

    def _finish(self, stats, keep, unit):
        peakmax = _in_data_unit("peakmax", self.peakmax, unit)
        if peakmax is not None:
            with np.errstate(invalid="ignore"):
                keep = keep & (stats["peak"] <= peakmax)
        if not np.any(keep):
            return _empty_result(self._schema, unit, self._unit_columns,
                                 "no peak passed the shape and peak filters")
        sel = _select(stats, keep, brightest=self.brightest)
        sel["id"] = np.arange(1, len(sel["flux"]) + 1)
        sel["mag"] = _magnitude(sel["flux"])
        return _build_table(self._schema, sel, unit, self._unit_columns)

    def _validate_common(self, threshold, brightest, peakmax):
        self.threshold = _check_threshold(threshold)
        self.brightest = check_integer("brightest", brightest, minimum=1,
                                       allow_none=True)
        if peakmax is not None:
            check_positive("peakmax", peakmax, strict=False, finite=False)
        self.peakmax = peakmax


class DAOStarFinder(_StarFinderBase):
    """
    Detect stars with the DAOFIND algorithm (Stetson 1987).

    The image is convolved with a zero-sum, truncated elliptical Gaussian
    whose value at each pixel is the least-squares amplitude of a star of
    the given shape; local maxima of the convolved image above
    ``threshold * relerr`` are candidate stars.  Each candidate is kept if
    its sharpness and both roundness statistics lie within the given
    bounds.  Centroids come from Gaussian fits to the triangle-weighted x
    and y marginal distributions of the image around the peak.

    Parameters
    ----------
    threshold : float, 2-D array or `~astropy.units.Quantity`
        The detection threshold: the minimum amplitude of a star above
        the local sky.  It is multiplied by the kernel's ``relerr`` and
        compared with the convolved image, so ``threshold = n * sigma_sky``
        detects stars at about ``n`` times the pixel noise.
    fwhm : float
        The full width at half maximum of the major axis of the Gaussian
        kernel, in pixels.
    ratio : float, optional
        The minor-to-major axis ratio of the kernel, in ``(0, 1]``.
    theta : float, optional
        The position angle of the major axis, degrees counter-clockwise
        from the +x axis.
    sigma_radius : float, optional
        The truncation radius of the kernel in units of sigma.
    sharplo, sharphi : float, optional
        The accepted range of the sharpness statistic.
    roundlo, roundhi : float, optional
        The accepted range of both roundness statistics.
    sky : float or `~astropy.units.Quantity`, optional
        The sky level subtracted from ``peak`` and ``flux``.
    exclude_border : bool, optional
        If `True`, peaks closer to the edge than the kernel half size are
        dropped.  Otherwise border stars are measured from the pixels that
        exist.
    brightest : int, optional
        Keep only this many sources, the ones with the largest flux.
    peakmax : float or `~astropy.units.Quantity`, optional
        Reject sources whose sky-subtracted peak exceeds this value
        (e.g. saturated stars).

    Notes
    -----
    Masked pixels and pixels outside the image are replaced by the median
    of the valid pixels before the convolution, so neither a mask edge
    nor the image border produces spurious peaks even on a non-zero sky.
    Measurements use only valid pixels; ``npix`` counts the valid
    pixels of the kernel footprint.

    The output columns are ``id, xcentroid, ycentroid, sharpness,
    roundness1, roundness2, npix, sky, peak, flux, mag``, where ``flux``
    is the sum of the sky-subtracted pixels of the footprint and
    ``mag = -2.5 log10(flux)`` (NaN for non-positive flux).

    Examples
    --------
    >>> from astropy.table import QTable
    >>> from psfkit.datasets import make_gaussian_sources, make_noise_image
    >>> from psfkit.photometry import DAOStarFinder
    >>> truth = QTable({'flux': [900., 1200.], 'x_mean': [12.3, 30.6],
    ...                 'y_mean': [20.4, 9.8], 'x_stddev': [1.5, 1.5],
    ...                 'y_stddev': [1.5, 1.5]})
    >>> image = (make_gaussian_sources((40, 44), truth)
    ...          + make_noise_image((40, 44), mean=5., stddev=0.5,
    ...                             random_state=0))
    >>> finder = DAOStarFinder(threshold=5 * 0.5, fwhm=3.5)
    >>> stars = finder(image)
    >>> for x, y in zip(stars['xcentroid'], stars['ycentroid']):
    ...     print(f"{x:.1f} {y:.1f}")
    30.6 9.8
    12.3 20.4
    """

    _schema = (("id", np.int64), ("xcentroid", float), ("ycentroid", float),
               ("sharpness", float), ("roundness1", float),
               ("roundness2", float), ("npix", np.int64), ("sky", float),
               ("peak", float), ("flux", float), ("mag", float))

    def __init__(self, threshold, fwhm, *, ratio=1.0, theta=0.0,
                 sigma_radius=1.5, sharplo=0.2, sharphi=1.0, roundlo=-1.0,
                 roundhi=1.0, sky=0.0, exclude_border=False, brightest=None,
                 peakmax=None):
        self._validate_common(threshold, brightest, peakmax)
        self.kernel = make_detection_kernel(fwhm, ratio=ratio, theta=theta,
                                            sigma_radius=sigma_radius)
        self.fwhm = self.kernel.fwhm
        self.ratio = self.kernel.ratio
        self.theta = self.kernel.theta
        self.sigma_radius = self.kernel.sigma_radius
        self.sharplo, self.sharphi = _check_range("sharplo", sharplo,
                                                  "sharphi", sharphi)
        self.roundlo, self.roundhi = _check_range("roundlo", roundlo,
                                                  "roundhi", roundhi)
        self.sky = sky
        self.exclude_border = bool(exclude_border)

    def _peak_criteria(self, threshold, kernel):
        return threshold * kernel.relerr, kernel.footprint

    def _measure(self, arr, smoothed, valid, ys, xs, kernel, sky):
        stats = measure_daofind(arr.data, smoothed, valid, ys, xs, kernel, sky)
        stats["sky"] = np.full(ys.size, sky)
        keep = (np.isfinite(stats["xcentroid"]) & np.isfinite(stats["ycentroid"])
                & _within(stats["sharpness"], self.sharplo, self.sharphi)
                & _within(stats["roundness1"], self.roundlo, self.roundhi)
                & _within(stats["roundness2"], self.roundlo, self.roundhi))
        return stats, keep


class IRAFStarFinder(_StarFinderBase):
    """
    Detect stars with the IRAF starfind algorithm.

    The image is convolved with the same zero-sum Gaussian kernel as
    `DAOStarFinder` (circular); local maxima of the convolved image above
    ``threshold`` (not scaled) and separated by at least
    ``max(2, int(fwhm * minsep_fwhm + 0.5))`` pixels are candidates.
    Each is described by the moments of its sky-subtracted pixels inside
    the kernel footprint (negative values clipped to zero).

    Parameters
    ----------
    threshold : float, 2-D array or `~astropy.units.Quantity`
        The threshold applied to the convolved image.
    fwhm : float
        The full width at half maximum of the Gaussian kernel, in pixels.
    sigma_radius : float, optional
        The truncation radius of the kernel in units of sigma.
    minsep_fwhm : float, optional
        The minimum separation of detected peaks, in units of ``fwhm``.
    sharplo, sharphi : float, optional
        The accepted range of ``sharpness = fwhm_source / fwhm``.
    roundlo, roundhi : float, optional
        The accepted range of the moment roundness (0 for a round star).
    sky : float or `~astropy.units.Quantity`, optional
        A fixed sky level; by default the sky of each source is the mean of
        the valid pixels of its cutout outside the kernel footprint.
    exclude_border : bool, optional
        If `True`, peaks closer to the edge than the kernel half size are
        dropped.
    brightest : int, optional
        Keep only this many sources, the ones with the largest flux.
    peakmax : float or `~astropy.units.Quantity`, optional
        Reject sources whose sky-subtracted peak exceeds this value.
    centroid : {'moments', 'windowed'}, optional
        ``'moments'`` (IRAF's) takes the centroid from the first moments
        over the footprint around the peak pixel; ``'windowed'`` refines
        it by iterating Gaussian-windowed moments (window sigma
        ``fwhm / 2.3548``), which is unbiased for symmetric stars.

    Notes
    -----
    The output columns are ``id, xcentroid, ycentroid, fwhm, sharpness,
    roundness, pa, npix, sky, peak, flux, mag``: ``fwhm =
    2 sqrt(ln 2 (mu_xx + mu_yy))`` from the second central moments,
    ``roundness = sqrt((mu_xx - mu_yy)**2 + 4 mu_xy**2) / (mu_xx +
    mu_yy)``, ``pa`` the position angle in degrees in ``[0, 180)``
    counter-clockwise from +x, and ``flux`` the moment sum.

    Moments over a window centred on the peak pixel are pulled towards
    that pixel's centre, by up to about 0.1 pixel for a star at a pixel
    corner; ``centroid='windowed'`` (or `DAOStarFinder`) removes that
    bias.  Only the centroids change: ``fwhm``, ``roundness`` and ``pa``
    are the IRAF moments in both cases.

    Examples
    --------
    >>> from astropy.table import QTable
    >>> from psfkit.datasets import make_gaussian_sources
    >>> from psfkit.photometry import IRAFStarFinder
    >>> truth = QTable({'flux': [900.], 'x_mean': [12.], 'y_mean': [10.],
    ...                 'x_stddev': [1.5], 'y_stddev': [1.5]})
    >>> image = make_gaussian_sources((21, 25), truth)
    >>> stars = IRAFStarFinder(threshold=5., fwhm=3.5)(image)
    >>> print(len(stars), f"{stars['xcentroid'][0]:.2f}", f"{stars['pa'][0]:.0f}")
    1 12.00 0
    """

    _schema = (("id", np.int64), ("xcentroid", float), ("ycentroid", float),
               ("fwhm", float), ("sharpness", float), ("roundness", float),
               ("pa", float), ("npix", np.int64), ("sky", float),
               ("peak", float), ("flux", float), ("mag", float))

    def __init__(self, threshold, fwhm, *, sigma_radius=1.5, minsep_fwhm=2.5,
                 sharplo=0.5, sharphi=2.0, roundlo=0.0, roundhi=0.2, sky=None,
                 exclude_border=False, brightest=None, peakmax=None,
                 centroid="moments"):
        self._validate_common(threshold, brightest, peakmax)
        self.centroid = check_in("centroid", centroid, ("moments", "windowed"))
        self.kernel = make_detection_kernel(fwhm, sigma_radius=sigma_radius)
        self.fwhm = self.kernel.fwhm
        self.sigma_radius = self.kernel.sigma_radius
        self.minsep_fwhm = check_positive("minsep_fwhm", minsep_fwhm,
                                          strict=False)
        self.sharplo, self.sharphi = _check_range("sharplo", sharplo,
                                                  "sharphi", sharphi)
        self.roundlo, self.roundhi = _check_range("roundlo", roundlo,
                                                  "roundhi", roundhi)
        self.sky = sky
        self.exclude_border = bool(exclude_border)

    @property
    def min_separation(self):
        """The minimum peak separation in pixels."""
        return max(2, int(self.fwhm * self.minsep_fwhm + 0.5))

    def _separation_footprint(self):
        r = self.min_separation
        y, x = np.mgrid[-r:r + 1, -r:r + 1]
        return x**2 + y**2 <= r**2

    def _peak_criteria(self, threshold, kernel):
        return threshold, self._separation_footprint()

    def _measure(self, arr, smoothed, valid, ys, xs, kernel, sky):
        stats = measure_starfind(arr.data, valid, ys, xs, kernel, sky,
                                 sky_level(arr.data, valid))
        stats["sharpness"] = stats["fwhm"] / kernel.fwhm
        if self.centroid == "windowed":
            stats["xcentroid"], stats["ycentroid"] = windowed_centroids(
                arr.data, valid, stats["xcentroid"], stats["ycentroid"],
                kernel.sigma_x, stats["sky"])
        keep = (np.isfinite(stats["xcentroid"]) & np.isfinite(stats["ycentroid"])
                & (stats["flux"] > 0)
                & _within(stats["sharpness"], self.sharplo, self.sharphi)
                & _within(stats["roundness"], self.roundlo, self.roundhi))
        return stats, keep


_PEAK_SCHEMA = (("id", np.int64), ("x_peak", np.int64), ("y_peak", np.int64),
                ("peak_value", float))


def find_peaks(data, threshold, *, box_size=3, footprint=None, mask=None,
               border_width=None, npeaks=np.inf):
    """
    Find local maxima of an image above a threshold.

    A pixel is a peak when it is above ``threshold`` and no valid pixel of
    its neighbourhood is larger; within a flat plateau only the first
    pixel in raster order is returned.

    Parameters
    ----------
    data : array-like, masked array, ``Quantity`` or ``NDData``
        The 2-D image; NaN and masked pixels are never peaks and never
        block a neighbour.
    threshold : float, 2-D array or `~astropy.units.Quantity`
        The value a peak must exceed (strictly).
    box_size : int or tuple of 2 int, optional
        The size of the rectangular neighbourhood (odd); ignored when
        ``footprint`` is given.
    footprint : 2-D array of bool, optional
        The neighbourhood, with odd dimensions, centred on the pixel.
    mask : array-like of bool, optional
        `True` for pixels to ignore.
    border_width : int or tuple of 2 int, optional
        Peaks within this many pixels of the ``(y, x)`` edges are dropped.
    npeaks : int, optional
        The maximum number of peaks; the largest ones are kept.

    Returns
    -------
    table : `~astropy.table.QTable`
        Columns ``id, x_peak, y_peak, peak_value``, in raster order.

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.photometry import find_peaks
    >>> img = np.zeros((7, 9))
    >>> img[2, 3] = 5.0
    >>> img[5, 7] = 3.0
    >>> t = find_peaks(img, 1.0)
    >>> print(t['x_peak'].tolist(), t['y_peak'].tolist(), t['peak_value'].tolist())
    [3, 7] [2, 5] [5.0, 3.0]
    """
    arr = coerce_data(data, name="data", mask=mask, allow_all_masked=True)
    unit_cols = ("peak_value",)
    thr = _threshold_array(_check_threshold(threshold), arr.unit, arr.shape)
    if footprint is None:
        by, bx = as_pair("box_size", box_size, check_odd=True)
        footprint = np.ones((by, bx), dtype=bool)
    else:
        footprint = np.asarray(footprint, dtype=bool)
        if footprint.ndim != 2 or not all(s % 2 for s in footprint.shape):
            msg = (f"footprint must be a 2-D array with odd dimensions, got "
                   f"shape {footprint.shape}")
            raise ValueError(msg)
    if npeaks != np.inf:
        npeaks = check_integer("npeaks", npeaks, minimum=1)
    if arr.n_valid == 0:
        return _empty_result(_PEAK_SCHEMA, arr.unit, unit_cols,
                             "every pixel is masked")
    valid = ~arr.mask
    values = np.where(valid, arr.data, -np.inf)
    with np.errstate(invalid="ignore"):
        candidates = valid & (arr.data > thr)
    if border_width is not None:
        wy, wx = as_pair("border_width", border_width, lower_bound=(0, True))
        candidates[:wy] = False
        candidates[arr.shape[0] - wy:] = False
        candidates[:, :wx] = False
        candidates[:, arr.shape[1] - wx:] = False
    ys, xs = local_maxima(values, footprint, candidates)
    if ys.size == 0:
        return _empty_result(_PEAK_SCHEMA, arr.unit, unit_cols,
                             "no peak above the threshold")
    peak = arr.data[ys, xs]
    if ys.size > npeaks:
        keep = np.sort(np.argsort(-peak, kind="stable")[:npeaks])
        ys, xs, peak = ys[keep], xs[keep], peak[keep]
    values = {"id": np.arange(1, ys.size + 1), "x_peak": xs, "y_peak": ys,
              "peak_value": peak}
    return _build_table(_PEAK_SCHEMA, values, arr.unit, unit_cols)
