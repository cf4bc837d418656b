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

from ...utils import check_positive, coerce_data

__all__ = [
    "MeanBackground",
    "MedianBackground",
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
