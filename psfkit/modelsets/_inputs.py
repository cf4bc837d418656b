"""
Input handling shared by the model-set fitter, its dask path and the ramp
fitting: recognising dask arrays, turning data, coordinates and weights
into the arrays the engines want, and laying data sets out as rows.

Every check here raises an error naming the argument and what was wrong,
so that the engines below never see an input they would misread.
"""

import astropy.units as u
import numpy as np

from ..utils import coerce_data

__all__ = []


def check_axis(axis, ndim):
    """``axis`` of a ``ndim``-D cube as a non-negative int, checked."""
    if isinstance(axis, bool) or not isinstance(axis, int | np.integer):
        msg = f"axis must be an integer, got {axis!r}"
        raise TypeError(msg)
    if not -ndim <= axis < ndim:
        msg = f"axis={axis} is out of range for a {ndim}-D cube"
        raise ValueError(msg)
    return int(axis) % ndim


def is_dask(obj):
    """`True` for a dask collection (checked without importing dask)."""
    return type(obj).__module__.split(".")[0] == "dask"


def as_model_data(values, name):
    """
    Return ``(array, mask_or_None)`` for fitting.

    Native-endian float32/float64 arrays are used as they are: the engine
    converts and masks non-finite values chunk by chunk, which avoids a full
    float64 copy of a large cube.  Every other input (masked arrays,
    NDData, integer or big-endian data, lists) goes through
    `~psfkit.utils.coerce_data`.
    """
    if isinstance(values, u.Quantity):
        msg = (f"{name} is a Quantity; LinearModelSetFitter fits unitless "
               f"values: pass {name}.value (the parameters are then in the "
               "units of the data)")
        raise TypeError(msg)
    if (type(values) is np.ndarray and values.dtype.kind == "f"
            and values.dtype.itemsize >= 4 and values.dtype.isnative):
        if values.size == 0:
            msg = f"{name} is empty (shape {values.shape})"
            raise ValueError(msg)
        return values, None
    data = coerce_data(values, name=name, ndim=None, dtype=None,
                       allow_all_masked=True)
    if data.unit is not None:
        # (an NDData or a masked array of a Quantity)
        msg = (f"{name} has a unit ({data.unit}); LinearModelSetFitter fits "
               f"unitless values: pass the values without their unit (the "
               "parameters are then in the units of the data)")
        raise TypeError(msg)
    mask = data.mask if data.mask.any() else None
    return data.data, mask


def as_coord(values, name):
    """A coordinate array as finite float64 values."""
    if isinstance(values, u.Quantity):
        msg = f"{name} is a Quantity; pass {name}.value"
        raise TypeError(msg)
    arr = np.asarray(values)
    if arr.dtype.kind not in "biuf":
        msg = f"{name} must contain real numbers, got dtype {arr.dtype}"
        raise TypeError(msg)
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        msg = f"{name} must be finite; mask the data values instead"
        raise ValueError(msg)
    return arr


def data_rows(values, axis, n_models, data_shape, name, multi):
    """
    Move the model axis of ``values`` first and flatten the rest: (N, K).

    ``data_shape`` is the shape of the coordinates; ``multi`` says whether
    ``values`` holds one data set per model (else it is one data set).
    """
    if not multi:
        if values.shape != data_shape:
            msg = (f"{name} must have the shape of the coordinates "
                   f"{data_shape}, got {values.shape}")
            raise ValueError(msg)
        return values.reshape(1, -1)
    if axis >= values.ndim:
        msg = (f"model_set_axis={axis} is out of range for {name} with "
               f"shape {values.shape}")
        raise ValueError(msg)
    if values.shape[axis] != n_models:
        msg = (f"{name} has {values.shape[axis]} data sets along "
               f"model_set_axis={axis} but the model set has {n_models} "
               "models")
        raise ValueError(msg)
    rest = values.shape[:axis] + values.shape[axis + 1:]
    if rest != data_shape:
        msg = (f"{name} without its model axis has shape {rest}; it must "
               f"match the coordinates' shape {data_shape}")
        raise ValueError(msg)
    return np.moveaxis(values, axis, 0).reshape(n_models, -1)


def check_weights(weights):
    """Return ``weights`` as float64 after checking they are usable."""
    w = np.asarray(weights)
    if w.dtype.kind not in "biuf":
        msg = f"weights must be real numbers, got dtype {w.dtype}"
        raise TypeError(msg)
    w = w.astype(np.float64)
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        msg = "weights must be finite and non-negative"
        raise ValueError(msg)
    return w


def squared_weights(weights, data_shape_full, coord_shape, axis, n_models,
                    multi):
    """
    The engine's weights (``1/sigma**2``) from the user's ``1/sigma``.

    Shared weights (the shape of the coordinates) come back flat (K,);
    one set per model (the shape of the data) as rows (N, K).
    """
    if weights is None:
        return None
    w = check_weights(weights)
    if w.shape == coord_shape:
        return (w * w).reshape(-1)
    if multi and w.shape == data_shape_full:
        return data_rows(w * w, axis, n_models, coord_shape, "weights", True)
    msg = (f"weights must have the shape of the coordinates "
           f"{coord_shape} (shared) or of the data {data_shape_full} "
           f"(one set per model), got {w.shape}")
    raise ValueError(msg)
