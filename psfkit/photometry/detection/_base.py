"""
What the star finders share: validated settings, input handling, the peak
search and the selection of the measured sources.

Every setting of a finder is a `Setting`: the value given to ``__init__``
and any value assigned later go through the same check, and changing a
kernel parameter (``fwhm``, ``ratio``...) rebuilds the kernel, so a finder
can never hold a value it would have refused at construction.
"""


import numpy as np

from ..._numerics.peaks import border_ok, local_maxima, sky_level, smooth_image
from ...utils import Checked, ParamReprMixin, coerce_data, to_data_unit
from ._checks import (
    check_bool,
    check_fwhm,
    check_min_separation,
    check_n_brightest,
    check_optional_level,
    check_range,
    check_threshold,
    check_xycoords,
    choice,
)
from ._kernel import make_detection_kernel
from .source_table import add_sky_column, build_table, empty_table

__all__ = []


class Setting(Checked):
    """
    A finder attribute checked on every assignment.

    Parameters
    ----------
    check : callable
        ``check(name, value) -> value``; raises on a bad value.
    kernel : bool, optional
        Whether the value defines the detection kernel (the kernel is
        rebuilt when it changes, and the old value restored if that
        fails).
    """

    def __init__(self, check, *, kernel=False):
        super().__init__(check)
        self.kernel = kernel

    def __set__(self, obj, value):
        old = obj.__dict__.get(self.private)
        super().__set__(obj, value)
        if self.kernel and getattr(obj, "_kernel", None) is not None:
            try:
                obj._build_kernel()
            except ValueError:
                obj.__dict__[self.private] = old
                raise


def merge_alias(new_name, new_value, old_name, old_value, default):
    """
    One value from a photutils 3.x keyword and its 0.x spelling.

    Both spellings are supported (psfkit keeps the seed's API), so neither
    warns; giving both with different values is an error.
    """
    if old_value is None:
        return default if new_value is None else new_value
    if new_value is not None and new_value is not default:
        msg = (f"{old_name} and {new_name} are two names for the same "
               "setting; give only one of them")
        raise TypeError(msg)
    return old_value


def merge_range(name, rng, lo_name, lo, hi_name, hi, default):
    """A ``(lower, upper)`` range from ``*_range`` or its lo/hi spellings."""
    if lo is None and hi is None:
        return rng
    if rng is not default:
        msg = (f"{lo_name}/{hi_name} and {name} set the same bounds; give "
               "only one of them")
        raise TypeError(msg)
    lower = default[0] if lo is None else lo
    upper = default[1] if hi is None else hi
    return (lower, upper)


def in_data_unit(name, value, unit, *, allow_array=False):
    """Return ``value`` as a float (array) in the data unit."""
    if value is None:
        return None
    arr = np.asarray(to_data_unit(name, value, unit), dtype=float)
    if arr.ndim != 0 and not allow_array:
        msg = f"{name} must be a scalar, got an array of shape {arr.shape}"
        raise ValueError(msg)
    return arr if arr.ndim else float(arr)


def threshold_array(threshold, unit, shape):
    """The threshold in the data unit, checked against the image shape."""
    thr = in_data_unit("threshold", threshold, unit, allow_array=True)
    if np.ndim(thr) == 2 and np.shape(thr) != shape:
        msg = (f"threshold must be a scalar or have the shape of the data "
               f"{shape}, got {np.shape(thr)}")
        raise ValueError(msg)
    return thr


def circular_footprint(radius):
    """
    The footprint of a minimum separation ``radius`` (pixels).

    Offsets ``i - radius`` for ``i = 0, 1, ...`` up to ``radius``: for a
    non-integer radius the footprint has an even size and, with the centre
    at index ``size // 2`` as in `scipy.ndimage`, is shifted by half a
    pixel (photutils' convention, kept so that the same peaks are found).
    """
    offsets = np.arange(-radius, radius + 1)
    return offsets[None, :]**2 + offsets[:, None]**2 <= radius**2


