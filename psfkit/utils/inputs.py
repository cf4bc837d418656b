"""
The one input-coercion path shared by every psfkit subpackage.

Users hand psfkit plain arrays, masked arrays, `~astropy.units.Quantity`
arrays, `~astropy.nddata.NDData` / `~astropy.nddata.CCDData` objects and
lists.  `coerce_data` turns any of them into an `ArrayData`: a native-endian
floating-point array, a boolean mask (`True` marks a pixel to ignore), an
optional 1-sigma error array, the unit and the WCS.  Numerical engines then
work on plain arrays and never need to know where the data came from.
"""

from dataclasses import dataclass, field

from astropy.io import fits
from astropy.nddata import (
    InverseVariance,
    NDData,
    StdDevUncertainty,
    VarianceUncertainty,
)
import astropy.units as u
from astropy.utils.masked import Masked
import numpy as np

from .exceptions import InputDataError, NonFiniteValueWarning, warn
from .validation import check_ndim, check_non_negative

__all__ = ["ArrayData", "coerce_data", "copy_meta", "to_data_unit",
           "uncertainty_to_error"]


def copy_meta(meta):
    """
    A copy of an image's ``meta`` for an output made from it.

    A FITS `~astropy.io.fits.Header` stays a Header, so that its card
    comments and its ``HISTORY`` and ``COMMENT`` cards survive and the
    output can be written to FITS again; any other mapping becomes a
    `dict`.

    Parameters
    ----------
    meta : mapping or None
        The ``meta`` of an `~astropy.nddata.NDData`.

    Returns
    -------
    meta : dict or `~astropy.io.fits.Header`
        A new object (an empty dict for `None`).

    Examples
    --------
    >>> from astropy.io import fits
    >>> from psfkit.utils import copy_meta
    >>> header = fits.Header([("EXPTIME", 30.0, "seconds")])
    >>> header.add_history("flat-fielded")
    >>> meta = copy_meta(header)
    >>> meta.comments["EXPTIME"], list(meta["HISTORY"])
    ('seconds', ['flat-fielded'])
    >>> copy_meta({"EXPTIME": 30.0}) == {"EXPTIME": 30.0}
    True
    """
    if meta is None:
        return {}
    if isinstance(meta, fits.Header):
        return meta.copy()
    return dict(meta)


@dataclass(frozen=True)
class ArrayData:
    """
    Array data with its mask, error, unit and WCS, as psfkit engines use it.

    Attributes
    ----------
    data : `~numpy.ndarray`
        Floating-point values in native byte order.  Masked pixels keep
        whatever value they had (possibly NaN); use `filled` for a copy
        with masked pixels replaced.
    mask : `~numpy.ndarray` of bool
        `True` where a pixel must be ignored.  Always includes the
        non-finite pixels of ``data``.
    error : `~numpy.ndarray` or None
        The 1-sigma uncertainty of each pixel, in the unit of ``data``.
    unit : `~astropy.units.UnitBase` or None
        The unit of ``data`` (and ``error``).
    wcs : object or None
        The WCS carried by an input `~astropy.nddata.NDData`.
    meta : dict or `~astropy.io.fits.Header`
        A copy of the ``meta`` of an input `~astropy.nddata.NDData` (see
        `copy_meta`).
    """

    data: np.ndarray
    mask: np.ndarray
    error: np.ndarray | None = None
    unit: u.UnitBase | None = None
    wcs: object = None
    meta: dict = field(default_factory=dict)

    @property
    def shape(self):
        """The shape of ``data``."""
        return self.data.shape

    @property
    def n_valid(self):
        """The number of unmasked values."""
        return int(self.mask.size - np.count_nonzero(self.mask))

    def filled(self, fill_value=0.0):
        """
        Return a copy of ``data`` with masked values set to ``fill_value``.

        Parameters
        ----------
        fill_value : float, optional
            The value for masked pixels.

        Returns
        -------
        filled : `~numpy.ndarray`
        """
        out = np.array(self.data, copy=True)
        out[self.mask] = fill_value
        return out

    def masked(self):
        """Return the data as a `numpy.ma.MaskedArray` (no copy of data)."""
        return np.ma.MaskedArray(self.data, mask=self.mask)

    def with_unit(self, values):
        """
        Attach this data's unit to ``values`` (returned unchanged if none).

        Parameters
        ----------
        values : array-like
            Values in the unit of the data.

        Returns
        -------
        values : `~numpy.ndarray` or `~astropy.units.Quantity`
        """
        if self.unit is None:
            return values
        return u.Quantity(values, self.unit, copy=False)


