"""
The damped Levenberg-Marquardt loop shared by psfkit's fitting engines.

Every engine fits many independent *systems* at once (PSF groups, ePSF
stars, clusters of blended stars); what differs between engines is how a
system's normal equations are built and solved, not how the iteration is
steered.  `levenberg_marquardt` holds the steering, on per-system numbers
only; a *problem* object holds the arrays and does the linear algebra:

- ``problem.normal()``: build the normal equations ``A``, ``g`` of every
  working system at its current parameters;
- ``problem.chi2()``, ``problem.dof()``, ``problem.floor()``,
  ``problem.unknowns()``: each working system's chi-square, degrees of
  freedom, precision floor and number of unknowns;
- ``problem.solve(lam, store=True)``: the step ``(A + lam diag(A)) d = g``
  of every working system (kept for ``trial`` when ``store``); returns the
  per-system ``g.d`` and ``d.diag(A).d``.  With ``store=False`` it is the
  test step of the convergence test, damped by ``TEST_RCOND``, which
  leaves out the directions whose equilibrated curvature is far below it;
- ``problem.trial(mask=None)``: evaluate the kept steps (of the systems
  ``mask`` only, if given); returns the trial chi-squares;
- ``problem.accept(ok)``: make the trial the current state where ``ok``;
- ``problem.double_step()``: double the kept steps (to extend them);
- ``problem.keep(mask)``: drop the systems that finished (``~mask``),
  recording their final state.

`StackedProblem` implements it for systems of equal shape stacked in
arrays, on the batched linear algebra of `psfkit._numerics.linalg`; the
photometry engine's block-sparse systems implement it for clusters of
stars of any size.

Steering.  A trial step is accepted when it does not increase chi-square.
The damping follows Nielsen (1999): after an accepted step ``lam`` shrinks
by ``max(1/3, 1 - (2 rho - 1)^3)`` where ``rho`` is the ratio of the actual
to the predicted decrease; after a rejected one it grows by 2, 4, 8...  A
system has converged when the undamped Gauss-Newton step would lower its
chi-square by less than ``tol`` times its reduced chi-square per unknown
(the remaining step is then about ``sqrt(tol)`` of the uncertainties, for
a system of 3 unknowns as for one of 3000), or by less than its precision
floor.  Directions the data hardly determine (equilibrated curvature far
below ``TEST_RCOND``, as for two stars fitted at nearly one place) are
damped out of that test: along them the fit could wander for
hundreds of iterations without changing anything the uncertainties
resolve.  A system whose damping passes
``LAMBDA_STUCK`` cannot lower chi-square any more: it has converged if the
remaining decrease is below ``STUCK_RELATIVE`` of its chi-square (a
minimum to rounding precision), and is reported as not converged
otherwise.  When chi-square falls by more than ``RHO_EXTEND`` times the
predicted decrease, the model underestimates how far the minimum lies
along the step (the curvature from large residuals that Gauss-Newton
leaves out): the step is taken again from the new point, then twice and
four times as long, while chi-square keeps falling.  A system whose
chi-square fell by less than the convergence threshold, or by less than
``STALL_FACTOR`` times ``tol`` times its reduced chi-square, over
``STALL`` iterations has converged as well: its minimum lies along a
direction the data hardly constrain (two stars fitted as one), where
further steps change nothing the uncertainties resolve.  Problems whose
systems are independent (``problem.independent_systems``: a system's
trial chi-square depends on its own step only) may also finish right
after a step: the decrease a Gauss-Newton step would still give there is
about the gap between the actual and the predicted decrease of the step
just taken (third order in the distance to the minimum, where that
decrease is of fourth order) plus the share the damping held back, and
when that estimate is below the threshold, the iteration that would only
confirm convergence is skipped.
"""

from dataclasses import dataclass

import numpy as np

from . import linalg

__all__ = ["levenberg_marquardt", "StackedProblem", "solve_stacked",
           "LMOutcome", "LAMBDA0", "LAMBDA_MIN", "LAMBDA_STUCK",
           "TEST_RCOND", "STALL_FACTOR"]

#: initial damping
LAMBDA0 = 1e-3
#: smallest damping
LAMBDA_MIN = 1e-8
#: damping beyond which no step lowers chi-square any more
LAMBDA_STUCK = 1e10
#: damping of the test step of the convergence test: directions whose
#: equilibrated curvature is far below it are left out, the data
#: determining them hundreds of times worse than the parameters themselves
#: (two stars fitted at nearly one place); no fit waits for them
TEST_RCOND = 1e-5
#: an accepted step is tried once more when chi-square fell more than this
#: many times the predicted decrease
RHO_EXTEND = 1.5
#: at most this many extensions of a step
MAX_EXTEND = 1
#: a system whose chi-square fell by less than the tolerance over this many
#: iterations has converged
STALL = 5
#: a system whose chi-square fell by less than this many times the
#: tolerance times its reduced chi-square over ``STALL`` iterations has
#: converged too (at the default tolerance, 1e-3: at that rate a hundred
#: more iterations would lower chi-square by less than 0.02): the slow
#: slide of flux between two stars at one place, which ends, if ever, with
#: one of them drifting off onto the noise
STALL_FACTOR = 1e3
#: a stuck system has converged if less than this fraction of its
#: chi-square could still be gained
STUCK_RELATIVE = 1e-9


