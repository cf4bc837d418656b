"""
Normal equations of many stars, stored as blocks, and their solution.

In an all-star fit the normal matrix has one ``nf x nf`` block per star on
its diagonal (the star's own pixels) and one per coupled pair of stars off
it (the pixels they share); stars fall into *clusters* that no coupled
pair links, and the matrix is block-diagonal over clusters.  This module
turns the blocks into solutions:

* small clusters are assembled into stacked dense matrices, one stack per
  cluster size, and solved by the batched
  `psfkit._numerics.linalg.DampedSystems` (assembled and equilibrated once
  per iteration, for the step and the convergence test);
* the larger ones are assembled together into one sparse matrix, Jacobi
  equilibrated (unit diagonal, so that a flux of 1e6 next to a position
  does not matter), damped, factorised by SuperLU and solved: the cost
  grows with the number of stars and their couplings, not with the cube
  of a cluster's size;
* covariances are the exact inverse of each cluster's matrix up to
  ``EXACT_COVARIANCE`` stars (`psfkit._numerics.linalg.covariance`,
  singular directions reported), and beyond that the inverse of each
  star's neighbourhood (itself and the stars within two coupled steps):
  the marginal variance of a star depends on its neighbours' couplings
  and, much more weakly, on those further away.
"""

import numpy as np
from scipy import sparse
from scipy.sparse import linalg as splinalg

from ..._numerics import linalg
from ..._numerics.lm import TEST_RCOND

__all__ = []

#: clusters of up to this many stars are solved as stacked dense systems
DENSE_MAX = 32
#: the sizes of the dense stacks (a cluster is padded to the next one)
_STACK_SIZES = (1, 2, 4, 8, 12, 16, 20, 24, 28, 32)
#: the dense stacks are merged into one when (clusters) x (unknowns of the
#: largest)^3 stays below this (late iterations with a few small clusters)
_ONE_STACK_WORK = 3_000_000
#: clusters of up to this many stars get the exact inverse as covariance
EXACT_COVARIANCE = 64


def _pair_lookup(pair_keys, a, b, n):
    """Index of the pair (a, b) in the sorted keys, -1 if not coupled."""
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    key = lo * n + hi
    found = (a != b) & (a >= 0) & (b >= 0)
    if len(pair_keys) == 0:
        return np.full(key.shape, -1)
    pos = np.minimum(np.searchsorted(pair_keys, key), len(pair_keys) - 1)
    return np.where(found & (pair_keys[pos] == key), pos, -1)


class DensePlan:
    """
    Where the blocks of groups of stars go in stacked dense matrices.

    Parameters
    ----------
    members : ndarray of int, shape (G, k)
        The stars of each group; ``-1`` pads a group to ``k`` (a padding
        unknown gets a unit diagonal and a zero right-hand side).
    pairs : ndarray of int, shape (n_pairs, 2)
        Coupled pairs ``i < j``, sorted.
    n : int
        Number of stars.
    nf : int
        Unknowns per star.
    """

    def __init__(self, members, pairs, n, nf):
        g, k = members.shape
        self.members, self.nf = members, nf
        self.shape = (g, k * nf, k * nf)
        a, b = np.meshgrid(np.arange(nf), np.arange(nf), indexing="ij")
        a, b = a.ravel(), b.ravel()
        size = k * nf
        base = np.arange(g)[:, None] * size * size
        rank = np.arange(k)
        # diagonal blocks of every slot (padding slots too)
        rows = (rank[:, None] * nf + a[None, :])
        cols = (rank[:, None] * nf + b[None, :])
        self.diag_target = (base[:, :, None] + (rows * size + cols)[None]).ravel()
        self.pad = members < 0
        self.star = np.where(self.pad, 0, members)
        keys = pairs[:, 0] * n + pairs[:, 1] if len(pairs) else np.zeros(0, int)
        self.pair_source = np.zeros(0, dtype=np.int64)
        self.pair_target = self.pair_target_t = np.zeros(0, dtype=np.int64)
        self.flip = np.zeros(0, dtype=bool)
        if k > 1 and len(pairs):
            ri, rj = np.triu_indices(k, 1)
            where = _pair_lookup(keys, members[:, ri], members[:, rj], n)
            gi, ti = np.nonzero(where >= 0)
            self.pair_source = where[gi, ti]
            # the stored block has the smaller star's unknowns as rows
            self.flip = members[gi, ri[ti]] > members[gi, rj[ti]]
            r = (ri[ti] * nf)[:, None] + a[None, :]
            c = (rj[ti] * nf)[:, None] + b[None, :]
            gb = (gi * size * size)[:, None]
            self.pair_target = (gb + r * size + c).ravel()
            self.pair_target_t = (gb + c * size + r).ravel()

    def assemble(self, diag, blocks):
        """The stacked matrices ``(G, k nf, k nf)``."""
        nf = self.nf
        out = np.zeros(int(np.prod(self.shape)))
        d = diag[self.star]
        d[self.pad] = np.eye(nf)
        out[self.diag_target] = d.ravel()
        if len(self.pair_source):
            b = blocks[self.pair_source]
            b = np.where(self.flip[:, None, None], np.swapaxes(b, 1, 2), b)
            out[self.pair_target] = b.ravel()
            out[self.pair_target_t] = b.ravel()
        return out.reshape(self.shape)

    def gather(self, values):
        """Per-star rows ``(n, nf)`` as stacked vectors ``(G, k nf)``."""
        v = values[self.star]
        v[self.pad] = 0.0
        return v.reshape(self.shape[0], -1)

    def scatter(self, stacked, out):
        """Stacked vectors back into per-star rows of ``out``."""
        v = stacked.reshape(self.members.shape + (self.nf,))
        real = ~self.pad
        out[self.members[real]] = v[real]