def _as_float(name, arr, dtype):
    if arr.dtype.kind not in "biuf":
        msg = (f"{name} must contain real numbers, got an array of dtype "
               f"{arr.dtype}")
        raise TypeError(msg)
    if dtype is None:
        # keep float32/float64 as given (memory matters for big cubes),
        # promote everything else to float64
        dtype = arr.dtype if arr.dtype.kind == "f" and arr.itemsize >= 4 else np.float64
    dtype = np.dtype(dtype).newbyteorder("=")
    return np.asarray(arr, dtype=dtype)


def uncertainty_to_error(uncertainty, *, name="uncertainty", unit=None,
                         mask=None):
    """
    Convert an `~astropy.nddata.NDUncertainty` to a 1-sigma error array.

    Parameters
    ----------
    uncertainty : `~astropy.nddata.NDUncertainty`
        A standard-deviation, variance or inverse-variance uncertainty.
    name : str, optional
        The argument name used in error messages.
    unit : `~astropy.units.UnitBase`, optional
        The unit of the data; the error is returned in it.
    mask : array-like of bool, optional
        Pixels that are not used (`True`): their values are not checked
        (a negative sentinel such as -1 is common there) and their error
        is NaN.

    Returns
    -------
    error : `~numpy.ndarray`
        The 1-sigma error; pixels with zero inverse variance get ``inf``.

    Raises
    ------
    ValueError
        If the uncertainty holds a negative value outside ``mask`` (no
        standard deviation, variance or inverse variance can be negative;
        NaN marks a pixel without one).

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.nddata import VarianceUncertainty
    >>> from psfkit.utils import uncertainty_to_error
    >>> uncertainty_to_error(VarianceUncertainty(np.array([4.0, 9.0])))
    array([2., 3.])
    """
    if not isinstance(uncertainty, StdDevUncertainty | VarianceUncertainty
                      | InverseVariance):
        msg = (f"{name} must be a StdDevUncertainty, VarianceUncertainty or "
               f"InverseVariance, got {type(uncertainty).__name__}")
        raise TypeError(msg)
    arr = np.asarray(uncertainty.array, dtype=float)
    unc_unit = uncertainty.unit
    kind = type(uncertainty).__name__
    # a negative value would become NaN below and silently mask its pixel
    arr = _checked_non_negative(f"{name} ({kind})", arr, mask,
                                what=f"a {kind}")
    if isinstance(uncertainty, StdDevUncertainty):
        err = arr
        err_unit = unc_unit
    elif isinstance(uncertainty, VarianceUncertainty):
        err = np.sqrt(arr)
        err_unit = None if unc_unit is None else unc_unit ** 0.5
    else:
        with np.errstate(divide="ignore"):
            err = 1.0 / np.sqrt(arr)
        err_unit = None if unc_unit is None else unc_unit ** -0.5
    if err_unit is not None and unit is not None and err_unit != unit:
        err = u.Quantity(err, err_unit).to_value(unit)
    return err


