"""Argument conversion shared by the simulators."""

import numbers

from astropy.table import Column
import astropy.units as u
import numpy as np

from ..utils import as_pair, check_positive

__all__ = []

# above this mean a Poisson draw is replaced by its Gaussian approximation
# (relative skewness 1 / sqrt(mean) < 3e-8, far below the noise itself);
# NumPy refuses means near 1e19
POISSON_GAUSSIAN_LIMIT = 1.0e15


def plain_values(name, value, unit=None, equivalencies=()):
    """
    An argument as plain numbers in ``unit``.

    Plain numbers (and dimensionless Quantities) are taken to be in
    ``unit`` already; a `~astropy.units.Quantity` (or a table column with
    a unit) is converted to ``unit``.

    Parameters
    ----------
    name : str
        The argument name used in error messages.
    value : float, array-like, `~astropy.units.Quantity` or `~astropy.table.Column`
        The value.
    unit : `~astropy.units.UnitBase`, optional
        The unit of the result; `None` accepts no physical unit.
    equivalencies : list, optional
        Extra unit equivalencies for the conversion.

    Returns
    -------
    value : float, array-like or object
        ``value`` without its unit; anything that is not a Quantity is
        returned unchanged.

    Raises
    ------
    astropy.units.UnitsError
        If ``value`` has a unit that does not convert to ``unit``.
    """
    if isinstance(value, Column) and value.unit is not None:
        value = value.quantity
    if not isinstance(value, u.Quantity):
        return value
    if value.unit == u.dimensionless_unscaled:
        return value.value
    if unit is None:
        msg = f"{name} must be a plain number, got a Quantity in {value.unit}"
        raise u.UnitsError(msg)
    try:
        return value.to_value(unit, equivalencies=list(equivalencies))
    except u.UnitsError:
        msg = (f"{name} must be in {unit} (a plain number or a Quantity "
               f"convertible to {unit}), got a Quantity in {value.unit}")
        raise u.UnitsError(msg) from None


def positive(name, value, unit=None, *, equivalencies=(), **kwargs):
    """
    `~psfkit.utils.check_positive` of ``value`` converted to ``unit``.

    Parameters
    ----------
    name : str
        The argument name used in error messages.
    value : float or `~astropy.units.Quantity`
        The value.
    unit : `~astropy.units.UnitBase`, optional
        See `plain_values`.
    equivalencies : list, optional
        See `plain_values`.
    **kwargs
        Passed to `~psfkit.utils.check_positive`.

    Returns
    -------
    value : float or None
    """
    value = plain_values(name, value, unit, equivalencies)
    return check_positive(name, value, **kwargs)


def finite(name, value, unit=None, *, equivalencies=()):
    """
    A finite real number, converted to ``unit``.

    Parameters
    ----------
    name : str
        The argument name used in error messages.
    value : float or `~astropy.units.Quantity`
        The value.
    unit : `~astropy.units.UnitBase`, optional
        See `plain_values`.
    equivalencies : list, optional
        See `plain_values`.

    Returns
    -------
    value : float
    """
    value = plain_values(name, value, unit, equivalencies)
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        msg = f"{name} must be a real number, got {value!r}"
        raise TypeError(msg)
    if not np.isfinite(value):
        msg = f"{name} must be finite, got {value!r}"
        raise ValueError(msg)
    return float(value)


def value_range(name, value, unit=None):
    """
    A ``(low, high)`` range of positive numbers with ``low <= high``.

    Parameters
    ----------
    name : str
        The argument name used in error messages.
    value : tuple of 2 float or `~astropy.units.Quantity`
        The range.
    unit : `~astropy.units.UnitBase`, optional
        See `plain_values`.

    Returns
    -------
    low, high : float
    """
    low, high = as_pair(name, plain_values(name, value, unit), integer=False)
    for bound in (low, high):
        check_positive(name, bound)
    if high < low:
        msg = f"{name} must be (low, high) with low <= high, got {value!r}"
        raise ValueError(msg)
    return float(low), float(high)


def poisson(rng, mean, size=None):
    """
    Poisson draws, Gaussian above `POISSON_GAUSSIAN_LIMIT`.

    Parameters
    ----------
    rng : `numpy.random.Generator`
        The generator.
    mean : float or `~numpy.ndarray`
        The non-negative, finite means.
    size : tuple of int, optional
        The output shape, as for `numpy.random.Generator.poisson`.

    Returns
    -------
    draws : `~numpy.ndarray`
        Of ``size`` (or the shape of ``mean``); float where a mean is
        above the limit.
    """
    mean = np.asarray(mean, dtype=float)
    large = mean > POISSON_GAUSSIAN_LIMIT
    if not large.any():
        return rng.poisson(mean, size=size)
    small = rng.poisson(np.where(large, 0.0, mean), size=size)
    big = np.round(rng.normal(mean, np.sqrt(mean), size=size))
    return np.where(large, big, small)
