"""
Scalar background and background-RMS estimators.

The estimators are callables: ``bkg(data)`` returns one number for the
whole input, ``bkg(data, axis=...)`` an array of them.  Each sigma-clips
its input first (``SigmaClip(sigma=3, maxiters=10)`` unless told
otherwise), ignores NaN and masked values, keeps the unit of a
`~astropy.units.Quantity` input, and returns NaN where no value is left.
``calc_background`` / ``calc_background_rms`` are aliases of the call.
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

from ...utils import ParamReprMixin, check_positive, coerce_data
from ._sorted_clip import SortedSamples, supported_clip

__all__ = [
    "MeanBackground",
    "MedianBackground",
    "ModeEstimatorBackground",
    "MMMBackground",
    "SExtractorBackground",
    "BiweightLocationBackground",
    "StdBackgroundRMS",
    "MADStdBackgroundRMS",
    "BiweightScaleBackgroundRMS",
]


class _Default:
    def __repr__(self):
        return "SigmaClip(sigma=3, maxiters=10)"


_DEFAULT = _Default()


def clip_text(sigma_clip):
    """A short description of a `~astropy.stats.SigmaClip` (or None)."""
    if sigma_clip is None:
        return "None"
    parts = []
    lo, hi = sigma_clip.sigma_lower, sigma_clip.sigma_upper
    parts.append(f"sigma={lo:g}" if lo == hi else
                 f"sigma_lower={lo:g}, sigma_upper={hi:g}")
    parts.append(f"maxiters={sigma_clip.maxiters}")
    for name, default in (("cenfunc", "median"), ("stdfunc", "std")):
        value = getattr(sigma_clip, name)
        if value != default:
            parts.append(f"{name}={getattr(value, '__name__', value)!r}")
    if sigma_clip.grow:
        parts.append(f"grow={sigma_clip.grow}")
    return f"SigmaClip({', '.join(parts)})"


def is_default_clip(sigma_clip):
    """Whether ``sigma_clip`` clips as ``SigmaClip(sigma=3, maxiters=10)``."""
    return (sigma_clip is not None
            and clip_text(sigma_clip) == "SigmaClip(sigma=3, maxiters=10)")


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


class _Estimator(ParamReprMixin):
    """Shared input handling: coerce, mask, clip, compute, attach unit."""

    _repr_params = ("sigma_clip",)
    _repr_changed_only = True

    def __init__(self, *, sigma_clip=_DEFAULT):
        self.sigma_clip = _sigma_clipper(sigma_clip)

    def _summary_items(self, *, changed_only=False):
        items = []
        for name, text in super()._summary_items(changed_only=changed_only):
            if name == "sigma_clip":
                if changed_only and is_default_clip(self.sigma_clip):
                    continue
                text = clip_text(self.sigma_clip)
            items.append((name, text))
        return items

    @property
    def sigma_clip(self):
        """The `~astropy.stats.SigmaClip` applied first, or `None`."""
        return self._sigma_clip

    @sigma_clip.setter
    def sigma_clip(self, value):
        self._sigma_clip = _sigma_clipper(value)

    def _sorted_statistic(self, samples):
        """The statistic from `SortedSamples` (None: not available)."""
        return None

    def __call__(self, data, *, axis=None, mask=None, masked=False):
        arr = coerce_data(data, name="data", ndim=None, mask=mask,
                          allow_all_masked=True)
        if axis is None and self._sorted_path():
            # one sort, then every clipping iteration is a few lookups
            # (astropy's clipping takes a median per iteration)
            values = arr.data[~arr.mask]
            result = np.nan
            if values.size:
                samples = SortedSamples(values[None, :])
                if self.sigma_clip is not None:
                    samples.clip(*supported_clip(self.sigma_clip))
                if samples.count[0]:
                    result = self._sorted_statistic(samples)[0]
            return self._finish(result, arr.unit, masked)
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
        return self._finish(result, arr.unit, masked)

    def _sorted_path(self):
        """Whether this statistic and clipping run on sorted samples."""
        own = type(self)._sorted_statistic is not _Estimator._sorted_statistic
        return own and (self.sigma_clip is None
                        or supported_clip(self.sigma_clip) is not None)

    @staticmethod
    def _finish(result, unit, masked):
        result = np.asarray(result, dtype=float)
        result = float(result) if result.ndim == 0 else result
        if masked and isinstance(result, np.ndarray):
            result = np.ma.masked_invalid(result)
        if unit is not None:
            return u.Quantity(result, unit)
        return result


def _calc_method(name, what, result, masked_note=""):
    """The photutils-named method that does what calling the estimator does."""
    def calc(self, data, *, axis=None, mask=None, masked=False):
        return self(data, axis=axis, mask=mask, masked=masked)

    calc.__name__ = calc.__qualname__ = name
    calc.__doc__ = f"""
        Estimate the {what} (the same as calling the estimator).

        Parameters
        ----------
        data : array-like, masked array, ``Quantity`` or ``NDData``
            The values; NaN and masked values are ignored.
        axis : int or tuple of int, optional
            Reduce along these axes; `None` reduces everything.
        mask : array-like of bool, optional
            `True` for values to ignore.
        masked : bool, optional
            Return a masked array (NaN results masked) instead of an
            array with NaN{masked_note}.

        Returns
        -------
        {result} : float, `~numpy.ndarray` or `~astropy.units.Quantity`
        """
    return calc


class _BackgroundEstimator(_Estimator):
    calc_background = _calc_method("calc_background", "background",
                                   "background",
                                   ", as photutils' ``masked=True``")


class _RMSEstimator(_Estimator):
    calc_background_rms = _calc_method("calc_background_rms",
                                       "background RMS", "rms")


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

    def _sorted_statistic(self, samples):
        return samples.mean()


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

    def _sorted_statistic(self, samples):
        return samples.median()


class ModeEstimatorBackground(_BackgroundEstimator):
    __doc__ = """
    The background as the mode estimate ``median_factor * median -
    mean_factor * mean``.

    For a sky skewed by faint sources the mode lies further from the mean
    than the median; Pearson's rule puts it at ``3 median - 2 mean``.

    Parameters
    ----------
    median_factor, mean_factor : float, optional
        The factors of the (sigma-clipped) median and mean.
    sigma_clip : `~astropy.stats.SigmaClip` or None, optional
        The clipping applied first; default ``SigmaClip(sigma=3,
        maxiters=10)``, `None` for none.

    Examples
    --------
    >>> from psfkit.photometry import ModeEstimatorBackground
    >>> bkg = ModeEstimatorBackground(median_factor=2.5, mean_factor=1.5,
    ...                               sigma_clip=None)
    >>> bkg([1., 2., 3., 10.])  # 2.5 * 2.5 - 1.5 * 4
    0.25
    """

    _repr_params = ("median_factor", "mean_factor", "sigma_clip")

    def __init__(self, *, median_factor=3.0, mean_factor=2.0,
                 sigma_clip=_DEFAULT):
        super().__init__(sigma_clip=sigma_clip)
        self.median_factor = float(median_factor)
        self.mean_factor = float(mean_factor)

    def _statistic(self, values, axis):
        return (self.median_factor * np.nanmedian(values, axis=axis)
                - self.mean_factor * np.nanmean(values, axis=axis))

    def _sorted_statistic(self, samples):
        return (self.median_factor * samples.median()
                - self.mean_factor * samples.mean())


class MMMBackground(ModeEstimatorBackground):
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

    _repr_params = ("sigma_clip",)

    def __init__(self, *, sigma_clip=_DEFAULT):
        super().__init__(median_factor=3.0, mean_factor=2.0,
                         sigma_clip=sigma_clip)


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
        return self._combine(np.nanmedian(values, axis=axis),
                             np.nanmean(values, axis=axis),
                             np.nanstd(values, axis=axis))

    def _sorted_statistic(self, samples):
        return self._combine(samples.median(), samples.mean(), samples.std())

    @staticmethod
    def _combine(med, mean, std):
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

    _repr_params = ("c", "M", "sigma_clip")

    def __init__(self, *, sigma_clip=_DEFAULT, c=6.0, M=None):  # noqa: N803
        super().__init__(sigma_clip=sigma_clip)
        self.c = check_positive("c", c)
        self.M = M

    def _statistic(self, values, axis):
        return _over_rows(biweight_location, values, axis, c=self.c, M=self.M)


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

    def _sorted_statistic(self, samples):
        return samples.std()


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

    _repr_params = ("c", "M", "sigma_clip")

    def __init__(self, *, sigma_clip=_DEFAULT, c=9.0, M=None):  # noqa: N803
        super().__init__(sigma_clip=sigma_clip)
        self.c = check_positive("c", c)
        self.M = M

    def _statistic(self, values, axis):
        return _over_rows(biweight_scale, values, axis, c=self.c, M=self.M)


def _over_rows(func, values, axis, *, c, M):  # noqa: N803
    """
    Call an astropy biweight function on the rows of a 2-D view of ``values``.

    astropy before 6.0 squeezes every length-1 axis of ``M`` (not only the
    reduced ones), so for example a ``(5, 1, 10)`` input reduced over its
    last axis gave a ``(5, 5)`` result.  Moving the reduced axes to the end
    and reducing ``(n_rows, n_values)`` avoids that on every version.
    """
    if axis is None or (M is not None and np.ndim(M) > 0):
        return func(values, c=c, M=M, axis=axis, ignore_nan=True)
    axes = tuple(sorted({int(a) % values.ndim for a in np.atleast_1d(axis)}))
    moved = np.moveaxis(values, axes, tuple(range(-len(axes), 0)))
    kept = moved.shape[:moved.ndim - len(axes)]
    rows = moved.reshape(int(np.prod(kept, dtype=int)), -1)
    return np.reshape(func(rows, c=c, M=M, axis=1, ignore_nan=True), kept)
