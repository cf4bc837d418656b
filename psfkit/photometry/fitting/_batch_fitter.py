"""
A batched Levenberg-Marquardt solver for many small PSF-fitting problems.

A bucket holds ``G`` groups of ``k`` sources each; group ``g`` is fitted on
``Np = k * npix`` pixels (the union of its members' fit boxes) with a model
that is the sum of its members' PSFs.  With ``nf`` free parameters per
source the problem of each group has ``P = k * nf`` unknowns, and every
Levenberg-Marquardt iteration handles all still-unconverged groups at once:

* one call of the model's vectorised ``evaluate_stack`` for the values and
  analytic Jacobians of all ``G * k`` sources on their group's pixels;
* weighted Jacobians ``Jw`` of shape ``(G, Np, P)``, normal matrices
  ``A = Jw^T Jw`` of shape ``(G, P, P)`` and gradients ``g = Jw^T rw``;
* the damped step of every group from
  `psfkit._numerics.linalg.damped_solve` (each system equilibrated by its
  diagonal, singular ones by pseudo-inverse).

The iteration is steered by the shared loop of `psfkit._numerics.lm`
(acceptance, Nielsen's damping update, convergence on the remaining
Gauss-Newton decrease, finished groups leaving the working set).  Trial
steps are clipped to the parameter bounds, and unknowns sitting on a bound
and pushed against it are held out of the step.  The covariance of the
parameters is the (pseudo-)inverse of the final ``A``
(`psfkit._numerics.linalg.covariance`), scaled by the reduced chi-square
when the weights are not inverse errors.
"""

from dataclasses import dataclass, replace

import numpy as np

from ..._numerics import linalg
from ..._numerics.lm import solve_stacked
from ..models import base as _models

__all__ = []


def evaluate_sources(model, x, y, params, *, jacobian):
    """Values (and Jacobians) of ``model`` for many sources at once."""
    return _models.evaluate_stack(model, x, y, params, jacobian=jacobian)


@dataclass
class GroupProblem:
    """
    One bucket of equal-size groups, ready to be fitted.

    Attributes
    ----------
    model : astropy model
        The PSF model (its parameter values are not used).
    k, npix : int
        Sources per group and pixels per fit box.
    x, y, data : ndarray, shape (G, k * npix)
        Coordinates and background-subtracted data of the group pixels.
    wfit : ndarray, shape (G, k * npix)
        Fit weights: 1/error (or 1), zero for masked pixels, pixels outside
        the image and repeated pixels of overlapping boxes.
    wown : ndarray, shape (G, k * npix)
        As ``wfit`` but keeping repeated pixels: the weights of each
        source's own box, for per-source statistics.
    theta0 : ndarray, shape (G, k, n_params)
        Initial parameters in the order of ``model.param_names``.
    free : ndarray of int
        Columns of the parameters being fitted.
    active : ndarray of bool, shape (G, k)
        Sources that are fitted (the others contribute nothing).
    lower, upper : ndarray, shape (G, k, n_params)
        Parameter bounds (trial steps are clipped to them).
    box_shape : tuple of 2 int or None
        ``(ny, nx)`` of the row-major fit boxes whose concatenation the
        pixels are; given only for models that evaluate faster on grids.
    """

    model: object
    k: int
    npix: int
    x: np.ndarray
    y: np.ndarray
    data: np.ndarray
    wfit: np.ndarray
    wown: np.ndarray
    theta0: np.ndarray
    free: np.ndarray
    active: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    box_shape: tuple | None = None

    @property
    def n_groups(self):
        return self.data.shape[0]

    @property
    def n_free(self):
        return len(self.free)

    def active_columns(self, idx=slice(None)):
        """Boolean (G, P) mask of the unknowns that are really fitted."""
        act = self.active[idx]
        return np.repeat(act, self.n_free, axis=1)

    def dof(self):
        """Degrees of freedom of each group's fit (at least 1)."""
        nval = np.count_nonzero(self.wfit > 0, axis=1)
        npar = np.count_nonzero(self.active, axis=1) * self.n_free
        return np.maximum(nval - npar, 1)


