"""
Cutting one image's fit into parts, to run on an executor's workers.

Two stars are coupled when one's model box reaches the other's fit box
(the all-star fit, `reach`) or when the grouper put them together (the
group fitters).  `group_parts` deals whole groups out to the parts;
`balanced_parts` deals out whole islands (the small connected components
of the all-star couplings, independent problems) and cuts the crowded
regions into strips with margins (`strip_parts`), so that each part costs
about the same.  `Cutout` gives each part the pixels its stars reach
(their model boxes, clipped to the image) in a frame of its own; pixel
offsets are integers, so positions move between the frames exactly.
"""

from dataclasses import dataclass, replace

import numpy as np
from scipy.spatial import cKDTree

from ._couplings import clusters
from ._fit_boxes import nearest_pixel

__all__ = []

#: a part holds at least this many stars: below it the fit's fixed costs
#: (and a process pool's transfers) outweigh what a second worker saves
MIN_PART_STARS = 1000
#: a star of a crowded region costs about this many island stars
CROWDED_COST = 1.5
#: the margins of a strip, in units of the stars' reach: a star at its
#: edge is fitted with its neighbours and their neighbours around it
MARGIN_REACHES = 3


def reach(fit_shape, model_shape, min_separation=None):
    """
    How far (pixels, along x and y) one star's fit reaches another's.

    Star ``i`` is coupled to star ``j`` when ``i``'s model box overlaps
    ``j``'s fit box (the boxes centred on the pixels nearest their
    positions), or when they are closer than ``min_separation``.
    """
    (fy, fx) = fit_shape
    # the fit enlarges a model box smaller than the fit box to it
    my, mx = max(model_shape[0], fy), max(model_shape[1], fx)
    reach_x, reach_y = (mx + fx) // 2, (my + fy) // 2
    if min_separation is not None:
        extra = int(np.ceil(min_separation)) + 1
        reach_x, reach_y = max(reach_x, extra), max(reach_y, extra)
    return reach_x, reach_y


def group_parts(group_id, xy, n_parts):
    """
    Deal whole groups out to ``n_parts`` parts of about equal size.

    The groups are taken in order along the axis on which the stars spread
    most, so that each part covers a compact strip of the image.

    Returns
    -------
    parts : list of ndarray of int
        The stars of each non-empty part (each star in exactly one).
    """
    _, label = np.unique(group_id, return_inverse=True)
    label = label.ravel()
    sizes = np.bincount(label)
    part_of = _deal(label, sizes, np.arange(len(sizes)), xy,
                    len(label) / n_parts, n_parts)
    star_part = part_of[label]
    return [p for p in (np.flatnonzero(star_part == k)
                        for k in range(n_parts)) if p.size]


