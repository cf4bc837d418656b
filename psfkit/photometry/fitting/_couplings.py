"""
Which stars must be solved together, from how strongly their fits couple.

Two stars whose model boxes overlap share pixels, so each one's best
parameters depend on the other's.  How much depends on their separation:
the normal-matrix block between two stars, normalised by their own
diagonals, is the overlap of the PSF's derivative images shifted by the
separation.  `coupling_table` computes that normalised overlap once per
fit from the model itself (a unit-flux star at a pixel centre), for every
integer offset between box centres, and keeps the largest value over all
pairs of parameters, widened by one pixel to cover sub-pixel positions.

Pairs coupled more than ``min_coupling`` at their current separation
enter the normal equations of the all-star fit together; pairs coupled
less are held apart (each sees the other through the residual image only),
which makes the normal matrix much sparser at a cost of convergence speed
of order ``min_coupling``.  Stars linked by coupled pairs form *clusters*,
the independent systems of the fit; as stars move, the pairs are found
again.
"""

import numpy as np
from scipy import ndimage, sparse
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from ._geometry import offset_index, offset_maps

__all__ = []

#: normalised coupling below which two stars are not solved together
MIN_COUPLING = 0.02


def coupling_table(jacobian, model_shape):
    """
    Normalised coupling of two stars as a function of their offset.

    Parameters
    ----------
    jacobian : ndarray, shape (M, nf)
        The derivatives of a unit-flux star at the centre of its model box
        with respect to its free parameters, on the box pixels.
    model_shape : tuple of 2 odd int

    Returns
    -------
    table : ndarray, shape (2 my - 1, 2 mx - 1)
        The largest ``|J_a^T J_b(shifted)| / (|J_a| |J_b|)`` over the pairs
        of parameters ``(a, b)``, for centre offsets ``(dy, dx)`` at index
        ``(dy + my - 1, dx + mx - 1)``, widened by one pixel.
    """
    my, mx = model_shape
    maps = offset_maps(model_shape)
    jac = np.asarray(jacobian, dtype=float)
    norm = np.sqrt(np.sum(jac * jac, axis=0))
    scaled = jac / np.where(norm > 0, norm, 1.0)
    padded = np.vstack([scaled, np.zeros((1, scaled.shape[1]))])
    # the other box's derivatives at each pixel of the first, per offset
    shifted = padded[maps]  # (n_offsets, M, nf)
    cross = np.einsum("ma,omb->oab", scaled, shifted)
    table = np.abs(cross).max(axis=(1, 2)).reshape(2 * my - 1, 2 * mx - 1)
    return ndimage.maximum_filter(table, size=3, mode="constant")


def coupled_pairs(x, y, cx, cy, table, model_shape,
                  min_coupling=MIN_COUPLING):
    """
    The pairs of stars coupled more than ``min_coupling``.

    Parameters
    ----------
    x, y : ndarray, shape (n,)
        The stars' current positions (the coupling depends on their
        separation).
    cx, cy : ndarray of int, shape (n,)
        Their box centres (stars share pixels only where their model boxes
        overlap).
    table : ndarray
        From `coupling_table`.
    model_shape : tuple of 2 odd int
    min_coupling : float

    Returns
    -------
    pairs : ndarray of int, shape (n_pairs, 2)
        ``i < j`` in each row, sorted.
    offsets : ndarray of int, shape (n_pairs,)
        The `offset_maps` row of each pair (box of ``j`` from box of ``i``).
    """
    my, mx = model_shape
    none = (np.zeros((0, 2), dtype=np.int64), np.zeros(0, dtype=np.int64))
    strong = np.argwhere(table > min_coupling)
    if len(cx) < 2 or strong.size == 0:
        return none
    reach = max(np.abs(strong[:, 0] - (my - 1)).max(),
                np.abs(strong[:, 1] - (mx - 1)).max())
    tree = cKDTree(np.column_stack([x, y]))
    pairs = tree.query_pairs(reach + 0.5, p=np.inf, output_type="ndarray")
    if len(pairs) == 0:
        return none
    pairs = np.sort(pairs, axis=1).astype(np.int64)
    i, j = pairs[:, 0], pairs[:, 1]
    by, bx = cy[j] - cy[i], cx[j] - cx[i]
    sy = np.rint(y[j] - y[i]).astype(np.int64)
    sx = np.rint(x[j] - x[i]).astype(np.int64)
    keep = ((np.abs(by) < my) & (np.abs(bx) < mx)
            & (np.abs(sy) < my) & (np.abs(sx) < mx))
    keep[keep] = table[sy[keep] + my - 1, sx[keep] + mx - 1] > min_coupling
    pairs, by, bx = pairs[keep], by[keep], bx[keep]
    order = np.lexsort((pairs[:, 1], pairs[:, 0]))
    return pairs[order], offset_index(by[order], bx[order], model_shape)


def clusters(n, pairs):
    """
    Connected components of the coupled pairs.

    Returns
    -------
    label : ndarray of int, shape (n,)
        The cluster of each star, numbered from 0 in order of the first
        member.
    sizes : ndarray of int
        The number of stars in each cluster.
    """
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    graph = sparse.coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])),
                              shape=(n, n))
    _, label = connected_components(graph, directed=False)
    # renumber by first appearance so the labels do not depend on scipy
    _, first, inverse = np.unique(label, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first)] = np.arange(len(first))
    label = rank[inverse.ravel()]
    return label, np.bincount(label)