def _nielsen(lam, nu, ok, rho):
    """Nielsen's damping update for accepted (``ok``) and rejected steps."""
    gain = np.clip(np.where(np.isfinite(rho), rho, 0.0), 0.0, 1.0)
    shrink = np.maximum(1.0 / 3.0, 1.0 - (2.0 * gain - 1.0) ** 3)
    lam = np.where(ok, np.maximum(lam * shrink, LAMBDA_MIN), lam * nu)
    nu = np.where(ok, 2.0, nu * 2.0)
    return lam, nu


def levenberg_marquardt(problem, *, maxiters, tol, progress=None):
    """
    Run damped Levenberg-Marquardt on every system of ``problem``.

    Parameters
    ----------
    problem : object
        The systems (see the module docstring for the methods used).
    maxiters : int
        The maximum number of iterations.
    tol : float
        Convergence threshold on the chi-square decrease still available
        from a Gauss-Newton step, in units of the reduced chi-square.
    progress : callable, optional
        Called after every iteration with the number of systems still
        being fitted.

    Returns
    -------
    converged : ndarray of bool, shape (n_systems,)
        `False` for systems stopped at ``maxiters`` or stuck away from a
        minimum.
    niter : ndarray of int, shape (n_systems,)
        Iterations spent on each system.
    """
    n = problem.n_systems
    # a trial chi-square that is each system's own (no system's step changes
    # another's) tells how far the accepted step left it from its minimum
    exact = getattr(problem, "independent_systems", False)
    converged = np.zeros(n, dtype=bool)
    niter = np.zeros(n, dtype=int)
    work = np.arange(n)
    lam = np.full(n, LAMBDA0)
    nu = np.full(n, 2.0)
    # each system's chi-square over its last STALL iterations
    history = np.full((n, STALL), np.inf)

    def finish(done, conv):
        nonlocal work, lam, nu
        converged[work[done]] = conv
        problem.keep(~done)
        work, lam, nu = work[~done], lam[~done], nu[~done]

    for _ in range(maxiters):
        if work.size == 0:
            break
        problem.normal()
        chi2 = problem.chi2()
        reduced = np.maximum(chi2 / np.maximum(problem.dof(), 1), 0.0)
        scale = reduced * np.maximum(problem.unknowns(), 1)
        plateau = tol * np.maximum(scale, reduced * STALL_FACTOR)
        floor = problem.floor()
        g_step, step_d_step = problem.solve(lam)
        # the test step's decrease lies between the damped step's and the
        # undamped one's: it needs its own solve only where the damped
        # step cannot decide the test
        decrement = g_step.copy()
        small = decrement <= tol * scale
        undecided = np.where(lam > TEST_RCOND, small, ~small)
        if undecided.any():
            test, _ = problem.solve(np.full(lam.shape, TEST_RCOND),
                                    store=False)
            decrement = np.where(undecided, test, decrement)
        done = (decrement <= tol * scale) | (decrement <= floor)
        if done.any():
            keep = ~done
            chi2, scale, plateau, floor, decrement, g_step, step_d_step = (
                v[keep] for v in (chi2, scale, plateau, floor, decrement,
                                  g_step, step_d_step))
            finish(done, True)
            if work.size == 0:
                break
        chi2_t = problem.trial()
        predicted = g_step + lam * step_d_step
        with np.errstate(invalid="ignore", divide="ignore"):
            rho = (chi2 - chi2_t) / predicted
        ok = np.isfinite(chi2_t) & (chi2_t <= chi2)
        problem.accept(ok)
        # chi-square fell much faster than the quadratic model said: the
        # curvature along the step is small (large residuals), so the step
        # is taken again, doubled each time, while chi-square keeps falling
        longer = ok & (rho > RHO_EXTEND)
        # after a step taken as it was computed, the Gauss-Newton decrease
        # left is about what the quadratic model got wrong (the actual
        # minus the predicted decrease, third order in the distance to the
        # minimum where the remaining decrease is of fourth) plus what the
        # damping held back (a fraction lam of the step): below the
        # tolerance the system has converged without another iteration
        landed = None
        if exact:
            missed = np.abs((chi2 - chi2_t) - predicted) + lam * predicted
            landed = ok & ~longer & (missed <= tol * scale)
        best = chi2_t
        for _ in range(MAX_EXTEND):
            if not longer.any():
                break
            chi2_e = problem.trial(longer)
            longer &= np.isfinite(chi2_e) & (chi2_e < best)
            problem.accept(longer)
            best = np.where(longer, chi2_e, best)
            problem.double_step()
        lam, nu = _nielsen(lam, nu, ok, rho)
        slot = niter[work] % STALL
        niter[work] += 1
        now = np.where(ok, best, chi2)
        before = history[work, slot]
        history[work, slot] = now
        # progress below the tolerance over several iterations: the minimum
        # lies along a direction the data hardly constrain (two stars
        # fitted as one, a plateau): further steps change nothing that the
        # uncertainties resolve
        stalled = ok & (before - now <= plateau)
        stuck = ~ok & (lam > LAMBDA_STUCK) & ~stalled
        if landed is not None:
            stalled |= landed
        if stalled.any() or stuck.any():
            at_minimum = stalled | (decrement <= STUCK_RELATIVE * chi2 + floor)
            end = stalled | stuck
            finish(end, at_minimum[end])
        if progress is not None:
            progress(work.size)
    if work.size:
        finish(np.ones(work.size, dtype=bool), False)
    return converged, niter


