"""
Per-candidate kernel equations, solutions and residual statistics.

Each chunk of candidates goes through the steps once, while its design
matrix ``C`` (the template stamp convolved with every basis image, valid
region, plus a column of ones for the background) is in memory:

1. the normal equations ``M = C^T W C``, ``b = C^T W s`` (shared core
   `psfkit._numerics.linalg.normal_equations`, one policy for singular
   systems in `~psfkit._numerics.linalg.solve`);
2. the candidate's own kernel and background;
3. the per-pixel variance of its difference, ``var_s + var_t * K**2``,
   and the statistics of ``z = D / sqrt(var)`` over its stamp;
4. the few numbers that give the same statistics for *any* other
   coefficients ``a`` without the stamps: with ``u = 1 / sqrt(var)``,
   ``r0`` the residual of the own solution ``a0`` and ``d = a - a0``,
   ``sum(z) = sum(u r0) - d . (C u)`` and ``sum(z**2) = sum(u**2 r0**2) -
   2 d . (C u**2 r0) + d^T (C^T diag(u**2) C) d``.

The spatial kernel is assessed on every candidate with step 4 (its
pixel variance is the one of the candidate's own kernel, a second-order
difference), and a basis that lies in the span of the fitted one (the
principal components of the kernels) gets its equations by a change of
coordinates instead of new convolutions.
"""

from dataclasses import dataclass

import numpy as np

from .._numerics.linalg import (
    RCOND,
    normal_equations,
    pow2,
    scaled_condition_number,
    solve,
)
from ..utils import run_chunked
from ._stamps import StampDesign, convolve_each_valid, crop_valid

__all__ = []

# candidates per batch: 8 to 16 measured fastest for the default basis;
# the smaller end keeps the memory of each thread's batch near 8 MB.  On
# a small image the batches of all threads together are held to the size
# of the inputs (``max_bytes``), down to 1 MB a thread
_CHUNK_BYTES = 8 * 2**20
_MIN_CHUNK_BYTES = 2**20


@dataclass(frozen=True)
class Reference:
    """A candidate's fit in the coordinates of the basis it was built with.

    ``m`` and ``b`` are its normal equations; the other fields give the
    residual statistics of any coefficient vector (see the module notes).
    """

    basis: np.ndarray
    m: np.ndarray
    b: np.ndarray
    a0: np.ndarray
    chi2: float
    g: np.ndarray
    mz: np.ndarray
    qz: np.ndarray
    su: float
    n: int


def _stack(cands, name, crop=None):
    arrays = [getattr(c, name) for c in cands]
    out = np.stack(arrays)
    return out if crop is None else crop_valid(out, crop)


def _weights(var, good, constant):
    """Fit weights: ``1/var`` per pixel or ``1/median(var)`` per stamp."""
    ok = good & (var > 0)
    if constant:
        flat = np.where(ok, var, np.nan).reshape(len(var), -1)
        with np.errstate(all="ignore"):
            med = np.nanmedian(flat, axis=1) if not ok.all() else np.median(
                flat, axis=1)
        med = np.where(np.isfinite(med) & (med > 0), med, 1.0)
        return np.where(ok, 1.0 / med[:, None, None], 0.0)
    with np.errstate(divide="ignore"):
        return np.where(ok, 1.0 / np.where(ok, var, 1.0), 0.0)


def _extend(transform, fit_background):
    """The transform with the background column passed through."""
    if transform is None or not fit_background:
        return transform
    nb, nw = transform.shape
    out = np.zeros((nb + 1, nw + 1))
    out[:nb, :nw] = transform
    out[nb, nw] = 1.0
    return out


def _to_basis(a, mat):
    """``a @ mat @ a^T`` over a stack (``a`` None is the identity)."""
    return mat if a is None else a @ mat @ a.T


