"""
Batched linear algebra for many small least-squares problems.

Every fitting engine in psfkit solves a stack of small systems at once:
one per PSF group, per ePSF star, per kernel candidate.  This module holds
the shared steps:

- `pow2`: powers of two that bring values to a safe range exactly;
- `normal_equations`: ``A = J^T W J`` and ``g = J^T W r`` for a stack;
- `solve` and `damped_solve`: the solutions, with one policy for singular
  systems (below); `DampedSystems` equilibrates a stack once for the
  several dampings of a Levenberg-Marquardt iteration;
- `covariance`: inverses of the normal matrices with the undetermined
  unknowns reported, and `pseudo_inverse`, the same inverses without that
  report (cheaper, for engines that reuse an inverse as an operator);
- `scaled_condition_number`.

Products: stacked ``@`` (``numpy.matmul``) hands each system to BLAS and
was measured fastest, or equal to a per-system loop of BLAS calls, for
every shape the engines use (from 3000 systems of 81 x 3 to a few of
40000 x 30; NumPy 2, one BLAS thread); ``einsum`` without path
optimisation was 3 to 15 times slower (``benchmarks/bench_numerics.py``
measures all three in one run).

Singular systems: matrices are first equilibrated by their diagonal
(Jacobi scaling), so that tests do not depend on the units of the
unknowns (a flux of 1e6 next to a position).  Unknowns with a zero
diagonal (unused, frozen) get a zero solution.  The whole stack is solved
by LU (`numpy.linalg.solve`); if LAPACK reports a singular matrix, or a
solution is not finite, only the affected systems are solved again by a
symmetric eigen-decomposition that drops directions whose eigenvalue is
below ``rcond`` times the largest (a pseudo-inverse), and they are
reported as singular.  A singular system never stops the others.
"""

import numpy as np

__all__ = ["pow2", "normal_equations", "equilibration", "solve",
           "damped_solve", "DampedSystems",
           "covariance", "pseudo_inverse", "scaled_condition_number", "RCOND"]

#: relative eigenvalue below which a direction counts as undetermined
RCOND = 1e-12


def pow2(x):
    """Powers of two within a factor 2 of ``x >= 0``; 1 where ``x`` is 0 or
    not finite (whose binary exponent frexp gives as 0).  Dividing by them
    brings values to a convenient range without rounding."""
    return np.ldexp(1.0, np.frexp(x)[1])


def normal_equations(jac, resid, weights=None):
    """
    Batched normal equations of weighted linear least squares.

    Parameters
    ----------
    jac : ndarray, shape (..., n_pix, n_par)
        The design (Jacobian) matrices; a transposed view of an
        ``(..., n_par, n_pix)`` array is fine.
    resid : ndarray, shape (..., n_pix)
        The right-hand sides (data minus model).
    weights : ndarray, shape (..., n_pix), optional
        Weights multiplying each squared residual (inverse variances).

    Returns
    -------
    a : ndarray, shape (..., n_par, n_par)
        ``J^T W J`` (exactly symmetric).
    g : ndarray, shape (..., n_par)
        ``J^T W r``.

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit._numerics.linalg import normal_equations
    >>> jac = np.array([[[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]]])
    >>> a, g = normal_equations(jac, np.array([[1.0, 2.0, 3.0]]))
    >>> a[0].tolist(), g[0].tolist()
    ([[3.0, 3.0], [3.0, 5.0]], [6.0, 8.0])
    """
    jt = np.swapaxes(jac, -1, -2)
    jtw = jt if weights is None else jt * weights[..., None, :]
    a = jtw @ jac
    a = 0.5 * (a + np.swapaxes(a, -1, -2))
    g = (jtw @ resid[..., None])[..., 0]
    return a, g


def equilibration(a):
    """
    The Jacobi scale ``s = 1 / sqrt(diag(a))`` of each matrix (0 where the
    diagonal is not positive: unknowns that the data do not touch).
    """
    d = np.diagonal(a, axis1=-2, axis2=-1)
    used = d > 0
    return np.where(used, 1.0 / np.sqrt(np.where(used, d, 1.0)), 0.0)


def _pinv_solve(a, b, rcond):
    """Eigen-decomposition solve of symmetric ``a x = b`` (pseudo-inverse)."""
    w, v = np.linalg.eigh(a)
    null = w <= rcond * np.abs(w[..., -1:])
    winv = np.where(null, 0.0, 1.0 / np.where(null, 1.0, w))
    vtb = (np.swapaxes(v, -1, -2) @ b[..., None])[..., 0]
    return (v @ (winv * vtb)[..., None])[..., 0]


