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

from ._geometry import offset_index

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
    jac = np.asarray(jacobian, dtype=float)
    norm = np.sqrt(np.sum(jac * jac, axis=0))
    scaled = (jac / np.where(norm > 0, norm, 1.0)).reshape(my, mx, -1)
    # the overlap of derivative images a and b at every offset is their
    # cross-correlation, from FFTs padded to every offset (no wrapping);
    # that of (b, a) is the same one reflected, so the largest over all
    # pairs of parameters is symmetric in the offset
    size = (2 * my - 1, 2 * mx - 1)
    spectra = np.fft.rfft2(scaled, s=size, axes=(0, 1))
    table = np.zeros(size)
    nf = scaled.shape[2]
    for a in range(nf):
        for b in range(a, nf):
            cross = np.fft.irfft2(spectra[:, :, a] * np.conj(spectra[:, :, b]),
                                  s=size)
            # (fftshift moves lag 0 to the centre: index i holds lag
            # i - (m - 1), the table's layout)
            cross = np.abs(np.fft.fftshift(cross))
            np.maximum(table, cross, out=table)
            np.maximum(table, cross[::-1, ::-1], out=table)
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
    strength : ndarray, shape (n_pairs,)
        The coupling of each pair from ``table``.
    """
    my, mx = model_shape
    none = (np.zeros((0, 2), dtype=np.int64), np.zeros(0, dtype=np.int64),
            np.zeros(0))
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
    strength = np.zeros(len(pairs))
    strength[keep] = table[sy[keep] + my - 1, sx[keep] + mx - 1]
    keep &= strength > min_coupling
    pairs, by, bx, strength = pairs[keep], by[keep], bx[keep], strength[keep]
    order = np.lexsort((pairs[:, 1], pairs[:, 0]))
    return (pairs[order], offset_index(by[order], bx[order], model_shape),
            strength[order])


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


def split_clusters(label, pairs, strength, max_size):
    """
    Split clusters larger than ``max_size`` stars into pieces.

    Pairs are joined from the most strongly coupled down, as long as the
    joined piece stays within ``max_size`` stars: each piece holds the
    stars that move together, and the pieces of one cluster meet only
    through their weaker couplings.

    Parameters
    ----------
    label : ndarray of int, shape (n,)
        Cluster of each star (``-1``: none).
    pairs : ndarray of int, shape (n_pairs, 2)
    strength : ndarray, shape (n_pairs,)
    max_size : int

    Returns
    -------
    label : ndarray of int, shape (n,)
        Pieces numbered from 0 (``-1`` kept).
    sizes : ndarray of int
    """
    sizes = np.bincount(label[label >= 0])
    big = np.flatnonzero(sizes > max_size)
    if big.size == 0:
        return label, sizes
    n = len(label)
    inside = np.zeros(len(sizes) + 1, dtype=bool)
    inside[big] = True
    root = np.arange(n)
    count = np.ones(n, dtype=np.int64)

    def find(i):
        while root[i] != i:
            root[i] = root[root[i]]
            i = root[i]
        return i

    sel = np.flatnonzero(inside[label[pairs[:, 0]]] & inside[label[pairs[:, 1]]])
    for p in sel[np.argsort(-strength[sel], kind="stable")]:
        a, b = find(pairs[p, 0]), find(pairs[p, 1])
        if a != b and count[a] + count[b] <= max_size:
            root[b] = a
            count[a] += count[b]
    for i in np.flatnonzero(inside[label]):
        root[i] = find(i)
    key = np.where(inside[label], n + root, label)
    key[label < 0] = -1
    out = np.full(n, -1)
    used = key >= 0
    _, first, inverse = np.unique(key[used], return_index=True,
                                  return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first)] = np.arange(len(first))
    out[used] = rank[inverse.ravel()]
    return out, np.bincount(out[used])


def close_pairs(xy, radius, usable=None):
    """
    The pairs ``(i, j)``, ``i < j``, of positions closer than ``radius``
    (Euclidean), among the rows ``usable`` (bool mask) of ``xy`` (n, 2).
    """
    ids = np.arange(len(xy)) if usable is None else np.flatnonzero(usable)
    if len(ids) < 2:
        return np.zeros((0, 2), dtype=np.int64)
    pairs = cKDTree(xy[ids]).query_pairs(radius, output_type="ndarray")
    return ids[pairs].reshape(-1, 2)


def overlap_matrix(geom):
    """
    The pairs of stars whose model boxes overlap, as a symmetric sparse
    matrix (stars whose fits can affect each other's pixels).
    """
    my, mx = geom.model_shape
    n = len(geom.cx)
    xy = np.column_stack([geom.cx / mx, geom.cy / my])
    pairs = (cKDTree(xy).query_pairs(1.0 - 1e-9, p=np.inf,
                                     output_type="ndarray")
             if n > 1 else np.zeros((0, 2), dtype=np.int64))
    i, j = pairs[:, 0], pairs[:, 1]
    return sparse.csr_matrix((np.ones(2 * len(pairs)),
                              (np.r_[i, j], np.r_[j, i])), shape=(n, n))
