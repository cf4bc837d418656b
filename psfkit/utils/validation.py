"""
Small validators for scalar and tuple arguments.

Each one names the argument in its error message, so that a bad value fails
at the API boundary with a sentence a user can act on rather than deep inside
a numerical routine.
"""

import numbers

import astropy.units as u
import numpy as np

__all__ = [
    "as_pair",
    "check_positive",
    "check_in",
    "check_odd",
    "check_integer",
    "check_ndim",
    "check_non_negative",
    "check_bool",
    "Checked",
]


def _is_real_scalar(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_positive(name, value, *, strict=True, allow_none=False, finite=True):
    """
    Return ``value`` as a float after checking that it is positive.

    Parameters
    ----------
    name : str
        The argument name used in the error message.
    value : float
        The value to check.
    strict : bool, optional
        If `True` zero is rejected, otherwise it is accepted.
    allow_none : bool, optional
        If `True`, `None` is passed through unchanged.
    finite : bool, optional
        If `True` infinite values are rejected.

    Returns
    -------
    value : float or None

    Examples
    --------
    >>> from psfkit.utils import check_positive
    >>> check_positive('fwhm', 3)
    3.0
    >>> check_positive('fwhm', -1)
    Traceback (most recent call last):
    ...
    ValueError: fwhm must be a positive number, got -1
    """
    if value is None and allow_none:
        return None
    if hasattr(value, "unit") and hasattr(value, "value"):
        # a plain number, or one in pixels; another unit would be dropped
        # silently (the callers that take one convert it first)
        value = _pixels_or_plain(name, value)
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    kind = "a positive number" if strict else "a non-negative number"
    if not _is_real_scalar(value):
        msg = f"{name} must be {kind}, got {value!r}"
        raise TypeError(msg)
    bad = value <= 0 if strict else value < 0
    if np.isnan(value) or bad or (finite and not np.isfinite(value)):
        msg = f"{name} must be {kind}, got {value!r}"
        raise ValueError(msg)
    return float(value)


def _pixels_or_plain(name, value):
    """A Quantity's value, if dimensionless or in pixels."""
    unit = u.Unit(value.unit)
    if unit.is_equivalent(u.pix):
        return value.to_value(u.pix)
    if unit.is_equivalent(u.dimensionless_unscaled):
        return value.to_value(u.dimensionless_unscaled)
    msg = (f"{name} must be a plain number (or in pixels), got a Quantity "
           f"in {unit}")
    raise u.UnitsError(msg)


def check_integer(name, value, *, minimum=None, allow_none=False):
    """
    Return ``value`` as an int after checking that it is an integer.

    Parameters
    ----------
    name : str
        The argument name used in the error message.
    value : int
        The value to check; floats with an integral value are accepted.
    minimum : int, optional
        The smallest accepted value.
    allow_none : bool, optional
        If `True`, `None` is passed through unchanged.

    Returns
    -------
    value : int or None

    Examples
    --------
    >>> from psfkit.utils import check_integer
    >>> check_integer('niters', 3, minimum=1)
    3
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        msg = f"{name} must be an integer, got {value!r}"
        raise TypeError(msg)
    if not float(value).is_integer():
        msg = f"{name} must be an integer, got {value!r}"
        raise ValueError(msg)
    value = int(value)
    if minimum is not None and value < minimum:
        msg = f"{name} must be >= {minimum}, got {value}"
        raise ValueError(msg)
    return value


def check_odd(name, value):
    """
    Check that an integer (or every integer of a tuple) is odd and positive.

    Parameters
    ----------
    name : str
        The argument name used in the error message.
    value : int or tuple of int
        The value to check.

    Returns
    -------
    value : int or tuple of int

    Examples
    --------
    >>> from psfkit.utils import check_odd
    >>> check_odd('kernel_size', 21)
    21
    >>> check_odd('kernel_size', 20)
    Traceback (most recent call last):
    ...
    ValueError: kernel_size must be odd, got 20
    """
    values = value if isinstance(value, tuple) else (value,)
    for item in values:
        item = check_integer(name, item, minimum=1)
        if item % 2 == 0:
            msg = f"{name} must be odd, got {value}"
            raise ValueError(msg)
    if isinstance(value, tuple):
        return tuple(int(v) for v in value)
    return int(value)


def as_pair(name, value, *, lower_bound=None, check_odd=False, integer=True):
    """
    Expand a scalar or a 2-tuple into a ``(ny, nx)``-style pair.

    A scalar is used for both axes.  This is the form taken by shape-like
    arguments such as ``fitshape`` or ``box_size``.

    Parameters
    ----------
    name : str
        The argument name used in the error message.
    value : int, float or array-like of two of them
        The value to expand.
    lower_bound : tuple of (number, bool), optional
        ``(bound, inclusive)``: every element must be greater than
        ``bound`` (or equal to it when ``inclusive`` is `True`).
    check_odd : bool, optional
        If `True` both elements must be odd integers.
    integer : bool, optional
        If `True` both elements must be integers.

    Returns
    -------
    pair : tuple of two int or float

    Examples
    --------
    >>> from psfkit.utils import as_pair
    >>> as_pair('fitshape', 5, check_odd=True)
    (5, 5)
    >>> as_pair('fitshape', (7, 5), check_odd=True)
    (7, 5)
    >>> as_pair('fitshape', (4, 5), check_odd=True)
    Traceback (most recent call last):
    ...
    ValueError: fitshape must have odd values, got (4, 5)
    """
    arr = np.atleast_1d(np.asarray(value))
    if arr.size == 1:
        arr = np.repeat(arr.ravel(), 2)
    if arr.ndim != 1 or arr.size != 2:
        msg = f"{name} must be a scalar or a pair of values, got {value!r}"
        raise ValueError(msg)
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_):
        msg = f"{name} must be numeric, got {value!r}"
        raise TypeError(msg)
    if not np.all(np.isfinite(arr)):
        msg = f"{name} must be finite, got {value!r}"
        raise ValueError(msg)
    shown = tuple(v.item() for v in arr)
    if integer or check_odd:
        if not np.all(np.mod(arr, 1) == 0):
            msg = f"{name} must have integer values, got {shown}"
            raise ValueError(msg)
        arr = arr.astype(int)
        shown = tuple(int(v) for v in arr)
    if lower_bound is not None:
        bound, inclusive = lower_bound
        ok = arr >= bound if inclusive else arr > bound
        if not np.all(ok):
            op = ">=" if inclusive else ">"
            msg = f"{name} must have values {op} {bound}, got {shown}"
            raise ValueError(msg)
    if check_odd:
        if np.any(arr <= 0) or np.any(arr % 2 == 0):
            msg = f"{name} must have odd values, got {shown}"
            raise ValueError(msg)
    return tuple(v.item() for v in arr)


def check_in(name, value, choices):
    """
    Check that ``value`` is one of ``choices``.

    Parameters
    ----------
    name : str
        The argument name used in the error message.
    value : object
        The value to check.
    choices : sequence
        The accepted values.

    Returns
    -------
    value : object

    Examples
    --------
    >>> from psfkit.utils import check_in
    >>> check_in('convolve', 'auto', ('template', 'science', 'auto'))
    'auto'
    """
    if value not in choices:
        opts = ", ".join(repr(c) for c in choices)
        msg = f"{name} must be one of {opts}; got {value!r}"
        raise ValueError(msg)
    return value


def check_ndim(name, array, ndim):
    """
    Check that an array has one of the accepted numbers of dimensions.

    Parameters
    ----------
    name : str
        The argument name used in the error message.
    array : `~numpy.ndarray`
        The array.
    ndim : int, tuple of int or None
        The accepted number(s) of dimensions; `None` accepts any.

    Raises
    ------
    ValueError
        If ``array.ndim`` is not accepted.

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.utils import check_ndim
    >>> check_ndim('cube', np.zeros((2, 3)), (3, 4))
    Traceback (most recent call last):
    ...
    ValueError: cube must be a 3-D or 4-D array, got a 2-D array with shape (2, 3)
    """
    if ndim is None:
        return
    allowed = (ndim,) if np.isscalar(ndim) else tuple(ndim)
    if array.ndim not in allowed:
        want = " or ".join(f"{n}-D" for n in allowed)
        msg = (f"{name} must be a {want} array, got a {array.ndim}-D array "
               f"with shape {array.shape}")
        raise ValueError(msg)


def check_non_negative(name, values, *, what=None):
    """
    Check that an array holds no negative value (NaN is left alone).

    Parameters
    ----------
    name : str
        The argument name used in the error message.
    values : array-like
        The values to check.
    what : str, optional
        What the values are (``"a variance"``...), for the message; by
        default ``name``.

    Returns
    -------
    values : array-like
        ``values``, unchanged.

    Raises
    ------
    ValueError
        If any value is negative; the message counts them.

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.utils import check_non_negative
    >>> check_non_negative('error', np.array([1.0, -2.0, np.nan]))
    Traceback (most recent call last):
    ...
    ValueError: error holds 1 negative value(s); error must be non-negative
    """
    n_bad = int(np.count_nonzero(np.asarray(values) < 0))
    if n_bad:
        msg = (f"{name} holds {n_bad} negative value(s); "
               f"{what or name} must be non-negative")
        raise ValueError(msg)
    return values


def check_bool(name, value):
    """
    Return ``value`` after checking that it is `True` or `False`.

    NumPy booleans are accepted; other truthy values (``1``, ``'yes'``)
    are refused, so that a misplaced argument is noticed.

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.utils import check_bool
    >>> check_bool("progress_bar", np.True_)
    True
    """
    if not isinstance(value, bool | np.bool_):
        msg = f"{name} must be True or False, got {value!r}"
        raise TypeError(msg)
    return bool(value)


class Checked:
    """
    An attribute checked on every assignment.

    ``check(name, value)`` returns the value to store or raises an error
    naming the attribute; a rejected value leaves the attribute as it
    was.  The value is stored in the instance's ``__dict__`` under the
    name with a leading underscore, so objects pickle as plain ones.

    Examples
    --------
    >>> from psfkit.utils import Checked, check_positive
    >>> class Box:
    ...     size = Checked(check_positive)
    ...     def __init__(self, size):
    ...         self.size = size
    >>> box = Box(3)
    >>> box.size
    3.0
    >>> box.size = -1
    Traceback (most recent call last):
    ...
    ValueError: size must be a positive number, got -1
    """

    def __init__(self, check):
        self.check = check

    def __set_name__(self, owner, name):
        self.name = name
        self.private = f"_{name}"

    def __get__(self, obj, objtype=None):
        if obj is None:
            return self
        try:
            return obj.__dict__[self.private]
        except KeyError:
            msg = f"{type(obj).__name__} has no {self.name} set"
            raise AttributeError(msg) from None

    def __set__(self, obj, value):
        obj.__dict__[self.private] = self.check(self.name, value)
