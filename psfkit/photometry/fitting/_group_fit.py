"""
Fit all sources of an image, group by group, and render model images.

This is the numerical core behind the photometry classes: plain arrays in,
plain arrays out.  Sources are cut into fit boxes, grouped sources are laid
out on the union of their boxes, equal-size groups are stacked into buckets
(split further into chunks of bounded memory), and each chunk is solved
either by the batched Levenberg-Marquardt solver or, group by group, by an
astropy fitter.  Uncertainties and statistics come from one shared routine
for both, so both paths report the same quantities.
"""

from dataclasses import dataclass, field, replace
import functools

import numpy as np

from ...utils import single_threaded_blas
from ._batch_fitter import GroupProblem, evaluate_sources, solve_lm, summarize
from ._fit_boxes import (
    accumulate,
    duplicate_pixels,
    gather,
    make_boxes,
    nearest_pixel,
    split_groups,
)
from .flags import PSFFlags

__all__ = []

# upper bound on the working memory of one batched chunk (bytes)
_CHUNK_BYTES = 160 * 2**20


@dataclass(frozen=True)
class FitSetup:
    """What is fitted and how (independent of the image)."""

    model: object
    param_names: tuple
    free: np.ndarray  # columns of the free parameters
    lower: np.ndarray
    upper: np.ndarray
    fitshape: tuple
    solver: object  # group fitters: callable(problem) -> (theta, converged,
    #                 niter, state); None for the all-star fit
    fitter: object  # the fitter object
    flux_col: int
    x_col: int
    y_col: int
    #: (bx, by): how far (pixels) a centre may move from its initial
    #: position along x and y (either may be None), or None
    xy_bounds: object = None


@dataclass
class SourceFits:
    """Per-source fit results (arrays of length n, in input order)."""

    theta: np.ndarray  # (n, n_params) fitted values (NaN if not fitted)
    unc: np.ndarray  # (n, n_params)
    flags: np.ndarray  # (n,) int
    npix: np.ndarray
    qfit: np.ndarray
    cfit: np.ndarray
    chi2: np.ndarray  # over the own box; reduced by the caller
    niter: np.ndarray
    group_sizes: dict
    n_masked: np.ndarray = None  # unusable pixels of each fit box
    cluster: np.ndarray = None  # all-star fits: cluster of each star
    cluster_sizes: dict = field(default_factory=dict)
    removed: np.ndarray = None  # all-star fits: sources taken out

    #: the arrays with one row per source, whatever the engine
    PER_SOURCE = ("theta", "unc", "flags", "npix", "qfit", "cfit", "chi2",
                  "niter", "n_masked")

    def subset(self, keep):
        """The fits of the sources ``keep`` (without cluster labels)."""
        return replace(self, cluster=None, removed=None,
                       **{f: getattr(self, f)[keep] for f in self.PER_SOURCE})


