"""
Validated settings of the photometry classes.

Every option of the photometry classes is checked when it is set, in the
constructor or later as an attribute (``phot.fitshape = 8`` raises at once,
naming ``fitshape``, rather than deep inside the next run), through
`psfkit.utils.Checked`; the functions below are the checks, each taking the
option's name and value and returning the value as stored.
"""

import numpy as np

from ...utils import (
    as_pair,
    check_in,
    check_integer,
    check_positive,
    executor_kind,
)
from ._interop import psf_param_names
from ._pipeline import CORE_PARAMS
from .fitters import BatchedLMFitter, SparseLMFitter

__all__ = []


def odd_shape(name, value):
    """An odd ``(ny, nx)`` box shape from an int or a pair."""
    return as_pair(name, value, check_odd=True)


def optional_odd_shape(name, value):
    """`odd_shape` or `None`."""
    return None if value is None else odd_shape(name, value)


def optional_positive(name, value):
    """A positive finite float or `None`."""
    return check_positive(name, value, allow_none=True)


def not_a_class(name, value):
    """
    A `TypeError` for a class where an instance is wanted (``fitter=
    LevMarLSQFitter`` without the parentheses), naming the argument.
    """
    if isinstance(value, type):
        msg = (f"{name} must be an instance, got the class "
               f"{value.__name__}: give {value.__name__}(...)")
        raise TypeError(msg)
    return value


def optional_callable(name, value):
    """A callable or `None`."""
    not_a_class(name, value)
    if value is not None and not callable(value):
        msg = f"{name} must be callable or None, got {value!r}"
        raise TypeError(msg)
    return value


def required_callable(name, value):
    """A callable (the iterative classes need their finder)."""
    not_a_class(name, value)
    if value is None:
        msg = f"{name} is required for iterative photometry: give a callable"
        raise ValueError(msg)
    return optional_callable(name, value)


def psf_model(name, value):
    """A model with ``x_0``, ``y_0`` and ``flux`` parameters."""
    not_a_class(name, value)
    missing = [p for p in CORE_PARAMS
               if p not in getattr(value, "param_names", ())]
    if missing and psf_param_names(value) is None:
        msg = (f"{name} must have parameters x_0, y_0 and flux (or name "
               f"its own in x_name, y_name and flux_name); missing {missing}")
        raise ValueError(msg)
    return value


def fitter(name, value):
    """`SparseLMFitter` (for `None`), `BatchedLMFitter` or an astropy fitter."""
    if value is None:
        return SparseLMFitter()
    not_a_class(name, value)
    if not (isinstance(value, SparseLMFitter | BatchedLMFitter)
            or callable(value)):
        msg = (f"{name} must be None, a SparseLMFitter, a BatchedLMFitter "
               f"or an astropy fitter instance, got {value!r}")
        raise TypeError(msg)
    return value


def executor(name, value):
    """`None`, a number of threads or an executor (see `executor_kind`)."""
    executor_kind(value)
    return value


def without_pool(state):
    """
    An object's pickled state without its executor, unless a number.

    A pool belongs to the process that made it: a photometry object sent
    to a worker fits there (a number of threads travels).
    """
    if not isinstance(state.get("_executor"), int | None):
        state = dict(state, _executor=None)
    return state


def niters(name, value):
    """A number of passes (at least 1), or `None` for "until done"."""
    return check_integer(name, value, minimum=1, allow_none=True)


def mode(name, value):
    """The refit mode of the iterative classes."""
    return check_in(name, value, ("all", "new"))


def column_names(name, value):
    """A tuple of column names (a single string is one name)."""
    if value is None:
        return ()
    if isinstance(value, str):
        value = (value,)
    try:
        names = tuple(value)
    except TypeError:
        msg = f"{name} must be a list of column names, got {value!r}"
        raise TypeError(msg) from None
    bad = [v for v in names if not isinstance(v, str)]
    if bad:
        msg = f"{name} must hold column names (str), got {bad!r}"
        raise TypeError(msg)
    return names


def model_fwhm(model):
    """
    The model's FWHM as a float, or `None` when it has none.

    ``fwhm`` may be a property, a plain number or an astropy
    `~astropy.modeling.Parameter` (as in photutils' models).
    """
    fwhm = getattr(model, "fwhm", None)
    fwhm = getattr(fwhm, "value", fwhm)
    try:
        fwhm = float(np.squeeze(fwhm))
    except (TypeError, ValueError):
        return None
    if not np.isfinite(fwhm) or fwhm <= 0:
        return None
    return fwhm
