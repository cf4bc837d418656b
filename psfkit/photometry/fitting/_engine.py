"""
The fitting engine behind every PSF photometry class: plain arrays in,
per-source results out.

`fit_image` is the one entry point.  With the default
`~psfkit.photometry.SparseLMFitter` it runs the all-star fit of
`psfkit.photometry.fitting._allstar` (every star with all its neighbours,
no group size limit, warm restarts that touch only what changed); with
`~psfkit.photometry.BatchedLMFitter` or an astropy fitter it fits the
grouper's groups independently (`psfkit.photometry.fitting._group_fit`).
Both return a `SourceFits` with the same quantities and the same flags.
"""

from dataclasses import replace

import numpy as np

from ...utils import executor_workers, run_beside, single_threaded_blas
from ._allstar import (
    AllStarProblem,
    _neighbours,
    evaluate,
    run,
    whole_clusters,
)
from ._block_system import marginal_covariance
from ._couplings import coupling_table
from ._fit_boxes import gather, nearest_pixel
from ._geometry import build_geometry
from ._group_fit import (
    SourceFits,
    fit_bounds,
    fit_sources,
    lm_solver,
    outside_image,
    quality_flags,
)
from ._parts import (
    MARGIN_REACHES,
    MIN_PART_STARS,
    Cutout,
    balanced_parts,
    components,
    group_parts,
    reach,
)
from .flags import PSFFlags

__all__ = ["fit_image"]

#: islands of up to this many stars are fitted by the stacked dense solver
ISLAND_MAX = 8
#: islands still iterating after this many iterations (hard blends, whose
#: fits crawl along a curved valley) go on in the all-star fit, where they
#: iterate together with the crowded regions' slow clusters instead of in
#: a loop of their own for each island size
ISLAND_ITERATIONS = 10


def _sizes(labels):
    """``{size: count}`` of the groups given by integer labels."""
    if len(labels) == 0:
        return {}
    _, counts = np.unique(labels, return_counts=True)
    sizes, n = np.unique(counts, return_counts=True)
    return {int(k): int(v) for k, v in zip(sizes, n, strict=True)}


def position_bounds(setup, box_xy):
    """The bounds of every source (`fit_bounds`), fit boxes on ``box_xy``."""
    box_xy = np.asarray(box_xy, dtype=float)
    return fit_bounds(setup, nearest_pixel(box_xy), box_xy)


