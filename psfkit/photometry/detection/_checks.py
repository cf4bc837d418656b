"""
The checks of the star finders' settings: each takes ``(name, value)``,
returns the value to store and raises an error naming the setting.
"""

import functools
import numbers

import numpy as np

from ...utils import check_bool, check_in, check_integer  # noqa: F401

__all__ = []


def _none_passes(check):
    """The check, with `None` accepted as "not set"."""
    @functools.wraps(check)
    def optional(name, value):
        return None if value is None else check(name, value)
    return optional


def check_fwhm(name, value):
    """A positive finite scalar (``Parameter`` and ``Quantity`` accepted)."""
    value = getattr(value, "value", value)
    arr = np.asarray(value)
    if arr.ndim != 0:
        msg = f"{name} must be a scalar, got an array of shape {arr.shape}"
        raise TypeError(msg)
    if arr.dtype.kind not in "iuf" or not np.isfinite(arr) or arr <= 0:
        msg = f"{name} must be a positive finite number, got {value!r}"
        raise ValueError(msg)
    return float(arr)


def check_real(name, value):
    """A finite real scalar."""
    if isinstance(value, bool) or not isinstance(
            getattr(value, "item", lambda: value)(), numbers.Real):
        msg = f"{name} must be a real number, got {value!r}"
        raise TypeError(msg)
    value = float(value)
    if not np.isfinite(value):
        msg = f"{name} must be finite, got {value}"
        raise ValueError(msg)
    return value


def check_threshold(name, value):
    """A finite scalar or 2-D array, possibly a Quantity."""
    arr = np.asarray(getattr(value, "value", value))
    if arr.dtype.kind not in "iuf" or not np.all(np.isfinite(arr)):
        msg = f"{name} must be a finite number or 2-D array, got {value!r}"
        raise ValueError(msg)
    if arr.ndim not in (0, 2):
        msg = f"{name} must be a scalar or a 2-D array, got {arr.ndim}-D"
        raise ValueError(msg)
    return value


@_none_passes
def check_optional_level(name, value):
    """`None` or a finite scalar, possibly a Quantity."""
    arr = np.asarray(getattr(value, "value", value))
    if arr.ndim != 0 or arr.dtype.kind not in "iuf" or not np.isfinite(arr):
        msg = f"{name} must be None or a finite number, got {value!r}"
        raise ValueError(msg)
    return value


@_none_passes
def check_range(name, value):
    """`None` or an increasing ``(lower, upper)`` pair."""
    arr = np.asarray(value, dtype=float)
    if arr.shape != (2,) or np.any(np.isnan(arr)):
        msg = f"{name} must be a (lower, upper) pair or None, got {value!r}"
        raise ValueError(msg)
    if not arr[0] <= arr[1]:
        msg = f"{name} must have lower <= upper, got {tuple(arr.tolist())}"
        raise ValueError(msg)
    return (float(arr[0]), float(arr[1]))


def check_n_brightest(name, value):
    """`None` or a positive integer."""
    return check_integer(name, value, minimum=1, allow_none=True)


def check_non_negative_real(name, value):
    """A finite real number ``>= 0``."""
    value = check_real(name, value)
    if value < 0:
        msg = f"{name} must be >= 0, got {value}"
        raise ValueError(msg)
    return value


#: `None` (the finder's rule) or a non-negative number
check_min_separation = _none_passes(check_non_negative_real)


@_none_passes
def check_xycoords(name, value):
    """`None` or a finite ``(N, 2)`` array of ``(x, y)`` positions."""
    arr = np.asarray(value, dtype=float)
    if arr.ndim != 2 or arr.shape[1] != 2 or not np.all(np.isfinite(arr)):
        msg = (f"{name} must be a finite (N, 2) array of (x, y) positions, "
               f"got shape {arr.shape}")
        raise ValueError(msg)
    return arr


def choice(*choices):
    """A check accepting one of ``choices``."""
    def check(name, value):
        return check_in(name, value, choices)
    return check


def check_ratio(name, value):
    """The minor-to-major axis ratio of the kernel, in ``(0, 1]``."""
    value = check_real(name, value)
    if not 0 < value <= 1:
        msg = f"{name} must be in (0, 1], got {value}"
        raise ValueError(msg)
    return value


def check_theta(name, value):
    """An angle in degrees, brought into ``[0, 360)``."""
    return check_real(name, value) % 360.0
