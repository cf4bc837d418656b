"""
Numerical steps of the Anderson & King (2000) ePSF construction on plain
arrays: stacking the residuals of all star pixels onto the oversampled grid
(the residuals of each grid cell clipped about their median, against the
noise expected of each, and averaged), polynomial smoothing kernels, and
recentring by resampling the spline interpolant.
"""


import numpy as np
from scipy import ndimage

from ..models._interpolation import spline_coefficients, spline_evaluate

__all__ = []

# cells reached by fewer than this fraction of the typical number of
# residuals are left unchanged
_EDGE_FRACTION = 0.25
# the stacking passes of a build iteration that choose the residuals kept
_CHOOSE_PASSES = 3


def polynomial_smoothing_kernel(degree, size=5):
    """
    The 2-D least-squares polynomial (Savitzky-Golay) smoothing kernel.

    Convolving with it replaces each value by the value at the centre of
    the polynomial of total degree ``degree`` fitted by least squares to
    the ``size`` x ``size`` neighbourhood.  Polynomials up to that degree
    pass unchanged; higher spatial frequencies are damped.
    """
    half = size // 2
    yy, xx = np.mgrid[-half:half + 1, -half:half + 1]
    terms = [(xx ** i * yy ** j).ravel() for i in range(degree + 1)
             for j in range(degree + 1 - i)]
    design = np.stack(terms, axis=1).astype(float)
    # the first term is the constant: its row of the pseudo-inverse gives
    # the fitted value at the centre
    return np.linalg.pinv(design)[0].reshape(size, size)


def resolve_smoothing_kernel(kernel):
    """Turn the ``smoothing_kernel`` option into an array (or None)."""
    if kernel is None:
        return None
    if isinstance(kernel, str):
        degrees = {"quartic": 4, "quadratic": 2}
        if kernel not in degrees:
            msg = ("smoothing_kernel must be 'quartic', 'quadratic', None or a "
                   f"2-D array, got {kernel!r}")
            raise ValueError(msg)
        return polynomial_smoothing_kernel(degrees[kernel])
    arr = np.asarray(kernel, dtype=float)
    if (arr.ndim != 2 or arr.shape[0] % 2 == 0 or arr.shape[1] % 2 == 0
            or not np.all(np.isfinite(arr))):
        msg = ("smoothing_kernel array must be 2-D, finite, with odd sizes; "
               f"got shape {arr.shape}")
        raise ValueError(msg)
    return arr


def _radial_bins(shape, origin):
    """The index of each grid cell's one-cell-wide ring about the origin."""
    ny, nx = shape
    yy, xx = np.mgrid[0:ny, 0:nx]
    return np.rint(np.hypot(xx - origin[0], yy - origin[1])).astype(
        np.intp).ravel()