def _unit_jacobian(setup, theta, model_shape):
    """Derivatives of a unit-flux star at the centre of a model box."""
    my, mx = model_shape
    params = np.nanmedian(theta, axis=0)[None, :]
    params[0, setup.flux_col] = 1.0
    params[0, setup.x_col] = params[0, setup.y_col] = 0.0
    cols = np.arange(-(mx // 2), mx // 2 + 1, dtype=float)[None, :]
    rows = np.arange(-(my // 2), my // 2 + 1, dtype=float)[None, :]
    _, jac = evaluate(setup, cols, rows, params)
    return np.nan_to_num(jac[0])


def fit_image(setup, data, weight, start, *, box_xy=None, group_id=None,
              model_shape, weights_are_errors, settled=None, prior=None,
              progress=None, removable=None, min_separation=None,
              min_snr=None, executor=None):
    """
    Fit every source of an image.

    Parameters
    ----------
    setup : `FitSetup`
        What is fitted, and with which fitter.
    data : ndarray, 2-D
        Background-subtracted image, masked pixels set to zero.
    weight : ndarray, 2-D
        1/error (or 1) for usable pixels, 0 for masked ones.
    start : ndarray, shape (n, n_params)
        Starting parameters (finite positions).
    box_xy : ndarray, shape (n, 2), optional
        Where each source's fit box is centred (default: its starting
        position).  A refit keeps the boxes of sources seen before.
    group_id : ndarray of int, shape (n,), optional
        The grouper's labels: fitted together by the group fitters,
        reported by the all-star fit (which needs no groups).
    model_shape : tuple of 2 odd int
        The box over which each source's model is evaluated (the rendering
        box, at least ``fitshape``).
    weights_are_errors : bool
        Whether ``weight`` is an inverse error (else the uncertainties are
        scaled by the reduced chi-square).
    settled : ndarray of bool, shape (n,), optional
        All-star fit: sources whose ``start`` is a converged fit with an
        unchanged neighbourhood; they are refitted only if a neighbour's
        fit moves them off their minimum.
    prior : `SourceFits`, optional
        The previous fits of the settled sources (same order), for their
        iteration counts and convergence.
    progress : callable, optional
        Called after each iteration with the number of clusters left.
    removable : ndarray of bool, shape (n,), optional
        All-star fit: sources it may remove (residual detections), when
        they fit to no flux or come closer than ``min_separation`` pixels
        to another source; ``fits.removed`` says which it removed.
    min_separation : float, optional
    min_snr : float, optional
        With ``weights_are_errors``, the all-star fit also removes the
        removable sources whose flux falls below ``min_snr`` times its
        error (the error with the neighbours held: the smallest it can
        be); without real errors the rule is not applied.
    executor : object, optional
        Where parts of the image are fitted at once, one of them in this
        process (see `psfkit.utils.run_beside`); `None` fits the whole
        image here.  The group fitters' parts are whole groups; the
        all-star fit deals out whole islands and cuts crowded regions into
        strips fitted with margins (see
        `psfkit.photometry.fitting._parts.balanced_parts`).

    Returns
    -------
    fits : `SourceFits`
    """
    start = np.asarray(start, dtype=float)
    n = len(start)
    if group_id is None:
        group_id = np.arange(1, n + 1)
    if box_xy is None:
        box_xy = start[:, [setup.x_col, setup.y_col]]
    box_xy = np.asarray(box_xy, dtype=float)
    parts = _parts(setup, start, box_xy, group_id, model_shape,
                   min_separation, executor_workers(executor))
    if len(parts) > 1:
        options = {"model_shape": model_shape,
                   "weights_are_errors": weights_are_errors,
                   "settled": settled, "prior": prior, "removable": removable,
                   "min_separation": min_separation, "min_snr": min_snr}
        fits = _fit_parts(setup, data, weight, start, box_xy, group_id,
                          parts, options, executor, progress)
        fits.group_sizes = _sizes(group_id)
        return fits
    if setup.solver is not None:
        return fit_sources(setup, data, weight, start, group_id,
                           weights_are_errors=weights_are_errors)
    with single_threaded_blas(), np.errstate(all="ignore"):
        fits = _fit_all_stars(setup, data, weight, start, box_xy,
                              model_shape, weights_are_errors, settled,
                              prior, progress, removable, min_separation,
                              min_snr if weights_are_errors else None)
    fits.group_sizes = _sizes(group_id)
    return fits


def _parts(setup, start, box_xy, group_id, model_shape, min_separation,
           workers):
    """
    The parts for ``workers`` workers: ``(stars, owned)`` pairs, the stars
    each part fits and which of them it reports (one part: no split).
    """
    n = len(start)
    n_parts = min(workers, n // MIN_PART_STARS)
    if n_parts < 2:
        return [(np.arange(n), np.ones(n, dtype=bool))]
    if setup.solver is not None:
        # the group fitters see nothing beyond a star's own group
        return [(idx, np.ones(len(idx), dtype=bool))
                for idx in group_parts(group_id, box_xy, n_parts)]
    margin = MARGIN_REACHES * max(reach(setup.fitshape, model_shape,
                                        min_separation))
    label, sizes = components(box_xy, setup.fitshape, model_shape,
                              min_separation=min_separation)
    return balanced_parts(box_xy, label, sizes, n_parts,
                          island_max=ISLAND_MAX, margin=margin)


def _fit_part(task):
    """`fit_image` on one part, in its cutout's frame (an executor task)."""
    setup, data, weight, start, kwargs = task
    return fit_image(setup, data, weight, start, **kwargs)


def _fit_parts(setup, data, weight, start, box_xy, group_id, parts, options,
               executor, progress):
    """Fit each part on its cutout on ``executor``, and put them together."""
    x, y = setup.x_col, setup.y_col
    tasks, cutouts = [], []
    # every pixel a part's models reach (a model box is at least a fit box)
    reach_shape = tuple(max(m, f) for m, f in zip(options["model_shape"],
                                                  setup.fitshape, strict=True))
    for idx, _ in parts:
        cut = Cutout.around([box_xy[idx], start[idx][:, [x, y]]],
                            reach_shape, data.shape)
        kwargs = {k: (v[idx] if isinstance(v, np.ndarray) else v)
                  for k, v in options.items()}
        if options["prior"] is not None:
            prior = options["prior"].subset(idx)
            kwargs["prior"] = replace(prior, theta=cut.params(prior.theta,
                                                              x, y))
        kwargs.update(box_xy=cut.positions(box_xy[idx]),
                      group_id=group_id[idx])
        tasks.append((cut.setup(setup), cut.image(data), cut.image(weight),
                      cut.params(start[idx], x, y), kwargs))
        cutouts.append(cut)
    # this process fits the part with the largest cutout itself (nothing
    # to send) and shows its progress, while the executor fits the others
    here = int(np.argmax([c.size for c in cutouts]))
    tasks[here][4]["progress"] = progress
    mine, results = run_beside(_fit_part, tasks[here],
                               tasks[:here] + tasks[here + 1:], executor)
    results.insert(here, mine)

    n = len(start)
    fits = SourceFits(theta=np.empty_like(start), unc=np.empty_like(start),
                      flags=np.zeros(n, dtype=np.int64),
                      npix=np.zeros(n, dtype=int), qfit=np.empty(n),
                      cfit=np.empty(n), chi2=np.empty(n),
                      niter=np.zeros(n, dtype=int), group_sizes={},
                      n_masked=np.zeros(n, dtype=int),
                      cluster=np.full(n, -1), removed=np.zeros(n, dtype=bool))
    next_label = 0
    for (idx, own), cut, part in zip(parts, cutouts, results, strict=True):
        part = replace(part.subset(own), cluster=_take(part.cluster, own),
                       removed=_take(part.removed, own))
        idx = idx[own]
        for name in SourceFits.PER_SOURCE:
            getattr(fits, name)[idx] = getattr(part, name)
        fits.theta[idx] = cut.params(part.theta, x, y, sign=1)
        if part.removed is not None:
            fits.removed[idx] = part.removed
        if part.cluster is not None:
            label = np.where(part.cluster >= 0, part.cluster + next_label, -1)
            fits.cluster[idx] = label
            next_label = max(next_label, int(label.max(initial=-1)) + 1)
    # flags that depend on the whole image's extent
    outside = outside_image(setup, data.shape, start, fits.theta)
    fits.flags &= ~np.int64(PSFFlags.OUTSIDE_IMAGE)
    fits.flags[outside] |= PSFFlags.OUTSIDE_IMAGE
    if setup.solver is None:
        fits.cluster_sizes = _sizes(fits.cluster[fits.cluster >= 0])
    else:
        fits.cluster = fits.removed = None
    return fits


def _take(values, keep):
    return None if values is None else values[keep]


def islands(geom, fit_shape, idx):
    """
    Groups of the stars ``idx`` that share no fitted pixel with any other.

    Star ``i``'s model reaches the fitted pixels of star ``j`` when its
    model box overlaps ``j``'s fit box; the connected components of that
    relation (`psfkit.photometry.fitting._parts.components`) split the
    all-star problem exactly into independent parts.

    Returns
    -------
    label, sizes : ndarray of int
        The island of each star and the number of stars in each island.
    """
    return components(np.column_stack([geom.cx[idx], geom.cy[idx]]),
                      fit_shape, geom.model_shape)


def _fit_all_stars(setup, data, weight, start, box_xy, model_shape,
                   weights_are_errors, settled, prior, progress, removable,
                   min_separation, min_snr):
    n, n_par = start.shape
    bx, by = box_xy[:, 0], box_xy[:, 1]
    nfree = len(setup.free)
    geom = build_geometry(bx, by, setup.fitshape, model_shape, weight, nfree)
    lower, upper = position_bounds(setup, box_xy)
    theta = np.clip(start, lower, upper)
    # a source whose model cannot be evaluated is reported, not fitted
    idx = np.flatnonzero(geom.fitted & np.all(np.isfinite(theta), axis=1))
    values, jac = evaluate(setup, geom.cols[idx], geom.rows[idx], theta[idx])
    finite = (np.all(np.isfinite(values), axis=1)
              & np.all(np.isfinite(jac), axis=(1, 2)))
    nonfinite = np.zeros(n, dtype=bool)
    nonfinite[idx[~finite]] = True
    nonfinite |= geom.fitted & ~np.all(np.isfinite(theta), axis=1)
    if nonfinite.any():
        geom = build_geometry(bx, by, setup.fitshape, model_shape, weight,
                              nfree, exclude=nonfinite)
    idx = np.flatnonzero(geom.fitted)

    out = {
        "theta": np.full((n, n_par), np.nan),
        "unc": np.full((n, n_par), np.nan),
        "no_cov": np.zeros(n, dtype=bool),
        "converged": np.ones(n, dtype=bool),
        "niter": np.zeros(n, dtype=int),
        "qfit_num": np.full(n, np.nan),
        "cfit_num": np.full(n, np.nan),
        "chi2": np.full(n, np.nan),
        "cluster": np.full(n, -1),
        "removed": np.zeros(n, dtype=bool),
    }
    # islands of a few stars go to the stacked dense solver, faster there;
    # the others (crowded regions) to the sparse all-star fit
    label, sizes = islands(geom, setup.fitshape, idx)
    small = sizes[label] <= ISLAND_MAX
    if settled is not None and prior is not None:
        # islands of settled stars only keep their fits as they were
        unsettled = np.zeros(len(sizes), dtype=bool)
        np.logical_or.at(unsettled, label, ~np.asarray(settled)[idx])
        keep = small & ~unsettled[label]
        _keep_prior(setup, prior, idx[keep], out)
        small &= ~keep
        idx, label = idx[~keep], label[~keep]
        small = small[~keep]
    late = np.zeros(0, dtype=np.int64)
    if small.any():
        late = _fit_islands(setup, data, weight, theta, box_xy, idx[small],
                            label[small], weights_are_errors, out)
        if progress is not None:
            progress(0)
    handed = np.isin(idx, late)
    if late.size:
        # the islands that were still iterating go on from where they are
        theta[late] = np.clip(out["theta"][late], lower[late], upper[late])
        small &= ~handed
    if not small.all():
        todo = (None if settled is None
                else ~np.asarray(settled)[idx[~small]] | handed[~small])
        crowded = idx[~small]
        _fit_crowded(setup, data, geom, theta, lower, upper, crowded,
                     todo, weights_are_errors, progress, out, prior=prior,
                     removable=(None if removable is None
                                else np.asarray(removable)[crowded]),
                     min_separation=min_separation, min_snr=min_snr)
        out["niter"][late] += ISLAND_ITERATIONS
    if settled is not None and prior is not None:
        # stars not moved keep their earlier iteration counts; those never
        # fitted (settled) keep their convergence too, while a star fitted
        # again and found at its minimum at once has converged
        old = idx[out["niter"][idx] == 0]
        out["niter"][old] = prior.niter[old]
        kept = old[np.asarray(settled)[old]]
        out["converged"][kept] = (prior.flags[kept]
                                  & PSFFlags.NOT_CONVERGED) == 0

    fitted = geom.fitted | nonfinite
    flags = quality_flags(
        setup, data.shape, theta0=start, theta=out["theta"], unc=out["unc"],
        lower=lower, upper=upper, fitted=fitted, converged=out["converged"],
        no_cov=out["no_cov"], finite_model=~nonfinite, partial=geom.partial,
        n_masked=geom.n_masked, center_masked=geom.center_masked)
    flux = out["theta"][:, setup.flux_col]
    with np.errstate(invalid="ignore", divide="ignore"):
        qfit = out["qfit_num"] / flux
        cfit = out["cfit_num"] / flux
    cluster = out["cluster"]
    return SourceFits(theta=out["theta"], unc=out["unc"], flags=flags,
                      npix=geom.npix, qfit=qfit, cfit=cfit, chi2=out["chi2"],
                      niter=out["niter"], group_sizes={},
                      n_masked=geom.n_masked, cluster=cluster,
                      cluster_sizes=_sizes(cluster[cluster >= 0]),
                      removed=out["removed"])


def _keep_prior(setup, prior, idx, out):
    """The earlier fits of the stars ``idx``, unchanged."""
    out["theta"][idx] = prior.theta[idx]
    out["unc"][idx] = prior.unc[idx]
    out["no_cov"][idx] = (prior.flags[idx] & PSFFlags.NO_COVARIANCE) > 0
    out["converged"][idx] = (prior.flags[idx] & PSFFlags.NOT_CONVERGED) == 0
    out["niter"][idx] = prior.niter[idx]
    flux = prior.theta[idx, setup.flux_col]
    out["qfit_num"][idx] = prior.qfit[idx] * flux
    out["cfit_num"][idx] = prior.cfit[idx] * flux
    out["chi2"][idx] = prior.chi2[idx]


def _fit_islands(setup, data, weight, theta, box_xy, idx, label,
                 weights_are_errors, out):
    """
    Fit isolated groups of stars with the stacked dense solver.

    Returns the stars (of ``idx``) whose islands were still iterating after
    ``ISLAND_ITERATIONS`` iterations, when the fitter allows more: their
    fits (in ``out``) are where the all-star fit takes them up.
    """
    fitter = setup.fitter
    handoff = fitter.maxiters > ISLAND_ITERATIONS
    dense = replace(setup, solver=lm_solver(
        maxiters=ISLAND_ITERATIONS if handoff else fitter.maxiters,
        tol=fitter.tol))
    fits = fit_sources(dense, data, weight, theta[idx], label,
                       weights_are_errors=weights_are_errors,
                       box_xy=box_xy[idx])
    out["theta"][idx] = fits.theta
    out["unc"][idx] = fits.unc
    out["no_cov"][idx] = (fits.flags & PSFFlags.NO_COVARIANCE) > 0
    out["converged"][idx] = (fits.flags & PSFFlags.NOT_CONVERGED) == 0
    out["niter"][idx] = fits.niter
    flux = fits.theta[:, setup.flux_col]
    out["qfit_num"][idx] = fits.qfit * flux
    out["cfit_num"][idx] = fits.cfit * flux
    out["chi2"][idx] = fits.chi2
    # island labels after those of the crowded clusters
    out["cluster"][idx] = label + len(idx) + len(theta)
    if not handoff:
        return np.zeros(0, dtype=np.int64)
    going = ((fits.flags & PSFFlags.NOT_CONVERGED) > 0) & (
        fits.niter >= ISLAND_ITERATIONS) & np.all(np.isfinite(fits.theta),
                                                   axis=1)
    return idx[going]


def _fit_crowded(setup, data, geom, theta, lower, upper, idx, todo,
                 weights_are_errors, progress, out, *, prior=None,
                 removable=None, min_separation=None, min_snr=None):
    """
    Fit the stars ``idx`` of crowded regions with the sparse all-star fit.

    With ``prior`` (the earlier fits of the stars not in ``todo``), the
    uncertainties of a cluster whose stars and neighbours all kept their
    fits are the earlier ones: its normal matrix and chi-square are those
    it had.
    """
    fitter = setup.fitter
    sub = geom.subset(idx)
    table = coupling_table(_unit_jacobian(setup, theta[idx], sub.model_shape),
                           sub.model_shape)
    problem = AllStarProblem(setup, sub, data, theta[idx].copy(), lower[idx],
                             upper[idx], table, fitter.min_coupling)
    if todo is None:
        todo = np.ones(len(idx), dtype=bool)
    converged, niter = run(problem, todo, maxiters=fitter.maxiters,
                           tol=fitter.tol, progress=progress,
                           removable=removable, min_separation=min_separation,
                           min_snr=min_snr)
    removed = problem.removed

    # final normal equations of the clusters that changed: uncertainties
    if prior is None or todo.all():
        redo = np.ones(len(idx), dtype=bool)
        whole = None
    else:
        redo, whole = whole_clusters(problem,
                                     _neighbours(problem, todo | (niter > 0)))
    changed = redo.copy()
    redo &= ~removed
    problem.pair_up(redo, split=False)
    label, sizes = problem.label, problem.sizes
    problem.start(np.arange(len(sizes)))
    problem.normal(hold_bounds=False)
    stars = problem.stars
    local = np.full(len(idx), -1)
    local[stars] = np.arange(len(stars))
    cov, undetermined = marginal_covariance(label[stars], local[problem.pairs],
                                            problem._diag, problem._blocks)
    if not weights_are_errors:
        red = problem.chi2() / np.maximum(problem.dof(), 1)
        cov = cov * red[problem.wlabel][:, None, None]
    var = np.diagonal(cov, axis1=1, axis2=2)
    unc = np.zeros((len(stars), theta.shape[1]))
    with np.errstate(invalid="ignore"):
        unc[:, setup.free] = np.sqrt(var)
    no_cov = undetermined.any(axis=1)
    unc[no_cov] = np.nan
    out["theta"][idx] = problem.theta
    out["unc"][idx[stars]] = unc
    out["no_cov"][idx[stars]] = no_cov
    if whole is not None:
        same = idx[~changed]
        out["unc"][same] = prior.unc[same]
        out["no_cov"][same] = (prior.flags[same] & PSFFlags.NO_COVARIANCE) > 0
        label = whole
    out["converged"][idx] = converged
    out["niter"][idx] = niter
    out["removed"][idx] = removed
    out["cluster"][idx] = label

    # statistics over each star's own fit box, from the global residual
    resid = problem.resid
    flat = sub.flat[:, sub.own]
    w = sub.weight[:, sub.own]
    r = gather(resid, flat)
    valid = w > 0
    out["qfit_num"][idx] = np.sum(np.where(valid, np.abs(r), 0.0), axis=1)
    centre = flat.shape[1] // 2
    out["cfit_num"][idx] = np.where(valid[:, centre], r[:, centre], np.nan)
    out["chi2"][idx] = np.sum(np.where(valid, (r * w) ** 2, 0.0), axis=1)
