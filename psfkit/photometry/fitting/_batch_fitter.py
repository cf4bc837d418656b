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
* one batched `numpy.linalg.solve` of ``(A + lambda * diag(A)) step = g``.

A trial step is accepted per group when it does not increase chi-square and
rejected otherwise; lambda is updated from the ratio of the actual to the
predicted decrease (Nielsen's rule: shrink by up to 3 after a good step,
grow by 2, 4, 8... after successive rejections).
Trial steps are clipped to the parameter bounds, and unknowns sitting on a
bound and pushed against it are held out of the step.  A group has
converged when the undamped Gauss-Newton step would lower its chi-square by
less than ``tol`` in units of its reduced chi-square, i.e. the remaining
step is a small fraction of the parameter uncertainties; or when no step
can lower chi-square any more.  Finished groups leave the working set, so
late iterations only cost what the few slow groups need.  The covariance
of the parameters is the (pseudo-)inverse of the final ``A``, scaled by the
reduced chi-square when the weights are not inverse errors.
"""

from dataclasses import dataclass, replace

import numpy as np

from ..models import base as _models

__all__ = []

_LAMBDA0 = 1e-3
_LAMBDA_MIN = 1e-10
_LAMBDA_STUCK = 1e10
# relative eigenvalue below which a normal matrix counts as singular
_SINGULAR = 1e-12


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
        out = problem.model.evaluate_grid(x_cols, y_rows, params,
                                          jacobian=jacobian)
    else:
        if k > 1:
            x = np.repeat(x, k, axis=0)
            y = np.repeat(y, k, axis=0)
        out = evaluate_sources(problem.model, x, y, params, jacobian=jacobian)
    vals = out[0] if jacobian else out
    m = vals.reshape(g, k, n_pix).sum(axis=1) if k > 1 else vals
    if not jacobian:
        return m, None
    nf = problem.n_free
    jac = out[1][..., problem.free]
    if k > 1:
        jac = jac.reshape(g, k, n_pix, nf).transpose(0, 2, 1, 3)
        jac = jac.reshape(g, n_pix, k * nf)
    jw = jac * problem.wfit[idx][:, :, None]
    act = problem.active[idx]
    if not act.all():
        jw *= problem.active_columns(idx)[:, None, :]
    return m, jw


def normal_equations(jw, rw):
    """Batched ``A = Jw^T Jw`` and ``g = Jw^T rw``."""
    jwt = jw.transpose(0, 2, 1)
    a = jwt @ jw
    g = (jwt @ rw[:, :, None])[:, :, 0]
    return a, g


def _unit_diagonal(a):
    """Diagonal of ``a`` with zeros (unused unknowns) replaced by one."""
    d = np.diagonal(a, axis1=1, axis2=2).copy()
    d[~(d > 0)] = 1.0
    return d


def _damped_solve(a, g, lam):
    d = _unit_diagonal(a)
    m = a.copy()
    idx = np.arange(a.shape[1])
    m[:, idx, idx] += lam[:, None] * d
    try:
        return np.linalg.solve(m, g[:, :, None])[:, :, 0]
    except np.linalg.LinAlgError:
        return (np.linalg.pinv(m) @ g[:, :, None])[:, :, 0]


def covariance(a):
    """
    Inverse of each normal matrix, and the unknowns it cannot determine.

    The matrices are equilibrated by their diagonal before the symmetric
    eigen-decomposition, so the singularity test does not depend on the
    parameter units.  Directions with a relative eigenvalue below 1e-12
    are left out of the inverse (a pseudo-inverse); the unknowns with a
    component along them are reported, so that in a group where two
    sources are degenerate only those two lose their uncertainties.
    Unused unknowns (zero rows) get zero variance.

    Returns
    -------
    cov : ndarray, shape (G, P, P)
    undetermined : ndarray of bool, shape (G, P)
    """
    d = np.diagonal(a, axis1=1, axis2=2)
    used = d > 0
    s = np.where(used, 1.0 / np.sqrt(np.where(used, d, 1.0)), 0.0)
    scaled = a * s[:, :, None] * s[:, None, :]
    idx = np.arange(a.shape[1])
    scaled[:, idx, idx] = np.where(used, scaled[:, idx, idx], 1.0)
    bad = ~np.all(np.isfinite(scaled), axis=(1, 2))
    scaled[bad] = np.eye(a.shape[1])
    w, v = np.linalg.eigh(scaled)
    null = w <= _SINGULAR * np.abs(w[:, -1:])
    winv = np.where(null, 0.0, 1.0 / np.where(null, 1.0, w))
    cov = (v * winv[:, None, :]) @ v.transpose(0, 2, 1)
    cov = cov * s[:, :, None] * s[:, None, :]
    undetermined = np.any((np.abs(v) > 1e-4) & null[:, None, :], axis=2)
    undetermined |= bad[:, None]
    return cov, undetermined


def _freeze_at_bounds(problem, theta, a, g):
    """
    Hold the unknowns that sit on a bound and are pushed against it.

    Their rows and columns of the normal equations are zeroed (the solves
    then leave them unchanged), so that the convergence test and the step
    only involve the unknowns that can still move.
    """
    free = problem.free
    n = theta.shape[0]
    val = theta[:, :, free].reshape(n, -1)
    lo = problem.lower[:, :, free].reshape(n, -1)
    hi = problem.upper[:, :, free].reshape(n, -1)
    frozen = ((val <= lo) & (g < 0)) | ((val >= hi) & (g > 0))
    if not frozen.any():
        return a, g
    keep = (~frozen).astype(float)
    return a * keep[:, :, None] * keep[:, None, :], g * keep


def solve_lm(problem, *, maxiters=100, tol=1e-6):
    """
    Fit every group of a bucket with batched Levenberg-Marquardt.

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
        The model and weighted Jacobian at ``theta`` (for `summarize`).
    """
    n_groups, k = problem.n_groups, problem.k
    nf = problem.n_free
    theta = problem.theta0.copy()
    m, jw = group_model(problem, theta, slice(None), jacobian=True)
    # final state of every group, filled in as groups finish
    out = {"theta": theta.copy(), "m": m.copy(), "jw": jw.copy()}
    converged = np.zeros(n_groups, dtype=bool)
    niter = np.zeros(n_groups, dtype=int)

    # the working set: unfinished groups only, compacted as groups finish
    work = problem
    ids = np.arange(n_groups)
    rw = (work.data - m) * work.wfit
    chi2 = np.einsum("ij,ij->i", rw, rw)
    dw = work.data * work.wfit
    floor = 1e-24 * np.einsum("ij,ij->i", dw, dw)
    dof = work.dof()
    lam = np.full(n_groups, _LAMBDA0)
    nu = np.full(n_groups, 2.0)

    def finish(sel, conv):
        nonlocal work, ids, theta, m, jw, rw, chi2, floor, dof, lam, nu
        done_ids = ids[sel]
        out["theta"][done_ids] = theta[sel]
        out["m"][done_ids] = m[sel]
        out["jw"][done_ids] = jw[sel]
        converged[done_ids] = conv
        keep = ~sel
        work = _subset(work, keep)
        ids, theta, m, jw, rw = ids[keep], theta[keep], m[keep], jw[keep], rw[keep]
        chi2, floor, dof = chi2[keep], floor[keep], dof[keep]
        lam, nu = lam[keep], nu[keep]

    everything = slice(None)
    for _ in range(maxiters):
        if ids.size == 0:
            break
        a, g = normal_equations(jw, rw)
        a, g = _freeze_at_bounds(work, theta, a, g)
        newton = _damped_solve(a, g, np.full(ids.size, 1e-12))
        decrement = np.einsum("ij,ij->i", newton, g)
        scale = np.maximum(chi2 / dof, 0.0)
        done = (decrement <= tol * scale) | (decrement <= floor)
        if done.any():
            finish(done, True)
            a, g = a[~done], g[~done]
            if ids.size == 0:
                break
        step = _damped_solve(a, g, lam)
        trial = theta.copy()
        trial[:, :, work.free] += step.reshape(ids.size, k, nf)
        np.clip(trial, work.lower, work.upper, out=trial)
        m_t, jw_t = group_model(work, trial, everything, jacobian=True)
        rw_t = (work.data - m_t) * work.wfit
        chi2_t = np.einsum("ij,ij->i", rw_t, rw_t)
        # gain ratio: actual over predicted decrease (Nielsen 1999 update)
        predicted = (np.einsum("ij,ij->i", step, g) + lam
                     * np.einsum("ij,ij,ij->i", _unit_diagonal(a), step, step))
        with np.errstate(invalid="ignore", divide="ignore"):
            rho = (chi2 - chi2_t) / predicted
        ok = np.isfinite(chi2_t) & (chi2_t <= chi2)
        if ok.all():
            theta, m, jw, rw, chi2 = trial, m_t, jw_t, rw_t, chi2_t
        else:
            theta[ok], m[ok], jw[ok] = trial[ok], m_t[ok], jw_t[ok]
            rw[ok], chi2[ok] = rw_t[ok], chi2_t[ok]
        gain = np.clip(np.where(np.isfinite(rho), rho, 0.0), 0.0, 1.0)
        shrink = np.maximum(1.0 / 3.0, 1.0 - (2.0 * gain - 1.0) ** 3)
        lam = np.where(ok, np.maximum(lam * shrink, _LAMBDA_MIN), lam * nu)
        nu = np.where(ok, 2.0, nu * 2.0)
        niter[ids] += 1
        # no step lowers chi-square any more: a minimum to machine precision
        stuck = ~ok & (lam > _LAMBDA_STUCK)
        if stuck.any():
            finish(stuck, True)
    if ids.size:
        finish(np.ones(ids.size, dtype=bool), False)
    return out["theta"], converged, niter, (out["m"], out["jw"])


def _subset(problem, keep):
    """The problem restricted to the groups where ``keep`` is true."""
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
        The model and weighted Jacobian at ``theta`` if already known.

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
    resid = problem.data - m
    rw = resid * problem.wfit
    a, _ = normal_equations(jw, rw)
    cov, undetermined = covariance(a)
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
