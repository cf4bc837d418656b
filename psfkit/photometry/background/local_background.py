"""
`LocalBackground`: the sky around each source, from a circular annulus.
"""

import inspect
import warnings

import astropy.units as u
import numpy as np

from ...utils import ParamReprMixin, check_positive, coerce_data
from .estimators import MedianBackground

__all__ = ["LocalBackground"]


def _takes_axis(func):
    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False
    return "axis" in params or any(p.kind is p.VAR_KEYWORD
                                   for p in params.values())


class LocalBackground(ParamReprMixin):
    """
    The local background of sources, measured in circular annuli.

    The pixels whose centres lie at ``inner_radius <= r < outer_radius``
    from a source (photutils' ``'center'`` aperture rule) are passed to
    ``bkg_estimator``; masked, non-finite and off-image pixels are left
    out.  All sources are measured with one call of the estimator on a
    stack of annuli when it takes an ``axis`` keyword (psfkit's and
    photutils' estimators do), otherwise once per source.

    Parameters
    ----------
    inner_radius, outer_radius : float
        The annulus radii in pixels, ``0 < inner_radius < outer_radius``.
    bkg_estimator : callable, optional
        ``f(values)`` (or ``f(stack, axis=1)``) returning the background;
        default ``MedianBackground()`` (3-sigma clipped median).

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.photometry import LocalBackground
    >>> data = np.ones((101, 101))
    >>> local_bkg = LocalBackground(5, 10)
    >>> local_bkg
    LocalBackground(inner_radius=5, outer_radius=10)
    >>> local_bkg(data, 50, 50)
    1.0
    >>> local_bkg(data, [30, 50, -50], [40, 60, -50])
    array([ 1.,  1., nan])
    """

    _repr_params = ("inner_radius", "outer_radius", "bkg_estimator")
    _repr_changed_only = True

    def __init__(self, inner_radius, outer_radius, bkg_estimator=None):
        inner = check_positive("inner_radius", inner_radius)
        outer = check_positive("outer_radius", outer_radius)
        if not outer > inner:
            msg = (f"outer_radius must be greater than inner_radius, got "
                   f"{outer_radius} <= {inner_radius}")
            raise ValueError(msg)
        self.inner_radius = inner
        self.outer_radius = outer
        if bkg_estimator is None:
            bkg_estimator = MedianBackground()
        if not callable(bkg_estimator):
            msg = f"bkg_estimator must be callable, got {bkg_estimator!r}"
            raise TypeError(msg)
        self.bkg_estimator = bkg_estimator

    def _summary_items(self, *, changed_only=False):
        items = super()._summary_items(changed_only=changed_only)
        if changed_only and type(self.bkg_estimator) is MedianBackground:
            items = [(k, v) for k, v in items if k != "bkg_estimator"]
        return items

    def _annulus_values(self, data, x, y, mask=None):
        """
        The annulus pixels of every source as ``(n_sources, n_box)`` rows
        (NaN outside the annulus, off the image, masked or non-finite),
        and the data unit.
        """
        # NaN pixels are simply left out (no warning even with a mask)
        arr = coerce_data(data, name="data", allow_all_masked=True)
        if mask is not None:
            mask = np.asarray(mask, dtype=bool)
            if mask.shape != arr.shape:
                msg = (f"mask must have the same shape as data {arr.shape}, "
                       f"got {mask.shape}")
                raise ValueError(msg)
            arr = type(arr)(data=arr.data, mask=arr.mask | mask,
                            unit=arr.unit)
        x = np.atleast_1d(np.asarray(x, dtype=float))
        y = np.atleast_1d(np.asarray(y, dtype=float))
        if x.shape != y.shape or x.ndim != 1:
            msg = (f"x and y must be scalars or 1-D arrays of the same "
                   f"shape, got {x.shape} and {y.shape}")
            raise ValueError(msg)
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
            msg = "the positions x and y must be finite"
            raise ValueError(msg)
        half = int(np.ceil(self.outer_radius)) + 1
        offsets = np.arange(-half, half + 1)
        rows = np.rint(y).astype(np.intp)[:, None, None] + offsets[None, :, None]
        cols = np.rint(x).astype(np.intp)[:, None, None] + offsets[None, None, :]
        r2 = (cols - x[:, None, None])**2 + (rows - y[:, None, None])**2
        inside = ((rows >= 0) & (rows < arr.shape[0]) & (cols >= 0)
                  & (cols < arr.shape[1]))
        rows = np.clip(rows, 0, arr.shape[0] - 1)
        cols = np.clip(cols, 0, arr.shape[1] - 1)
        keep = (inside & (r2 >= self.inner_radius**2)
                & (r2 < self.outer_radius**2) & ~arr.mask[rows, cols])
        values = np.where(keep, arr.data[rows, cols], np.nan)
        return values.reshape(x.size, offsets.size ** 2), arr.unit

    def __call__(self, data, x, y, mask=None):
        """
        Measure the local background of sources.

        Parameters
        ----------
        data : array-like, ``Quantity`` or ``NDData``
            The 2-D image.
        x, y : float or array-like
            The source positions.
        mask : array-like of bool, optional
            `True` for pixels to leave out.

        Returns
        -------
        background : float, `~numpy.ndarray` or `~astropy.units.Quantity`
            One value per source (a scalar for scalar ``x`` and ``y``);
            NaN where no annulus pixel is usable.
        """
        values, unit = self._annulus_values(data, x, y, mask)
        with warnings.catch_warnings():
            # an annulus without pixels gives NaN, as documented, and NaN
            # marks the pixels outside each annulus (astropy's clipping
            # says so when it sees them)
            warnings.simplefilter("ignore", RuntimeWarning)
            warnings.filterwarnings("ignore", message="Input data contains "
                                    "invalid values")
            if not len(values):
                bkg = np.zeros(0)  # no sources (a finder found none)
            elif _takes_axis(self.bkg_estimator):
                bkg = self.bkg_estimator(values, axis=1)
            else:
                bkg = [self.bkg_estimator(row[np.isfinite(row)])
                       for row in values]
        bkg = np.asarray(getattr(bkg, "value", bkg), dtype=float)
        bkg = np.where(np.all(np.isnan(values), axis=1), np.nan, bkg)
        if np.ndim(x) == 0 and np.ndim(y) == 0:
            bkg = float(bkg[0])
        return bkg if unit is None else u.Quantity(bkg, unit)