def group_model(problem, theta, idx, *, jacobian):
    """
    Model of groups ``idx`` at parameters ``theta`` (and weighted Jacobian).

    Returns ``m`` of shape (g, Np) and, with ``jacobian``, ``Jw`` of shape
    (g, Np, P) already multiplied by the fit weights, with the columns of
    inactive sources zeroed.
    """
    k = problem.k
    x, y = problem.x[idx], problem.y[idx]
    g, n_pix = x.shape
    params = theta.reshape(g * k, -1)
    if problem.box_shape is not None:
        # every source is evaluated on each of the k boxes of its group,
        # given by their column and row coordinates
        ny, nx = problem.box_shape
        grids = (g, n_pix // (ny * nx), ny, nx)
        x_cols = np.repeat(x.reshape(grids)[:, :, 0, :], k, axis=0)
        y_rows = np.repeat(y.reshape(grids)[:, :, :, 0], k, axis=0)
        model = problem.model
        if hasattr(model, "_grid_free"):
            values, jac = model._grid_free(x_cols, y_rows, params,
                                           problem.free if jacobian else None)
            out = (values, jac) if jacobian else values
        else:
            out = model.evaluate_grid(x_cols, y_rows, params,
                                      jacobian=jacobian)
            if jacobian:
                out = (out[0], out[1][..., problem.free])
    else:
        if k > 1:
            x = np.repeat(x, k, axis=0)
            y = np.repeat(y, k, axis=0)
        out = evaluate_sources(problem.model, x, y, params, jacobian=jacobian)
        if jacobian:
            out = (out[0], out[1][..., problem.free])
    vals = out[0] if jacobian else out
    m = vals.reshape(g, k, n_pix).sum(axis=1) if k > 1 else vals
    if not jacobian:
        return m, None
    nf = problem.n_free
    jac = out[1]
    if k > 1:
        jac = jac.reshape(g, k, n_pix, nf).transpose(0, 2, 1, 3)
        jac = jac.reshape(g, n_pix, k * nf)
    jw = jac * problem.wfit[idx][:, :, None]
    act = problem.active[idx]
    if not act.all():
        jw *= problem.active_columns(idx)[:, None, :]
    return m, jw


def solve_lm(problem, *, maxiters=100, tol=1e-6):
    """
    Fit every group of a bucket with the shared Levenberg-Marquardt loop.

    The unknowns of a group are the free parameters of its members;
    steps are solved by `psfkit._numerics.linalg.damped_solve`, which
    equilibrates every system by its diagonal, so fluxes of 1e20 next to
    positions of 1e1 do not spoil the solve.

    Parameters
    ----------
    problem : `GroupProblem`
    maxiters : int
        The maximum number of iterations.
    tol : float
        Convergence threshold on the chi-square decrease still available
        from a Gauss-Newton step, in units of the reduced chi-square.

    Returns
    -------
    theta : ndarray, shape (G, k, n_params)
    converged : ndarray of bool, shape (G,)
    niter : ndarray of int, shape (G,)
    state : tuple
        ``(None, jw)``: the weighted Jacobian at ``theta`` (see
        `summarize`).
    """
    n_groups, k = problem.n_groups, problem.k
    free = problem.free
    nf = len(free)
    cache = {}

    def subset(rows):
        # the loop keeps ``rows`` while no group finishes: slice once
        if cache.get("rows") is not rows:
            cache["rows"] = rows
            cache["problem"] = _subset(problem, rows)
        return cache["problem"]

    def residuals(u, rows):
        part = subset(rows)
        theta = part.theta0.copy()
        theta[:, :, free] = u.reshape(len(rows), k, nf)
        m, jw = group_model(part, theta, slice(None), jacobian=True)
        return (part.data - m) * part.wfit, jw

    def unknowns(values):
        return values[:, :, free].reshape(n_groups, k * nf)

    lower, upper = unknowns(problem.lower), unknowns(problem.upper)
    u0 = np.clip(unknowns(problem.theta0), lower, upper)
    dw = problem.data * problem.wfit
    out = solve_stacked(residuals, u0, lower=lower, upper=upper,
                        dof=problem.dof(),
                        floor=1e-24 * np.einsum("ij,ij->i", dw, dw),
                        maxiters=maxiters, tol=tol)
    theta = problem.theta0.copy()
    theta[:, :, free] = out.u.reshape(n_groups, k, nf)
    # the weighted Jacobian at the solution, for the covariances
    return theta, out.converged, out.niter, (None, out.jw)


def _subset(problem, keep):
    """The problem restricted to the groups ``keep``."""
    return replace(problem, x=problem.x[keep], y=problem.y[keep],
                   data=problem.data[keep], wfit=problem.wfit[keep],
                   wown=problem.wown[keep], theta0=problem.theta0[keep],
                   active=problem.active[keep], lower=problem.lower[keep],
                   upper=problem.upper[keep])


def summarize(problem, theta, *, weights_are_errors, state=None):
    """
    Uncertainties and fit statistics of a fitted bucket.

    Parameters
    ----------
    problem : `GroupProblem`
    theta : ndarray, shape (G, k, n_params)
        The fitted parameters.
    weights_are_errors : bool
        If `False` the covariance is scaled by each group's reduced
        chi-square (the weights carry no absolute noise level).
    state : tuple, optional
        The model and weighted Jacobian at ``theta`` if already known
        (the model may be `None`: it is evaluated, without derivatives).

    Returns
    -------
    stats : dict of ndarray, each of shape (G, k) or (G, k, n_params)
        ``unc`` (zero for fixed parameters), ``no_cov``, ``npix``,
        ``qfit_num`` (sum of absolute residuals over the own box),
        ``cfit_num`` (residual at the box centre, NaN when unusable),
        ``chi2`` (over the own box) and ``model_finite``.
    """
    n_groups, k, npix = problem.n_groups, problem.k, problem.npix
    nf = problem.n_free
    if state is None:
        state = group_model(problem, theta, np.arange(n_groups), jacobian=True)
    m, jw = state
    if m is None:
        m, _ = group_model(problem, theta, np.arange(n_groups), jacobian=False)
    resid = problem.data - m
    rw = resid * problem.wfit
    a, _ = linalg.normal_equations(jw, rw)
    cov, undetermined = linalg.covariance(a)
    if not weights_are_errors:
        red = np.einsum("ij,ij->i", rw, rw) / problem.dof()
        cov = cov * red[:, None, None]
    var = np.diagonal(cov, axis1=1, axis2=2).reshape(n_groups, k, nf)
    unc = np.zeros(theta.shape)
    with np.errstate(invalid="ignore"):
        unc[:, :, problem.free] = np.sqrt(var)
    unc[~problem.active] = np.nan

    own_w = problem.wown.reshape(n_groups, k, npix)
    own_r = resid.reshape(n_groups, k, npix)
    valid = own_w > 0
    centre = npix // 2
    stats = {
        "unc": unc,
        "no_cov": undetermined.reshape(n_groups, k, nf).any(axis=2),
        "npix": np.count_nonzero(valid, axis=2),
        "qfit_num": np.sum(np.where(valid, np.abs(own_r), 0.0), axis=2),
        "cfit_num": np.where(valid[:, :, centre], own_r[:, :, centre], np.nan),
        "chi2": np.sum(np.where(valid, (own_r * own_w) ** 2, 0.0), axis=2),
        "model_finite": np.repeat(np.all(np.isfinite(m), axis=1)[:, None],
                                  k, axis=1),
    }
    return stats
