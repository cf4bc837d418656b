"""
Star finders: DAOFIND (`DAOStarFinder`) and IRAF starfind
(`IRAFStarFinder`), as photutils 3.x computes them by default, but for
the minimum separation of peaks: DAOFIND's and IRAF's own, as in the seed
and photutils < 3 (photutils 3.0 demands ``2.5 * fwhm``: pass
``min_separation=2.5 * fwhm`` for its catalogues).

The finders are callables, ``finder(data, mask=None) -> SourceTable``, so
that the photometry classes (psfkit's and photutils') can use any of them.
They accept every input `~psfkit.utils.coerce_data` accepts; NaN and
masked pixels are ignored.  When nothing is found they warn with
`~psfkit.utils.NoDetectionsWarning` and return a zero-row table with the
full set of columns.

Both the photutils 3.x keywords (``sharpness_range``, ``n_brightest``,
``peak_max``, ``min_separation``...) and the 0.x spellings of the seed
API (``sharplo``/``sharphi``, ``brightest``, ``peakmax``, ``minsep_fwhm``)
are accepted.  psfkit's refinements are opt-in: ``centroid='iterated'``
(DAOStarFinder) or ``'windowed'`` (IRAFStarFinder), and
``padding='median'``.
"""

import numpy as np

from ._base import Setting, StarFinderBase, within
from ._centroids import windowed_centroids
from ._checks import (
    check_bool,
    check_non_negative_real,
    check_ratio,
    check_theta,
    choice,
)
from ._daofind import measure_daofind
from ._irafind import measure_starfind
from .peaks import find_peaks

__all__ = ["DAOStarFinder", "IRAFStarFinder", "find_peaks"]


_DAO_SHARPNESS = (0.2, 1.0)
_DAO_ROUNDNESS = (-1.0, 1.0)
_IRAF_SHARPNESS = (0.5, 2.0)
_IRAF_ROUNDNESS = (0.0, 0.2)

_COMMON_NOTES = """
    Keywords of two generations name the same settings: ``sharpness_range``
    or ``sharplo``/``sharphi``, ``roundness_range`` or
    ``roundlo``/``roundhi``, ``n_brightest`` or ``brightest``, ``peak_max``
    or ``peakmax``; every setting can be changed after construction and is
    checked as in ``__init__``.

    The table is a `~psfkit.photometry.SourceTable` (a
    `~astropy.table.QTable`) with photutils 3.x's columns; the former
    names ``xcentroid``, ``ycentroid``, ``npix`` and ``pa`` stay readable.
    When the data are an `~astropy.nddata.NDData` with a celestial WCS the
    table also has a ``sky_centroid`` column.
"""