def assemble_dense(members, diag, blocks, pairs, n):
    """Stacked dense normal matrices of groups of stars (see `DensePlan`)."""
    return DensePlan(members, pairs, n, diag.shape[1]).assemble(diag, blocks)


class ClusterSolver:
    """
    Damped solves of the block normal equations of a set of clusters.

    Parameters
    ----------
    label : ndarray of int, shape (n,)
        The cluster (0 .. C-1) of each star.
    pairs : ndarray of int, shape (n_pairs, 2)
        Coupled pairs ``i < j`` (within clusters), sorted.
    nf : int
        Unknowns per star.
    """

    def __init__(self, label, pairs, nf):
        self.n = len(label)
        self.nf = nf
        self.pairs = pairs
        n_clusters = int(label.max()) + 1 if len(label) else 0
        sizes = np.bincount(label, minlength=n_clusters)
        self.label = label
        order = np.argsort(label, kind="stable")
        starts = np.r_[0, np.cumsum(sizes)[:-1]]
        self.plans = []
        self._stacks = None
        slot = np.searchsorted(_STACK_SIZES, sizes)
        dense = (sizes > 0) & (sizes <= DENSE_MAX)
        if dense.any():
            # a few small clusters (late iterations) share one stack: one
            # solve is cheaper than several when the padding costs little
            top = int(slot[dense].max())
            unknowns = _STACK_SIZES[top] * nf
            if np.count_nonzero(dense) * unknowns ** 3 <= _ONE_STACK_WORK:
                slot = np.where(dense, top, slot)
        for s in np.unique(slot[dense]):
            k = _STACK_SIZES[s]
            ids = np.flatnonzero((slot == s) & (sizes > 0))
            take = starts[ids][:, None] + np.arange(k)
            real = np.arange(k)[None, :] < sizes[ids][:, None]
            members = np.where(real, order[np.minimum(take, len(order) - 1)], -1)
            self.plans.append(DensePlan(members, pairs, self.n, nf))
        big = sizes > DENSE_MAX
        self.big_stars = np.flatnonzero(big[label]) if len(label) else label
        self._sparse_structure(big)

    def _sparse_structure(self, big):
        """Positions of every block entry of the large clusters in CSC."""
        nf = self.nf
        stars = self.big_stars
        self.n_big = len(stars)
        if self.n_big == 0:
            return
        local = np.full(self.n, -1)
        local[stars] = np.arange(len(stars))
        in_big = (big[self.label[self.pairs[:, 0]]] if len(self.pairs)
                  else np.zeros(0, dtype=bool))
        self.big_pairs = np.flatnonzero(in_big)
        pi = local[self.pairs[self.big_pairs, 0]]
        pj = local[self.pairs[self.big_pairs, 1]]
        a, b = np.meshgrid(np.arange(nf), np.arange(nf), indexing="ij")
        a, b = a.ravel(), b.ravel()
        rows = np.concatenate([
            (local[stars] * nf)[:, None] + a[None, :],
            (pi * nf)[:, None] + a[None, :],
            (pj * nf)[:, None] + b[None, :]]).ravel()
        cols = np.concatenate([
            (local[stars] * nf)[:, None] + b[None, :],
            (pj * nf)[:, None] + b[None, :],
            (pi * nf)[:, None] + a[None, :]]).ravel()
        size = self.n_big * nf
        probe = sparse.csc_matrix((np.arange(1, rows.size + 1, dtype=float),
                                   (rows, cols)), shape=(size, size))
        probe.sort_indices()
        # entry e of the concatenated blocks lands at data position perm[e]
        perm = np.empty(rows.size, dtype=np.int64)
        perm[probe.data.astype(np.int64) - 1] = np.arange(rows.size)
        self._perm = perm
        self._indices, self._indptr = probe.indices, probe.indptr
        self._rows, self._cols = rows, cols
        diag_entries = np.flatnonzero(rows == cols)
        self._diag_entries = diag_entries
        self._diag_pos = perm[diag_entries]
        self._diag_unknown = rows[diag_entries]
        self._size = size

    # ------------------------------------------------------------------
    def solve(self, diag, blocks, grad, damp, *, exact=False):
        """
        Steps ``(A + diag(damp * diag(A))) d = g`` of every cluster.

        Parameters
        ----------
        diag : ndarray, shape (n, nf, nf)
        blocks : ndarray, shape (n_pairs, nf, nf)
        grad : ndarray, shape (n, nf)
        damp : ndarray, shape (n, nf)
            The damping of every unknown (Marquardt's, relative to the
            diagonal).
        exact : bool, optional
            For the test step of the convergence test: damped by at least
            `psfkit._numerics.lm.TEST_RCOND`, which leaves the directions
            the data hardly determine (two stars fitted at nearly one
            place) out of the test.

        Returns
        -------
        step : ndarray, shape (n, nf)
        """
        if exact:
            # the test's damping takes the hardly determined directions
            # out of the convergence test
            damp = np.maximum(damp, TEST_RCOND)
        step = np.zeros((self.n, self.nf))
        for plan, systems in zip(self.plans, self._dense(diag, blocks),
                                 strict=True):
            x, _ = systems.solve(plan.gather(grad), plan.gather(damp))
            plan.scatter(x, step)
        if self.n_big:
            step[self.big_stars] = self._sparse_solve(diag, blocks, grad, damp)
        return step

    def _dense(self, diag, blocks):
        """
        The stacked dense systems of the blocks ``diag`` and ``blocks``,
        assembled and equilibrated once for all the solves with them (the
        step and the convergence test of an iteration).  They are known by
        the arrays' identity: callers pass new arrays for new blocks (as
        ``AllStarProblem.normal`` does), never the same ones changed in
        place.
        """
        if (self._stacks is None or self._stacks[0] is not diag
                or self._stacks[1] is not blocks):
            self._stacks = (diag, blocks, [
                linalg.DampedSystems(plan.assemble(diag, blocks))
                for plan in self.plans])
        return self._stacks[2]

    def _sparse_solve(self, diag, blocks, grad, damp):
        nf = self.nf
        stars = self.big_stars
        bp = blocks[self.big_pairs]
        values = np.concatenate([diag[stars].reshape(len(stars), -1),
                                 bp.reshape(len(bp), -1),
                                 bp.reshape(len(bp), -1)]).ravel()
        d = np.zeros(self._size)
        d[self._diag_unknown] = values[self._diag_entries]
        used = d > 0
        s = np.where(used, 1.0 / np.sqrt(np.where(used, d, 1.0)), 0.0)
        scaled = values * s[self._rows] * s[self._cols]
        data = np.empty_like(scaled)
        data[self._perm] = scaled
        lam = damp[stars].ravel()
        data[self._diag_pos] = np.where(used[self._diag_unknown],
                                        1.0 + lam[self._diag_unknown], 1.0)
        matrix = sparse.csc_matrix((data, self._indices, self._indptr),
                                   shape=(self._size, self._size))
        rhs = grad[stars].ravel() * s
        y = _spd_solve(matrix, rhs)
        return (y * s).reshape(len(stars), nf)


