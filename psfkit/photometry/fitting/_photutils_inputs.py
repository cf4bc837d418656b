"""
Inputs of the photutils 3.x API classes: the checks of their settings
(``check(name, value)``, for `~psfkit.utils.Checked`
attributes, with photutils' messages, which name the argument), the
checks of the image, mask and error (`prepare_inputs`), NDData unpacking,
and the local background of each source as an image.
"""

from astropy.modeling import Model
from astropy.nddata import NDData
import astropy.units as u
import numpy as np

from ...utils import NonFiniteValueWarning, as_pair, check_integer, warn
from ..background.local_background import LocalBackground
from ._fit_boxes import nearest_pixel
from ._interop import celestial_wcs, psf_param_names
from ._pipeline import prepare
from ._settings import not_a_class
from .fitters import BatchedLMFitter, SparseLMFitter

__all__ = []


def check_callable(name, value):
    """A callable or `None` (an instance, not a class)."""
    not_a_class(name, value)
    if value is not None and not callable(value):
        msg = f"{name!r} must be a callable object"
        raise TypeError(msg)
    return value


def check_model(name, psf_model):
    """A 2-D astropy model with ``x_0``, ``y_0`` and ``flux``."""
    not_a_class(name, psf_model)
    if not isinstance(psf_model, Model):
        msg = "psf_model must be an Astropy Model subclass"
        raise TypeError(msg)
    if psf_model.n_inputs != 2 or psf_model.n_outputs != 1:
        msg = "psf_model must be two-dimensional"
        raise ValueError(msg)
    if psf_param_names(psf_model) is None:
        msg = ("Invalid PSF model - could not find PSF parameter names: "
               "psf_model must have parameters x_0, y_0 and flux, or name "
               "its own in x_name, y_name and flux_name (as photutils' "
               "make_psf_model does)")
        raise ValueError(msg)
    return psf_model


def check_fit_shape(name, value):
    """An odd shape of at least 1 by 1 (photutils' checks, in its order)."""
    arr = np.atleast_1d(np.asarray(value, dtype=float))
    if arr.size == 2 and not np.all(np.isfinite(arr)):
        msg = f"{name} must be a finite value, got {value!r}"
        raise ValueError(msg)
    if arr.size == 2 and np.any(arr < 1):
        if np.all(np.mod(arr, 2) == 1) or np.any(arr < 0):
            msg = f"{name} must be >= 1, got {value!r}"
            raise ValueError(msg)
    if np.all(np.isfinite(arr)) and np.any(np.mod(arr, 2) != 1):
        msg = f"{name} must have an odd value for both axes, got {value!r}"
        raise ValueError(msg)
    return as_pair(name, value, lower_bound=(1, True), check_odd=True)


def check_fitter(name, value):
    """`SparseLMFitter` (for `None`), `BatchedLMFitter` or an astropy fitter."""
    if value is None:
        return SparseLMFitter()
    if isinstance(value, SparseLMFitter | BatchedLMFitter):
        return value
    return check_callable(name, value)


def check_maxiters(name, value):
    """A positive integer or `None`."""
    return check_integer(name, value, minimum=1, allow_none=True)


def check_count(name, value):
    """A positive integer."""
    return check_integer(name, value, minimum=1)


def check_flag(name, value):
    """A bool."""
    return bool(value)


def check_xy_bounds(name, xy_bounds):
    """`None`, or a positive bound (or `None`) for each of x and y."""
    if xy_bounds is None:
        return None
    values = np.atleast_1d(np.asarray(xy_bounds, dtype=object))
    if values.ndim != 1:
        msg = "xy_bounds must be a 1D array"
        raise ValueError(msg)
    if len(values) == 1:
        values = np.array([values[0], values[0]], dtype=object)
    if len(values) != 2:
        msg = "xy_bounds must have 1 or 2 elements"
        raise ValueError(msg)
    out = []
    for bound in values:
        if bound is None:
            out.append(None)
            continue
        try:
            bound = float(bound)
        except (TypeError, ValueError):
            msg = ("xy_bounds must hold numbers (or None), got "
                   f"{xy_bounds!r}")
            raise TypeError(msg) from None
        if not np.isfinite(bound):
            msg = "xy_bounds must be finite"
            raise ValueError(msg)
        if bound <= 0:
            msg = "xy_bounds must be strictly positive"
            raise ValueError(msg)
        out.append(bound)
    return tuple(out)


def check_radius(name, radius):
    """A positive finite scalar or `None`."""
    if radius is None:
        return None
    if isinstance(radius, bool | str | bytes) or (
            np.isscalar(radius) and not np.isreal(radius)):
        msg = ("aperture_radius must be a strictly-positive scalar, got "
               f"{radius!r}")
        raise TypeError(msg)
    if not np.isscalar(radius) or not np.isfinite(radius) or radius <= 0:
        msg = "aperture_radius must be a strictly-positive scalar"
        raise ValueError(msg)
    return radius