@dataclass
class LMOutcome:
    """
    The result of `solve_stacked`.

    Attributes
    ----------
    u : ndarray, shape (n, p)
        The fitted unknowns.
    converged : ndarray of bool, shape (n,)
    niter : ndarray of int, shape (n,)
    rw : ndarray, shape (n, m)
        The weighted residuals at ``u``.
    jw : ndarray, shape (n, m, p)
        The weighted Jacobians at ``u``.
    """

    u: np.ndarray
    converged: np.ndarray
    niter: np.ndarray
    rw: np.ndarray
    jw: np.ndarray


class StackedProblem:
    """
    Independent least-squares systems of equal shape, stacked in arrays.

    Parameters
    ----------
    residuals : callable
        ``residuals(u, rows)`` returns the weighted residuals ``rw`` of
        shape ``(len(rows), m)`` (data minus model, times the square root
        of the weights) and the weighted Jacobians ``jw`` of the *model*
        with respect to the unknowns, shape ``(len(rows), m, p)``, of the
        systems ``rows`` at unknowns ``u`` (shape ``(len(rows), p)``).
        ``rows`` keeps its identity between calls while no system
        finishes, so the callable may cache per-row data.
    u0 : ndarray, shape (n, p)
        Starting unknowns.
    lower, upper : ndarray, shape (n, p), optional
        Bounds: trial steps are clipped to them, and unknowns on a bound
        pushed against it are held out of the step.
    dof : ndarray of int, shape (n,), optional
        Degrees of freedom (default: ``m - p``).
    floor : ndarray, shape (n,), optional
        Chi-square decreases below which a system counts as converged
        whatever ``tol`` (default: 1e-24 of the initial chi-square, the
        rounding level of noise-free data).
    """

    #: each system's trial chi-square depends on its own step only
    independent_systems = True

    def __init__(self, residuals, u0, *, lower=None, upper=None, dof=None,
                 floor=None):
        self._residuals = residuals
        u0 = np.array(u0, dtype=float)
        n, p = u0.shape
        self.n_systems = n
        self.lower = lower
        self.upper = upper
        self.rows = np.arange(n)
        rw, jw = residuals(u0, self.rows)
        m = rw.shape[1]
        self._dof = (np.full(n, max(m - p, 1)) if dof is None
                     else np.maximum(np.asarray(dof), 1))
        if floor is None:
            dw = np.where(np.isfinite(rw), rw, 0.0)
            floor = 1e-24 * np.einsum("ij,ij->i", dw, dw)
        self._floor_all = np.asarray(floor, dtype=float)
        # the final state of every system, filled in as systems finish
        # (every system does: the loop finishes the last ones at maxiters)
        self.out_u = u0.copy()
        self.out_rw = np.empty_like(rw)
        self.out_jw = np.empty_like(jw)
        # the working state: unfinished systems only
        self._u, self._rw, self._jw = u0, rw, jw
        self._chi2 = np.einsum("ij,ij->i", rw, rw)
        self._a = self._g = self._d = self._step = None
        self._systems = None
        self._trial = None

    # -- the interface used by levenberg_marquardt
    def normal(self):
        a, g = linalg.normal_equations(self._jw, self._rw)
        self._a, self._g = self._freeze(a, g)
        self._d = np.diagonal(self._a, axis1=1, axis2=2)

    def chi2(self):
        return self._chi2

    def dof(self):
        return self._dof[self.rows]

    def unknowns(self):
        return np.full(len(self.rows), self._u.shape[1])

    def floor(self):
        return self._floor_all[self.rows]

    def solve(self, lam, store=True):
        # the step and the convergence test share one equilibrated stack
        # (``normal`` and ``keep`` replace ``_a``, never change it in place)
        if self._systems is None or self._systems[0] is not self._a:
            self._systems = (self._a, linalg.DampedSystems(self._a))
        # (the test's damping is at least TEST_RCOND)
        step, _ = self._systems[1].solve(
            self._g, lam if store else np.maximum(lam, TEST_RCOND))
        if store:
            self._step = step
        return (np.einsum("ij,ij->i", step, self._g),
                np.einsum("ij,ij,ij->i", self._d, step, step))

    def trial(self, mask=None):
        sel = (np.arange(len(self.rows)) if mask is None
               else np.flatnonzero(mask))
        u_t = self._u[sel] + self._step[sel]
        if self.lower is not None:
            rows = self.rows[sel]
            np.clip(u_t, self.lower[rows], self.upper[rows], out=u_t)
        # the residual callable may cache by the identity of ``rows``
        rows = self.rows if mask is None else self.rows[sel]
        rw_t, jw_t = self._residuals(u_t, rows)
        chi2_t = np.full(len(self.rows), np.inf)
        chi2_t[sel] = np.einsum("ij,ij->i", rw_t, rw_t)
        self._trial = (sel, u_t, rw_t, jw_t, chi2_t[sel])
        return chi2_t

    def accept(self, ok):
        sel, u_t, rw_t, jw_t, chi2_t = self._trial
        self._trial = None
        take = ok[sel]
        if take.all() and len(sel) == len(self.rows):
            self._u, self._rw, self._jw, self._chi2 = u_t, rw_t, jw_t, chi2_t
            return
        where = sel[take]
        self._u[where], self._rw[where] = u_t[take], rw_t[take]
        self._jw[where], self._chi2[where] = jw_t[take], chi2_t[take]

    def double_step(self):
        self._step = 2.0 * self._step

    def keep(self, mask):
        done = self.rows[~mask]
        self.out_u[done] = self._u[~mask]
        self.out_rw[done] = self._rw[~mask]
        self.out_jw[done] = self._jw[~mask]
        # a new rows array tells the residual callable to refresh its cache
        self.rows = self.rows[mask]
        self._u, self._rw, self._jw = self._u[mask], self._rw[mask], self._jw[mask]
        self._chi2 = self._chi2[mask]
        if self._step is not None:
            self._step = self._step[mask]
        if self._a is not None:
            self._a, self._g, self._d = self._a[mask], self._g[mask], self._d[mask]

    def _freeze(self, a, g):
        """
        Hold the unknowns that sit on a bound and are pushed against it.

        Their rows and columns of the normal equations are zeroed (the
        solves then leave them unchanged), so that the convergence test and
        the step involve only the unknowns that can still move.
        """
        if self.lower is None:
            return a, g
        lo, hi = self.lower[self.rows], self.upper[self.rows]
        frozen = ((self._u <= lo) & (g < 0)) | ((self._u >= hi) & (g > 0))
        if not frozen.any():
            return a, g
        keep = (~frozen).astype(float)
        return a * keep[:, :, None] * keep[:, None, :], g * keep