def fit_bounds(setup, centre, xy0):
    """
    The bounds of every source's parameters, ``(lower, upper)`` of shape
    (n, n_params): the model's, with the centre kept within its own fit
    box (centred on ``centre``, (n, 2)) and within ``setup.xy_bounds`` of
    the initial position ``xy0`` (n, 2).

    A centre may move at most to the edge of its fit box: beyond it the box
    no longer constrains it (a faint source would wander off).

    Raises
    ------
    ValueError
        If the model's own bounds leave a source no room in its fit box.
    """
    n = len(centre)
    n_par = len(setup.param_names)
    lower = np.broadcast_to(setup.lower, (n, n_par)).copy()
    upper = np.broadcast_to(setup.upper, (n, n_par)).copy()
    for col, axis, half in ((setup.x_col, 0, setup.fitshape[1] // 2),
                            (setup.y_col, 1, setup.fitshape[0] // 2)):
        lower[:, col] = np.maximum(lower[:, col], centre[:, axis] - half - 0.5)
        upper[:, col] = np.minimum(upper[:, col], centre[:, axis] + half + 0.5)
    if setup.xy_bounds is not None:
        for col, axis, bound in ((setup.x_col, 0, setup.xy_bounds[0]),
                                 (setup.y_col, 1, setup.xy_bounds[1])):
            if bound is not None:
                lower[:, col] = np.maximum(lower[:, col], xy0[:, axis] - bound)
                upper[:, col] = np.minimum(upper[:, col], xy0[:, axis] + bound)
    # (sources without a finite start are not fitted: they are flagged)
    empty = (lower > upper) & np.all(np.isfinite(xy0), axis=1)[:, None]
    if empty.any():
        col = int(np.flatnonzero(empty.any(axis=0))[0])
        bad = np.flatnonzero(empty[:, col])
        bounds = f"({setup.lower[col]:g}, {setup.upper[col]:g})"
        msg = (f"the bounds {bounds} of psf_model's "
               f"{setup.param_names[col]} leave no room for {len(bad)} "
               f"source(s), the first at (x, y) = "
               f"({xy0[bad[0], 0]:g}, {xy0[bad[0], 1]:g}): bounds on the "
               "model hold for every source (see xy_bounds for bounds "
               "around each source's start)")
        raise ValueError(msg)
    return lower, upper


def lm_solver(*, maxiters, tol):
    """A solver callable running the batched Levenberg-Marquardt."""
    # bound options pickle, a closure would not (process pools)
    return functools.partial(solve_lm, maxiters=maxiters, tol=tol)


def _chunks(n_groups, k, npix, n_params):
    per_group = 8 * (k * k * npix * (n_params + 3 * max(n_params, 3)) + 8 * k * npix)
    size = max(1, int(_CHUNK_BYTES // per_group))
    return [slice(i, min(i + size, n_groups)) for i in range(0, n_groups, size)]


def fit_sources(setup, data, weight, theta0, group_index, *,
                weights_are_errors, box_xy=None):
    """
    Fit every source.

    Parameters
    ----------
    setup : `FitSetup`
    data : ndarray, 2-D
        Background-subtracted image, masked pixels set to zero.
    weight : ndarray, 2-D
        1/error (or 1) for usable pixels, 0 for masked ones.
    theta0 : ndarray, shape (n, n_params)
        Initial parameters (finite positions).
    group_index : ndarray of int, shape (n,)
        Group label of each source.
    weights_are_errors : bool
        Whether ``weight`` is an inverse error.
    box_xy : ndarray, shape (n, 2), optional
        The centres of the fit boxes, to which the positions are bounded
        (default: the initial positions, the bounds half a pixel beyond the
        box around them).

    Returns
    -------
    fits : `SourceFits`
    """
    n, n_par = theta0.shape
    centre = (theta0[:, [setup.x_col, setup.y_col]] if box_xy is None
              else nearest_pixel(box_xy))
    boxes = make_boxes(centre[:, 0], centre[:, 1], setup.fitshape, data.shape)
    npix = boxes.npix
    box_shape = (tuple(setup.fitshape)
                 if getattr(setup.model, "grid_separable", False) else None)
    box_data = gather(data.ravel(), boxes.flat)
    box_w = gather(weight.ravel(), boxes.flat)
    n_valid = np.count_nonzero(box_w > 0, axis=1)
    active = n_valid >= len(setup.free)
    start = theta0.copy()
    # unfitted sources must not add anything to their group's model
    start[~active, setup.flux_col] = 0.0
    lower, upper = fit_bounds(setup, centre,
                              theta0[:, [setup.x_col, setup.y_col]]
                              if box_xy is None
                              else np.asarray(box_xy, dtype=float))
    start = np.clip(start, lower, upper)

    theta = np.full((n, n_par), np.nan)
    unc = np.full((n, n_par), np.nan)
    npix_fit = n_valid.copy()
    qfit_num = np.full(n, np.nan)
    cfit_num = np.full(n, np.nan)
    chi2 = np.full(n, np.nan)
    niter = np.zeros(n, dtype=int)
    converged = np.ones(n, dtype=bool)
    no_cov = np.zeros(n, dtype=bool)
    finite_model = np.ones(n, dtype=bool)
    sizes = {}

    # non-finite models (e.g. a zero width) are flagged, not warned about
    with single_threaded_blas(), np.errstate(all="ignore"):
        for members in split_groups(group_index):
            n_groups, k = members.shape
            sizes[int(k)] = int(n_groups)
            for chunk in _chunks(n_groups, k, npix, n_par):
                mem = members[chunk]
                g = mem.shape[0]
                flat = boxes.flat[mem].reshape(g, k * npix)
                wown = box_w[mem].reshape(g, k * npix)
                wfit = wown
                if k > 1:
                    wfit = np.where(duplicate_pixels(flat), 0.0, wown)
                problem = GroupProblem(
                    model=setup.model, k=int(k), npix=npix,
                    x=boxes.x[mem].reshape(g, k * npix),
                    y=boxes.y[mem].reshape(g, k * npix),
                    data=box_data[mem].reshape(g, k * npix),
                    wfit=wfit, wown=wown, theta0=start[mem],
                    free=setup.free, active=active[mem],
                    lower=lower[mem], upper=upper[mem],
                    box_shape=box_shape)
                if not problem.active.any():
                    continue
                fit, conv, nit, state = setup.solver(problem)
                stats = summarize(problem, fit, weights_are_errors=weights_are_errors,
                                  state=state)
                theta[mem] = fit
                unc[mem] = stats["unc"]
                qfit_num[mem] = stats["qfit_num"]
                cfit_num[mem] = stats["cfit_num"]
                chi2[mem] = stats["chi2"]
                no_cov[mem] = stats["no_cov"]
                finite_model[mem] = stats["model_finite"]
                converged[mem] = np.repeat(conv[:, None], k, axis=1)
                niter[mem] = np.repeat(nit[:, None], k, axis=1)

    theta[~active] = np.nan
    unc[~active] = np.nan
    unc[active & no_cov] = np.nan
    in_image = boxes.flat >= 0
    centre = boxes.flat.shape[1] // 2
    n_masked = np.count_nonzero(in_image & ~(box_w > 0), axis=1)
    flags = quality_flags(
        setup, data.shape, theta0=theta0, theta=theta, unc=unc, lower=lower,
        upper=upper, fitted=active, converged=converged, no_cov=no_cov,
        finite_model=finite_model, partial=boxes.partial, n_masked=n_masked,
        center_masked=in_image[:, centre] & ~(box_w[:, centre] > 0))
    flux = theta[:, setup.flux_col]
    with np.errstate(invalid="ignore", divide="ignore"):
        qfit = qfit_num / flux
        cfit = cfit_num / flux
    return SourceFits(theta=theta, unc=unc, flags=flags, npix=npix_fit,
                      qfit=qfit, cfit=cfit, chi2=chi2, niter=niter,
                      group_sizes=dict(sorted(sizes.items())),
                      n_masked=n_masked)


def outside_image(setup, image_shape, theta0, theta):
    """Sources whose initial or fitted centre lies outside the image."""
    ny, nx = image_shape
    out = np.zeros(len(theta), dtype=bool)
    for col, size in ((setup.x_col, nx), (setup.y_col, ny)):
        for vals in (theta0[:, col], theta[:, col]):
            with np.errstate(invalid="ignore"):
                out |= (vals < -0.5) | (vals > size - 0.5)
    return out


def quality_flags(setup, image_shape, *, theta0, theta, unc, lower, upper,
                  fitted, converged, no_cov, finite_model, partial, n_masked,
                  center_masked):
    """
    The `PSFFlags` of every source (one rule for every fitting engine).

    Parameters
    ----------
    setup : `FitSetup`
    image_shape : tuple of 2 int
    theta0, theta, unc, lower, upper : ndarray, shape (n, n_params)
        Initial and fitted values (NaN when not fitted), uncertainties and
        bounds.
    fitted : ndarray of bool, shape (n,)
        Sources that were fitted (the others are ``TOO_FEW_PIXELS``).
    converged, no_cov, finite_model : ndarray of bool, shape (n,)
    partial : ndarray of bool, shape (n,)
        Fit boxes reaching beyond the image.
    n_masked : ndarray of int, shape (n,)
        Unusable (masked or non-finite) pixels of each fit box.
    center_masked : ndarray of bool, shape (n,)
        The central pixel of the fit box is unusable.

    Returns
    -------
    flags : ndarray of int64, shape (n,)
    """
    n = len(theta)
    flags = np.zeros(n, dtype=np.int64)
    flags[partial] |= PSFFlags.PARTIAL_BOX
    flags[outside_image(setup, image_shape, theta0, theta)] |= \
        PSFFlags.OUTSIDE_IMAGE
    with np.errstate(invalid="ignore"):
        flags[fitted & (theta[:, setup.flux_col] <= 0)] |= PSFFlags.NONPOSITIVE_FLUX
    flags[fitted & ~converged] |= PSFFlags.NOT_CONVERGED
    bad_unc = fitted & (no_cov | ~np.all(np.isfinite(unc), axis=1))
    flags[bad_unc] |= PSFFlags.NO_COVARIANCE
    flags[~fitted] |= PSFFlags.TOO_FEW_PIXELS
    nonfinite = fitted & (~np.all(np.isfinite(theta), axis=1) | ~finite_model)
    flags[nonfinite] |= PSFFlags.NONFINITE
    with np.errstate(invalid="ignore"):
        free = setup.free
        on_bound = np.any((theta[:, free] <= lower[:, free])
                          | (theta[:, free] >= upper[:, free]), axis=1)
    flags[fitted & on_bound] |= PSFFlags.AT_BOUND
    # a source that was not fitted is described by TOO_FEW_PIXELS alone
    flags[fitted & (n_masked > 0)] |= PSFFlags.MASKED_PIXELS
    flags[fitted & center_masked] |= PSFFlags.MASKED_CENTER
    return flags


def render(model, theta, image_shape, shape, *, x_col, y_col):
    """
    Sum the models of many sources into an image.

    Each source is evaluated on a box of ``shape`` around its position;
    sources with a non-finite parameter are skipped.

    Parameters
    ----------
    model : astropy model
    theta : ndarray, shape (n, n_params)
    image_shape : tuple of 2 int
    shape : tuple of 2 odd int
    x_col, y_col : int
        Columns of the position parameters.

    Returns
    -------
    image : ndarray
    """
    image = np.zeros(image_shape)
    ny, nx = image_shape
    hy, hx = shape[0] // 2, shape[1] // 2
    with np.errstate(invalid="ignore"):
        ok = (np.all(np.isfinite(theta), axis=1)
              & (theta[:, x_col] > -hx - 1) & (theta[:, x_col] < nx + hx)
              & (theta[:, y_col] > -hy - 1) & (theta[:, y_col] < ny + hy))
    theta = theta[ok]
    npix = shape[0] * shape[1]
    step = max(1, int(_CHUNK_BYTES // (8 * 6 * npix)))
    for i in range(0, len(theta), step):
        th = theta[i:i + step]
        boxes = make_boxes(th[:, x_col], th[:, y_col], shape, image_shape)
        vals = evaluate_sources(model, boxes.x, boxes.y, th, jacobian=False)
        image += accumulate(image_shape, boxes.flat, vals)
    return image
