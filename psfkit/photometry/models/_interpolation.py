"""
Vectorised cubic B-spline interpolation of images, with exact derivatives.

An image is turned once into interpolating cubic B-spline coefficients
(`spline_coefficients`); `spline_evaluate` then gives the interpolant and
its first derivatives at any number of points in one gather of the 4x4
coefficient neighbourhoods.  The interpolant is C2-continuous, passes
through every data value, and is zero far outside the image (the data are
padded with zeros before the spline is fitted).
"""

import numpy as np
from scipy import ndimage

__all__ = []

# zero padding around each image: points up to PAD - 2 pixels outside the
# data still have a full 4x4 neighbourhood of coefficients
PAD = 4


def _not_a_knot_matrix(n):
    """
    The system whose solution gives the uniform cubic B-spline coefficients
    ``c_-1 .. c_n`` of the not-a-knot interpolant of ``n`` samples.

    Rows ``0 .. n-1`` interpolate the samples; the last two make the third
    derivative continuous at knots 1 and ``n - 2``, as FITPACK's
    interpolating splines (``scipy.interpolate.RectBivariateSpline`` with
    ``s=0``) are: those have no knots there.
    """
    m = np.zeros((n + 2, n + 2))
    k = np.arange(n)
    m[k, k] = m[k, k + 2] = 1.0 / 6.0
    m[k, k + 1] = 4.0 / 6.0
    m[n, 0:5] = m[n + 1, n - 3:n + 2] = [1.0, -4.0, 6.0, -4.0, 1.0]
    return m


def spline_coefficients(data, *, ends="zeros"):
    """
    Interpolating cubic B-spline coefficients of one image or a stack.

    Parameters
    ----------
    data : ndarray
        A 2-D image or a 3-D stack of images ``(n, ny, nx)``.
    ends : {'zeros', 'not-a-knot'}, optional
        How the spline ends at the image border: ``'zeros'`` continues the
        image with zeros (the spline falls smoothly to zero beyond it);
        ``'not-a-knot'`` is the interpolant of scipy's
        ``RectBivariateSpline(..., kx=3, ky=3, s=0)`` (photutils' image
        models), the same inside the image and zero beyond the
        coefficients next to it.  Both pass through every image value.

    Returns
    -------
    coef : ndarray
        Shape ``(n, ny + 2 PAD, nx + 2 PAD)``.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy.interpolate import RectBivariateSpline
    >>> from psfkit.photometry.models._interpolation import (
    ...     spline_coefficients, spline_evaluate)
    >>> image = np.random.default_rng(0).uniform(size=(6, 7))
    >>> coef = spline_coefficients(image, ends="not-a-knot")
    >>> x, y = np.array([0.3, 2.5, 5.9]), np.array([4.7, 0.2, 3.3])
    >>> scipy_values = RectBivariateSpline(np.arange(7), np.arange(6),
    ...                                    image.T, s=0).ev(x, y)
    >>> bool(np.allclose(spline_evaluate(coef, x, y), scipy_values,
    ...                  rtol=1e-12, atol=0))
    True
    """
    stack = np.asarray(data, dtype=float)
    if stack.ndim == 2:
        stack = stack[None]
    if ends == "zeros":
        padded = np.pad(stack, ((0, 0), (PAD, PAD), (PAD, PAD)))
        coef = ndimage.spline_filter1d(padded, order=3, axis=1, mode="mirror")
        return ndimage.spline_filter1d(coef, order=3, axis=2, mode="mirror")
    if ends != "not-a-knot":
        msg = f"ends must be 'zeros' or 'not-a-knot', got {ends!r}"
        raise ValueError(msg)
    n, ny, nx = stack.shape
    if ny < 4 or nx < 4:
        msg = ("a not-a-knot spline needs at least 4 samples along each "
               f"axis, got an image of shape {(ny, nx)}")
        raise ValueError(msg)
    # one solve along each axis (the tensor-product interpolant), with
    # the two end conditions' right-hand sides zero
    rhs_y = np.zeros((n, ny + 2, nx))
    rhs_y[:, :ny] = stack
    rows = np.linalg.solve(_not_a_knot_matrix(ny), rhs_y)
    rhs_x = np.zeros((n, ny + 2, nx + 2))
    rhs_x[:, :, :nx] = rows
    inner = np.swapaxes(np.linalg.solve(_not_a_knot_matrix(nx),
                                        np.swapaxes(rhs_x, 1, 2)), 1, 2)
    coef = np.zeros((n, ny + 2 * PAD, nx + 2 * PAD))
    coef[:, PAD - 1:PAD + ny + 1, PAD - 1:PAD + nx + 1] = inner
    return coef


def _weights(frac):
    """Cubic B-spline weights of the 4 neighbours and their derivatives."""
    f2 = frac * frac
    f3 = f2 * frac
    g = 1.0 - frac
    w = np.stack([g * g * g / 6.0,
                  (3.0 * f3 - 6.0 * f2 + 4.0) / 6.0,
                  (-3.0 * f3 + 3.0 * f2 + 3.0 * frac + 1.0) / 6.0,
                  f3 / 6.0], axis=-1)
    dw = np.stack([-0.5 * g * g,
                   1.5 * f2 - 2.0 * frac,
                   -1.5 * f2 + frac + 0.5,
                   0.5 * f2], axis=-1)
    return w, dw