def magnitude(flux):
    """``-2.5 log10(flux)``, NaN where the flux is not positive."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(flux > 0, -2.5 * np.log10(np.where(flux > 0, flux, 1.0)),
                        np.nan)


def within(values, bounds):
    """Inclusive bounds test (everything passes when ``bounds`` is None)."""
    if bounds is None:
        return np.ones(np.shape(values), dtype=bool)
    with np.errstate(invalid="ignore"):
        return (values >= bounds[0]) & (values <= bounds[1])


class StarFinderBase(ParamReprMixin):
    """Shared input handling, peak search and selection of the finders."""

    _schema = ()
    _default_range = {}
    _repr_changed_only = True

    threshold = Setting(check_threshold)
    fwhm = Setting(check_fwhm, kernel=True)
    sigma_radius = Setting(check_fwhm, kernel=True)
    sharpness_range = Setting(check_range)
    roundness_range = Setting(check_range)
    exclude_border = Setting(check_bool)
    n_brightest = Setting(check_n_brightest)
    peak_max = Setting(check_optional_level)
    sky = Setting(check_optional_level)
    min_separation = Setting(check_min_separation)
    xycoords = Setting(check_xycoords)
    padding = Setting(choice("zero", "median"))

    def __call__(self, data, mask=None):
        """Find stars in an image (the same as ``find_stars``)."""
        return self.find_stars(data, mask=mask)

    # -- the kernel ----------------------------------------------------
    @property
    def kernel(self):
        """The detection kernel (rebuilt when its parameters change)."""
        return self._kernel

    def _build_kernel(self):
        self._kernel = make_detection_kernel(
            self.fwhm, ratio=getattr(self, "ratio", 1.0),
            theta=getattr(self, "theta", 0.0), sigma_radius=self.sigma_radius)

    # -- the 0.x spellings of the 3.x settings --------------------------
    def _range_end(self, name, end):
        rng = getattr(self, name)
        return None if rng is None else rng[end]

    def _set_range_end(self, name, end, value):
        rng = getattr(self, name) or (-np.inf, np.inf)
        rng = list(rng)
        rng[end] = value
        setattr(self, name, tuple(rng))

    sharplo = property(lambda self: self._range_end("sharpness_range", 0),
                       lambda self, v: self._set_range_end("sharpness_range",
                                                           0, v),
                       doc="The lower sharpness bound (``sharpness_range[0]``).")
    sharphi = property(lambda self: self._range_end("sharpness_range", 1),
                       lambda self, v: self._set_range_end("sharpness_range",
                                                           1, v),
                       doc="The upper sharpness bound (``sharpness_range[1]``).")
    roundlo = property(lambda self: self._range_end("roundness_range", 0),
                       lambda self, v: self._set_range_end("roundness_range",
                                                           0, v),
                       doc="The lower roundness bound (``roundness_range[0]``).")
    roundhi = property(lambda self: self._range_end("roundness_range", 1),
                       lambda self, v: self._set_range_end("roundness_range",
                                                           1, v),
                       doc="The upper roundness bound (``roundness_range[1]``).")
    brightest = property(lambda self: self.n_brightest,
                         lambda self, v: setattr(self, "n_brightest", v),
                         doc="The 0.x name of ``n_brightest``.")
    peakmax = property(lambda self: self.peak_max,
                       lambda self, v: setattr(self, "peak_max", v),
                       doc="The 0.x name of ``peak_max``.")

    def _set_common(self, given):
        """
        Set the settings every finder shares from ``given``: the arguments
        of the finder's ``__init__`` (its ``locals()``), 0.x spellings
        included.
        """
        self._kernel = None
        self.threshold = given["threshold"]
        self.fwhm = given["fwhm"]
        self.sigma_radius = given["sigma_radius"]
        for name, kind, lo, hi in (("sharpness_range", "sharpness", "sharplo",
                                    "sharphi"),
                                   ("roundness_range", "roundness", "roundlo",
                                    "roundhi")):
            setattr(self, name, merge_range(
                name, given[name], lo, given[lo], hi, given[hi],
                self._default_range[kind]))
        self.exclude_border = given["exclude_border"]
        self.n_brightest = merge_alias("n_brightest", given["n_brightest"],
                                       "brightest", given["brightest"], None)
        self.peak_max = merge_alias("peak_max", given["peak_max"], "peakmax",
                                    given["peakmax"], None)
        for name in ("sky", "min_separation", "xycoords", "padding"):
            setattr(self, name, given[name])

    @property
    def separation(self):
        """The minimum peak separation in use (pixels)."""
        if self.min_separation is None:
            return self._default_separation()
        return self.min_separation

    def _default_separation(self):
        return 2.5 * self.fwhm

    # -- finding -------------------------------------------------------
    def find_stars(self, data, mask=None):
        """
        Find stars in an image.

        Parameters
        ----------
        data : array-like, masked array, ``Quantity`` or ``NDData``
            The 2-D, background-subtracted image; NaN and masked pixels
            are ignored.
        mask : array-like of bool, optional
            `True` for pixels to ignore.

        Returns
        -------
        table : `~psfkit.photometry.SourceTable`
            One row per star (see the class notes for the columns); zero
            rows, with a `~psfkit.utils.NoDetectionsWarning`, if none.
        """
        arr = coerce_data(data, name="data", mask=mask, allow_all_masked=True)
        kernel = self.kernel
        kernel.check_fits(arr.shape)
        thr = threshold_array(self.threshold, arr.unit, arr.shape)
        sky = in_data_unit("sky", self.sky, arr.unit)
        peak_max = in_data_unit("peak_max", self.peak_max, arr.unit)
        if arr.n_valid == 0:
            return self._empty(arr.unit, "every pixel is masked")
        valid = ~arr.mask
        level = 0.0 if self.padding == "zero" else sky_level(arr.data, valid)
        filled = np.where(valid, arr.data, level)
        convolved = smooth_image(arr.data, valid, kernel.kernel, level=level)
        if self.xycoords is not None:
            xs, ys = self.xycoords[:, 0], self.xycoords[:, 1]
        else:
            ys, xs = self._peaks(convolved, valid, self._threshold_eff(thr))
            if ys.size == 0:
                return self._empty(arr.unit, "no peak above the threshold")
        stats, keep = self._measure(filled, convolved, valid, xs, ys, level,
                                    sky, thr)
        if peak_max is not None:
            with np.errstate(invalid="ignore"):
                keep &= stats["peak"] <= peak_max
        if not np.any(keep):
            return self._empty(arr.unit,
                               "no peak passed the shape and peak filters")
        idx = np.flatnonzero(keep)
        if self.n_brightest is not None and idx.size > self.n_brightest:
            order = np.argsort(-stats["flux"][idx], kind="stable")
            idx = idx[order[:self.n_brightest]]
        sel = {name: np.asarray(val)[idx] for name, val in stats.items()}
        sel["id"] = np.arange(1, idx.size + 1)
        sel["mag"] = magnitude(sel["flux"])
        table = build_table(self._schema, sel, arr.unit)
        return add_sky_column(table, arr.wcs, "y_centroid", "x_centroid",
                              "y_centroid", "sky_centroid")

    def _threshold_eff(self, thr):
        return thr

    def _empty(self, unit, reason):
        return empty_table(self._schema, unit, reason)

    def _peaks(self, convolved, valid, threshold):
        kernel = self.kernel
        with np.errstate(invalid="ignore"):
            candidates = (convolved > threshold) & valid
        if self.separation > 0:
            footprint = circular_footprint(self.separation)
        else:
            footprint = kernel.footprint
        ys, xs = local_maxima(convolved, footprint, candidates, ties="all",
                              outside=0.0)
        if self.exclude_border:
            hy, hx = kernel.half_size
            inside = border_ok(convolved.shape, ys, xs, hy, hx)
            ys, xs = ys[inside], xs[inside]
        return ys, xs