class DAOStarFinder(StarFinderBase):
    """
    Detect stars with the DAOFIND algorithm (Stetson 1987).

    The image is convolved with a zero-sum, truncated elliptical Gaussian
    whose value at each pixel is the least-squares amplitude of a star of
    the given shape; local maxima of the convolved image above
    ``threshold * relerr`` that are the largest value of the kernel
    footprint around them are candidate stars.  Each candidate is kept if its
    sharpness and both roundness statistics lie within the given bounds.
    Centroids come from Gaussian fits to the triangle-weighted x and y
    marginal distributions of the image around the peak.

    Parameters
    ----------
    threshold : float, 2-D array or `~astropy.units.Quantity`
        The detection threshold: the minimum amplitude of a star above
        the sky.  It is multiplied by the kernel's ``relerr`` (unless
        ``scale_threshold=False``) and compared with the convolved image,
        so ``threshold = n * sigma_sky`` detects stars at about ``n``
        times the pixel noise.
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
    sharpness_range, roundness_range : tuple of 2 float or None, optional
        The accepted (inclusive) ranges of the sharpness and of both
        roundness statistics; `None` for no cut.
    exclude_border : bool, optional
        If `True`, peaks closer to the edge than the kernel half size are
        dropped.
    n_brightest : int, optional
        Keep only this many sources, the ones with the largest flux
        (listed by decreasing flux).
    peak_max : float or `~astropy.units.Quantity`, optional
        Reject sources whose peak exceeds this value (saturated stars).
    xycoords : (N, 2) array, optional
        Measure the sources at these ``(x, y)`` positions instead of
        searching for peaks.
    min_separation : float or None, optional
        The minimum separation of peaks, in pixels: a peak must be the
        largest convolved value within this radius.  0 (the default) uses
        the kernel footprint, as DAOFIND, the seed and photutils < 3 do;
        `None` means ``2.5 * fwhm`` (following the current ``fwhm``),
        photutils 3.x's default.
    scale_threshold : bool, optional
        Multiply ``threshold`` by the kernel's ``relerr`` (DAOFIND's
        definition).
    sky : float or `~astropy.units.Quantity`, optional
        A sky level subtracted from ``peak`` and ``flux`` (the seed's
        keyword; photutils 3.x has none).
    centroid : {'daofind', 'iterated'}, optional
        ``'daofind'`` takes DAOFIND's single linearised step of the
        marginal fits; ``'iterated'`` iterates them to convergence (with
        a local sky term, over the valid pixels only), which removes the
        single step's sub-pixel bias.
    padding : {'zero', 'median'}, optional
        The value given to pixels beyond the edges and to masked pixels:
        0 (DAOFIND's ``constant=0`` boundary; the image must then be
        background subtracted) or the median of the valid pixels, which
        gives no spurious edge detections on an image with sky.
    sharplo, sharphi, roundlo, roundhi, brightest, peakmax : optional
        The seed's (photutils 0.x) spellings of the settings above.

    Notes
    -----
    The output columns are ``id, x_centroid, y_centroid, sharpness,
    roundness1, roundness2, n_pixels, peak, flux, mag, daofind_mag``:
    ``n_pixels`` is the size of the kernel box, ``peak`` the peak pixel,
    ``flux`` the sum of the kernel box (minus ``sky * n_pixels``),
    ``mag = -2.5 log10(flux)`` (NaN for non-positive flux) and
    ``daofind_mag = -2.5 log10(convolved peak / effective threshold)``.
    With the defaults and an unmasked, finite image every column equals
    photutils 3.x's to rounding (see :doc:`/photometry/detection`).
    """ + _COMMON_NOTES + """
    Examples
    --------
    >>> from astropy.table import QTable
    >>> from psfkit.datasets import make_gaussian_sources, make_noise_image
    >>> from psfkit.photometry import DAOStarFinder
    >>> truth = QTable({'flux': [900., 1200.], 'x_mean': [12.3, 30.6],
    ...                 'y_mean': [20.4, 9.8], 'x_stddev': [1.5, 1.5],
    ...                 'y_stddev': [1.5, 1.5]})
    >>> image = (make_gaussian_sources((40, 44), truth)
    ...          + make_noise_image((40, 44), mean=0., stddev=0.5,
    ...                             random_state=0))
    >>> finder = DAOStarFinder(threshold=5 * 0.5, fwhm=3.5)
    >>> finder
    DAOStarFinder(threshold=2.5, fwhm=3.5)
    >>> stars = finder(image)
    >>> for x, y in zip(stars['x_centroid'], stars['y_centroid']):
    ...     print(f"{x:.1f} {y:.1f}")
    30.6 9.8
    12.3 20.4
    """

    _schema = (("id", np.int64, None), ("x_centroid", float, None),
               ("y_centroid", float, None), ("sharpness", float, None),
               ("roundness1", float, None), ("roundness2", float, None),
               ("n_pixels", np.int64, None), ("peak", float, "data"),
               ("flux", float, "data"), ("mag", float, None),
               ("daofind_mag", float, None))
    _default_range = {"sharpness": _DAO_SHARPNESS,
                      "roundness": _DAO_ROUNDNESS}
    _repr_params = ("threshold", "fwhm", "ratio", "theta", "sigma_radius",
                    "sharpness_range", "roundness_range", "exclude_border",
                    "n_brightest", "peak_max", "xycoords", "min_separation",
                    "scale_threshold", "sky", "centroid", "padding")

    ratio = Setting(check_ratio, kernel=True)
    theta = Setting(check_theta, kernel=True)
    scale_threshold = Setting(check_bool)
    centroid = Setting(choice("daofind", "iterated"))

    def __init__(self, threshold, fwhm, *, ratio=1.0, theta=0.0,
                 sigma_radius=1.5, sharpness_range=_DAO_SHARPNESS,
                 roundness_range=_DAO_ROUNDNESS, exclude_border=False,
                 n_brightest=None, peak_max=None, xycoords=None,
                 min_separation=0.0, scale_threshold=True, sky=0.0,
                 centroid="daofind", padding="zero", sharplo=None,
                 sharphi=None, roundlo=None, roundhi=None, brightest=None,
                 peakmax=None):
        self.ratio = ratio
        self.theta = theta
        self.scale_threshold = scale_threshold
        self.centroid = centroid
        self._set_common(locals())
        self._build_kernel()

    @property
    def threshold_eff(self):
        """The threshold applied to the convolved image."""
        if self.scale_threshold:
            return self.threshold * self.kernel.relerr
        return self.threshold

    def _threshold_eff(self, thr):
        return thr * self.kernel.relerr if self.scale_threshold else thr

    def _measure(self, filled, convolved, valid, xs, ys, level, sky, thr):
        kernel = self.kernel
        stats = measure_daofind(filled, convolved, valid, xs, ys, kernel,
                                level=level, centroid=self.centroid)
        stats["x_centroid"] = xs + stats.pop("dx")
        stats["y_centroid"] = ys + stats.pop("dy")
        stats["n_pixels"] = np.full(xs.size, kernel.kernel.size)
        sky = sky or 0.0
        stats["peak"] = stats["peak"] - sky
        stats["flux"] = stats["flux"] - sky * kernel.kernel.size
        thr_eff = self._threshold_eff(thr)
        if np.ndim(thr_eff) == 2:
            thr_eff = thr_eff[np.rint(ys).astype(int), np.rint(xs).astype(int)]
        with np.errstate(invalid="ignore", divide="ignore"):
            stats["daofind_mag"] = -2.5 * np.log10(stats["conv_peak"] / thr_eff)
        finite = ["x_centroid", "y_centroid", "hx", "hy", "sharpness",
                  "roundness1", "roundness2", "peak"]
        if np.any(thr_eff != 0):
            finite.append("flux")
        keep = np.logical_and.reduce([np.isfinite(stats[n]) for n in finite])
        keep &= within(stats["sharpness"], self.sharpness_range)
        keep &= within(stats["roundness1"], self.roundness_range)
        keep &= within(stats["roundness2"], self.roundness_range)
        return stats, keep