class EquationBuilder:
    """
    Build (and optionally solve) the kernel equations of candidates.

    Parameters
    ----------
    basis : `~numpy.ndarray`
        ``(n_basis, k, k)`` basis.
    fit_background : bool
        Add the background column.
    constant_variance_weighting : bool
        One weight per stamp (``1/median(var)``) instead of ``1/var``.
    regularization : `~numpy.ndarray`, optional
        ``(n_basis, n_basis)`` penalty ``H``; ``lambda H`` is added to ``M``.
    lambda_type, lambda_value, lambda_scaling
        See `~psfkit.diffim.PsfMatchConfig`.
    n_threads : int
        Threads over chunks of candidates.
    max_bytes : int, optional
        Working memory the batches of all threads may hold at once
        (about 8 MB a thread by default, at least 1 MB a thread).
    """

    def __init__(self, basis, *, fit_background=True,
                 constant_variance_weighting=True, regularization=None,
                 lambda_type="absolute", lambda_value=0.2,
                 lambda_scaling=1e-4, n_threads=1, max_bytes=None):
        self.basis = np.asarray(basis, dtype=float)
        self.design = StampDesign(self.basis)
        self.fit_background = fit_background
        self.constant = constant_variance_weighting
        self.regularization = regularization
        self.lambda_type = lambda_type
        self.lambda_value = lambda_value
        self.lambda_scaling = lambda_scaling
        self.n_threads = n_threads
        self.max_bytes = max_bytes
        self.transform = _extend(self.design.transform, fit_background)

    def _chunk(self, size):
        valid = size - self.basis.shape[-1] + 1
        # the design and its weighted copies, per candidate
        per = 4 * (self.design.n_work + 1) * valid * valid * 8
        budget = _CHUNK_BYTES
        if self.max_bytes is not None:
            share = self.max_bytes // max(1, self.n_threads)
            budget = min(budget, max(share, _MIN_CHUNK_BYTES))
        return int(np.clip(budget // per, 1, 16))

    def run(self, cands, *, solve_kernels=True):
        """
        Set ``m`` and ``b`` of every candidate and, with ``solve_kernels``,
        its solution, kernel, statistics and `Reference`.

        Returns
        -------
        cond : `~numpy.ndarray`
            Scaled condition numbers of the normal matrices (only with
            ``solve_kernels``, else empty).
        """
        if not cands:
            return np.zeros(0)
        size = cands[0].stamp_size
        cond = np.full(len(cands), np.nan)

        def work(start, stop, _):
            cond[start:stop] = self._run_chunk(cands[start:stop],
                                               solve_kernels)

        run_chunked(work, len(cands), self._chunk(size),
                    n_threads=self.n_threads)
        return cond

    def _run_chunk(self, cands, solve_kernels):
        k = self.basis.shape[-1]
        m_c = len(cands)
        template = _stack(cands, "template")
        science = _stack(cands, "science", crop=k)
        var_s = _stack(cands, "science_variance", crop=k)
        var_t = _stack(cands, "template_variance")
        good = ~_stack(cands, "mask", crop=k)
        design = self.design.design(template)
        valid = design.shape[-1]
        npix = valid * valid
        cols = [design.reshape(m_c, -1, npix)]
        if self.fit_background:
            cols.append(np.ones((m_c, 1, npix)))
        design = np.concatenate(cols, axis=1) if len(cols) > 1 else cols[0]
        target = np.where(good, science, 0.0).reshape(m_c, npix)
        weights = _weights(var_s + crop_valid(var_t, k), good,
                           self.constant).reshape(m_c, npix)
        jac = np.swapaxes(design, 1, 2)
        flat = np.all(weights == weights[:, :1], axis=1)
        if flat.all():
            # one weight per stamp: skip the weighting pass over the design
            m_w, b_w = normal_equations(jac, target)
            m_w *= weights[:, :1, None]
            b_w *= weights[:, :1]
        else:
            m_w, b_w = normal_equations(jac, target, weights)
        t = self.transform
        m = _to_basis(t, m_w)
        b = b_w if t is None else b_w @ t.T
        if self.regularization is not None:
            nb = self.basis.shape[0]
            h = np.zeros(m.shape[1:])
            h[:nb, :nb] = self.regularization
            if self.lambda_type == "relative":
                lam = self.lambda_scaling * (np.trace(m, axis1=1, axis2=2)
                                             / np.trace(self.regularization))
            else:
                lam = np.full(m_c, float(self.lambda_value))
            m = m + lam[:, None, None] * h
        for i, cand in enumerate(cands):
            cand.m = m[i]
            cand.b = b[i]
        if not solve_kernels:
            return np.full(m_c, np.nan)
        coeffs, cond = solve_with_condition(m, b)
        nb = self.basis.shape[0]
        kernels = np.einsum("ni,ikl->nkl", coeffs[:, :nb], self.basis)
        # the residual and its pixel variance with the own kernel
        work = coeffs if t is None else coeffs @ t
        model = (work[:, None, :] @ design)[:, 0]
        resid = np.where(good.reshape(m_c, npix), target - model, 0.0)
        var_t_c = crop_valid(var_t, k)
        if np.all(var_t_c == var_t_c[:, :1, :1]) and np.all(
                var_t == var_t[:, :1, :1]):
            conv_var = var_t[:, :1, :1] * np.sum(kernels ** 2, axis=(1, 2),
                                                  keepdims=True)
        else:
            conv_var = convolve_each_valid(var_t, kernels ** 2,
                                           dtype=np.float32)
        var = (var_s + conv_var).reshape(m_c, npix)
        ok = good.reshape(m_c, npix) & (var > 0) & np.isfinite(var)
        u = np.where(ok, 1.0 / np.sqrt(np.where(ok, var, 1.0)), 0.0)
        z = resid * u
        n = ok.sum(axis=1)
        # the statistics only need a few digits: single precision halves
        # the cost of this second product over the design.  Its range is
        # narrow (``u**2`` of an image in erg/s/cm2/A overflows it), so the
        # product is formed in units of powers of two: ``u`` over its
        # largest value, the residual times it, the columns of the design
        # over the largest template value (the background column as it is)
        s_u = pow2(u.max(axis=1))[:, None]
        s_c = np.ones(design.shape[:2])
        s_c[:, :self.design.n_work] = pow2(
            np.abs(template).max(axis=(1, 2)))[:, None]
        jac32 = np.swapaxes(np.multiply(
            design, 1.0 / s_c[:, :, None],
            out=np.empty(design.shape, np.float32)), 1, 2)
        u32 = np.multiply(u, 1.0 / s_u, out=np.empty(u.shape, np.float32))
        r32 = np.multiply(resid, s_u, out=np.empty(u.shape, np.float32))
        mz_w, g_w = normal_equations(jac32, r32, u32 * u32)
        mz_w = mz_w * (s_c[:, :, None] * s_c[:, None, :]
                       * s_u[:, :, None] ** 2)
        g_w = g_w * s_c * s_u
        qz_w = (u[:, None, :] @ jac)[:, 0]
        mz = _to_basis(t, mz_w)
        g = g_w if t is None else g_w @ t.T
        qz = qz_w if t is None else qz_w @ t.T
        su = z.sum(axis=1)
        chi2 = (z * z).sum(axis=1)
        mean, std = _moments(su, chi2, n)
        sums = self.basis.sum(axis=(1, 2))
        for i, cand in enumerate(cands):
            cand.coefficients = coeffs[i]
            cand.kernel = kernels[i]
            cand.kernel_sum = float(coeffs[i, :nb] @ sums)
            cand.background = (float(coeffs[i, nb]) if self.fit_background
                               else 0.0)
            cand.condition_number = float(cond[i])
            cand.residual_mean = float(mean[i])
            cand.residual_std = float(std[i])
            cand._reference = Reference(
                basis=self.basis, m=m[i], b=b[i], a0=coeffs[i],
                chi2=float(chi2[i]), g=g[i], mz=mz[i], qz=qz[i],
                su=float(su[i]), n=int(n[i]))
        return cond


def solve_with_condition(m, b):
    """
    Solutions and scaled condition numbers of a stack of systems.

    The shared solver's singular-system policy is applied from the
    condition numbers computed here (one eigen-decomposition per system
    instead of two): systems at or above ``1 / RCOND`` are solved again by
    the shared solver with its own test.
    """
    cond = scaled_condition_number(m)
    coeffs, _ = solve(m, b, check_condition=False)
    redo = ~(cond < 1.0 / RCOND) | ~np.all(np.isfinite(coeffs), axis=1)
    if redo.any():
        coeffs[redo] = solve(m[redo], b[redo])[0]
    return coeffs, cond


def _moments(su, chi2, n):
    """Mean and standard deviation of ``z`` from its sums."""
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, su / np.maximum(n, 1), np.nan)
        var = (chi2 - n * mean ** 2) / np.maximum(n - 1, 1)
        std = np.sqrt(np.maximum(var, 0.0))
    return mean, np.where(n > 1, std, np.nan)


def residual_statistics(cands, coeffs):
    """
    Mean and std of ``z`` over each candidate's stamp for other coefficients.

    Parameters
    ----------
    cands : list of `~psfkit.diffim.KernelCandidate`
        Candidates with a `Reference`.
    coeffs : `~numpy.ndarray`
        ``(n, p)`` coefficients in each candidate's reference basis
        (background last when fitted).

    Returns
    -------
    mean, std : `~numpy.ndarray`
    """
    refs = [c._reference for c in cands]
    d = np.asarray(coeffs, dtype=float) - np.stack([r.a0 for r in refs])
    su = np.array([r.su for r in refs]) - np.einsum(
        "ni,ni->n", np.stack([r.qz for r in refs]), d)
    chi2 = (np.array([r.chi2 for r in refs])
            - 2 * np.einsum("ni,ni->n", np.stack([r.g for r in refs]), d)
            + np.einsum("ni,nij,nj->n", d, np.stack([r.mz for r in refs]), d))
    return _moments(su, chi2, [r.n for r in refs])


def span_transform(basis, reference):
    """
    ``v`` with ``basis = v @ reference`` (flattened images), or `None` when
    ``basis`` is not in the span of ``reference``.
    """
    basis = np.asarray(basis, dtype=float)
    reference = np.asarray(reference, dtype=float)
    if basis.shape[1:] != reference.shape[1:]:
        return None
    if basis is reference or (basis.shape == reference.shape
                              and np.array_equal(basis, reference)):
        return np.eye(len(basis))
    ref = reference.reshape(len(reference), -1)
    new = basis.reshape(len(basis), -1)
    v = np.linalg.lstsq(ref.T, new.T, rcond=None)[0].T
    scale = np.abs(new).max()
    if not np.abs(v @ ref - new).max() <= 1e-9 * scale:
        return None
    return v


def transform_equations(cands, v, fit_background):
    """Equations of candidates in a basis ``v @ reference`` of their own."""
    v = _extend(v, fit_background)
    m = np.stack([c._reference.m for c in cands])
    b = np.stack([c._reference.b for c in cands])
    return v @ m @ v.T, b @ v.T, v
