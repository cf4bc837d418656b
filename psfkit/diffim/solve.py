"""
The kernel solve: from a cell set of candidates to a spatial kernel.

Four plain functions do the work, in this order:

1. `fit_single_kernels`: every offered candidate's own kernel; poor fits
   are rejected (``single_kernel_clipping``);
2. `clip_kernel_sums`: outlying kernel sums are rejected (variable or
   saturated sources, ``kernel_sum_clipping``);
3. `fit_spatial_kernel`: the spatial model fitted to the good candidates;
4. `assess_spatial_kernel`: the spatial kernel evaluated on every good
   candidate, poor ones rejected (``spatial_kernel_clipping``).

`solve_matching_kernel` runs up to ``max_spatial_iterations`` passes of
them: step 1 is repeated until it rejects nothing (a cell then offers its
next candidate in place of a rejected one), the basis is optionally
replaced by principal components of the candidates' kernels, and the loop
stops as soon as the assessment rejects nothing.  The visitor classes of
`psfkit.diffim.visitors` are thin wrappers around these functions.
"""

from collections import Counter
from dataclasses import dataclass, field, replace
from functools import partial
import re
import time

import numpy as np

from ..utils import (
    PsfkitError,
    SummaryReprMixin,
    executor_threads,
    renamed_keyword,
    single_threaded_blas,
)
from ._equations import (
    EquationBuilder,
    residual_statistics,
    solve_with_condition,
    span_transform,
    transform_equations,
)
from ._stamps import convolve_each_valid, crop_valid
from .basis import pca_kernel_basis
from .candidates import CandidateStatus
from .spatial import solve_spatial_kernel

__all__ = ["NoKernelCandidatesError", "KernelSolution", "solve_matching_kernel",
           "fit_single_kernels", "clip_kernel_sums", "fit_spatial_kernel",
           "assess_spatial_kernel"]


class NoKernelCandidatesError(PsfkitError, RuntimeError):
    """
    No usable kernel candidate is left.

    Parameters
    ----------
    message : str
        The explanation.
    n_tried : int, optional
        How many candidates were tried.
    reasons : dict, optional
        Rejection reason (numbers stripped) to count.
    table : `~astropy.table.QTable`, optional
        Every candidate with its status and reason.
    """

    def __init__(self, message, *, n_tried=0, reasons=None, table=None):
        super().__init__(message)
        self.n_tried = n_tried
        self.reasons = dict(reasons or {})
        self.table = table

    @classmethod
    def from_candidates(cls, candidates, table=None, *, context=""):
        """Build the error with a summary of why each candidate failed: one
        line per kind of reason, with its first instance's numbers."""
        reasons = Counter()
        first = {}
        for c in candidates:
            text = c.reason or "unused"
            kind = re.sub(r"[-+]?\d[\d.e+-]*", "#", text)
            reasons[kind] += 1
            first.setdefault(kind, text)
        detail = "; ".join(f"{n} x {'' if n == 1 else 'e.g. '}{first[r]}"
                           for r, n in reasons.most_common())
        msg = (f"no good kernel candidates{context}: {len(candidates)} tried"
               + (f"; rejected: {detail}" if candidates else ""))
        return cls(msg, n_tried=len(candidates), reasons=reasons, table=table)


@dataclass(frozen=True, repr=False)
class KernelSolution(SummaryReprMixin):
    """
    Outcome of `solve_matching_kernel`.

    Attributes
    ----------
    kernel : `~psfkit.diffim.SpatialKernel`
        The spatial kernel (and background).
    basis : `~numpy.ndarray`
        The basis of ``kernel`` (principal components if requested).
    n_iterations : int
        Passes of the solve loop.
    n_used : int
        Candidates in the final spatial fit.
    condition_number : float
        Scaled condition number of the final spatial system.
    kernel_sum_mean, kernel_sum_std : float
        Clipped statistics of the candidates' own kernel sums.
    timings : dict
        Seconds spent fitting single kernels (``single_kernels``) and the
        spatial kernel with its assessment (``spatial``).
    """

    kernel: object
    basis: np.ndarray
    n_iterations: int
    n_used: int
    condition_number: float
    kernel_sum_mean: float
    kernel_sum_std: float
    timings: dict = field(default_factory=dict)