def _evaluate_chunk(flat, nx, ny, tx, ty, plane, derivatives, out):
    ix = np.floor(tx)
    iy = np.floor(ty)
    with np.errstate(invalid="ignore"):
        inside = (ix >= 1) & (ix <= nx - 3) & (iy >= 1) & (iy <= ny - 3)
    ix = np.where(inside, ix, 1).astype(np.intp)
    iy = np.where(inside, iy, 1).astype(np.intp)
    fx = np.where(inside, tx - ix, 0.0)
    fy = np.where(inside, ty - iy, 0.0)
    base = (iy - 1) * nx + (ix - 1)
    if plane is not None:
        base += plane * (ny * nx)
    offsets = (np.arange(4)[:, None] * nx + np.arange(4)[None, :]).ravel()
    neigh = flat[base[:, None] + offsets].reshape(-1, 4, 4)
    wx, dwx = _weights(fx)
    wy, dwy = _weights(fy)
    rows = np.einsum("nij,ni->nj", neigh, wy)
    out[0][...] = np.einsum("nj,nj->n", rows, wx) * inside
    if derivatives:
        out[1][...] = np.einsum("nj,nj->n", rows, dwx) * inside
        drows = np.einsum("nij,ni->nj", neigh, dwy)
        out[2][...] = np.einsum("nj,nj->n", drows, wx) * inside


# points per vectorised pass: the 16 gathered neighbours of a chunk stay in
# the CPU cache, which is about twice as fast as one pass over everything
_CHUNK = 8192


def spline_evaluate(coef, xi, yi, *, plane=None, derivatives=False):
    """
    Evaluate the spline of `spline_coefficients` at arbitrary points.

    Parameters
    ----------
    coef : ndarray
        The coefficient stack ``(n, Ny, Nx)``.
    xi, yi : ndarray
        Point coordinates in data pixels of the (unpadded) image; they
        broadcast together.
    plane : ndarray of int, optional
        Which image of the stack each point uses (broadcast with the
        points); the first by default.
    derivatives : bool, optional
        Also return the derivatives along x and y.

    Returns
    -------
    value : ndarray
        The interpolated values (zero outside the supported region).
    dx, dy : ndarray
        Only with ``derivatives=True``.
    """
    arrays = [np.asarray(xi, dtype=float), np.asarray(yi, dtype=float)]
    if plane is not None:
        arrays.append(np.asarray(plane, dtype=np.intp))
    arrays = np.broadcast_arrays(*arrays)
    shape = arrays[0].shape
    tx = arrays[0].ravel() + PAD
    ty = arrays[1].ravel() + PAD
    planes = arrays[2].ravel() if plane is not None else None
    _, ny, nx = coef.shape
    flat = coef.ravel()
    outputs = [np.empty(tx.size) for _ in range(3 if derivatives else 1)]
    for start in range(0, tx.size, _CHUNK):
        part = slice(start, start + _CHUNK)
        _evaluate_chunk(flat, nx, ny, tx[part], ty[part],
                        None if planes is None else planes[part], derivatives,
                        [o[part] for o in outputs])
    outputs = [o.reshape(shape) for o in outputs]
    return tuple(outputs) if derivatives else outputs[0]


