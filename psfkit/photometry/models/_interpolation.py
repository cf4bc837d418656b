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


def spline_coefficients(data):
    """
    Interpolating cubic B-spline coefficients of one image or a stack.

    Parameters
    ----------
    data : ndarray
        A 2-D image or a 3-D stack of images ``(n, ny, nx)``.

    Returns
    -------
    coef : ndarray
        Shape ``(n, ny + 2 PAD, nx + 2 PAD)``.
    """
    stack = np.asarray(data, dtype=float)
    if stack.ndim == 2:
        stack = stack[None]
    padded = np.pad(stack, ((0, 0), (PAD, PAD), (PAD, PAD)))
    coef = ndimage.spline_filter1d(padded, order=3, axis=1, mode="mirror")
    return ndimage.spline_filter1d(coef, order=3, axis=2, mode="mirror")


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