def _good(candidates):
    return [c for c in candidates if c.status is CandidateStatus.GOOD]


def _residual_flags(mean, std, config):
    """Reasons for rejection from residual statistics ('' if none)."""
    reasons = []
    for mu, sd in zip(mean, std, strict=True):
        if not (np.isfinite(mu) and np.isfinite(sd)):
            reasons.append("non-finite residuals")
        elif abs(mu) > config.candidate_residual_mean_max:
            reasons.append(f"|residual mean| {abs(mu):.3g} > "
                           f"{config.candidate_residual_mean_max:g}")
        elif sd > config.candidate_residual_std_max:
            reasons.append(f"residual std {sd:.3g} > "
                           f"{config.candidate_residual_std_max:g}")
        else:
            reasons.append("")
    return reasons


def direct_statistics(candidates, kernels, backgrounds):
    """``D / sqrt(var)`` statistics computed on the stamps themselves."""
    k = kernels.shape[-1]

    def stack(name):
        return np.stack([getattr(c, name) for c in candidates]).astype(float)

    template, var_t = stack("template"), stack("template_variance")
    model = convolve_each_valid(template, kernels)
    var = crop_valid(stack("science_variance"), k) + convolve_each_valid(
        var_t, kernels ** 2)
    diff = (crop_valid(stack("science"), k) - model
            - np.asarray(backgrounds, float)[:, None, None])
    with np.errstate(invalid="ignore", divide="ignore"):
        z = diff / np.sqrt(np.maximum(var, 1e-300))
    good = ~crop_valid(stack("mask").astype(bool), k) & np.isfinite(z)
    n = np.maximum(good.sum(axis=(1, 2)), 1)
    zg = np.where(good, z, 0.0)
    mean = zg.sum(axis=(1, 2)) / n
    std = np.sqrt(np.where(good, (z - mean[:, None, None]) ** 2, 0.0)
                  .sum(axis=(1, 2)) / np.maximum(n - 1, 1))
    return mean, std


def _reference_coefficients(cands, basis, coeffs, fit_background):
    """Coefficients in each candidate's reference basis, or None."""
    cache = {}
    out = np.empty((len(cands), 0))
    rows = []
    for cand, a in zip(cands, coeffs, strict=True):
        ref = cand._reference
        if ref is None:
            return None
        key = id(ref.basis)
        if key not in cache:
            cache[key] = span_transform(basis, ref.basis)
        v = cache[key]
        if v is None:
            return None
        nb = len(basis)
        a_ref = a[:nb] @ v
        if fit_background:
            a_ref = np.append(a_ref, a[nb:])
        rows.append(a_ref)
    return np.stack(rows) if rows else out


