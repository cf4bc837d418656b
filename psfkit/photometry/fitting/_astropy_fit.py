"""
The generic fitting path: any astropy fitter, one group at a time.

Each group becomes a sum of copies of the PSF model (one per source, with the
source's initial parameters and the model's ``fixed`` flags), fitted with the
user's fitter on the usable pixels of the union of the group's fit boxes,
weighted by the inverse errors.  It solves exactly the problem that the
batched solver solves, so both give the same answers within the fitters'
tolerances; it is slower but works with any fitter (bounds, robust losses).
"""

import copy
import functools
import operator
import warnings

import numpy as np

__all__ = []


def _group_model(base, theta, active, lower, upper):
    """Sum of copies of ``base`` with the given parameters and bounds."""
    parts = []
    for params, act, lo, hi in zip(theta, active, lower, upper, strict=True):
        part = base.copy()
        part.parameters = params
        for name, lo_i, hi_i in zip(part.param_names, lo, hi, strict=True):
            if not act:
                part.fixed[name] = True
            if np.isfinite(lo_i) or np.isfinite(hi_i):
                part.bounds[name] = (lo_i if np.isfinite(lo_i) else None,
                                     hi_i if np.isfinite(hi_i) else None)
        parts.append(part)
    if len(parts) == 1:
        return parts[0]
    return functools.reduce(operator.add, parts)


def fit_failed(fitter, caught):
    """Whether an astropy fit failed, from its warnings and ``fit_info``."""
    if any(issubclass(w.category, UserWarning) for w in caught):
        return True
    info = getattr(fitter, "fit_info", None) or {}
    if "ierr" in info:
        return info["ierr"] not in (1, 2, 3, 4)
    status = info.get("status") if hasattr(info, "get") else None
    return status is not None and status <= 0


def _progress(iterable, enabled, total):
    if not enabled:
        return iterable
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return iterable
    return tqdm(iterable, total=total, desc="Fit groups")


def astropy_solver(fitter, *, maxiters=None, progress_bar=False):
    """
    A solver callable that fits each group with an astropy fitter.

    Parameters
    ----------
    fitter : astropy fitter instance
        Called as ``fitter(model, x, y, z, weights=w, maxiter=maxiters)``.
    maxiters : int or None
        Passed to the fitter as ``maxiter`` (`None`: the fitter's default).
    progress_bar : bool
        Show a ``tqdm`` progress bar over the groups (when installed).

    Returns
    -------
    solve : callable
        ``solve(problem) -> (theta, converged, niter, None)``.
    """
    # a module-level function with its options bound pickles (process
    # pools fit parts of an image with it)
    return functools.partial(_solve_groups, fitter=fitter, maxiters=maxiters,
                             progress_bar=progress_bar)


def _solve_groups(problem, *, fitter, maxiters, progress_bar):
    """Fit each group of ``problem`` with (a copy of) an astropy fitter."""
    # a copy of its own: the fitter keeps its last fit's information, and
    # parts of an image may be fitted in threads at once
    fitter = copy.deepcopy(fitter)
    theta = problem.theta0.copy()
    n_groups = problem.n_groups
    converged = np.ones(n_groups, dtype=bool)
    niter = np.zeros(n_groups, dtype=int)
    options = {} if maxiters is None else {"maxiter": maxiters}
    for g in _progress(range(n_groups), progress_bar, n_groups):
        if not problem.active[g].any():
            continue
        use = problem.wfit[g] > 0
        model = _group_model(problem.model, theta[g], problem.active[g],
                             problem.lower[g], problem.upper[g])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fitted = fitter(model, problem.x[g, use], problem.y[g, use],
                            problem.data[g, use],
                            weights=problem.wfit[g, use], **options)
        theta[g] = np.asarray(fitted.parameters).reshape(theta[g].shape)
        converged[g] = not fit_failed(fitter, caught)
        info = getattr(fitter, "fit_info", None) or {}
        nfev = info.get("nfev") if hasattr(info, "get") else None
        niter[g] = int(nfev) if nfev is not None else 0
    return theta, converged, niter, None