class IRAFStarFinder(StarFinderBase):
    """
    Detect stars with the IRAF starfind algorithm.

    The image is convolved with the same zero-sum Gaussian kernel as
    `DAOStarFinder` (circular); local maxima of the convolved image above
    ``threshold`` (not scaled) that are the largest value within
    ``min_separation`` pixels are candidates.  Each is described by the
    moments of its sky-subtracted pixels inside the kernel footprint
    (negative values clipped to zero).

    Parameters
    ----------
    threshold : float, 2-D array or `~astropy.units.Quantity`
        The threshold applied to the convolved image.
    fwhm : float
        The full width at half maximum of the Gaussian kernel, in pixels.
    sigma_radius : float, optional
        The truncation radius of the kernel in units of sigma.
    sharpness_range, roundness_range : tuple of 2 float or None, optional
        The accepted (inclusive) ranges of ``sharpness = fwhm_source /
        fwhm`` and of the moment roundness (0 for a round star).
    exclude_border : bool, optional
        If `True`, peaks closer to the edge than the kernel half size are
        dropped.
    n_brightest : int, optional
        Keep only this many sources, the ones with the largest flux.
    peak_max : float or `~astropy.units.Quantity`, optional
        Reject sources whose sky-subtracted peak exceeds this value.
    xycoords : (N, 2) array, optional
        Measure the sources at these ``(x, y)`` positions instead of
        searching for peaks.
    min_separation : float, optional
        The minimum separation of peaks in pixels; by default (`None`)
        IRAF's ``max(2, int(fwhm * minsep_fwhm + 0.5))``, following the
        current ``fwhm`` (photutils 3.0's default is ``2.5 * fwhm``
        unrounded).
    minsep_fwhm : float, optional
        The seed's (IRAF's) ``sepmin``, in units of ``fwhm``.
    sky : float or `~astropy.units.Quantity`, optional
        A fixed sky level; by default the sky of each source is the mean
        of its kernel box outside the footprint.
    centroid : {'moments', 'windowed'}, optional
        ``'moments'`` (IRAF's) takes the centroid from the first moments
        over the footprint around the peak pixel; ``'windowed'`` refines
        it by iterating Gaussian-windowed moments (window sigma
        ``fwhm / 2.3548``), which is unbiased for symmetric stars.
    padding : {'zero', 'median'}, optional
        The value of pixels beyond the edges and of masked pixels: 0
        (IRAF's boundary) or the median of the valid pixels.
    sharplo, sharphi, roundlo, roundhi, brightest, peakmax : optional
        The seed's spellings of the settings above.

    Notes
    -----
    The output columns are ``id, x_centroid, y_centroid, fwhm, sharpness,
    roundness, orientation, n_pixels, peak, flux, mag``: ``fwhm = 2
    sqrt(ln 2 (mu_xx + mu_yy))`` from the second central moments,
    ``roundness = sqrt((mu_xx - mu_yy)**2 + 4 mu_xy**2) / (mu_xx +
    mu_yy)``, ``orientation`` the major-axis angle in degrees in [0, 360)
    counter-clockwise from +x, ``n_pixels`` the number of positive
    sky-subtracted pixels, ``peak`` and ``flux`` their maximum and sum.

    When the kernel footprint fills its whole box (``fwhm`` about 4.5 with
    the default ``sigma_radius``) no pixel is left for the sky, and the
    sky is ``max(data) - max(convolved)`` over the box, as in IRAF and
    photutils 1.x; photutils 3.0 finds no star at all then.

    Moments over a window centred on the peak pixel are pulled towards
    that pixel's centre, by up to about 0.1 pixel for a star at a pixel
    corner; ``centroid='windowed'`` removes that bias.  Only the
    centroids change.
    """ + _COMMON_NOTES + """
    Examples
    --------
    >>> from astropy.table import QTable
    >>> from psfkit.datasets import make_gaussian_sources
    >>> from psfkit.photometry import IRAFStarFinder
    >>> truth = QTable({'flux': [900.], 'x_mean': [12.], 'y_mean': [10.],
    ...                 'x_stddev': [1.5], 'y_stddev': [1.5]})
    >>> image = make_gaussian_sources((21, 25), truth)
    >>> stars = IRAFStarFinder(threshold=5., fwhm=3.5)(image)
    >>> print(len(stars), f"{stars['x_centroid'][0]:.2f}",
    ...       f"{stars['orientation'][0]:.0f}")
    1 12.00 0 deg
    """

    _schema = (("id", np.int64, None), ("x_centroid", float, None),
               ("y_centroid", float, None), ("fwhm", float, None),
               ("sharpness", float, None), ("roundness", float, None),
               ("orientation", float, "deg"), ("n_pixels", np.int64, None),
               ("peak", float, "data"), ("flux", float, "data"),
               ("mag", float, None))
    _default_range = {"sharpness": _IRAF_SHARPNESS,
                      "roundness": _IRAF_ROUNDNESS}
    _repr_params = ("threshold", "fwhm", "sigma_radius", "sharpness_range",
                    "roundness_range", "exclude_border", "n_brightest",
                    "peak_max", "xycoords", "min_separation", "minsep_fwhm",
                    "sky", "centroid", "padding")

    centroid = Setting(choice("moments", "windowed"))

    def __init__(self, threshold, fwhm, *, sigma_radius=1.5,
                 sharpness_range=_IRAF_SHARPNESS,
                 roundness_range=_IRAF_ROUNDNESS, exclude_border=False,
                 n_brightest=None, peak_max=None, xycoords=None,
                 min_separation=None, minsep_fwhm=2.5, sky=None,
                 centroid="moments", padding="zero", sharplo=None,
                 sharphi=None, roundlo=None, roundhi=None, brightest=None,
                 peakmax=None):
        self.centroid = centroid
        self._set_common(locals())
        self.minsep_fwhm = minsep_fwhm
        self._build_kernel()

    @property
    def minsep_fwhm(self):
        """IRAF's peak separation in units of ``fwhm`` (``sepmin``)."""
        return self._minsep_fwhm

    @minsep_fwhm.setter
    def minsep_fwhm(self, value):
        self._minsep_fwhm = check_non_negative_real("minsep_fwhm", value)

    def _default_separation(self):
        return max(2, int(self.fwhm * self.minsep_fwhm + 0.5))

    def _measure(self, filled, convolved, valid, xs, ys, level, sky, thr):
        kernel = self.kernel
        stats = measure_starfind(filled, convolved, xs, ys, kernel,
                                 level=level, sky=sky)
        stats["x_centroid"] = xs + stats.pop("dx")
        stats["y_centroid"] = ys + stats.pop("dy")
        stats["sharpness"] = stats["fwhm"] / kernel.fwhm
        if self.centroid == "windowed":
            stats["x_centroid"], stats["y_centroid"] = windowed_centroids(
                filled, valid, stats["x_centroid"], stats["y_centroid"],
                kernel.sigma_x, stats["sky"])
        keep = stats["n_pixels"] > 1
        for name in ("x_centroid", "y_centroid", "sharpness", "roundness",
                     "orientation", "sky", "peak", "flux"):
            keep &= np.isfinite(stats[name])
        keep &= within(stats["sharpness"], self.sharpness_range)
        keep &= within(stats["roundness"], self.roundness_range)
        return stats, keep