@renamed_keyword(n_threads="executor")
def fit_single_kernels(candidates, basis, config, *, regularization=None,
                       basis_key=None, executor=1, max_bytes=None):
    """
    Fit every candidate's own kernel and background; reject poor ones.

    Candidates already solved with the same ``basis_key`` are skipped;
    those whose equations were built with a basis that spans ``basis``
    (principal components of their kernels, say) get them by a change of
    coordinates, the others from their stamps (all in batches).  A
    candidate is rejected when (with ``config.check_condition_number``)
    its scaled condition number exceeds ``config.max_condition_number``,
    when its residuals are not finite or, with
    ``config.single_kernel_clipping``, when ``|mean|`` or ``std`` of
    ``D / sqrt(var)`` over its stamp exceed the configured maxima.

    Parameters
    ----------
    candidates : list of `~psfkit.diffim.KernelCandidate`
        The candidates (``BAD`` ones are left alone).
    basis : `~numpy.ndarray`
        ``(n_basis, k, k)`` basis.
    config : `~psfkit.diffim.PsfMatchConfig`
        The configuration.
    regularization : `~numpy.ndarray`, optional
        Penalty matrix of the basis (delta-function basis).
    basis_key : object, optional
        Identifies the basis (default: the identity of ``basis``).
    executor : int or `~concurrent.futures.ThreadPoolExecutor`, optional
        Threads for the batched stamp work (default 1; `None`: every
        core).
    max_bytes : int, optional
        Working memory the batches of all threads may hold at once (by
        default about 8 MB a thread, at least 1 MB a thread).
    n_threads : int, optional
        Deprecated alias of ``executor``.

    Returns
    -------
    n_processed, n_rejected : int
    """
    n_threads = executor_threads(executor)
    basis = np.asarray(basis, dtype=float)
    key = id(basis) if basis_key is None else basis_key
    pending = [c for c in candidates
               if c.status is not CandidateStatus.BAD
               and (c.basis_key != key or c.coefficients is None)]
    if not pending:
        return 0, 0
    cfg = config
    fresh, moved, spans = [], [], {}
    for cand in pending:
        ref = cand._reference
        if ref is not None and regularization is None:
            if id(ref.basis) not in spans:
                spans[id(ref.basis)] = span_transform(basis, ref.basis)
            if spans[id(ref.basis)] is not None:
                moved.append(cand)
                continue
        fresh.append(cand)
    if fresh:
        builder = EquationBuilder(
            basis, fit_background=cfg.fit_for_background,
            constant_variance_weighting=cfg.constant_variance_weighting,
            regularization=regularization, lambda_type=cfg.lambda_type,
            lambda_value=cfg.lambda_value, lambda_scaling=cfg.lambda_scaling,
            n_threads=n_threads, max_bytes=max_bytes)
        builder.run(fresh)
    if moved:
        _refit_in_span(moved, basis, spans, cfg.fit_for_background)
    n_rejected = 0
    for cand in pending:
        cand.basis_key = key
        why = _residual_flags([cand.residual_mean], [cand.residual_std],
                              cfg)[0]
        if (cfg.check_condition_number
                and cand.condition_number > cfg.max_condition_number):
            cand.set_bad(f"ill-conditioned single kernel (condition "
                         f"number {cand.condition_number:.3g})")
        elif why and (cfg.single_kernel_clipping
                      or why == "non-finite residuals"):
            cand.set_bad(f"single kernel: {why}")
        else:
            cand.status = CandidateStatus.GOOD
            cand.reason = ""
            continue
        n_rejected += 1
    return len(pending), n_rejected


def _refit_in_span(cands, basis, spans, fit_background):
    """Solve candidates in a basis spanned by their reference basis."""
    groups = {}
    for cand in cands:
        groups.setdefault(id(cand._reference.basis), []).append(cand)
    nb = len(basis)
    sums = basis.sum(axis=(1, 2))
    for ref_id, group in groups.items():
        m, b, v = transform_equations(group, spans[ref_id], fit_background)
        coeffs, cond = solve_with_condition(m, b)
        mean, std = residual_statistics(group, coeffs @ v)
        kernels = np.einsum("ni,ikl->nkl", coeffs[:, :nb], basis)
        for i, cand in enumerate(group):
            cand.m, cand.b = m[i], b[i]
            cand.coefficients = coeffs[i]
            cand.kernel = kernels[i]
            cand.kernel_sum = float(coeffs[i, :nb] @ sums)
            cand.background = float(coeffs[i, nb]) if fit_background else 0.0
            cand.condition_number = float(cond[i])
            cand.residual_mean = float(mean[i])
            cand.residual_std = float(std[i])


def _clipped_stats(values, sigma=3.0, maxiters=5):
    """
    Mean and standard deviation after iterative clipping.

    The first pass clips around the median with a width from the
    interquartile range, which outliers cannot inflate; the following
    passes use the mean and the standard deviation of what is kept.  A
    width of zero (most values equal) is a valid answer: only values
    equal to the centre are kept.
    """
    q1, med, q3 = np.percentile(values, [25, 50, 75])
    centre, width = med, 0.7413 * (q3 - q1)
    keep = np.abs(values - centre) <= sigma * width
    for _ in range(maxiters):
        kept = values[keep]
        centre = float(np.mean(kept))
        width = float(np.std(kept, ddof=1)) if kept.size > 1 else 0.0
        new = np.abs(values - centre) <= sigma * width
        if np.array_equal(new, keep) or not new.any():
            break
        keep = new
    return centre, width