def check_local_bkg(name, value):
    """psfkit's or photutils' `LocalBackground`, or `None`."""
    if value is None:
        return None
    if isinstance(value, LocalBackground):
        return value
    # photutils' LocalBackground (and any object with its interface)
    if (callable(value) and hasattr(value, "inner_radius")
            and hasattr(value, "outer_radius")):
        return value
    msg = ("local_bkg_estimator must be a LocalBackground instance "
           "(psfkit's or photutils')")
    raise TypeError(msg)


def nddata_parts(data, mask, error):
    """The array (with unit), mask, error and WCS of an NDData."""
    arr = data.data if data.unit is None else data.data << data.unit
    if data.mask is not None:
        mask = data.mask if mask is None else (np.asarray(mask, bool)
                                               | np.asarray(data.mask, bool))
    if error is None and data.uncertainty is not None:
        from ...utils import uncertainty_to_error

        error = uncertainty_to_error(data.uncertainty,
                                     name="data.uncertainty", unit=data.unit,
                                     mask=mask)
        if data.unit is not None:
            error = error << data.unit
    return arr, mask, error, celestial_wcs(data.wcs)


def local_bkg_map(shape, x, y, local_bkg, fit_shape):
    """
    The local background of each source over its fit box, as an image.

    Each pixel of a fit box gets the background of the source whose box
    it is; where boxes overlap, that of the nearest source.  Non-finite
    values are not subtracted (they are flagged).
    """
    out = np.zeros(shape)
    lb = np.where(np.isfinite(local_bkg), local_bkg, 0.0)
    if not np.any(lb):
        return out
    best = np.full(shape, np.inf)
    hy, hx = fit_shape[0] // 2, fit_shape[1] // 2
    dy, dx = np.mgrid[-hy:hy + 1, -hx:hx + 1]
    cx, cy = nearest_pixel(x), nearest_pixel(y)
    for i in np.flatnonzero(lb):
        rows, cols = cy[i] + dy, cx[i] + dx
        ok = (rows >= 0) & (rows < shape[0]) & (cols >= 0) & (cols < shape[1])
        rows, cols = rows[ok], cols[ok]
        dist = (cols - x[i])**2 + (rows - y[i])**2
        closer = dist < best[rows, cols]
        best[rows[closer], cols[closer]] = dist[closer]
        out[rows[closer], cols[closer]] = lb[i]
    return out


def prepare_inputs(data, mask, error):
    """
    The image as the fit uses it, checked as photutils checks it.

    Returns the prepared image (``_pipeline.prepare``) and the celestial
    WCS of an NDData (or `None`); non-finite pixels outside ``mask``
    are masked with a warning.
    """
    wcs = None
    if isinstance(data, NDData):
        data, mask, error, wcs = nddata_parts(data, mask, error)
    unit = data.unit if isinstance(data, u.Quantity) else None
    values = np.asanyarray(getattr(data, "value", data))
    if values.ndim != 2:
        msg = f"data must be a 2D array, got {values.ndim}-D"
        raise ValueError(msg)
    if values.dtype.kind not in "biuf":
        msg = f"data must contain real numbers, got dtype {values.dtype}"
        raise TypeError(msg)
    for name, arr in (("error", error), ("mask", mask)):
        if arr is not None and arr is not np.ma.nomask \
                and np.shape(arr) != values.shape:
            msg = f"data and {name} must have the same shape"
            raise ValueError(msg)
    if mask is np.ma.nomask:
        mask = None
    # the pixels masked by the mask or by a masked array's own mask; the
    # non-finite ones are masked below (their errors do not matter)
    given = (np.zeros(values.shape, bool) if mask is None
             else np.asarray(mask, dtype=bool))
    if np.ma.isMaskedArray(values):
        given = given | np.ma.getmaskarray(values)
    finite = np.isfinite(np.ma.getdata(values))
    if error is not None and np.ma.isMaskedArray(error):
        # a masked error is unknown: its pixel is not used
        given = given | np.ma.getmaskarray(error)
        error = np.ma.filled(np.ma.asarray(error, dtype=float), np.nan)
    if error is not None:
        err = np.asarray(getattr(error, "value", error), dtype=float)
        used = ~given & finite
        if np.any(~(np.isfinite(err) & (err > 0)) & used):
            msg = ("Error array contains non-positive or non-finite "
                   "values: error must be positive and finite on every "
                   "unmasked pixel")
            raise ValueError(msg)
    if isinstance(error, u.Quantity):
        if unit is None:
            msg = "error has units but data does not"
            raise ValueError(msg)
        error = error.to_value(unit)
    elif error is not None and unit is not None:
        msg = "data has units but error does not"
        raise ValueError(msg)
    bad = ~finite & ~given
    if bad.any():
        warn("Input data contains unmasked non-finite values (NaN or "
             "inf), which were automatically ignored.",
             NonFiniteValueWarning)
        given = given | bad
    prep = prepare(values if unit is None else values * unit, given,
                   error, None)
    return prep, wcs
