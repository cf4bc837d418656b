"""
Reshaping between data cubes and model-set data.

A cube holds many independent data sets along one axis (for a detector
ramp, the reads of every pixel along the time axis).  A model set wants
the data sets stacked along its ``model_set_axis`` and the points along the
other axis.  These helpers do that reshaping (without a copy when the
memory layout allows it) and its inverse.
"""

import numpy as np

from ..utils import check_in
from ._inputs import check_axis

__all__ = ["cube_to_model_set", "model_set_to_cube"]




def cube_to_model_set(cube, axis=0, *, model_set_axis=0):
    """
    Rearrange a cube into the data array of a 1-D model set.

    Parameters
    ----------
    cube : `~numpy.ndarray`
        The data; ``cube.shape[axis]`` points per data set, every other
        element of the shape indexing a data set (a pixel).
    axis : int, optional
        The axis of ``cube`` along which each model is fitted (the time
        axis of a ramp).
    model_set_axis : {0, 1}, optional
        Where the models go in the output: 0 gives ``(N, K)``, 1 gives
        ``(K, N)``, with ``N`` the number of data sets and ``K`` the number
        of points.

    Returns
    -------
    y : `~numpy.ndarray`
        The data for ``fitter(model, x, y)``; a view of ``cube`` whenever
        possible.
    shape : tuple
        The shape of ``cube``, for `model_set_to_cube`.

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.modelsets import cube_to_model_set
    >>> cube = np.zeros((10, 102, 101))
    >>> y, shape = cube_to_model_set(cube)
    >>> y.shape, shape
    ((10302, 10), (10, 102, 101))
    >>> cube_to_model_set(cube, model_set_axis=1)[0].shape
    (10, 10302)
    """
    cube = np.asanyarray(cube)
    if cube.ndim < 1:
        msg = "cube must have at least one dimension"
        raise ValueError(msg)
    axis = check_axis(axis, cube.ndim)
    check_in("model_set_axis", model_set_axis, (0, 1))
    K = cube.shape[axis]
    if model_set_axis == 0:
        y = np.moveaxis(cube, axis, -1).reshape(-1, K)
    else:
        y = np.moveaxis(cube, axis, 0).reshape(K, -1)
    return y, cube.shape


def model_set_to_cube(model, x, shape, *, axis=0):
    """
    Evaluate a fitted 1-D model set into the shape of the original cube.

    Parameters
    ----------
    model : ``astropy.modeling.Model``
        A 1-D model set with one model per data set of the cube.
    x : array-like
        The coordinates of the points (``shape[axis]`` values).
    shape : tuple
        The cube shape returned by `cube_to_model_set`.
    axis : int, optional
        The cube axis of the points.

    Returns
    -------
    cube : `~numpy.ndarray`
        The model values, with shape ``shape``.

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.modeling import models
    >>> from psfkit.modelsets import model_set_to_cube
    >>> line = models.Polynomial1D(1, n_models=6, c1=np.arange(6.0))
    >>> cube = model_set_to_cube(line, np.arange(4.0), (4, 2, 3))
    >>> cube[:, 1, 2]
    array([ 0.,  5., 10., 15.])
    """
    shape = tuple(int(s) for s in shape)
    axis = check_axis(axis, len(shape))
    if model.n_inputs != 1:
        msg = (f"model_set_to_cube needs a 1-D model, got "
               f"{type(model).__name__} with {model.n_inputs} inputs")
        raise ValueError(msg)
    x = np.asarray(x, dtype=float).ravel()
    K = shape[axis]
    if x.size != K:
        msg = f"x has {x.size} values but the cube has {K} along axis {axis}"
        raise ValueError(msg)
    rest = shape[:axis] + shape[axis + 1:]
    n_sets = int(np.prod(rest))
    if len(model) != n_sets:
        msg = (f"the model set has {len(model)} models but the cube has "
               f"{n_sets} data sets")
        raise ValueError(msg)
    values = np.asarray(model(x, model_set_axis=False))
    if model.model_set_axis == 1:
        values = values.T
    values = values.reshape(rest + (K,))
    return np.ascontiguousarray(np.moveaxis(values, -1, axis))
