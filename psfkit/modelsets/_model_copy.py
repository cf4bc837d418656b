"""
Copies of astropy model sets for fitting, and direct access to their
parameter arrays.

For a set of millions of models the parameter arrays are the largest
objects a fit touches: duplicating them only to overwrite them costs more
than the fit.  These helpers let the engine write its results straight
into the fitted model's own arrays.
"""

import copy

import numpy as np

__all__ = []


def parameter_columns(model, names):
    """
    Flat writable views of the value arrays of ``model``'s parameters.

    Returns `None` unless every named parameter stores its values as one
    contiguous float64 array holding one value per model (true of the
    linear models of astropy); the fit then writes its results there
    directly instead of assigning them afterwards.
    """
    n = len(model)
    cols = []
    for name in names:
        value = getattr(model, name).value
        if not (isinstance(value, np.ndarray) and value.dtype == np.float64
                and value.size == n and value.flags.c_contiguous
                and value.flags.writeable):
            return None
        cols.append(value.reshape(-1))
    return cols


def copy_for_fit(model, free):
    """
    Copy ``model`` for fitting, without copying what the fit replaces.

    A plain ``model.copy()`` duplicates every parameter array only for the
    free ones to be overwritten.  Here the free parameters' arrays (and the
    model's flat parameter cache, which astropy refills from them whenever
    it is read) get new, uninitialised arrays in the copy, through the
    ``memo`` of `copy.deepcopy`; the parameters' defaults are shared
    read-only, and a previous ``fit_info`` and uncertainties are not
    copied.  Everything else is copied as usual.  Returns the copy and its
    `parameter_columns`, or `None` when the parameters are not stored as
    expected (the caller then assigns the results).
    """
    memo = {}
    for name in model.param_names:
        # a parameter's default holds the values it was created with: the
        # copy shares it, read-only, instead of duplicating it
        default = getattr(model, name).default
        if isinstance(default, np.ndarray) and default.size > 1:
            view = default.view()
            view.flags.writeable = False
            memo[id(default)] = view
    for name in free:
        value = getattr(model, name).value
        if isinstance(value, np.ndarray) and value.size > 1:
            memo[id(value)] = np.empty(value.shape, dtype=np.float64)
    flat = getattr(model, "_parameters", None)
    if isinstance(flat, np.ndarray) and flat.size > 1 and memo:
        memo[id(flat)] = np.empty_like(flat)
    # results of an earlier fit describe other parameter values
    for attr in ("fit_info", "cov_matrix", "stds"):
        old = getattr(model, attr, None)
        if old is not None:
            memo[id(old)] = None
    fitted = copy.deepcopy(model, memo)
    cols = parameter_columns(fitted, free)
    if cols is not None and not all(
            any(c.base is m or c is m for m in memo.values()) for c in cols):
        # astropy did not keep the new arrays: assign the results instead
        cols = None
    return fitted, cols