def solve(a, b, *, rcond=RCOND, check_condition=True):
    """
    Solve a stack of symmetric systems ``a x = b`` (see the module policy).

    Parameters
    ----------
    a : ndarray, shape (n, p, p)
        Symmetric positive semi-definite matrices (normal equations).
    b : ndarray, shape (n, p)
    rcond : float, optional
        Relative eigenvalue cut-off for the systems found singular.
    check_condition : bool, optional
        Also treat as singular the systems that LU solves but whose
        equilibrated smallest eigenvalue is below ``rcond`` (one extra
        eigenvalue computation per system; damped steps skip it).

    Returns
    -------
    x : ndarray, shape (n, p)
    singular : ndarray of bool, shape (n,)
        The systems solved by the pseudo-inverse.

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit._numerics.linalg import solve
    >>> a = np.array([[[2.0, 0.0], [0.0, 1e12]], [[1.0, 1.0], [1.0, 1.0]]])
    >>> x, singular = solve(a, np.array([[2.0, 1e12], [2.0, 2.0]]))
    >>> np.round(x, 12).tolist(), singular.tolist()
    ([[1.0, 1.0], [1.0, 1.0]], [False, True])
    """
    a = np.asarray(a, dtype=float)
    return _solve_equilibrated(*_equilibrated(a), np.asarray(b, dtype=float),
                               rcond, check_condition)


def _solve_equilibrated(s, scaled, bad_matrix, b, rcond, check_condition):
    """`solve` of the output of `_equilibrated` (the systems ``scaled``)."""
    n, p = b.shape
    with np.errstate(invalid="ignore", over="ignore"):
        bs = b * s
    # a system with a non-finite matrix or right-hand side has no solution
    unusable = bad_matrix | ~np.all(np.isfinite(bs), axis=1)
    singular = unusable.copy()
    y = np.zeros((n, p))
    ok = ~singular
    every = bool(ok.all())
    if every or ok.any():
        # (all systems usable, the common case: no copies of the stack)
        a_ok, b_ok = (scaled, bs) if every else (scaled[ok], bs[ok])
        try:
            with np.errstate(all="ignore"):
                y_ok = np.linalg.solve(a_ok, b_ok[:, :, None])[:, :, 0]
        except np.linalg.LinAlgError:
            y_ok = _solve_each(a_ok, b_ok, rcond, singular, ok)
        if every:
            y = y_ok
        else:
            y[ok] = y_ok
        # LU succeeds on nearly singular matrices with a useless answer:
        # check the pivots' effect through the eigenvalues' ratio
        bad = ~np.all(np.isfinite(y_ok), axis=1)
        if check_condition:
            bad |= _nearly_singular(a_ok, rcond)
        singular[np.flatnonzero(ok)[bad]] = True
    if singular.any():
        clean = singular & ~unusable
        y[unusable] = np.nan
        if clean.any():
            y[clean] = _pinv_solve(scaled[clean], bs[clean], rcond)
    return y * s, singular


def _solve_each(a, b, rcond, singular, ok):
    """Solve system by system after LAPACK failed on the stack."""
    out = np.empty_like(b)
    where = np.flatnonzero(ok)
    for i in range(len(b)):
        try:
            out[i] = np.linalg.solve(a[i], b[i])
        except np.linalg.LinAlgError:
            out[i] = _pinv_solve(a[i], b[i], rcond)
            singular[where[i]] = True
    return out


def _nearly_singular(scaled, rcond):
    """Equilibrated matrices whose smallest eigenvalue is below rcond."""
    if scaled.shape[-1] == 1:
        return ~(scaled[:, 0, 0] > rcond)
    w = np.linalg.eigvalsh(scaled)
    return w[:, 0] <= rcond * np.abs(w[:, -1])


def damped_solve(a, g, lam, *, rcond=RCOND):
    """
    Levenberg-Marquardt steps ``(a + lam diag(a)) x = g`` for a stack.

    Marquardt's scaling by the diagonal makes the damping independent of
    the units of each unknown; unknowns with a zero diagonal keep a zero
    step.  Singular systems follow the module policy.  (`DampedSystems`
    does the same for several dampings of one stack.)

    Parameters
    ----------
    a : ndarray, shape (n, p, p)
    g : ndarray, shape (n, p)
    lam : ndarray, shape (n,)
        The damping of each system.

    Returns
    -------
    step : ndarray, shape (n, p)
    singular : ndarray of bool, shape (n,)
    """
    return DampedSystems(a).solve(g, lam, rcond=rcond)


