"""
The all-star fit: every star of an image fitted together, at any density.

The problem is the one DAOPHOT's ALLSTAR (Stetson 1987, 1994) and
crowdsource (Schlafly et al. 2018) solve: the sum of all the stars' models
fitted to all the pixels that any star's fit box covers (the geometry of
`psfkit.photometry.fitting._geometry`).  There are no groups and no group
size limit; a star sees every neighbour whose model reaches its pixels.

Each Levenberg-Marquardt iteration (the shared loop of
`psfkit._numerics.lm`) costs about as much as evaluating every star's model
once:

1. the residual image ``data - sum of models`` is kept up to date; each
   star's gradient and its own block of the normal matrix come from its
   model box (a gather and a batched product);
2. for each pair of stars coupled more than
   `~psfkit.photometry.fitting._couplings.MIN_COUPLING` (see that module),
   the off-diagonal block comes from the pixels they share, through
   precomputed index maps;
3. the block normal equations of every *cluster* of coupled stars are
   solved (`psfkit.photometry.fitting._block_system`): stacked dense
   solves for small clusters, one equilibrated sparse factorisation for
   the others, so the cost is about linear in the stars and pixels;
4. the trial models update the residual image with one
   `numpy.bincount`; each cluster accepts or rejects its step on its own
   chi-square and carries its own damping.

Pairs coupled less than the threshold stay out of the matrix but not out
of the model: they see each other through the residual image, so the fit
converges to the exact joint minimum, only a little more slowly.  Clusters
that converge leave the working set; a final check on the residual image
reopens any cluster that a neighbour's later moves pushed off its minimum.
Stars marked *settled* (a converged fit whose neighbourhood has not
changed since) start outside the working set: refits after new detections
touch only the clusters that changed.

Stars marked *removable* (residual detections of iterative photometry) are
fitted first, with the others held, and are removed during the fit, as
ALLSTAR removes them: when their flux falls to zero or below, or when they
come closer than a minimum separation to a brighter star.  Such detections
are mostly noise in the wings of bright stars; left in, they slide for a
hundred iterations towards the star they duplicate, or pair up with
opposite fluxes, and hold their neighbours' clusters back with them.

Uncertainties are the marginal ones, from the inverse of each cluster's
normal matrix (or of each star's neighbourhood in very large clusters), so
blended stars get the larger errors that their correlation implies.
"""

import numpy as np

from ..._numerics.lm import levenberg_marquardt
from ..models import base as _models
from ._block_system import ClusterSolver, block_products
from ._couplings import (
    close_pairs,
    clusters,
    coupled_pairs,
    overlap_matrix,
    split_clusters,
)
from ._geometry import grid_xy, offset_maps, offset_table

__all__ = []

# a cluster that stopped is fitted again if the decrease still available
# exceeds this many times the loop's tolerance
_REOPEN = 4.0
#: pair blocks are recomputed once a star moved more than this (pixels,
#: or the same in its other shape parameters) since they were computed
_REUSE_SHIFT = 0.005
#: the largest system of the LM loop (larger clusters are cut in pieces)
SYSTEM_MAX = 24
#: LM iterations per round before the coupled pairs are found again
ROUND_ITERATIONS = 15
# a trial evaluates every star of the problem, the idle ones too, when at
# least this fraction of them steps
_WHOLE_TRIAL = 0.85
#: the largest table of offset maps kept whole (entries; `offset_maps`)
_ALL_MAPS = 2**22


def distinct_pairs(group, item, scratch):
    """
    Each distinct ``(group, item)`` pair once, without sorting.

    Every entry writes its index into the slot of its item, and the
    entries that read back an index of their own group take it as their
    pair's representative; the others (an item shared by several groups)
    do the same among themselves, once per group sharing an item.  For
    clusters of stars and their pixels (a pixel shared by a few clusters
    at most) this is a few passes over the entries, several times faster
    than sorting them.

    Parameters
    ----------
    group, item : ndarray of int, shape (n,)
        The pairs; ``0 <= item < len(scratch)``.
    scratch : ndarray of int64
        Work space with a slot for every item (overwritten).

    Returns
    -------
    first : ndarray of int
        One entry of each distinct pair, in increasing order.
    inverse : ndarray of int, shape (n,)
        The rank in ``first`` of each entry's pair.

    Examples
    --------
    >>> import numpy as np
    >>> group = np.array([0, 0, 1, 0, 1])
    >>> item = np.array([3, 5, 3, 3, 3])
    >>> first, inverse = distinct_pairs(group, item, np.empty(6, dtype=np.int64))
    >>> len(first), bool(inverse[0] == inverse[3]), bool(inverse[2] == inverse[4])
    (3, True, True)
    >>> sorted(zip(group[first].tolist(), item[first].tolist()))
    [(0, 3), (0, 5), (1, 3)]
    """
    n = len(group)
    canon = np.empty(n, dtype=np.int64)
    todo = np.arange(n)
    while todo.size:
        where = item[todo]
        scratch[where] = todo
        rep = scratch[where]
        same = group[rep] == group[todo]
        canon[todo[same]] = rep[same]
        todo = todo[~same]
    first = np.flatnonzero(canon == np.arange(n))
    rank = np.empty(n, dtype=np.int64)
    rank[first] = np.arange(len(first))
    return first, rank[canon]