def spline_evaluate_grid(coef, x0, y0, shape, step, *, plane=None,
                         within=None, derivatives=False):
    """
    Evaluate the spline on regular grids with integer spacings.

    Grid ``g`` holds the points ``(x0[g] + step_x * i, y0[g] + step_y *
    j)`` for ``i < nx`` and ``j < ny``: an oversampled image model on the
    pixels of a box.  Every column of a grid then falls at the same
    fraction of a coefficient cell, and so does every row: the spline
    weights are computed once per grid, and the 4x4 neighbourhoods of a
    grid's points are one fixed pattern of offsets from its first point,
    contracted with the weights in one product.  The values equal those of
    `spline_evaluate` at the same points (to rounding).

    Parameters
    ----------
    coef : ndarray
        The coefficient stack ``(n, Ny, Nx)``.
    x0, y0 : ndarray
        The first point of each grid, in data pixels of the (unpadded)
        image; they broadcast together.
    shape : tuple of two int
        The grid shape ``(ny, nx)``.
    step : tuple of two int
        The spacings ``(step_y, step_x)`` of the grid points in data
        pixels (the model's oversampling for unit-spaced pixels).
    plane : ndarray of int, optional
        The image of the stack each grid uses (broadcast with ``x0``); the
        first by default.
    within : tuple of four float, optional
        ``(x_min, x_max, y_min, y_max)``: points beyond these data-pixel
        coordinates are zero too (with their derivatives).
    derivatives : bool, optional
        Also return the derivatives along x and y.

    Returns
    -------
    value : ndarray
        Shape ``x0.shape + (ny, nx)``, zero outside the supported region.
    dx, dy : ndarray
        Only with ``derivatives=True``.

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.photometry.models._interpolation import (
    ...     spline_coefficients, spline_evaluate, spline_evaluate_grid)
    >>> yy, xx = np.mgrid[0:41, 0:41]
    >>> coef = spline_coefficients(np.exp(-((xx - 20) ** 2 + (yy - 20) ** 2) / 50))
    >>> grid = spline_evaluate_grid(coef, np.array([3.3]), np.array([5.6]),
    ...                             (4, 5), (2, 3))
    >>> x = 3.3 + 3 * np.arange(5)
    >>> y = 5.6 + 2 * np.arange(4)
    >>> points = spline_evaluate(coef, x[None, :], y[:, None])
    >>> bool(np.allclose(grid[0], points, rtol=1e-13, atol=0))
    True
    """
    ny, nx = shape
    sy, sx = int(step[0]), int(step[1])
    tx, ty, planes = np.broadcast_arrays(
        np.asarray(x0, dtype=float) + PAD, np.asarray(y0, dtype=float) + PAD,
        np.zeros((), dtype=np.intp) if plane is None
        else np.asarray(plane, dtype=np.intp))
    out_shape = tx.shape + (ny, nx)
    tx, ty, planes = tx.ravel(), ty.ravel(), planes.ravel()
    image = coef if plane is not None else coef[:1]
    big_y, big_x = image.shape[1:]
    with np.errstate(invalid="ignore"):
        fx0, fy0 = np.floor(tx), np.floor(ty)
    finite = np.isfinite(fx0) & np.isfinite(fy0)
    ix0 = np.where(finite, fx0, 0.0).astype(np.intp)
    iy0 = np.where(finite, fy0, 0.0).astype(np.intp)
    fx = np.where(finite, tx - fx0, 0.0)
    fy = np.where(finite, ty - fy0, 0.0)
    # the supported columns and rows of every grid (others are zero)
    ix = ix0[:, None] + sx * np.arange(nx)
    iy = iy0[:, None] + sy * np.arange(ny)
    in_x = (ix >= 1) & (ix <= big_x - 3) & finite[:, None]
    in_y = (iy >= 1) & (iy <= big_y - 3) & finite[:, None]
    if within is not None:
        x_min, x_max, y_min, y_max = within
        xi = (tx - PAD)[:, None] + sx * np.arange(nx)
        yi = (ty - PAD)[:, None] + sy * np.arange(ny)
        with np.errstate(invalid="ignore"):
            in_x &= (xi >= x_min) & (xi <= x_max)
            in_y &= (yi >= y_min) & (yi <= y_max)
    # the first coefficient of each grid's window; a grid with no
    # supported point reads the first window (its values are masked)
    some = in_x.any(axis=1) & in_y.any(axis=1)
    col0 = np.where(some, ix0 - 1, 0)
    row0 = np.where(some, iy0 - 1, 0)
    span_x = sx * (nx - 1) + 4
    span_y = sy * (ny - 1) + 4
    # zeros around the coefficients so that every window is inside them
    # (a window reaches at most its own size beyond the supported region)
    left = max(0, -int(col0.min(initial=0)))
    top = max(0, -int(row0.min(initial=0)))
    right = max(0, int((col0 + span_x).max(initial=0)) - big_x, span_x - big_x)
    bottom = max(0, int((row0 + span_y).max(initial=0)) - big_y,
                 span_y - big_y)
    if left or right or top or bottom:
        image = np.pad(image, ((0, 0), (top, bottom), (left, right)))
    height, width = image.shape[1:]
    four = np.arange(4)
    pattern = (((sy * np.arange(ny))[:, None, None, None]
                + four[None, None, :, None]) * width
               + (sx * np.arange(nx))[None, :, None, None]
               + four[None, None, None, :]).ravel()
    start = (planes * height + row0 + top) * width + (col0 + left)
    # the weights of the 16 neighbours: value, d/dx and d/dy
    wx, dwx = _weights(fx)
    wy, dwy = _weights(fy)
    products = [(wy, wx)]
    if derivatives:
        products += [(wy, dwx), (dwy, wx)]
    weights = np.stack([(a[:, :, None] * b[:, None, :]).reshape(-1, 16)
                        for a, b in products], axis=-1)
    full = bool(in_x.all() and in_y.all())
    mask = (None if full else
            (in_y[:, :, None] & in_x[:, None, :]).reshape(-1, ny * nx, 1))
    flat = image.ravel()
    n = len(tx)
    out = np.empty((n, ny * nx, len(products)))
    chunk = max(1, _CHUNK // (ny * nx))
    for s in range(0, n, chunk):
        part = slice(s, s + chunk)
        neigh = flat.take(start[part, None] + pattern)
        np.matmul(neigh.reshape(-1, ny * nx, 16), weights[part],
                  out=out[part])
    if mask is not None:
        out *= mask
    values = [out[..., k].reshape(out_shape) for k in range(len(products))]
    return tuple(values) if derivatives else values[0]