class DampedSystems:
    """
    A stack of normal matrices, equilibrated once and solved with any
    Marquardt damping.

    After Jacobi equilibration every used unknown has a unit diagonal, so
    ``a + lam diag(a)`` becomes the equilibrated matrix plus ``lam`` on
    its diagonal: a Levenberg-Marquardt iteration that solves for its step
    and again for a convergence test pays for the scaling and the checks
    of the matrices once.

    Parameters
    ----------
    a : ndarray, shape (n, p, p)
        Symmetric positive semi-definite matrices.

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit._numerics.linalg import DampedSystems, damped_solve
    >>> a = np.array([[[4.0, 1.0], [1.0, 9.0]]])
    >>> g = np.array([[1.0, 2.0]])
    >>> systems = DampedSystems(a)
    >>> step, _ = systems.solve(g, np.array([0.5]))
    >>> bool(np.allclose(step, np.linalg.solve(a[0] + 0.5 * np.diag([4.0, 9.0]),
    ...                                        g[0])))
    True
    """

    def __init__(self, a):
        self._s, self._scaled, self._bad = _equilibrated(
            np.asarray(a, dtype=float))
        self._used = self._s > 0

    def solve(self, g, lam, *, rcond=RCOND):
        """
        Steps ``(a + lam diag(a)) x = g``.

        Parameters
        ----------
        g : ndarray, shape (n, p)
        lam : ndarray, shape (n,) or (n, p)
            The damping of each system (or of each unknown).

        Returns
        -------
        step : ndarray, shape (n, p)
        singular : ndarray of bool, shape (n,)
        """
        lam = np.asarray(lam, dtype=float)
        if lam.ndim == 1:
            lam = lam[:, None]
        m = self._scaled.copy()
        idx = np.arange(m.shape[1])
        m[:, idx, idx] += np.where(self._used, lam, 0.0)
        return _solve_equilibrated(self._s, m, self._bad,
                                   np.asarray(g, dtype=float), rcond, False)


def _equilibrated(a):
    """
    Each matrix scaled to unit diagonal (unused unknowns get a unit
    diagonal too); returns the scale ``s``, the scaled matrices and the
    systems whose matrix is not finite (replaced by the identity).
    """
    with np.errstate(invalid="ignore", over="ignore"):
        s = equilibration(a)
        used = s > 0
        scaled = a * s[:, :, None] * s[:, None, :]
    if not used.all():
        idx = np.arange(a.shape[1])
        scaled[:, idx, idx] = np.where(used, scaled[:, idx, idx], 1.0)
    bad = ~np.all(np.isfinite(scaled), axis=(1, 2))
    if bad.any():
        scaled[bad] = np.eye(a.shape[1])
    return s, scaled, bad


def _equilibrated_eigh(equilibrated, rcond):
    """
    Eigen-decomposition of each matrix of `_equilibrated`'s output.

    Returns the scale ``s``, the eigenvectors, the inverted eigenvalues (0
    for the null directions), the null directions and the systems whose
    matrix is not finite (replaced by the identity).
    """
    s, scaled, bad = equilibrated
    w, v = np.linalg.eigh(scaled)
    null = w <= rcond * np.abs(w[:, -1:])
    winv = np.where(null, 0.0, 1.0 / np.where(null, 1.0, w))
    return s, v, winv, null, bad


def _inverse_from_eigh(s, v, winv):
    inv = (v * winv[:, None, :]) @ np.swapaxes(v, 1, 2)
    return inv * s[:, :, None] * s[:, None, :]