def _spd_solve(matrix, rhs):
    """Solve an equilibrated, damped (positive definite) sparse system."""
    options = {"SymmetricMode": True}
    try:
        lu = splinalg.splu(matrix, permc_spec="MMD_AT_PLUS_A",
                           diag_pivot_thresh=0.0, options=options)
    except RuntimeError:
        # an exactly singular system despite the damping (duplicate stars
        # with no damping left): a tiny ridge restores the factorisation
        ridge = sparse.identity(matrix.shape[0], format="csc") * 1e-10
        lu = splinalg.splu(matrix + ridge, permc_spec="MMD_AT_PLUS_A")
    with np.errstate(all="ignore"):
        return lu.solve(rhs)


def _star_blocks(cov, und, k, nf):
    """Each member's own block of stacked covariances ``(G, k nf, k nf)``."""
    g = cov.shape[0]
    c = cov.reshape(g, k, nf, k, nf)
    idx = np.arange(k)
    blocks = np.swapaxes(c[:, idx, :, idx, :], 0, 1)  # (G, k, nf, nf)
    return blocks, und.reshape(g, k, nf)


def _row_entries(csr, rows):
    """Row number (in ``rows``), rank within the row and column of every
    stored entry of the rows ``rows`` of a CSR matrix."""
    starts = csr.indptr[rows]
    counts = csr.indptr[np.asarray(rows) + 1] - starts
    row = np.repeat(np.arange(len(rows)), counts)
    rank = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts,
                                               counts)
    return row, rank, csr.indices[starts[row] + rank], counts