def clip_kernel_sums(candidates, config):
    """
    Reject the good candidates whose kernel sum is an outlier.

    The mean and standard deviation of the good candidates' kernel sums
    come from iterative 3-sigma clipping (see ``_clipped_stats``: a robust
    first pass, so that a large minority of corrupted candidates cannot
    inflate the width and hide); with ``config.kernel_sum_clipping`` a
    candidate further than ``config.max_ksum_sigma`` standard deviations
    from the mean is rejected, also when the width is zero (every other
    sum equal).

    Returns
    -------
    mean, std : float
        The clipped statistics (NaN without good candidates).
    n_rejected : int
    """
    good = _good(candidates)
    if not good:
        return np.nan, np.nan, 0
    sums = np.array([c.kernel_sum for c in good])
    if len(sums) < 3:
        return float(np.mean(sums)), float(np.std(sums)), 0
    mean, std = _clipped_stats(sums)
    if not config.kernel_sum_clipping:
        return mean, std, 0
    limit = config.max_ksum_sigma * std
    n_rejected = 0
    for cand in good:
        if abs(cand.kernel_sum - mean) > limit:
            cand.set_bad(f"kernel sum {cand.kernel_sum:.4g} more than "
                         f"{config.max_ksum_sigma:g} sigma from the "
                         f"mean {mean:.4g}")
            n_rejected += 1
    return mean, std, n_rejected


def fit_spatial_kernel(candidates, basis, config, shape):
    """
    Fit the spatial kernel to the good candidates.

    Returns
    -------
    kernel : `~psfkit.diffim.SpatialKernel` or None
        `None` without good candidates.
    condition_number : float
    n_used : int
    """
    good = _good(candidates)
    if not good:
        return None, np.nan, 0
    kernel, cond = solve_spatial_kernel(
        good, basis, shape=shape,
        spatial_kernel_order=config.spatial_kernel_order,
        spatial_bg_order=config.spatial_bg_order,
        spatial_model_type=config.spatial_model_type,
        fit_for_background=config.fit_for_background,
        max_condition_number=config.max_spatial_condition_number)
    return kernel, cond, len(good)


def assess_spatial_kernel(candidates, kernel, config):
    """
    Evaluate the spatial kernel at every good candidate and clip.

    Each candidate's ``spatial_residual_mean`` and ``spatial_residual_std``
    are set; with ``config.spatial_kernel_clipping`` the candidates beyond
    the residual thresholds are rejected.

    Returns
    -------
    n_rejected : int
    """
    good = _good(candidates)
    if not good:
        return 0
    x = np.array([c.x for c in good])
    y = np.array([c.y for c in good])
    coeffs = kernel.coefficients_at(x, y)
    bgs = kernel.background_at(x, y)
    fit_bg = kernel.background_coefficients is not None
    full = np.column_stack([coeffs, bgs]) if fit_bg else coeffs
    a_ref = _reference_coefficients(good, kernel.basis, full, fit_bg)
    if a_ref is not None and all(
            len(c._reference.a0) == a_ref.shape[1] for c in good):
        mean, std = residual_statistics(good, a_ref)
    else:
        kernels = np.einsum("ni,ikl->nkl", coeffs, kernel.basis)
        mean, std = direct_statistics(good, kernels, bgs)
    reasons = _residual_flags(mean, std, config)
    n_rejected = 0
    for cand, mu, sd, why in zip(good, mean, std, reasons, strict=True):
        cand.spatial_residual_mean = float(mu)
        cand.spatial_residual_std = float(sd)
        if why and config.spatial_kernel_clipping:
            cand.set_bad(f"spatial kernel: {why}")
            n_rejected += 1
    return n_rejected


def _raise_if_none_good(cell_set, n_per_cell, context):
    if not cell_set.good_candidates(n_per_cell):
        cands = cell_set.candidates
        raise NoKernelCandidatesError.from_candidates(
            cands, cell_set.to_table() if cands else None, context=context)