def solve_stacked(residuals, u0, *, lower=None, upper=None, dof=None,
                  floor=None, maxiters=100, tol=1e-6, progress=None):
    """
    Fit stacked independent least-squares systems (see `StackedProblem`).

    Returns
    -------
    outcome : `LMOutcome`

    Examples
    --------
    Two straight lines ``y = a + b t`` fitted at once:

    >>> import numpy as np
    >>> from psfkit._numerics.lm import solve_stacked
    >>> t = np.linspace(0.0, 1.0, 5)
    >>> data = np.stack([1.0 + 2.0 * t, -3.0 + 0.5 * t])
    >>> design = np.stack([np.ones_like(t), t], axis=1)
    >>> def residuals(u, rows):
    ...     model = u @ design.T
    ...     return data[rows] - model, np.broadcast_to(design, (len(rows), 5, 2))
    >>> out = solve_stacked(residuals, np.zeros((2, 2)))
    >>> np.round(out.u, 6).tolist(), out.converged.tolist()
    ([[1.0, 2.0], [-3.0, 0.5]], [True, True])
    """
    problem = StackedProblem(residuals, u0, lower=lower, upper=upper, dof=dof,
                             floor=floor)
    converged, niter = levenberg_marquardt(problem, maxiters=maxiters, tol=tol,
                                           progress=progress)
    return LMOutcome(u=problem.out_u, converged=converged, niter=niter,
                     rw=problem.out_rw, jw=problem.out_jw)