def evaluate(setup, cols, rows, theta, *, jacobian=True):
    """
    Model values ``(n, M)`` of stars on their model boxes, and (with
    ``jacobian``) the derivatives ``(n, M, nf)`` by the free parameters.
    """
    model = setup.model
    with np.errstate(all="ignore"):
        if (getattr(model, "grid_separable", False)
                and hasattr(model, "_grid_free")):
            return model._grid_free(cols[:, None, :], rows[:, None, :], theta,
                                    setup.free if jacobian else None)
        if getattr(model, "grid_separable", False):
            out = model.evaluate_grid(cols[:, None, :], rows[:, None, :], theta,
                                      jacobian=jacobian)
        else:
            x, y = grid_xy(cols, rows)
            out = _models.evaluate_stack(model, x, y, theta, jacobian=jacobian)
    if not jacobian:
        return out, None
    return out[0], out[1][..., setup.free]


class AllStarProblem:
    """
    The clusters of an all-star fit as the systems of the shared LM loop.

    Parameters
    ----------
    setup : FitSetup
    geom : StarGeometry
        Of the stars being fitted (finite models, enough pixels).
    data : ndarray, 2-D
        Background-subtracted image (masked pixels 0).
    theta : ndarray, shape (n, n_params)
        Starting parameters, inside the bounds; updated in place.
    lower, upper : ndarray, shape (n, n_params)
    table : ndarray
        The model's coupling table (`coupling_table`).
    min_coupling : float
        Pairs coupled more enter the normal matrix together.
    """

    def __init__(self, setup, geom, data, theta, lower, upper, table,
                 min_coupling):
        self.setup = setup
        self.geom = geom
        self.free = setup.free
        self.nf = len(setup.free)
        self.theta = theta
        self.lower, self.upper = lower, upper
        self.table, self.min_coupling = table, min_coupling
        # the table of every offset's map, unless the model boxes are so
        # large that only the maps of the pairs' offsets are made
        m = geom.model_shape[0] * geom.model_shape[1]
        self.maps = (offset_table(tuple(geom.model_shape))
                     if 4 * m * m <= _ALL_MAPS else None)
        self.data_flat = np.asarray(data, dtype=float).ravel()
        self.values, jac = evaluate(setup, geom.cols, geom.rows, theta)
        # the weighted derivatives, one parameter after the other (each a
        # contiguous image of all the boxes, for fast products over the
        # pixels), flattened with a last column of zeros that stands for
        # pixels outside a box (see _pair_plan)
        n, m = geom.flat.shape
        self._jwt_flat = np.zeros((self.nf, n * m + 1))
        self.jwt = self._jwt_flat[:, :-1].reshape(self.nf, n, m)
        self.jwt[...] = np.moveaxis(jac, -1, 0) * geom.weight[None]
        self.resid = self.data_flat - self._accumulate(self.values)
        self._flat0 = np.maximum(geom.flat, 0)
        # the stars whose model boxes reach outside the image
        self._edge = (geom.flat < 0).any(axis=1)
        # one slot per image pixel, for `distinct_pairs`
        self._scratch = None
        #: stars removed during the fit (see `remove`)
        self.removed = np.zeros(n, dtype=bool)
        self._overlaps = None
        # the pairs the last shifting `pair_up` cut (as i * n + j)
        self._cut = None

    @property
    def overlaps(self):
        """The stars whose model boxes overlap (`overlap_matrix`, cached)."""
        if self._overlaps is None:
            self._overlaps = overlap_matrix(self.geom)
        return self._overlaps

    def remove(self, stars):
        """
        Take the stars ``stars`` (bool mask) out of the fit for good: their
        models leave the residual image, they enter no system again, and
        the pixels that only their fit boxes covered leave the fit (as if
        they had never been sources).
        """
        gone = np.flatnonzero(stars & ~self.removed)
        if not gone.size:
            return
        geom = self.geom
        flat = geom.flat[gone]
        inside = flat >= 0
        self.resid += np.bincount(flat[inside],
                                  weights=self.values[gone][inside],
                                  minlength=self.resid.size)
        self.values[gone] = 0.0
        self.theta[gone, self.setup.flux_col] = 0.0
        self.jwt[:, gone] = 0.0
        self.removed[gone] = True
        # the fitted pixels: those of the fit boxes of the stars left (the
        # geometry is this fit's own: its weights change in place)
        own = geom.flat[:, geom.own]
        covered = (own >= 0) & (geom.weight[:, geom.own] > 0)
        covered[self.removed] = False
        still = np.zeros(self.resid.size, dtype=bool)
        still[own[covered]] = True
        lost = np.zeros(self.resid.size, dtype=bool)
        lost[flat[inside]] = True
        lost &= ~still & (geom.pixel_weight > 0)
        if lost.any():
            geom.pixel_weight[lost] = 0.0
            drop = (geom.flat >= 0) & lost[np.maximum(geom.flat, 0)]
            geom.weight[drop] = 0.0
            self.jwt[:, drop] = 0.0

    def pair_up(self, active, *, split=True, shift=False):
        """
        Find the coupled pairs at the current positions, and the clusters
        of the ``active`` stars (the others are held where they are).

        With ``split``, clusters of more than ``SYSTEM_MAX`` stars are cut
        into pieces along their weakest couplings: each piece is a system
        of the LM loop with its own damping, so that one star in trouble
        does not hold back hundreds, and the pieces of a crowded region
        meet through the residual image.  The uncertainties are computed
        on the whole clusters (``split=False``).  With ``shift`` the pairs
        cut the last time (with ``shift``) are joined first, so that the
        cuts move between the rounds of a fit: stars at the edge of a
        piece in one round sit inside one in the next, and the errors
        left at the cuts do not linger.
        """
        geom, setup = self.geom, self.setup
        # only pairs with an active star matter to the fit
        near = _neighbours(self, active) if split else active
        sub = np.flatnonzero(near)
        pairs, self.offsets, strength = coupled_pairs(
            self.theta[sub, setup.x_col], self.theta[sub, setup.y_col],
            geom.cx[sub], geom.cy[sub], self.table, geom.model_shape,
            self.min_coupling)
        self.pairs = sub[pairs]
        both = active[self.pairs[:, 0]] & active[self.pairs[:, 1]]
        stars = np.flatnonzero(active)
        local = np.full(len(active), -1)
        local[stars] = np.arange(len(stars))
        sub_label, self.sizes = clusters(len(stars), local[self.pairs[both]])
        self.label = np.full(len(active), -1)
        self.label[stars] = sub_label
        if split:
            whole = self.label
            key = self.pairs[:, 0] * len(active) + self.pairs[:, 1]
            if shift and self._cut is not None:
                # couplings are at most 1: these pairs are joined first
                strength = strength + 2.0 * np.isin(key, self._cut)
            self.label, self.sizes = split_clusters(whole, self.pairs,
                                                    strength, SYSTEM_MAX)
            if shift:
                i, j = self.pairs[:, 0], self.pairs[:, 1]
                cut = ((whole[i] >= 0) & (whole[i] == whole[j])
                       & (self.label[i] != self.label[j]))
                self._cut = key[cut]
        self._cluster_pixels()
        # pair blocks computed so far, and the parameters they were for
        nf, npar = self.nf, self.theta.shape[1]
        self._cache = np.zeros((len(self.pairs), nf, nf))
        self._ref = np.full((len(self.pairs), 2, npar), np.nan)

    def start(self, systems):
        """Fit the clusters ``systems`` next (the others stay as they are)."""
        self.systems = np.asarray(systems, dtype=np.int64)
        self.n_systems = len(self.systems)
        self.work = self.systems
        self._set_working()

    # ---------------------------------------------------------- helpers
    def _accumulate(self, values, idx=None):
        flat = self.geom.flat if idx is None else self.geom.flat[idx]
        keep = flat >= 0
        return np.bincount(flat[keep], weights=values[keep],
                           minlength=self.data_flat.size)

    def _cluster_pixels(self):
        """
        Every (cluster, pixel) pair once: the pixels of each cluster, and
        where each clustered star's support pixels fall among them.
        """
        geom = self.geom
        # the rows of the clustered stars only (a later round fits a few)
        rows = np.flatnonzero(self.label >= 0)
        every = len(rows) == len(self.label)
        use = (geom.weight if every else geom.weight[rows]) > 0
        cluster = np.broadcast_to(self.label[rows, None], use.shape)[use]
        flat = (geom.flat if every else geom.flat[rows])[use]
        if self._scratch is None:
            self._scratch = np.empty(self.data_flat.size, dtype=np.int64)
        first, inverse = distinct_pairs(cluster, flat, self._scratch)
        # entry_of[row_of[star]]: where each support pixel of a clustered
        # star falls among its cluster's pixels (-1: not a fitted pixel)
        self.row_of = np.full(len(self.label), -1)
        self.row_of[rows] = np.arange(len(rows))
        self.entry_of = np.full(use.shape, -1)
        self.entry_of[use] = inverse
        self.pix_cluster, self.pix_flat = cluster[first], flat[first]
        self.pix_weight = geom.pixel_weight.take(self.pix_flat)
        n_clusters = len(self.sizes)
        self.n_pix_cluster = np.bincount(self.pix_cluster, minlength=n_clusters)
        self.unknowns_cluster = self.sizes * self.nf
        dw = self.data_flat.take(self.pix_flat) * self.pix_weight
        self.floor_cluster = 1e-24 * np.bincount(self.pix_cluster, dw * dw,
                                                 minlength=n_clusters)

    def _set_working(self):
        """
        Lay out the arrays of the working clusters.

        When clusters finish, the loop drops them (`keep`); the arrays are
        laid out again only once a quarter of the stars are done, and the
        finished clusters stay in them meanwhile, idle (no step, no
        evaluation): layouts cost about an iteration.
        """
        clusters = self.work
        self._rank = np.arange(len(clusters))
        self._idle = np.zeros(len(clusters), dtype=bool)
        flag = np.zeros(len(self.unknowns_cluster) + 1, dtype=bool)
        flag[clusters] = True  # (label -1 reads the last, False, entry)
        in_work = flag[self.label]
        self.stars = np.flatnonzero(in_work)
        local = np.full(len(self.label), -1)
        local[self.stars] = np.arange(len(self.stars))
        # working clusters are numbered 0 .. len(work)-1 in the loop's order
        rank = np.full(len(flag), -1)
        rank[clusters] = np.arange(len(clusters))
        self.wlabel = rank[self.label[self.stars]]
        # the pairs inside a system (pairs across pieces of a cut cluster
        # meet through the residual image)
        i, j = self.pairs[:, 0], self.pairs[:, 1]
        both = in_work[i] & (self.label[i] == self.label[j])
        self.wpairs_idx = np.flatnonzero(both)
        self.wpairs = local[self.pairs[self.wpairs_idx]]
        self._pair_plan(self.wpairs_idx)
        self.solver = ClusterSolver(self.wlabel, self.wpairs, self.nf)
        entry = flag[self.pix_cluster]
        kept = np.flatnonzero(entry)
        self.wpix_flat = self.pix_flat.take(kept)
        self.wpix_weight = self.pix_weight.take(kept)
        self.wpix_cluster = rank.take(self.pix_cluster.take(kept))
        # each working star's support pixels among the working entries; a
        # pixel that is not one (not fitted) goes to a last, spare entry,
        # so that sums over the entries need no mask
        wmap = np.empty(len(entry) + 1, dtype=np.int64)
        np.cumsum(entry, out=wmap[:-1])
        wmap[:-1] -= 1
        wmap[-1] = len(self.wpix_flat)
        # (an entry -1 reads the last slot of ``wmap``: the spare entry)
        self.wentry_of = wmap.take(self.entry_of[self.row_of[self.stars]])
        self._step = None

    def _pair_plan(self, idx):
        """Flat gather indices of the pixels the pairs ``idx`` share."""
        m = self.geom.box_size
        i, j = self.pairs[idx, 0], self.pairs[idx, 1]
        offsets = self.offsets[idx]
        if self.maps is not None:
            maps = self.maps[offsets]
        else:
            rows, back = np.unique(offsets, return_inverse=True)
            maps = offset_maps(self.geom.model_shape, rows)[back]
        # the last row of the flattened derivatives is a row of zeros
        self._pair_i = i
        self._pair_src = np.where(maps >= 0, j[:, None] * m + maps,
                                  len(self.theta) * m)

    def _cluster_sum(self, per_star):
        """Sums over the stars of each working cluster (loop order)."""
        total = np.bincount(self.wlabel, per_star,
                            minlength=len(self._idle))
        return total[self._rank]

    def _chi2(self, resid):
        rw = resid.take(self.wpix_flat) * self.wpix_weight
        total = np.bincount(self.wpix_cluster, rw * rw,
                            minlength=len(self._idle))
        return total[self._rank]

    def _laid_out(self, per_cluster):
        """Loop-order values of the working clusters, in the layout's order."""
        out = np.zeros(len(self._idle), dtype=np.asarray(per_cluster).dtype)
        out[self._rank] = per_cluster
        return out

    def pair_blocks(self):
        """
        Normal-matrix blocks of the working coupled pairs.

        A block depends on the two stars' positions and other shape
        parameters, and on their fluxes only through a scale (every
        derivative but the flux one is proportional to the flux).  Blocks
        of pairs whose stars moved less than ``_REUSE_SHIFT`` pixels since
        they were computed are rescaled instead of recomputed: late
        iterations, where stars barely move, then cost little.
        """
        idx = self.wpairs_idx
        setup = self.setup
        i, j = self.pairs[idx, 0], self.pairs[idx, 1]
        shape = [c for c in range(self.theta.shape[1]) if c != setup.flux_col]
        ref_i, ref_j = self._ref[idx, 0], self._ref[idx, 1]
        now_i, now_j = self.theta[i], self.theta[j]
        moved = np.zeros(len(idx), dtype=bool)
        fcol = setup.flux_col
        for now, ref in ((now_i, ref_i), (now_j, ref_j)):
            diff = np.abs(now[:, shape] - ref[:, shape])
            moved |= ~np.all(diff <= _REUSE_SHIFT, axis=1)
            # a flux that changed much (or through zero) is not rescaled
            with np.errstate(invalid="ignore", divide="ignore"):
                ratio = now[:, fcol] / ref[:, fcol]
            moved |= ~(np.abs(ratio - 1.0) <= 0.25)
        fresh = np.flatnonzero(moved)
        if fresh.size:
            self._cache[idx[fresh]] = self._compute_blocks(fresh)
            self._ref[idx[fresh], 0] = now_i[fresh]
            self._ref[idx[fresh], 1] = now_j[fresh]
        # rescale by the flux ratios (the flux derivative does not scale)
        out = self._cache[idx].copy()
        is_flux = self.free == setup.flux_col
        with np.errstate(invalid="ignore", divide="ignore"):
            si = np.where(is_flux, 1.0, (now_i[:, setup.flux_col]
                                         / self._ref[idx, 0, setup.flux_col])[:, None])
            sj = np.where(is_flux, 1.0, (now_j[:, setup.flux_col]
                                         / self._ref[idx, 1, setup.flux_col])[:, None])
        out *= si[:, :, None] * sj[:, None, :]
        return out

    def _compute_blocks(self, sel):
        """Blocks of the working pairs ``sel`` from the current derivatives."""
        nf = self.nf
        out = np.empty((len(sel), nf, nf))
        flat = self._jwt_flat
        m = self.geom.box_size
        step = max(1, 1_000_000 // max(m * nf, 1))
        for s in range(0, len(sel), step):
            part = sel[s:s + step]
            # the second star's weighted derivatives on the first one's box
            other = np.take(flat, self._pair_src[part], axis=1)
            out[s:s + step] = block_products(self.jwt[:, self._pair_i[part]],
                                        other)
        return out

    def gradient(self, stars, jwt=None):
        """Gradients ``J^T W r`` of ``stars`` from the residual image."""
        # (pixels outside the image have zero weight: they read pixel 0)
        if self._all(stars):
            rw = self.resid.take(self._flat0)
            rw *= self.geom.weight
        else:
            rw = self.resid.take(self._flat0[stars])
            rw *= self.geom.weight[stars]
        if jwt is None:
            jwt = self._working_jwt(stars)
        return np.einsum("fnm,nm->nf", jwt, rw)

    def _all(self, stars):
        """Whether the sorted star indices ``stars`` are every star."""
        n = len(self.theta)
        return len(stars) == n and (n == 0 or stars[-1] == n - 1)

    def _working_jwt(self, stars):
        """The weighted derivatives of ``stars`` (no copy for all stars)."""
        return self.jwt if self._all(stars) else self.jwt[:, stars]

    # ------------------------------------------------- the loop interface
    def normal(self, *, hold_bounds=True):
        """
        The normal equations of the working clusters; with
        ``hold_bounds=False`` (for the covariances) an unknown on a bound
        keeps its row and column: its uncertainty is that of its
        curvature, not zero.
        """
        stars = self.stars
        jwt = self._working_jwt(stars)
        grad = self.gradient(stars, jwt)
        diag = block_products(jwt, jwt, symmetric=True)
        blocks = self.pair_blocks()
        self._diag, self._blocks, self._grad = self._hold(
            self.free, grad, diag, blocks, bounds=hold_bounds)

    def _hold(self, cols, grad, diag, blocks, *, bounds=True):
        """
        Normal equations of the parameters ``cols`` with the unknowns on a
        bound and pushed against it (with ``bounds``), and those of
        finished clusters still in the layout, held out (their rows and
        columns zeroed).
        """
        stars = self.stars
        frozen = np.zeros(grad.shape, dtype=bool)
        if bounds:
            u = self.theta[stars][:, cols]
            lo = self.lower[stars][:, cols]
            hi = self.upper[stars][:, cols]
            frozen = ((u <= lo) & (grad < 0)) | ((u >= hi) & (grad > 0))
        frozen |= self._idle[self.wlabel][:, None]
        if frozen.any():
            keep = (~frozen).astype(float)
            grad = grad * keep
            diag = diag * keep[:, :, None] * keep[:, None, :]
            if len(blocks):
                ki, kj = keep[self.wpairs[:, 0]], keep[self.wpairs[:, 1]]
                blocks = blocks * ki[:, :, None] * kj[:, None, :]
        return diag, blocks, grad

    def prefit_fluxes(self):
        """
        Solve for the fluxes of the working stars with their positions held.

        The fluxes enter the model linearly, so one solve gives each
        cluster its best fluxes; starting the full fit from them avoids the
        rejected steps that initial fluxes measured in apertures (which
        hold the neighbours' light in a crowded field) cause.
        """
        if self.setup.flux_col not in self.free:
            return
        f = int(np.flatnonzero(self.free == self.setup.flux_col)[0])
        # the normal equations of the fluxes alone (one entry of each block)
        stars = self.stars
        jwt = self._working_jwt(stars)[f:f + 1]
        grad = self.gradient(stars, jwt)
        diag = np.einsum("nm,nm->n", jwt[0], jwt[0])[:, None, None]
        other = np.take(self._jwt_flat[f], self._pair_src)
        blocks = np.einsum("pm,pm->p", self.jwt[f].take(self._pair_i, axis=0),
                           other)[:, None, None]
        diag, blocks, grad = self._hold(self.free[f:f + 1], grad, diag, blocks)
        solver = ClusterSolver(self.wlabel, self.wpairs, 1)
        flux = solver.solve(diag, blocks, grad,
                            np.full((len(stars), 1), 1e-12))
        self._step = np.zeros((len(stars), self.nf))
        self._step[:, f] = flux[:, 0]
        chi2 = self.chi2()
        self.accept(self.trial() <= chi2)

    def chi2(self):
        return self._chi2(self.resid)

    def dof(self):
        return self.n_pix_cluster[self.work] - self.unknowns_cluster[self.work]

    def floor(self):
        return self.floor_cluster[self.work]

    def unknowns(self):
        return self.unknowns_cluster[self.work]

    def solve(self, lam, store=True):
        lam = self._laid_out(lam)
        damp = np.repeat(lam[self.wlabel][:, None], self.nf, axis=1)
        step = self.solver.solve(self._diag, self._blocks, self._grad, damp,
                                 exact=not store)
        if store:
            self._step = step
        d = np.diagonal(self._diag, axis1=1, axis2=2)
        return (self._cluster_sum(np.sum(step * self._grad, axis=1)),
                self._cluster_sum(np.sum(d * step * step, axis=1)))

    def trial(self, mask=None):
        # each cluster's trial chi-square changes only its own models: the
        # neighbours' simultaneous steps must not decide its acceptance
        busy = ~self._idle if mask is None else self._laid_out(mask)
        inside = busy[self.wlabel]
        if (mask is None and self._all(self.stars)
                and np.count_nonzero(inside) >= _WHOLE_TRIAL * len(inside)):
            # nearly every star of the problem steps (the first iterations):
            # the idle ones are evaluated too, at their parameters (their
            # steps are zero), so that whole arrays serve, not gathers
            sel = np.arange(len(self.stars))
        else:
            sel = np.flatnonzero(inside)
        stars = self.stars[sel]
        every = self._all(stars)
        theta_t = self.theta[stars]
        theta_t[:, self.free] += self._step[sel]
        np.clip(theta_t, self.lower[stars], self.upper[stars], out=theta_t)
        geom = self.geom
        values_t, jac_t = evaluate(
            self.setup, geom.cols if every else geom.cols[stars],
            geom.rows if every else geom.rows[stars], theta_t)
        delta = values_t - (self.values if every else self.values[stars])
        n_entries = len(self.wpix_flat)
        entry = (self.wentry_of if len(sel) == len(self.stars)
                 else self.wentry_of[sel])
        change = np.bincount(entry.ravel(), weights=delta.ravel(),
                             minlength=n_entries + 1)[:n_entries]
        rw = (self.resid.take(self.wpix_flat) - change) * self.wpix_weight
        self._trial = (sel, theta_t, values_t, jac_t, delta)
        total = np.bincount(self.wpix_cluster, rw * rw,
                            minlength=len(self._idle))
        return total[self._rank]

    def accept(self, ok):
        sel, theta_t, values_t, jac_t, delta = self._trial
        self._trial = None
        good = self._laid_out(ok)[self.wlabel[sel]]
        if not good.any():
            return
        every = good.all()
        if self._all(self.stars[sel]):
            self._accept_whole(None if every else good, theta_t, values_t,
                               jac_t, delta)
            return
        idx = self.stars[sel if every else sel[good]]
        if not every:
            delta, theta_t, values_t = delta[good], theta_t[good], values_t[good]
        self._subtract(idx, delta)
        self.theta[idx] = theta_t
        self.values[idx] = values_t
        # one derivative at a time: a row scatter of a 2-D array is several
        # times faster than a scatter along the middle axis of a 3-D one
        weight = self.geom.weight[idx]
        for k in range(self.nf):
            part = jac_t[..., k] if every else jac_t[good, :, k]
            self.jwt[k, idx] = part * weight

    def _accept_whole(self, good, theta_t, values_t, jac_t, delta):
        """
        `accept` when every star of the problem tried a step (``good``:
        those that took it, `None` for all): the rejected stars' rows are
        restored in the trial's arrays, which then replace the state whole,
        with no gathers or scatters of the boxes.
        """
        if good is not None:
            bad = ~good
            theta_t[bad] = self.theta[bad]
            values_t[bad] = self.values[bad]
            delta[bad] = 0.0
        self._subtract(None, delta)
        self.theta[:] = theta_t
        self.values = values_t
        where = True if good is None else good[:, None]
        for k in range(self.nf):
            np.multiply(jac_t[..., k], self.geom.weight, out=self.jwt[k],
                        where=where)

    def _subtract(self, idx, delta):
        """
        Subtract the model changes ``delta`` of the stars ``idx`` (`None`:
        every star) from the residual image.

        Boxes overlap, so this is an unbuffered scatter, on flat arrays
        (``ufunc.at``'s fast path is one-dimensional); pixels off the image
        read pixel 0 and subtract nothing.
        """
        edge = np.flatnonzero(self._edge if idx is None else self._edge[idx])
        if edge.size:
            flat = self.geom.flat[edge if idx is None else idx[edge]]
            delta[edge] = np.where(flat >= 0, delta[edge], 0.0)
        flat0 = self._flat0 if idx is None else self._flat0[idx]
        np.subtract.at(self.resid, flat0.ravel(), delta.ravel())

    def double_step(self):
        self._step = 2.0 * self._step

    def keep(self, mask):
        self.work = self.work[mask]
        rank = self._rank[mask]
        idle = np.ones(len(self._idle), dtype=bool)
        idle[rank] = False
        busy_stars = np.count_nonzero(~idle[self.wlabel])
        if busy_stars > 0.75 * len(self.stars):
            self._rank, self._idle = rank, idle
            if self._step is not None:
                self._step[idle[self.wlabel]] = 0.0
            return
        step, stars = self._step, self.stars
        self._set_working()
        if step is not None:
            # the step of the clusters still working is tried next
            self._step = step[np.isin(stars, self.stars, assume_unique=True)]


def _to_remove(problem, removable, min_separation, min_snr=None):
    """
    The removable stars to take out now: those fitted to no flux, those
    closer than ``min_separation`` to a brighter star (its duplicates), and
    (with ``min_snr``, weights that are inverse errors) those whose flux
    is below ``min_snr`` times its error with the neighbours held (the
    smallest the error can be: the rule never removes a source that the
    marginal error would keep).
    """
    setup = problem.setup
    alive = ~problem.removed
    flux = problem.theta[:, setup.flux_col]
    gone = removable & alive & ~(flux > 0)
    if min_snr and setup.flux_col in problem.free:
        f = int(np.flatnonzero(problem.free == setup.flux_col)[0])
        jw = problem.jwt[f]
        snr = flux * np.sqrt(np.einsum("nm,nm->n", jw, jw))
        gone |= removable & alive & ~(snr >= min_snr)
    if min_separation:
        xy = problem.theta[:, [setup.x_col, setup.y_col]]
        a, b = close_pairs(xy, min_separation, alive & ~gone).T
        fainter = np.where(flux[a] < flux[b], a, b)
        gone[fainter[removable[fainter]]] = True
    return gone


def run(problem, todo, *, maxiters, tol, progress=None, removable=None,
        min_separation=None, min_snr=None):
    """
    Fit the stars ``todo`` until every star of the image is at its minimum.

    The fit goes in rounds.  Each round finds the coupled pairs at the
    current positions, forms clusters of the *active* stars only (the
    others are held where they are, in the residual image) and runs the LM
    loop on them, for at most ``ROUND_ITERATIONS`` iterations.  After a
    round the clusters of the active stars and of their neighbours are
    tested on the residual image, with the pairs found again: those off
    their minimum (moved by a neighbour after they stopped, newly coupled)
    are fitted in the next round.  A refit after new detections thus
    touches the stars near the change and those their fits disturb, not
    every star of a crowded field.

    With ``removable``, the removable stars to fit are fitted first, alone
    (the others held), from fluxes solved with their positions held
    (`AllStarProblem.prefit_fluxes`), then removed where they fitted to no
    flux, onto a brighter star or (with ``min_snr``) below their errors;
    then every star to fit is fitted, and removals are made again after
    every round.  Stars next to a removed one are fitted again.

    Parameters
    ----------
    problem : `AllStarProblem`
    todo : ndarray of bool, shape (n,)
        The stars to fit first (the others start as converged fits).
    removable : ndarray of bool, shape (n,), optional
        Stars the fit may remove (``problem.removed`` says which it did).
    min_separation : float, optional
        Removable stars closer than this (pixels) to a brighter star are
        removed.
    min_snr : float, optional
        Removable stars whose flux is below this many times its error
        (the weights being inverse errors) are removed.

    Returns
    -------
    converged : ndarray of bool, shape (n,)
        `False` for stars whose cluster was still moving at ``maxiters``.
    niter : ndarray of int, shape (n,)
    """
    n = len(problem.theta)
    converged = np.ones(n, dtype=bool)
    niter = np.zeros(n, dtype=int)
    active = np.asarray(todo, dtype=bool).copy()
    # how far off its minimum each star's cluster was when last reopened
    reopened = np.full(n, np.nan)
    spent = 0
    first = True
    held = None
    if removable is not None:
        removable = np.asarray(removable, dtype=bool)
        if (active & removable).any() and (active & ~removable).any():
            # the removable stars first, alone: most fit to nothing or
            # onto a neighbour within a few iterations
            held = active & ~removable
            active &= removable

    def prune():
        nonlocal active
        if removable is None:
            return False
        gone = _to_remove(problem, removable, min_separation, min_snr)
        if not gone.any():
            return False
        problem.remove(gone)
        # the neighbours of a removed star take its light
        active = (active | _neighbours(problem, gone)) & ~problem.removed
        return True

    rounds = 0
    while spent < maxiters and active.any():
        # the first round fits whole clusters (a chain of blends converges
        # as one system in a few iterations); clusters still moving after
        # it are cut into pieces (see `AllStarProblem.pair_up`)
        problem.pair_up(active, shift=True, split=rounds > 0)
        rounds += 1
        problem.start(np.arange(len(problem.sizes)))
        if first:
            first = False
            if removable is not None and (active & removable).any():
                # residual detections start from fluxes measured in
                # apertures on a residual image that still holds their
                # neighbours' light: one solve of the fluxes alone gives
                # them and their neighbours consistent fluxes.  A first
                # fit starts without it: there the flux errors come mostly
                # from the position errors, which a flux solve with the
                # positions held turns into wrong (even negative) fluxes
                # of blends, and slower, worse fits
                problem.prefit_fluxes()
                if prune():
                    continue
        budget = min(ROUND_ITERATIONS, maxiters - spent)
        conv, nit = levenberg_marquardt(problem, maxiters=budget, tol=tol,
                                        progress=progress)
        stars = np.flatnonzero(active)
        converged[stars] = conv[problem.label[stars]]
        niter[stars] += nit[problem.label[stars]]
        spent += int(nit.max(initial=0))
        if held is not None:
            prune()
            active = (active | held) & ~problem.removed
            held = None
            continue
        if not nit.any():
            # the loop's own test found every active cluster at its minimum
            break
        moved = np.zeros(n, dtype=int)
        moved[stars] = nit[problem.label[stars]]
        off = _off_minimum(problem, _disturbed(problem, moved), tol)
        # a cluster the loop stopped on a plateau stays off by the same
        # amount: it is fitted again only if a neighbour's moves made it
        # clearly worse since
        again = (off > _REOPEN) & ~(off <= 2.0 * reopened)
        reopened[again] = off[again]
        active = (again | ~converged) & (niter < maxiters) & ~problem.removed
        prune()
    converged[problem.removed] = True
    return converged, niter


def whole_clusters(problem, seed):
    """
    The stars of the (uncut) clusters that hold a star of ``seed``.

    Returns
    -------
    members : ndarray of bool, shape (n,)
    label : ndarray of int, shape (n,)
        The cluster of every star.
    """
    setup, geom = problem.setup, problem.geom
    pairs, _, _ = coupled_pairs(
        problem.theta[:, setup.x_col], problem.theta[:, setup.y_col],
        geom.cx, geom.cy, problem.table, geom.model_shape,
        problem.min_coupling)
    label, sizes = clusters(len(problem.theta), pairs)
    hit = np.zeros(len(sizes), dtype=bool)
    hit[label[seed]] = True
    return hit[label], label


def _neighbours(problem, stars):
    """``stars`` and the stars whose model boxes overlap theirs."""
    return stars | (problem.overlaps @ stars.astype(float) > 0)


def _disturbed(problem, moved):
    """
    The stars a neighbour's moves may have pushed off their minimum: those
    with a neighbour (overlapping model box) whose cluster iterated longer
    than their own in the last round (``moved``: iterations of each star's
    cluster, 0 for stars held).  A cluster's convergence test saw every
    step its neighbours took before it; only later steps can disturb it.
    """
    near = problem.overlaps
    rows = np.repeat(np.arange(len(moved)), np.diff(near.indptr))
    latest = np.zeros(len(moved), dtype=moved.dtype)
    np.maximum.at(latest, rows, moved[near.indices])
    return latest > moved


def _off_minimum(problem, candidates, tol):
    """
    How far the clusters of ``candidates`` are from their minimum: each
    star gets its cluster's remaining Gauss-Newton decrease in units of the
    loop's convergence threshold (0 for the other stars).
    """
    off = np.zeros(len(candidates))
    if not candidates.any():
        return off
    problem.pair_up(candidates)
    problem.start(np.arange(len(problem.sizes)))
    problem.normal()
    newton = problem.solver.solve(problem._diag, problem._blocks,
                                  problem._grad,
                                  np.full(problem._grad.shape, 1e-12),
                                  exact=True)
    dec = problem._cluster_sum(np.sum(newton * problem._grad, axis=1))
    scale = (problem.chi2() / np.maximum(problem.dof(), 1)
             * problem.unknowns())
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(dec > problem.floor(), dec / (tol * scale), 0.0)
    off[problem.stars] = ratio[problem.wlabel]
    return off