@renamed_keyword(n_threads="executor")
def solve_matching_kernel(cell_set, basis, config, *, regularization=None,
                          executor=1):
    """
    Solve for the spatially varying matching kernel of a cell set.

    Parameters
    ----------
    cell_set : `~psfkit.diffim.SpatialCellSet`
        Cells holding the candidates; their status and statistics are
        updated in place.
    basis : `~numpy.ndarray`
        ``(n_basis, k, k)`` basis (first image the only one with a non-zero
        sum).
    config : `~psfkit.diffim.PsfMatchConfig`
        The configuration.
    regularization : `~numpy.ndarray`, optional
        Penalty matrix of the basis.
    executor : int or `~concurrent.futures.ThreadPoolExecutor`, optional
        Threads for the batched stamp work (default 1; `None`: every
        core).
    n_threads : int, optional
        Deprecated alias of ``executor``.

    Returns
    -------
    solution : `KernelSolution`

    Raises
    ------
    NoKernelCandidatesError
        When every candidate has been rejected.
    """
    with single_threaded_blas():
        return _solve(cell_set, basis, config, regularization,
                      executor_threads(executor))


def _solve(cell_set, basis, config, regularization, n_threads):
    n = config.n_star_per_cell
    basis = np.asarray(basis, dtype=float)
    spatial_basis = basis
    ksum = (np.nan, np.nan)
    kernel, cond, n_used = None, np.nan, 0
    n_iter = rejected_last = 0
    timings = {"single_kernels": 0.0, "spatial": 0.0}
    single_key = ("basis", id(basis))
    # the batched stamp work holds at most the size of the two images (as
    # float64): fixed 8 MB buffers would outweigh a small image pair
    ny, nx = cell_set.shape
    fit = partial(fit_single_kernels, config=config, executor=n_threads,
                  max_bytes=2 * 8 * ny * nx)
    for n_iter in range(1, config.max_spatial_iterations + 1):
        t0 = time.perf_counter()
        while fit(cell_set.usable_candidates(n), basis,
                  regularization=regularization, basis_key=single_key)[1]:
            pass
        _raise_if_none_good(cell_set, n, " after fitting single kernels")
        mean, std, _ = clip_kernel_sums(cell_set.usable_candidates(n), config)
        ksum = (mean, std)
        _raise_if_none_good(cell_set, n, " after kernel-sum clipping")
        if config.use_pca_for_spatial_kernel:
            spatial_basis = _pca_refit(cell_set, n, basis, config, spatial_basis,
                                       ("pca", n_iter), fit)
            _raise_if_none_good(cell_set, n, " after the PCA refit")
        t1 = time.perf_counter()
        timings["single_kernels"] += t1 - t0
        kernel, cond, n_used = fit_spatial_kernel(
            cell_set.usable_candidates(n), spatial_basis, config, cell_set.shape)
        rejected_last = assess_spatial_kernel(cell_set.usable_candidates(n),
                                              kernel, config)
        timings["spatial"] += time.perf_counter() - t1
        if rejected_last == 0:
            break
        _raise_if_none_good(cell_set, n, " after assessing the spatial kernel")
    t1 = time.perf_counter()
    if rejected_last:
        # the last assessment rejected candidates: refit without them
        if config.use_pca_for_spatial_kernel:
            fit(cell_set.good_candidates(n), spatial_basis,
                basis_key=("pca", "final"))
        _raise_if_none_good(cell_set, n, " after the final refit")
        kernel, cond, n_used = fit_spatial_kernel(
            cell_set.usable_candidates(n), spatial_basis, config, cell_set.shape)
        assess_spatial_kernel(cell_set.good_candidates(n), kernel,
                              replace(config, spatial_kernel_clipping=False))
    timings["spatial"] += time.perf_counter() - t1
    return KernelSolution(kernel=kernel, basis=spatial_basis,
                          n_iterations=n_iter, n_used=n_used,
                          condition_number=cond, kernel_sum_mean=ksum[0],
                          kernel_sum_std=ksum[1], timings=timings)


def _pca_refit(cell_set, n, basis, config, current, key, fit):
    good = cell_set.good_candidates(n)
    if len(good) < 2:
        return current
    pca = pca_kernel_basis(np.stack([c.kernel for c in good]),
                           config.num_principal_components)
    fit(good, pca, basis_key=key)
    return pca
