"""
KD-tree clustering engines behind the groupers, on plain ``(n, 2)`` arrays.

Both engines find the pairs of points within a distance with
`scipy.spatial.cKDTree` and label the connected components of that graph
with `scipy.sparse.csgraph.connected_components`, so the cost is
``O(n log n + n_pairs)`` instead of the ``O(n**2)`` of comparing every
pair.
"""

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

__all__ = []

#: Minkowski p of the metrics the built-in DBSCAN understands.
MINKOWSKI_P = {"euclidean": 2.0, "l2": 2.0, "manhattan": 1.0,
               "cityblock": 1.0, "l1": 1.0, "chebyshev": np.inf,
               "infinity": np.inf}


def relabel_by_first_appearance(labels):
    """
    Renumber labels as ``1..n`` in order of their first occurrence.

    Parameters
    ----------
    labels : ndarray of int
        Any integer labels.

    Returns
    -------
    ids : ndarray of int64
    """
    labels = np.asarray(labels)
    if labels.size == 0:
        return np.zeros(0, dtype=np.int64)
    uniq, first, inverse = np.unique(labels, return_index=True,
                                     return_inverse=True)
    rank = np.empty(uniq.size, dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(1, uniq.size + 1)
    return rank[inverse.ravel()]


def _pairs(points, radius, p, strict):
    tree = cKDTree(points)
    pairs = tree.query_pairs(radius, p=p, output_type="ndarray")
    if strict and pairs.size:
        diff = points[pairs[:, 0]] - points[pairs[:, 1]]
        if np.isinf(p):
            dist = np.abs(diff).max(axis=1)
        else:
            dist = (np.abs(diff)**p).sum(axis=1)**(1.0 / p)
        pairs = pairs[dist < radius]
    return tree, pairs


def _components(n, pairs):
    graph = sparse.coo_matrix(
        (np.ones(len(pairs), dtype=np.int8), (pairs[:, 0], pairs[:, 1])),
        shape=(n, n))
    return connected_components(graph, directed=False)[1]


def friends_of_friends(points, radius, *, strict=True, p=2.0):
    """
    Label the connected components of the graph of close pairs.

    Parameters
    ----------
    points : ndarray
        ``(n, 2)`` coordinates.
    radius : float
        The linking length.
    strict : bool, optional
        Link pairs closer than ``radius`` (`True`) or at most ``radius``
        (`False`) apart.
    p : float, optional
        The Minkowski norm of the distance.

    Returns
    -------
    labels : ndarray of int
        Component labels (arbitrary numbering).
    """
    n = len(points)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    _, pairs = _pairs(points, radius, p, strict)
    return _components(n, pairs.reshape(-1, 2))


def dbscan_labels(points, eps, min_samples, *, p=2.0):
    """
    DBSCAN cluster labels, with the assignment order of the classic algorithm.

    Core points have at least ``min_samples`` points (themselves included)
    within ``eps`` (inclusive).  Clusters are the connected components of
    core points; a border point (not core, within ``eps`` of a core point)
    joins the cluster that the classic sequential expansion reaches first,
    i.e. the neighbouring cluster whose lowest-index core point is lowest.
    Other points are noise, labelled -1.

    Parameters
    ----------
    points : ndarray
        ``(n, 2)`` coordinates.
    eps : float
        The neighbourhood radius.
    min_samples : int
        The neighbourhood size that makes a point a core point.
    p : float, optional
        The Minkowski norm of the distance.

    Returns
    -------
    labels : ndarray of int
        Cluster labels, increasing with the lowest core index of the
        cluster, and -1 for noise.
    """
    n = len(points)
    labels = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return labels
    _, pairs = _pairs(points, eps, p, strict=False)
    pairs = pairs.reshape(-1, 2)
    counts = np.ones(n, dtype=np.int64)
    np.add.at(counts, pairs.ravel(), 1)
    core = counts >= min_samples
    if not np.any(core):
        return labels
    both = core[pairs[:, 0]] & core[pairs[:, 1]]
    comp = _components(n, pairs[both])
    # number clusters by their lowest core index, as sequential expansion does
    core_idx = np.nonzero(core)[0]
    first_core = np.full(n, n, dtype=np.int64)
    np.minimum.at(first_core, comp[core_idx], core_idx)
    order = np.argsort(first_core, kind="stable")
    cluster_rank = np.empty(n, dtype=np.int64)
    cluster_rank[order] = np.arange(n)
    labels[core] = cluster_rank[comp[core]]
    # border points: the cluster (lowest rank) of any core neighbour
    border = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    for a, b in ((0, 1), (1, 0)):
        sel = core[pairs[:, a]] & ~core[pairs[:, b]]
        np.minimum.at(border, pairs[sel, b], labels[pairs[sel, a]])
    has = (~core) & (border != np.iinfo(np.int64).max)
    labels[has] = border[has]
    return labels