def neighbourhoods(stars, pairs, n, *, cap=40):
    """
    Each star of ``stars`` with the stars within two coupled steps of it.

    Returns
    -------
    hoods : ndarray of int, shape (len(stars), cap)
        Row ``k``: star ``stars[k]`` first, then its direct neighbours,
        then theirs (ascending within each), padded with -1.
    lengths : ndarray of int, shape (len(stars),)
        The number of stars in each neighbourhood (at most ``cap``).
    """
    stars = np.asarray(stars)
    one = sparse.coo_matrix((np.ones(2 * len(pairs), dtype=np.int32),
                             (np.r_[pairs[:, 0], pairs[:, 1]],
                              np.r_[pairs[:, 1], pairs[:, 0]])),
                            shape=(n, n)).tocsr()
    one.data[:] = 1
    one.sort_indices()
    near = (one + sparse.identity(n, dtype=np.int32, format="csr")).tocsr()
    # two steps away: neither the star nor one of its direct neighbours
    two = (near @ one).tocsr()
    two.data[:] = 1
    two = (two - two.multiply(near)).tocsr()
    two.eliminate_zeros()
    two.sort_indices()
    hoods = np.full((len(stars), cap), -1, dtype=np.int64)
    hoods[:, 0] = stars
    r1, k1, c1, n1 = _row_entries(one, stars)
    r2, k2, c2, n2 = _row_entries(two, stars)
    for row, pos, col in ((r1, 1 + k1, c1), (r2, 1 + n1[r2] + k2, c2)):
        keep = pos < cap
        hoods[row[keep], pos[keep]] = col[keep]
    return hoods, np.minimum(1 + n1 + n2, cap)


def marginal_covariance(label, pairs, diag, blocks):
    """
    The covariance of every star's unknowns, marginal over its neighbours.

    Parameters
    ----------
    label : ndarray of int, shape (n,)
        The cluster of each star.
    pairs : ndarray of int, shape (n_pairs, 2)
        Coupled pairs ``i < j``, sorted.
    diag, blocks : ndarray
        The stars' own blocks ``(n, nf, nf)`` and the pairs' blocks.

    Returns
    -------
    cov : ndarray, shape (n, nf, nf)
        Each star's block of the inverse normal matrix (exact for clusters
        of up to ``EXACT_COVARIANCE`` stars, from the star's neighbourhood
        beyond).
    undetermined : ndarray of bool, shape (n, nf)
        Unknowns along a singular direction (see
        `psfkit._numerics.linalg.covariance`).
    """
    n, nf = diag.shape[:2]
    cov = np.zeros((n, nf, nf))
    und = np.zeros((n, nf), dtype=bool)
    if n == 0:
        return cov, und
    sizes = np.bincount(label)
    order = np.argsort(label, kind="stable")
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    for k in np.unique(sizes[(sizes > 0) & (sizes <= EXACT_COVARIANCE)]):
        ids = np.flatnonzero(sizes == k)
        members = order[starts[ids][:, None] + np.arange(k)]
        c, u = linalg.covariance(assemble_dense(members, diag, blocks, pairs, n))
        cov[members], und[members] = _star_blocks(c, u, k, nf)
    big = np.flatnonzero(sizes[label] > EXACT_COVARIANCE)
    if big.size:
        hoods, lengths = neighbourhoods(big, pairs, n)
        for h in np.unique(lengths):
            sel = np.flatnonzero(lengths == h)
            members = hoods[sel, :h]
            c, u = linalg.covariance(assemble_dense(members, diag, blocks,
                                                    pairs, n))
            b, bu = _star_blocks(c, u, h, nf)
            cov[big[sel]], und[big[sel]] = b[:, 0], bu[:, 0]
    return cov, und


def block_products(a, b, *, symmetric=False):
    """
    ``out[p, i, j] = sum_m a[i, p, m] b[j, p, m]``: the blocks ``A^T B``
    of stacked derivatives laid out parameter by parameter (one product
    per pair of parameters over contiguous pixels: faster than a batched
    matrix product of small matrices).
    """
    nf = a.shape[0]
    out = np.empty((a.shape[1], nf, b.shape[0]))
    for i in range(nf):
        for j in range(i if symmetric else 0, b.shape[0]):
            out[:, i, j] = np.einsum("pm,pm->p", a[i], b[j])
            if symmetric:
                out[:, j, i] = out[:, i, j]
    return out
