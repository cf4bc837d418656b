"""
Short, readable representations of results and configuration objects.

A result can hold several full-size images; printing it in a notebook must
show what it is (shapes, units, key numbers, flag counts), never thousands
of array values.  `describe` summarises any value in a few words;
`SummaryReprMixin` gives frozen result dataclasses a ``repr`` and an HTML
``_repr_html_`` built from their fields; `ParamReprMixin` gives
configuration objects (finders, groupers, backgrounds...) a constructor-like
``repr`` of their settings.
"""

import dataclasses
import html
import numbers

import numpy as np

__all__ = ["describe", "SummaryReprMixin", "ParamReprMixin"]

_MAX_INLINE = 88


def _unit_text(value):
    unit = getattr(value, "unit", None)
    if unit is None:
        return ""
    text = str(unit)
    return f", unit {text}" if text else ", dimensionless"


def describe(value):
    """
    A few words describing ``value``: shape and dtype for arrays, rows for
    tables, six significant digits for floats.

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.utils import describe
    >>> describe(np.zeros((256, 256), dtype=np.float32))
    '<float32 array (256, 256)>'
    >>> describe(np.array([True, False, True]))
    '<bool array (3,), 2 True>'
    >>> describe(1.23456789)
    '1.23457'
    """
    from astropy.nddata import NDData
    from astropy.table import Table
    import astropy.units as u

    if value is None or isinstance(value, bool | str):
        return repr(value)
    if isinstance(value, NDData):
        parts = [f"{np.asarray(value.data).dtype}", f"{np.shape(value.data)}"]
        if value.unit is not None:
            parts.append(f"unit {value.unit}")
        if value.mask is not None:
            parts.append(f"{int(np.count_nonzero(value.mask))} masked")
        if value.uncertainty is not None:
            parts.append(type(value.uncertainty).__name__)
        if value.wcs is not None:
            parts.append("WCS")
        return f"<{type(value).__name__} " + ", ".join(parts) + ">"
    if isinstance(value, Table):
        return (f"<{type(value).__name__}: {len(value)} rows, "
                f"{len(value.colnames)} columns>")
    if isinstance(value, u.Quantity) and value.isscalar:
        return f"{value.value:.6g} {value.unit}".rstrip()
    if isinstance(value, np.ndarray):
        if value.ndim == 0:
            return describe(value.item())
        text = f"<{value.dtype} array {value.shape}"
        if value.dtype == bool:
            text += f", {int(np.count_nonzero(value))} True"
        elif np.ma.isMaskedArray(value):
            text += f", {int(np.ma.count_masked(value))} masked"
        return text + _unit_text(value) + ">"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return f"{float(value):.6g}"
    if isinstance(value, dict):
        return f"<dict of {len(value)} items>"
    if isinstance(value, list | tuple):
        if len(value) <= 6 and all(isinstance(v, numbers.Number | str)
                                   for v in value):
            inner = ", ".join(describe(v) for v in value)
            return f"({inner}{',' if len(value) == 1 else ''})" if isinstance(
                value, tuple) else f"[{inner}]"
        return f"<{type(value).__name__} of {len(value)} items>"
    text = repr(value)
    if len(text) <= 60 and "\n" not in text:
        return text
    return f"<{type(value).__name__}>"


def _join(name, items):
    inline = f"{name}(" + ", ".join(f"{k}={v}" for k, v in items) + ")"
    if len(inline) <= _MAX_INLINE:
        return inline
    body = "".join(f"    {k}={v},\n" for k, v in items)
    return f"{name}(\n{body})"


def _html_table(name, items):
    rows = "".join(f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
                   f"<td style='text-align:left'>{html.escape(v)}</td></tr>"
                   for k, v in items)
    return (f"<div><strong>{html.escape(name)}</strong>"
            f"<table>{rows}</table></div>")


class SummaryReprMixin:
    """
    ``repr`` and ``_repr_html_`` for result dataclasses, from their fields.

    Subclasses may override ``_summary_items`` to add key numbers (flag
    counts, a kernel sum...) or leave fields out; the default lists every
    public field through `describe`.  The ``repr`` is placed on each
    subclass itself, so that the `dataclasses.dataclass` decorator keeps
    it instead of generating one that prints every array.
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "__repr__" not in cls.__dict__:
            cls.__repr__ = SummaryReprMixin.__repr__

    def _summary_items(self):
        return [(f.name, describe(getattr(self, f.name)))
                for f in dataclasses.fields(self) if not f.name.startswith("_")]

    def __repr__(self):
        return _join(type(self).__name__, self._summary_items())

    def _repr_html_(self):
        return _html_table(type(self).__name__, self._summary_items())


def _is_default(obj, name):
    """Whether ``obj.name`` equals the default of its ``__init__`` keyword."""
    import inspect

    try:
        param = inspect.signature(type(obj)).parameters.get(name)
    except (TypeError, ValueError):
        return False
    if param is None or param.default is inspect.Parameter.empty:
        return False
    value = getattr(obj, name, None)
    default = param.default
    if isinstance(value, np.ndarray) or isinstance(default, np.ndarray):
        return False
    if isinstance(value, bool) or isinstance(default, bool):
        return value is default
    try:
        return bool(value == default)
    except (TypeError, ValueError):
        return False


class ParamReprMixin:
    """
    A constructor-like ``repr`` for configuration objects.

    Subclasses list the attributes to show in ``_repr_params``.  With
    ``_repr_changed_only = True`` the ``repr`` leaves out the keywords
    still at their default value (the HTML table lists them all).
    """

    _repr_params = ()
    _repr_changed_only = False

    def _summary_items(self, *, changed_only=False):
        return [(name, describe(getattr(self, name, None)))
                for name in self._repr_params
                if not (changed_only and _is_default(self, name))]

    def __repr__(self):
        # subclasses that override ``_summary_items`` without the keyword
        # keep working: it is only passed when asked for
        items = (self._summary_items(changed_only=True)
                 if self._repr_changed_only else self._summary_items())
        return _join(type(self).__name__, items)

    def _repr_html_(self):
        return _html_table(type(self).__name__, self._summary_items())