def to_data_unit(name, value, unit):
    """
    A `~astropy.units.Quantity` argument as plain values in the data's unit.

    Parameters
    ----------
    name : str
        The argument name used in error messages.
    value : object
        A Quantity is converted to ``unit``; anything else is returned
        unchanged (taken to be in the data's unit already).
    unit : `~astropy.units.UnitBase` or None
        The unit of the data.

    Returns
    -------
    value : object

    Raises
    ------
    astropy.units.UnitsError
        If ``value`` has a unit and the data do not, or the units do not
        convert.

    Examples
    --------
    >>> import astropy.units as u
    >>> from psfkit.utils import to_data_unit
    >>> float(to_data_unit('threshold', 2 * u.mJy, u.Jy))
    0.002
    """
    if not isinstance(value, u.Quantity):
        return value
    if unit is None:
        msg = (f"{name} has a unit ({value.unit}) but the data do not; "
               "give both or neither a unit")
        raise u.UnitsError(msg)
    try:
        return value.to_value(unit)
    except u.UnitsError:
        target = unit.to_string() or "a dimensionless number"
        msg = f"{name} is in {value.unit}, which does not convert to {target}"
        raise u.UnitsError(msg) from None


def _coerce_error(error, shape, unit, name, mask):
    error = to_data_unit(name, error, unit)
    if isinstance(error, np.ma.MaskedArray):
        # a masked error is unknown: the pixel is not used (NaN)
        error = np.where(np.ma.getmaskarray(error), np.nan,
                         _as_float(name, np.ma.getdata(error), np.float64))
    err = _as_float(name, np.asanyarray(error), np.float64)
    if err.shape != shape:
        try:
            err = np.broadcast_to(err, shape)
        except ValueError:
            msg = (f"{name} must have the same shape as the data {shape}, "
                   f"got {err.shape}")
            raise ValueError(msg) from None
    return _checked_non_negative(name, np.array(err, dtype=float), mask)


def _checked_non_negative(name, values, mask, *, what=None):
    """
    ``values`` checked for negative values outside ``mask`` (`True`: not
    used), with NaN in the masked pixels that hold one.
    """
    if mask is None:
        return check_non_negative(name, values, what=what)
    mask = np.broadcast_to(np.asarray(mask, dtype=bool), values.shape)
    check_non_negative(name, values[~mask], what=what)
    with np.errstate(invalid="ignore"):
        negative = mask & (values < 0)
    if negative.any():
        values = np.where(negative, np.nan, values)
    return values