def _deal(label, sizes, which, xy, per_part, n_parts):
    """
    The part of each component: the components ``which``, in order along
    the stars' longer axis, fill the parts one after the other with up to
    about ``per_part`` stars each (-1 for the other components).
    """
    xy = np.where(np.isfinite(xy), xy, 0.0)
    where = np.bincount(label, weights=xy[:, _long_axis(xy)],
                        minlength=len(sizes))[which] / sizes[which]
    which = which[np.argsort(where, kind="stable")]
    before = np.cumsum(sizes[which]) - sizes[which]
    part_of = np.full(len(sizes), -1)
    part_of[which] = np.minimum(before // per_part, n_parts - 1).astype(int)
    return part_of


def components(box_xy, fit_shape, model_shape, *, min_separation=None):
    """
    The connected components of the all-star fit's couplings (`reach`).

    Returns
    -------
    label, sizes : ndarray of int
        The component of each star and the number of stars in each.
    """
    reach_x, reach_y = reach(fit_shape, model_shape, min_separation)
    centre = nearest_pixel(box_xy).astype(float)
    finite = np.flatnonzero(np.all(np.isfinite(box_xy), axis=1))
    pairs = np.zeros((0, 2), dtype=np.int64)
    if len(finite) > 1:
        scaled = centre[finite] / [reach_x, reach_y]
        found = cKDTree(scaled).query_pairs(1.0 - 1e-9, p=np.inf,
                                             output_type="ndarray")
        pairs = finite[found]
    return clusters(len(box_xy), pairs)


def balanced_parts(xy, label, sizes, n_parts, *, island_max, margin):
    """
    Parts of about equal cost for the all-star fit.

    Islands (components of at most ``island_max`` stars) are dealt out
    whole, in order along the image's longer axis, to the first parts;
    the crowded stars (larger components, costing `CROWDED_COST` times
    more each) fill what the islands leave of each part, in strips across
    that axis, each fitted with the crowded stars within ``margin`` pixels
    beyond its edges (see `strip_parts`).

    Returns
    -------
    parts : list of (ndarray of int, ndarray of bool)
        The stars each part fits, and which of them it owns (each star is
        owned by exactly one part).
    """
    xy = np.where(np.isfinite(xy), xy, 0.0)
    small = sizes[label] <= island_max
    crowded = np.flatnonzero(~small)
    target = (np.count_nonzero(small) + CROWDED_COST * len(crowded)) / n_parts
    # islands: whole components, along the axis, each part up to the target
    isl = np.flatnonzero(sizes <= island_max)
    part_of = _deal(label, sizes, isl, xy, target, n_parts)
    island_cost = np.bincount(part_of[isl], weights=sizes[isl],
                              minlength=n_parts)
    # crowded stars: the room the islands leave
    room = np.maximum(target - island_cost, 0.0)
    strips = [None] * n_parts
    if len(crowded):
        if room.sum() <= 0:
            room[-1] = 1.0
        strips = strip_parts(xy[crowded], room / room.sum(), margin)
    parts = []
    for k in range(n_parts):
        own_isl = np.flatnonzero(small & (part_of[label] == k))
        idx, own = own_isl, np.ones(len(own_isl), dtype=bool)
        if strips[k] is not None:
            s_idx, s_own = strips[k]
            idx = np.concatenate([idx, crowded[s_idx]])
            own = np.concatenate([own, s_own])
        if own.any():
            parts.append((idx, own))
    return parts


def strip_parts(xy, shares, margin):
    """
    Cut the stars into strips holding the given shares of them, with
    margins.

    The strips run across the axis on which the stars spread most.  Each
    part fits its own strip's stars together with the stars within
    ``margin`` pixels beyond its edges, so that a star near an edge has its
    neighbours, and their neighbours, around it; the fits of the margin
    stars are those of the neighbouring strip.

    Returns
    -------
    parts : list of (ndarray of int, ndarray of bool) or None
        For each share: the stars the strip fits, and which of them it
        owns (each star is owned by exactly one strip); `None` for a strip
        that owns no star.
    """
    axis = _long_axis(xy)
    coord = np.where(np.isfinite(xy[:, axis]), xy[:, axis], 0.0)
    order = np.argsort(coord, kind="stable")
    counts = np.round(np.cumsum(shares) * len(coord)).astype(int)
    owner = np.empty(len(coord), dtype=np.int64)
    owner[order] = np.searchsorted(counts, np.arange(len(coord)),
                                   side="right")
    owner = np.minimum(owner, len(shares) - 1)
    parts = []
    for k in range(len(shares)):
        mine = owner == k
        if not mine.any():
            parts.append(None)
            continue
        lo, hi = coord[mine].min(), coord[mine].max()
        idx = np.flatnonzero((coord >= lo - margin) & (coord <= hi + margin))
        parts.append((idx, owner[idx] == k))
    return parts


def _long_axis(xy):
    """0 (x) or 1 (y): the axis along which the positions spread most."""
    xy = np.where(np.isfinite(xy), xy, 0.0)
    return int(np.ptp(xy[:, 1]) > np.ptp(xy[:, 0]))


@dataclass(frozen=True)
class Cutout:
    """
    The pixels a part's stars reach: ``rows`` x ``cols`` of the image.

    ``x0`` and ``y0`` (the cutout's first column and row) are subtracted
    from positions going in and added back to those coming out.
    """

    rows: slice
    cols: slice

    @classmethod
    def around(cls, centres, model_shape, image_shape):
        """The model boxes around ``centres`` (arrays of (x, y) positions)."""
        xy = np.concatenate([np.asarray(c, dtype=float) for c in centres])
        xy = xy[np.all(np.isfinite(xy), axis=1)]
        bounds = []
        for axis, half, size in ((1, model_shape[0] // 2, image_shape[0]),
                                 (0, model_shape[1] // 2, image_shape[1])):
            if xy.size == 0:
                bounds.append(slice(0, 1))
                continue
            pix = nearest_pixel(xy[:, axis])
            lo = int(np.clip(pix.min() - half, 0, size - 1))
            hi = int(np.clip(pix.max() + half + 1, lo + 1, size))
            bounds.append(slice(lo, hi))
        return cls(rows=bounds[0], cols=bounds[1])

    @property
    def size(self):
        """The number of pixels of the cutout."""
        return ((self.rows.stop - self.rows.start)
                * (self.cols.stop - self.cols.start))

    @property
    def x0(self):
        return self.cols.start

    @property
    def y0(self):
        return self.rows.start

    def image(self, array):
        """The cutout of a 2-D array (a copy: it travels alone)."""
        return np.ascontiguousarray(array[self.rows, self.cols])

    def params(self, theta, x_col, y_col, sign=-1):
        """Parameters moved into (``sign=-1``) or out of the cutout frame."""
        theta = np.array(theta, dtype=float)
        theta[..., x_col] += sign * self.x0
        theta[..., y_col] += sign * self.y0
        return theta

    def positions(self, xy, sign=-1):
        """(x, y) positions moved into or out of the cutout frame."""
        return np.asarray(xy, dtype=float) + sign * np.array([self.x0,
                                                              self.y0])

    def setup(self, setup):
        """The fit setup with its position bounds in the cutout frame."""
        return replace(setup,
                       lower=self.params(setup.lower, setup.x_col,
                                         setup.y_col),
                       upper=self.params(setup.upper, setup.x_col,
                                         setup.y_col))
