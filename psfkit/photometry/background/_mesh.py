"""
Engines for the 2-D background: box tiling, repair and smoothing of the
coarse mesh, and interpolation back to full resolution.

Every step is exact for a sky that is a plane in ``(x, y)``: the boxes tile
the image exactly (no partial boxes at the edges), rejected boxes are
filled from a local weighted plane fit, the median filter runs over a mesh
padded by linear extrapolation, and the cubic spline through the mesh
nodes extends its end polynomials to the image edges.
"""

import numpy as np
from scipy import interpolate, ndimage

from ..._numerics import linalg

__all__ = []

#: Gaussian width, in mesh nodes, of the weights used to fill rejected boxes.
_FILL_SCALE = 1.5


def box_edges(n, box):
    """
    Edges of ``round(n / box)`` (at least 1) nearly equal boxes tiling ``n``.

    Parameters
    ----------
    n : int
        The length of the axis.
    box : int
        The requested box size.

    Returns
    -------
    edges : ndarray of int
        ``nbox + 1`` edges from 0 to ``n``.
    """
    nbox = max(1, int(round(n / box)))
    return np.round(np.linspace(0, n, nbox + 1)).astype(int)


def box_stack(values, edges_y, edges_x):
    """
    Rearrange an image into a ``(nby, nbx, npix)`` stack of its boxes.

    Boxes smaller than the largest one are padded with NaN.

    Parameters
    ----------
    values : ndarray
        The 2-D image (NaN for masked pixels).
    edges_y, edges_x : ndarray of int
        The box edges along each axis.

    Returns
    -------
    stack : ndarray
    """
    ny, nx = values.shape
    iy = np.searchsorted(edges_y, np.arange(ny), side="right") - 1
    ix = np.searchsorted(edges_x, np.arange(nx), side="right") - 1
    ly = np.arange(ny) - edges_y[iy]
    lx = np.arange(nx) - edges_x[ix]
    hmax = int(np.diff(edges_y).max())
    wmax = int(np.diff(edges_x).max())
    stack = np.full((len(edges_y) - 1, len(edges_x) - 1, hmax, wmax), np.nan)
    stack[iy[:, None], ix[None, :], ly[:, None], lx[None, :]] = values
    return stack.reshape(len(edges_y) - 1, len(edges_x) - 1, hmax * wmax)


def fill_rejected(mesh, good):
    """
    Replace rejected mesh nodes by a locally weighted plane fit.

    Each rejected node gets the value at its position of the plane that
    best fits the good nodes, weighted by a Gaussian of their distance
    (``_FILL_SCALE`` nodes), so a planar mesh is repaired exactly.

    Parameters
    ----------
    mesh : ndarray
        The 2-D mesh of box estimates.
    good : ndarray of bool
        `True` for the nodes to trust.

    Returns
    -------
    filled : ndarray
    """
    out = np.array(mesh, dtype=float)
    if np.all(good):
        return out
    gy, gx = np.nonzero(good)
    by, bx = np.nonzero(~good)
    gval = out[gy, gx]
    dy = gy[None, :] - by[:, None]
    dx = gx[None, :] - bx[:, None]
    w = np.exp(-0.5 * (dx**2 + dy**2) / _FILL_SCALE**2)
    # guarantee non-negligible weights for nodes far from any good one
    w = w / w.max(axis=1, keepdims=True)
    design = np.stack([np.ones_like(dx, dtype=float), dx, dy], axis=-1)
    lhs, rhs = linalg.normal_equations(
        design, np.broadcast_to(gval, w.shape), w)
    # the plane's value at the rejected node is its constant term
    coef = linalg.solve(lhs, rhs, check_condition=False)[0]
    weighted_mean = (w * gval[None, :]).sum(axis=1) / w.sum(axis=1)
    rank_ok = np.linalg.matrix_rank(lhs, tol=1e-8 * lhs.max()) == 3
    out[by, bx] = np.where(rank_ok, coef[:, 0], weighted_mean)
    return out


def _extrapolate_pad(mesh, pad_y, pad_x):
    """
    Pad a mesh by linear extrapolation at its edges.

    The padded node ``k`` steps beyond an edge node ``m0`` is the point
    reflection ``2*m0 - m_k`` when the mesh has a node ``k`` steps inside,
    else the linear extrapolation ``m0 + k*(m0 - m1)``; either is exact for
    a plane.  A single node is repeated.
    """
    out = np.asarray(mesh, dtype=float)
    for axis, pad in ((0, pad_y), (1, pad_x)):
        if pad == 0:
            continue
        n = out.shape[axis]
        if n == 1:
            out = np.concatenate([out] * (2 * pad + 1), axis=axis)
            continue
        sides = []
        for edge, inward in ((0, 1), (n - 1, -1)):
            m0 = np.take(out, [edge], axis=axis)
            m1 = np.take(out, [edge + inward], axis=axis)
            layers = []
            for k in range(1, pad + 1):
                if k <= n - 1:
                    layers.append(2 * m0 - np.take(out, [edge + inward * k],
                                                   axis=axis))
                else:
                    layers.append(m0 + k * (m0 - m1))
            sides.append(layers)
        lo = np.concatenate(sides[0][::-1], axis=axis)
        hi = np.concatenate(sides[1], axis=axis)
        out = np.concatenate([lo, out, hi], axis=axis)
    return out


def median_filter_mesh(mesh, filter_size):
    """
    Median-filter a mesh, padded by linear extrapolation at its edges.

    Parameters
    ----------
    mesh : ndarray
        The 2-D mesh.
    filter_size : tuple of 2 int
        The ``(ny, nx)`` filter size in nodes.

    Returns
    -------
    filtered : ndarray
    """
    fy, fx = filter_size
    if fy == 1 and fx == 1:
        return mesh
    py, px = fy // 2, fx // 2
    padded = _extrapolate_pad(mesh, py, px)
    filt = ndimage.median_filter(padded, size=(fy, fx), mode="nearest")
    return filt[py:py + mesh.shape[0], px:px + mesh.shape[1]]


def mesh_spline(mesh, ynodes, xnodes):
    """
    A bicubic interpolating spline through the mesh nodes.

    Beyond the outermost nodes the mesh is extended by one node of linear
    extrapolation on every side, so that the image edges (half a box from
    the outermost nodes) are reached with a gently extrapolated surface
    rather than with the free end of a cubic: a plane stays a plane and
    the noise of the edge nodes is not amplified.  Axes with fewer nodes
    use a lower degree; a single node gives a constant along its axis.

    Parameters
    ----------
    mesh : ndarray
        The 2-D mesh values.
    ynodes, xnodes : ndarray
        The node positions (pixel coordinates of the box centres).

    Returns
    -------
    spline : `scipy.interpolate.RectBivariateSpline`
    """
    nodes = []
    for axis, pos in ((0, np.asarray(ynodes, float)), (1, np.asarray(xnodes, float))):
        if len(pos) == 1:
            pos = np.array([pos[0] - 1.0, pos[0] + 1.0])
            mesh = np.repeat(mesh, 2, axis=axis)
        else:
            lo = pos[0] - (pos[1] - pos[0])
            hi = pos[-1] + (pos[-1] - pos[-2])
            pos = np.concatenate([[lo], pos, [hi]])
            mesh = _extrapolate_pad(mesh, 1 if axis == 0 else 0,
                                    1 if axis == 1 else 0)
        nodes.append(pos)
    ky = min(3, len(nodes[0]) - 1)
    kx = min(3, len(nodes[1]) - 1)
    return interpolate.RectBivariateSpline(nodes[0], nodes[1], mesh, kx=ky,
                                           ky=kx, s=0)