def covariance(a, *, rcond=RCOND):
    """
    Inverse of each normal matrix, and the unknowns it cannot determine.

    The matrices are equilibrated by their diagonal before the symmetric
    eigen-decomposition, so the singularity test does not depend on the
    units.  Directions with a relative eigenvalue below ``rcond`` are left
    out of the inverse (a pseudo-inverse); the unknowns with a component
    along them are reported, so that in a group where two sources are
    degenerate only those two lose their uncertainties.  Unused unknowns
    (zero rows) get zero variance.  Matrices well enough conditioned that
    no direction would be dropped (the common case) are inverted by LU
    instead, several times faster for the same inverse.

    Returns
    -------
    cov : ndarray, shape (n, p, p)
    undetermined : ndarray of bool, shape (n, p)

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit._numerics.linalg import covariance
    >>> cov, undetermined = covariance(np.array([[[4.0, 0.0], [0.0, 0.0]]]))
    >>> cov[0].tolist(), undetermined[0].tolist()
    ([[0.25, 0.0], [0.0, 0.0]], [False, False])
    """
    a = np.asarray(a, dtype=float)
    n, p = a.shape[:2]
    cov = np.empty((n, p, p))
    undetermined = np.zeros((n, p), dtype=bool)
    equilibrated = _equilibrated(a)
    rest = _inverse_if_well_conditioned(equilibrated, rcond, cov)
    if rest.size:
        s, v, winv, null, bad = _equilibrated_eigh(
            tuple(x[rest] for x in equilibrated), rcond)
        cov[rest] = _inverse_from_eigh(s, v, winv)
        und = np.any((np.abs(v) > 1e-4) & null[:, None, :], axis=2)
        undetermined[rest] = und | bad[:, None]
    return cov, undetermined


def _inverse_if_well_conditioned(equilibrated, rcond, out):
    """
    Invert by LU the matrices that the eigen-decomposition would not
    truncate; return the indices of the others.

    ``equilibrated`` is the output of `_equilibrated` for the stack.

    For a symmetric matrix the 2-norm condition number (the ratio of
    extreme eigenvalues) is at most the 1-norm one, ``|A|_1 |A^-1|_1``,
    which the LU inverse gives at once: where that is a hundred times
    below ``1 / rcond`` no direction would be dropped, and the inverse is
    the pseudo-inverse, at a fraction of the cost of ``eigh``.
    """
    s, scaled, bad = equilibrated
    n = len(scaled)
    todo = np.flatnonzero(~bad)
    if todo.size == 0:
        return np.arange(n)
    try:
        with np.errstate(all="ignore"):
            inv = np.linalg.inv(scaled[todo])
    except np.linalg.LinAlgError:
        return np.arange(n)
    with np.errstate(all="ignore"):
        kappa = (np.abs(scaled[todo]).sum(axis=1).max(axis=1)
                 * np.abs(inv).sum(axis=1).max(axis=1))
    ok = np.isfinite(kappa) & (kappa * rcond < 1e-2)
    done = todo[ok]
    inv = inv[ok]
    out[done] = 0.5 * (inv + np.swapaxes(inv, 1, 2)) * (
        s[done][:, :, None] * s[done][:, None, :])
    rest = np.ones(n, dtype=bool)
    rest[done] = False
    return np.flatnonzero(rest)


def pseudo_inverse(a, *, rcond=RCOND):
    """
    The inverse of `covariance` without the report of undetermined unknowns.

    The same policy for singular matrices (equilibration by the diagonal,
    directions with a relative eigenvalue below ``rcond`` dropped), for
    engines that apply the inverse as an operator, many times over.

    Parameters
    ----------
    a : ndarray, shape (n, p, p)
        Symmetric positive semi-definite matrices.
    rcond : float, optional
        Relative eigenvalue cut-off.

    Returns
    -------
    inverse : ndarray, shape (n, p, p)

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit._numerics.linalg import pseudo_inverse
    >>> np.round(pseudo_inverse(np.array([[[1.0, 1.0], [1.0, 1.0]]]))[0], 12)
    array([[0.25, 0.25],
           [0.25, 0.25]])
    """
    s, v, winv, _, _ = _equilibrated_eigh(_equilibrated(a), rcond)
    return _inverse_from_eigh(s, v, winv)


def scaled_condition_number(m):
    """
    Condition numbers of symmetric matrices scaled to unit diagonal.

    Scaling first makes the number independent of the units of each
    unknown (a bright star and a background term differ by orders of
    magnitude in their raw columns).
    """
    m = np.asarray(m)
    d = np.sqrt(np.abs(np.diagonal(m, axis1=-2, axis2=-1)))
    d = np.where(d > 0, d, 1.0)
    ms = m / (d[..., :, None] * d[..., None, :])
    ev = np.linalg.eigvalsh(ms)
    lo = np.abs(ev).min(axis=-1)
    hi = np.abs(ev).max(axis=-1)
    with np.errstate(divide="ignore"):
        return np.where(lo > 0, hi / np.where(lo > 0, lo, 1.0), np.inf)