def coerce_data(data, *, name="data", ndim=2, mask=None, error=None,
                dtype=np.float64, allow_all_masked=False, copy=False):
    """
    Turn any supported array-like input into an `ArrayData`.

    Parameters
    ----------
    data : array-like, MaskedArray, Quantity, NDData or astropy Masked
        The input.  An `~astropy.nddata.NDData` (or
        `~astropy.nddata.CCDData`) contributes its mask, its uncertainty
        (converted to a 1-sigma error), its unit, WCS and meta; a masked
        array (`numpy.ma` or `astropy.utils.masked.Masked`, of plain values
        or of a Quantity) its mask and unit.
    name : str, optional
        The argument name used in error messages.
    ndim : int, tuple of int or None, optional
        The accepted number(s) of dimensions; `None` accepts any.
    mask : array-like of bool, optional
        Extra pixels to ignore (`True`); combined with any mask that
        ``data`` carries.
    error : array-like or `~astropy.units.Quantity`, optional
        The 1-sigma error of each value; takes precedence over the
        uncertainty of an `~astropy.nddata.NDData`.  Pixels with a
        non-finite error are masked.
    dtype : dtype or None, optional
        The floating-point type of the output data.  `None` keeps
        ``float32`` and ``float64`` inputs as they are and promotes
        anything else to ``float64``.
    allow_all_masked : bool, optional
        If `False` (default) data with no usable value raise
        `~psfkit.utils.InputDataError`.
    copy : bool, optional
        If `True` the output data never share memory with the input.

    Returns
    -------
    result : `ArrayData`

    Raises
    ------
    TypeError
        If ``data`` is not numeric.
    ValueError
        If ``data`` is empty, has the wrong number of dimensions, or
        ``mask`` / ``error`` do not match its shape.
    psfkit.utils.InputDataError
        If every value is masked or non-finite (and ``allow_all_masked``
        is `False`).

    Warns
    -----
    psfkit.utils.NonFiniteValueWarning
        When the caller gave a mask and non-finite values outside it were
        added to it.  Without a mask, NaN is simply the way to mark bad
        pixels and no warning is given.

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.utils import coerce_data
    >>> img = np.array([[1.0, np.nan], [3.0, 4.0]])
    >>> d = coerce_data(img)
    >>> d.mask
    array([[False,  True],
           [False, False]])
    >>> d.n_valid
    3
    """
    unit = None
    wcs = None
    meta = {}
    uncertainty = None
    user_mask = mask is not None
    masks = []
    if isinstance(data, NDData):
        if data.mask is not None:
            masks.append((np.asarray(data.mask, dtype=bool), f"{name}.mask"))
            user_mask = True
        if error is None:
            # converted once every mask is known (see below)
            uncertainty = data.uncertainty
        unit = data.unit
        wcs = data.wcs
        meta = copy_meta(data.meta)
        data = data.data
    if isinstance(data, Masked):
        # astropy's own masked arrays and quantities
        masks.append((np.asarray(data.mask, dtype=bool), f"{name}.mask"))
        user_mask = True
        data = data.unmasked
    if isinstance(data, np.ma.MaskedArray):
        if data.mask is not np.ma.nomask:
            masks.append((np.ma.getmaskarray(data), f"{name}.mask"))
            user_mask = True
        data = data.data
    if isinstance(data, u.Quantity):
        # (also the values a masked array of a Quantity wraps)
        unit = data.unit if unit is None else unit
        data = data.to_value(unit)
    if data is None:
        msg = f"{name} must be an array, got None"
        raise TypeError(msg)
    try:
        arr = np.asarray(data)
    except (TypeError, ValueError) as exc:
        msg = f"{name} could not be converted to an array: {exc}"
        raise TypeError(msg) from None
    arr = _as_float(name, arr, dtype)
    if arr.size == 0:
        msg = f"{name} is empty (shape {arr.shape})"
        raise ValueError(msg)
    check_ndim(name, arr, ndim)
    if copy or not arr.flags.c_contiguous:
        arr = np.array(arr, order="C", copy=True)

    if mask is not None:
        masks.append((np.asarray(mask), "mask"))
    given = np.zeros(arr.shape, dtype=bool)
    for m, label in masks:
        # a scalar mask (NDData allows True/False) covers every value
        if m.ndim and m.shape != arr.shape:
            msg = (f"{label} must have the same shape as {name} {arr.shape}, "
                   f"got {m.shape}")
            raise ValueError(msg)
        given |= m.astype(bool)

    nonfinite = ~np.isfinite(arr)
    full = given | nonfinite
    if user_mask and np.any(nonfinite & ~given):
        n_new = int(np.count_nonzero(nonfinite & ~given))
        warn(f"{name} has {n_new} non-finite value(s) outside the "
                      "given mask; they were masked", NonFiniteValueWarning)

    err = None
    if error is not None:
        err = _coerce_error(error, arr.shape, unit, "error", full)
    elif uncertainty is not None:
        shape = np.shape(uncertainty.array)
        if shape != arr.shape:
            msg = (f"{name}.uncertainty must have the same shape as {name} "
                   f"{arr.shape}, got {shape}")
            raise ValueError(msg)
        err = uncertainty_to_error(uncertainty, name=f"{name}.uncertainty",
                                   unit=unit, mask=full)
    if err is not None:
        full |= ~np.isfinite(err)

    if not allow_all_masked and np.all(full):
        msg = f"{name} has no usable values: every value is masked or non-finite"
        raise InputDataError(msg)
    return ArrayData(data=arr, mask=full, error=err, unit=unit, wcs=wcs,
                     meta=meta)
