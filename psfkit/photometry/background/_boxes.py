"""
The photutils/SourceExtractor background mesh: whole boxes from the lower
left corner plus partial boxes along the top and right edges, excluded
boxes filled by inverse-distance weighting, a NaN-aware median filter, and
a cubic-spline zoom back to full resolution.

This is how photutils 3.x's ``Background2D`` defines the background, so
that psfkit's default gives the same numbers; the computation itself is
psfkit's (every box clipped at once on sorted rows, ``_sorted_clip``).
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import ndimage
from scipy.spatial import cKDTree

__all__ = []

#: neighbours and power of the inverse-distance weights filling the mesh
IDW_NEIGHBORS = 10
IDW_POWER = 1.0


def box_stack(values, box):
    """
    The pixels of every box as rows of one array.

    Parameters
    ----------
    values : ndarray
        The 2-D image, NaN for masked pixels.
    box : tuple of 2 int
        The ``(ny, nx)`` box size.

    Returns
    -------
    stack : ndarray
        ``(nby * nbx, ny * nx)`` rows, partial boxes (along the top and
        right edges) padded with NaN.
    mesh_shape : tuple of 2 int
        ``(nby, nbx)``, the partial boxes included.
    """
    by, bx = box
    ny, nx = values.shape
    nby, nbx = -(-ny // by), -(-nx // bx)
    padded = np.full((nby * by, nbx * bx), np.nan, dtype=values.dtype)
    padded[:ny, :nx] = values
    stack = padded.reshape(nby, by, nbx, bx).swapaxes(1, 2)
    stack = stack.reshape(nby * nbx, by * bx)
    return stack, (nby, nbx)


def fill_mesh(mesh):
    """
    Replace the NaN nodes of a mesh by inverse-distance weighting.

    Each NaN node takes the ``1/d``-weighted mean of its (up to) ten
    nearest good nodes.
    """
    bad = np.isnan(mesh)
    if not np.any(bad):
        return mesh
    good_yx = np.column_stack(np.nonzero(~bad))
    bad_yx = np.column_stack(np.nonzero(bad))
    k = min(IDW_NEIGHBORS, len(good_yx))
    # the leaf size decides which of equally distant nodes are taken
    dist, idx = cKDTree(good_yx, leafsize=10).query(bad_yx, k=k)
    dist = dist.reshape(len(bad_yx), k)
    idx = idx.reshape(len(bad_yx), k)
    weights = 1.0 / dist**IDW_POWER
    values = mesh[~bad][idx]
    out = mesh.copy()
    out[bad] = (weights * values).sum(axis=1) / weights.sum(axis=1)
    return out


def nan_median_filter(mesh, size):
    """
    A median filter that ignores the nodes beyond the mesh edges.

    Parameters
    ----------
    mesh : ndarray
        The 2-D mesh (no NaN).
    size : tuple of 2 int
        The odd ``(ny, nx)`` filter size.
    """
    fy, fx = size
    if fy == 1 and fx == 1:
        return mesh
    padded = np.pad(mesh, ((fy // 2, fy // 2), (fx // 2, fx // 2)),
                    constant_values=np.nan)
    windows = sliding_window_view(padded, (fy, fx))
    return np.nanmedian(windows.reshape(*mesh.shape, fy * fx), axis=-1)


def selective_filter(mesh, size, select):
    """Median-filter only the nodes where ``select`` is true."""
    if not np.any(select):
        return mesh
    return np.where(select, nan_median_filter(mesh, size), mesh)


def _reflect(index, n):
    """Indices mirrored about the half-pixel edges (scipy's 'reflect')."""
    index = np.mod(index, 2 * n)
    return np.where(index >= n, 2 * n - 1 - index, index)


def spline_matrix(n_nodes, coords):
    """
    The ``(len(coords), n_nodes)`` matrix of cubic B-spline weights that
    evaluates, at ``coords`` (node units), a spline given by its
    coefficients on ``n_nodes`` nodes, mirrored beyond the edges.
    """
    coords = np.asarray(coords, dtype=float)
    base = np.floor(coords).astype(np.intp)
    t = coords - base
    t2 = t * t
    t3 = t2 * t
    weights = ((1.0 - t)**3 / 6.0, (3.0 * t3 - 6.0 * t2 + 4.0) / 6.0,
               (-3.0 * t3 + 3.0 * t2 + 3.0 * t + 1.0) / 6.0, t3 / 6.0)
    out = np.zeros((coords.size, n_nodes))
    rows = np.arange(coords.size)
    for k, w in enumerate(weights):
        np.add.at(out, (rows, _reflect(base - 1 + k, n_nodes)), w)
    return out


def zoom_mesh(mesh, box, shape, dtype):
    """
    The full-resolution image of a mesh: the cubic spline through the box
    centres that ``scipy.ndimage.zoom(mesh, box, order=3, mode='reflect',
    grid_mode=True)`` evaluates, cropped to the image and clipped to the
    mesh range.

    The spline is separable, so it is evaluated as ``Wy @ C @ Wx.T`` from
    the spline coefficients ``C`` of the mesh and one weight matrix per
    axis: a few matrix products instead of a 16-point sum per pixel.
    """
    mesh = np.asarray(mesh, dtype=float)
    lo, hi = mesh.min(), mesh.max()
    if lo == hi:
        return np.full(shape, lo, dtype=dtype)
    coef = ndimage.spline_filter(mesh, order=3, mode="reflect")
    wy = spline_matrix(mesh.shape[0],
                       (np.arange(shape[0]) + 0.5) / box[0] - 0.5)
    wx = spline_matrix(mesh.shape[1],
                       (np.arange(shape[1]) + 0.5) / box[1] - 0.5)
    out = (wy @ coef) @ wx.T
    np.clip(out, lo, hi, out=out)
    return out.astype(dtype, copy=False)


def mesh_at(mesh, box, x, y):
    """The zoomed mesh at arbitrary pixel positions (see `zoom_mesh`)."""
    mesh = np.asarray(mesh, dtype=float)
    lo, hi = mesh.min(), mesh.max()
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if lo == hi:
        return np.full(np.broadcast_shapes(x.shape, y.shape), lo)
    x, y = np.broadcast_arrays(x, y)
    coords = np.array([(y.ravel() + 0.5) / box[0] - 0.5,
                       (x.ravel() + 0.5) / box[1] - 0.5])
    out = ndimage.map_coordinates(mesh, coords, order=3, mode="reflect")
    return np.clip(out, lo, hi).reshape(x.shape)