def _group_medians(values, groups, n_groups):
    """The median of ``values`` in each group (NaN for an empty group)."""
    out = np.full(n_groups, np.nan)
    if values.size == 0:
        return out
    # by value, then stably by group: a radix sort for small group numbers
    order = np.argsort(values)
    key = groups[order]
    if n_groups <= np.iinfo(np.int16).max:
        key = key.astype(np.int16)
    order = order[np.argsort(key, kind="stable")]
    size = np.bincount(groups, minlength=n_groups)
    first = np.cumsum(size) - size
    has = size > 0
    ordered = values[order]
    out[has] = 0.5 * (ordered[first[has] + (size[has] - 1) // 2]
                      + ordered[first[has] + size[has] // 2])
    return out


def _row_medians(rows, kept):
    """The median of the kept values of each row (NaN for none)."""
    ordered = np.sort(np.where(kept, rows, np.nan), axis=1)
    n = kept.sum(axis=1)
    idx = np.arange(rows.shape[0])
    lower = ordered[idx, np.maximum(n - 1, 0) // 2]
    upper = ordered[idx, n // 2 if rows.shape[1] > 1 else 0]
    upper = np.where(n % 2 == 1, lower, upper)
    return np.where(n > 0, 0.5 * (lower + upper), np.nan)


def _deviation_sizes(dev, cell, kept_rows):
    """
    The absolute deviations from the cells' medians, scaled so that every
    residual's has the spread of the noise: the middle residual of an odd
    cell deviates by nothing (it gets 0 and is left out of the widths), and
    the two middle ones of an even cell by less than the noise.
    """
    n = kept_rows.sum(axis=1)[cell]
    return np.abs(dev) * np.where(n % 2 == 0,
                                  np.sqrt(n / np.maximum(n - 1, 1)), 1.0)


def clip_cells(resid, cell, rank, star, rings, n_cells, sigma_lower,
               sigma_upper, maxiters, *, level=None):
    """
    Sigma-clip the residuals of every grid cell about the cell's median.

    A width measured in one cell cannot reject anything when the cell
    holds a few residuals (one outlier among n inflates the standard
    deviation so much that it stays within ``(n - 1) / sqrt(n)`` of it,
    under 3 for n < 11), which is the normal case at high oversampling.
    Instead each residual's deviation from its cell's median is measured
    against the noise expected of it: the robust width of the deviations
    in the cell's ring (the noise of the normalised residuals changes
    slowly with the distance from the centre) times its star's noise level
    (a faint star's normalised pixels are noisier than a bright one's).  A
    neighbour's light in a cutout then stands out even in a cell of two.

    The clipping runs twice: first with one noise level for all stars,
    which rejects the neighbours' light; then with each star's level, the
    median of its kept deviations in ring widths, so that the pixels of
    faint stars are not rejected for their own noise.  The widths and
    levels are medians, measured once per run.

    Parameters
    ----------
    resid : ndarray
        The residuals.
    cell, rank : ndarray of int
        Each residual's cell and its place among the cell's residuals.
    star : ndarray of int
        Each residual's star.
    rings : ndarray of int
        The ring of each cell.
    n_cells : int
        The number of cells.
    sigma_lower, sigma_upper : float
        The clipping limits in expected standard deviations.
    maxiters : int
        The maximum number of clipping passes of each run.
    level : ndarray, optional
        The stars' noise levels, when known: only the second run is made.

    Returns
    -------
    kept : ndarray of bool
        The residuals kept.
    level : ndarray
        The stars' noise levels (relative to the typical star's).
    """
    rows = np.full((n_cells, int(rank.max(initial=0)) + 1), np.nan)
    rows[cell, rank] = resid
    ring = rings[cell]
    n_rings = int(rings.max()) + 1
    n_stars = int(star.max(initial=0)) + 1

    def run(level):
        kept_rows = np.isfinite(rows)
        kept = np.ones(resid.size, dtype=bool)
        scale = None
        for _ in range(maxiters):
            dev = resid - _row_medians(rows, kept_rows)[cell]
            if scale is None:
                size = _deviation_sizes(dev, cell, kept_rows) / level[star]
                use = size > 0
                width = 1.4826 * _group_medians(size[use], ring[use],
                                                n_rings)
                scale = (np.where(np.isfinite(width), width, np.inf)[ring]
                         * level[star])
            new = (kept & (dev >= -sigma_lower * scale)
                   & (dev <= sigma_upper * scale))
            if np.array_equal(new, kept):
                break
            kept = new
            kept_rows[cell, rank] = kept
        return kept, dev, kept_rows, scale / level[star]

    if level is None:
        kept, dev, kept_rows, width = run(np.ones(n_stars))
        # each star's noise level from the deviations the first run kept
        size = _deviation_sizes(dev, cell, kept_rows) / width
        use = kept & (size > 0) & np.isfinite(size)
        level = 1.4826 * _group_medians(size[use], star[use], n_stars)
        good = np.isfinite(level) & (level > 0)
        if not np.any(good):
            return kept, np.ones(n_stars)
        level = np.where(good, level, np.median(level[good]))
        level /= np.median(level[good])
    return run(level)[0], level


class ResidualStack:
    """
    The residuals of all star pixels on the cells of the oversampled grid,
    for fixed star centres and fluxes.

    Each star pixel's residual (flux-normalised value minus the current
    ePSF) goes to the nearest grid cell.  The residuals of a cell are
    clipped about their median (`clip_cells`) and averaged.  Cells reached
    by fewer than a quarter of the typical number of residuals (the grid's
    edges, reached only by the stars of one sub-pixel phase, and single
    residuals where most cells hold five or more) are left unchanged,
    since a neighbour's light in them cannot be told from the star's.

    The assignment of pixels to cells serves every call: the stacking
    passes of one build iteration hold the stars fixed and change only the
    ePSF.  The residuals kept are chosen again at each of the first
    ``_CHOOSE_PASSES`` calls with an ePSF, as the ePSF improves, and then
    held, so that the later passes average the same residuals and settle.

    Parameters
    ----------
    shape : tuple
        The ePSF grid shape ``(ny, nx)``.
    origin : tuple
        The ``(x, y)`` grid position of the ePSF centre.
    oversampling : tuple
        ``(y, x)`` oversampling.
    pixels : dict
        Flat star pixels: ``x``, ``y`` (cutout coordinates), ``value``,
        ``good`` and ``star`` (index of the star of each pixel).
    centers : ndarray
        ``(n_stars, 2)`` centres in cutout coordinates.
    fluxes : ndarray
        ``(n_stars,)`` fluxes.
    use : ndarray of bool
        Which stars take part.
    clip : tuple or None, optional
        ``(sigma_lower, sigma_upper, maxiters)`` of the clipping, or `None`
        for the plain mean.
    """

    def __init__(self, shape, origin, oversampling, pixels, centers, fluxes,
                 use, *, clip=(3.0, 3.0, 10)):
        ny, nx = shape
        osy, osx = oversampling
        star = pixels["star"]
        u = origin[0] + (pixels["x"] - centers[star, 0]) * osx
        v = origin[1] + (pixels["y"] - centers[star, 1]) * osy
        gu = np.rint(u).astype(np.intp)
        gv = np.rint(v).astype(np.intp)
        ok = (pixels["good"] & use[star] & (gu >= 0) & (gu < nx) & (gv >= 0)
              & (gv < ny))
        self.shape = shape
        self.clip = clip
        size = ny * nx
        cell = gv[ok] * nx + gu[ok]
        # the samples in cell order, and each one's place in its cell's row
        order = np.argsort(cell, kind="stable")
        self._u = u[ok][order]
        self._v = v[ok][order]
        self._value = (pixels["value"] / fluxes[star])[ok][order]
        self._cell = cell[order]
        self._star = star[ok][order]
        self.total = np.bincount(cell, minlength=size)
        starts = np.cumsum(self.total) - self.total
        self._rank = np.arange(cell.size) - starts[self._cell]
        self._rings = _radial_bins(shape, origin)
        self._kept = None
        self._level = None
        self._choices = 0
        occupied = self.total[self.total > 0]
        typical = np.median(occupied) if occupied.size else 0.0
        # the grid's edges are reached only by the stars of one sub-pixel
        # phase: far fewer residuals than elsewhere, none to check another
        self._enough = self.total >= _EDGE_FRACTION * typical

    def _choose(self, resid):
        """Clip each cell's residuals; the kept ones, as a sample mask."""
        if self.clip is None:
            return np.ones(resid.size, dtype=bool)
        kept, self._level = clip_cells(resid, self._cell, self._rank,
                                       self._star, self._rings,
                                       self.total.size, *self.clip,
                                       level=self._level)
        return kept

    def __call__(self, coef):
        """
        The combined residual per cell (0 where a cell is left unchanged)
        and the number of residuals kept per cell, for the ePSF of spline
        coefficients ``coef`` (None: the ePSF is zero).
        """
        if coef is None:
            # no ePSF yet: the residuals hold the stars' own profiles, whose
            # slope across a cell would decide the clipping; choose again
            # at the next call
            resid = self._value
            kept = self._choose(resid)
        else:
            resid = self._value - spline_evaluate(coef, self._u, self._v)
            if self._choices < _CHOOSE_PASSES:
                self._kept = self._choose(resid)
                self._choices += 1
            kept = self._kept
        size = self.total.size
        weight = kept.astype(float)
        count = np.bincount(self._cell, weights=weight, minlength=size)
        with np.errstate(invalid="ignore", divide="ignore"):
            combined = np.bincount(self._cell, weights=weight * resid,
                                   minlength=size) / count
        solid = self._enough & (count > 0) & np.isfinite(combined)
        combined = np.where(solid, combined, 0.0).reshape(self.shape)
        return combined, count.reshape(self.shape)


def smooth(grid, kernel):
    """Convolve with the smoothing kernel (zero beyond the grid)."""
    if kernel is None:
        return grid
    return ndimage.convolve(grid, kernel, mode="constant", cval=0.0)


def recenter(epsf, origin, half_box, *, maxiters=20, tol=1e-4,
             centroid=None):
    """
    Resample the ePSF so that its centroid near the origin is the origin.

    The centroid is measured in a box reaching ``half_box`` grid pixels
    from the origin (an int, or ``(y, x)`` half-sizes); the image is
    shifted by spline interpolation, the centroid measured again on the
    shifted image, up to ``maxiters`` times, and the original image is
    resampled once with the total shift.  The centroid is the centre of
    mass of the box, or ``centroid(box)``, an ``(x, y)`` position in box
    pixels, when given.

    Returns
    -------
    epsf : ndarray
        The recentred image.
    shift : ndarray
        The total ``(x, y)`` shift applied, in grid pixels.
    """
    coef = spline_coefficients(epsf)
    ox, oy = origin
    hy, hx = np.broadcast_to(np.asarray(half_box, dtype=int), (2,))
    off_x = np.arange(-hx, hx + 1, dtype=float)
    off_y = np.arange(-hy, hy + 1, dtype=float)
    bx = ox + off_x[None, :]
    by = oy + off_y[:, None]
    shift = np.zeros(2)
    for _ in range(maxiters):
        vals = spline_evaluate(coef, bx + shift[0], by + shift[1])
        total = vals.sum()
        if not total > 0:
            break
        if centroid is None:
            step = np.array([np.sum(vals * off_x[None, :]) / total,
                             np.sum(vals * off_y[:, None]) / total])
        else:
            found = np.ravel(np.asarray(centroid(vals), dtype=float))
            if found.size < 2:
                msg = ("recentering_func must return the (x, y) centroid "
                       f"of the box it is given, got {found.tolist()!r}")
                raise ValueError(msg)
            step = found[:2] - np.array([hx, hy], dtype=float)
            if not np.all(np.isfinite(step)):
                break
        shift += step
        if np.hypot(*step) < tol:
            break
    ny, nx = epsf.shape
    gy, gx = np.mgrid[0:ny, 0:nx].astype(float)
    return spline_evaluate(coef, gx + shift[0], gy + shift[1]), shift
