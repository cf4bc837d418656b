"""
The four candidate visitors of the kernel solve.

Each visitor has a ``visit(candidates)`` method that processes a list of
`~psfkit.diffim.KernelCandidate` at once (batched numerics), usually the
usable candidates of a `~psfkit.diffim.SpatialCellSet`, and records how many
it rejected:

1. `BuildSingleKernelVisitor` fits each candidate's own kernel and rejects
   those whose normalised residuals are poor;
2. `KernelSumVisitor` rejects outlying kernel sums (variable or saturated
   sources);
3. `BuildSpatialKernelVisitor` fits the spatial kernel to the good ones;
4. `AssessSpatialKernelVisitor` rejects candidates poorly fitted by it.
"""

from astropy.stats import sigma_clipped_stats
import numpy as np

from ._stamps import residual_statistics, scaled_condition_number, solve_stack
from .candidates import CandidateStatus, build_kernel_equations
from .spatial import solve_spatial_kernel

__all__ = [
    "BuildSingleKernelVisitor",
    "KernelSumVisitor",
    "BuildSpatialKernelVisitor",
    "AssessSpatialKernelVisitor",
]


def _good(candidates):
    return [c for c in candidates if c.status is CandidateStatus.GOOD]


def _stack(candidates, name):
    return np.stack([getattr(c, name) for c in candidates])


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


def residuals_with_kernels(candidates, kernels, backgrounds):
    """Normalised-residual mean and std of candidates for given kernels."""
    return residual_statistics(
        _stack(candidates, "template"), _stack(candidates, "science"),
        _stack(candidates, "template_variance"),
        _stack(candidates, "science_variance"), _stack(candidates, "mask"),
        np.asarray(kernels), np.asarray(backgrounds, dtype=float))


class BuildSingleKernelVisitor:
    """
    Fit every candidate's own kernel and background.

    Candidates whose equations were built with another basis (or not at
    all) get them built first, all in one batch; the systems are solved in
    one batched call.  A candidate is rejected when (with
    ``config.check_condition_number``) its scaled condition number exceeds
    ``config.max_condition_number`` or, with
    ``config.single_kernel_clipping``, when ``|mean|`` or ``std`` of
    ``D / sqrt(var)`` over its stamp exceed the configured maxima.

    Parameters
    ----------
    basis : `~numpy.ndarray`
        ``(n_basis, k, k)`` basis.
    config : `~psfkit.diffim.PsfMatchConfig`
        The configuration.
    regularization : `~numpy.ndarray`, optional
        Penalty matrix of the basis (delta-function basis).
    basis_key : object, optional
        Identifies the basis; candidates solved with the same key are not
        refitted.

    Attributes
    ----------
    n_processed, n_rejected : int
        Counts from the last `visit`.
    """

    def __init__(self, basis, config, *, regularization=None, basis_key=None):
        self.basis = np.asarray(basis, dtype=float)
        self.config = config
        self.regularization = regularization
        self.basis_key = id(self.basis) if basis_key is None else basis_key
        self.n_processed = 0
        self.n_rejected = 0

    def visit(self, candidates):
        """Fit the candidates not yet solved with this basis; returns self."""
        pending = [c for c in candidates
                if c.status is not CandidateStatus.BAD
                and (c.basis_key != self.basis_key or c.coefficients is None)]
        self.n_processed = len(pending)
        self.n_rejected = 0
        if not pending:
            return self
        cfg = self.config
        build_kernel_equations(
            pending, self.basis, fit_background=cfg.fit_for_background,
            constant_variance_weighting=cfg.constant_variance_weighting,
            regularization=self.regularization, lambda_type=cfg.lambda_type,
            lambda_value=cfg.lambda_value, lambda_scaling=cfg.lambda_scaling,
            basis_key=self.basis_key)
        m = _stack(pending, "m")
        b = _stack(pending, "b")
        cond = scaled_condition_number(m)
        coeffs = solve_stack(m, b)
        nb = self.basis.shape[0]
        kernels = np.einsum("ni,ikl->nkl", coeffs[:, :nb], self.basis)
        backgrounds = (coeffs[:, nb] if cfg.fit_for_background
                       else np.zeros(len(pending)))
        mean, std = residuals_with_kernels(pending, kernels, backgrounds)
        reasons = _residual_flags(mean, std, cfg)
        sums = self.basis.sum(axis=(1, 2))
        for i, cand in enumerate(pending):
            cand.coefficients = coeffs[i]
            cand.kernel = kernels[i]
            cand.kernel_sum = float(coeffs[i, :nb] @ sums)
            cand.background = float(backgrounds[i])
            cand.condition_number = float(cond[i])
            cand.residual_mean = float(mean[i])
            cand.residual_std = float(std[i])
            if cfg.check_condition_number and cond[i] > cfg.max_condition_number:
                cand.set_bad(f"ill-conditioned single kernel (condition "
                             f"number {cond[i]:.3g})")
            elif reasons[i] and (cfg.single_kernel_clipping
                                 or reasons[i] == "non-finite residuals"):
                cand.set_bad(f"single kernel: {reasons[i]}")
            else:
                cand.status = CandidateStatus.GOOD
                cand.reason = ""
                continue
            self.n_rejected += 1
        return self


class KernelSumVisitor:
    """
    Reject candidates whose kernel sum is an outlier.

    The mean and standard deviation of the good candidates' kernel sums are
    computed with iterative 3-sigma clipping, the width measured by the
    median absolute deviation so that a large minority of corrupted
    candidates (an unmasked hot column through their stamps, say) cannot
    inflate it and hide themselves; with
    ``config.kernel_sum_clipping`` a candidate further than
    ``config.max_ksum_sigma`` standard deviations from the mean is rejected.

    Parameters
    ----------
    config : `~psfkit.diffim.PsfMatchConfig`
        The configuration.

    Attributes
    ----------
    mean, std : float
        Clipped statistics of the kernel sums.
    n_rejected : int
        Count from the last `visit`.
    """

    def __init__(self, config):
        self.config = config
        self.mean = np.nan
        self.std = np.nan
        self.n_rejected = 0

    def visit(self, candidates):
        """Compute the statistics and clip; returns self."""
        good = _good(candidates)
        self.n_rejected = 0
        if not good:
            return self
        sums = np.array([c.kernel_sum for c in good])
        if len(sums) < 3:
            self.mean, self.std = float(np.mean(sums)), float(np.std(sums))
            return self
        mean, _, std = sigma_clipped_stats(sums, sigma=3.0, maxiters=5,
                                           stdfunc="mad_std")
        self.mean, self.std = float(mean), float(std)
        if not self.config.kernel_sum_clipping or not self.std > 0:
            return self
        limit = self.config.max_ksum_sigma * self.std
        for cand in good:
            if abs(cand.kernel_sum - self.mean) > limit:
                cand.set_bad(f"kernel sum {cand.kernel_sum:.4g} more than "
                             f"{self.config.max_ksum_sigma:g} sigma from the "
                             f"mean {self.mean:.4g}")
                self.n_rejected += 1
        return self


class BuildSpatialKernelVisitor:
    """
    Fit the spatial kernel to the good candidates.

    Parameters
    ----------
    basis : `~numpy.ndarray`
        The basis the candidates' equations were built with.
    config : `~psfkit.diffim.PsfMatchConfig`
        The configuration.
    shape : tuple of int
        ``(ny, nx)`` of the image.

    Attributes
    ----------
    kernel : `~psfkit.diffim.SpatialKernel` or None
        The fitted kernel.
    condition_number : float
        Scaled condition number of the spatial system.
    n_used : int
        Number of candidates in the fit.
    """

    def __init__(self, basis, config, shape):
        self.basis = np.asarray(basis, dtype=float)
        self.config = config
        self.shape = tuple(shape)
        self.kernel = None
        self.condition_number = np.nan
        self.n_used = 0

    def visit(self, candidates):
        """Solve the spatial system; returns self."""
        good = _good(candidates)
        self.n_used = len(good)
        if not good:
            return self
        cfg = self.config
        self.kernel, self.condition_number = solve_spatial_kernel(
            good, self.basis, shape=self.shape,
            spatial_kernel_order=cfg.spatial_kernel_order,
            spatial_bg_order=cfg.spatial_bg_order,
            spatial_model_type=cfg.spatial_model_type,
            fit_for_background=cfg.fit_for_background,
            max_condition_number=cfg.max_spatial_condition_number)
        return self


class AssessSpatialKernelVisitor:
    """
    Evaluate the spatial kernel at every good candidate and clip.

    Each candidate's ``spatial_residual_mean`` and ``spatial_residual_std``
    are set; with ``config.spatial_kernel_clipping`` the candidates beyond
    the residual thresholds are rejected.

    Parameters
    ----------
    kernel : `~psfkit.diffim.SpatialKernel`
        The spatial kernel.
    config : `~psfkit.diffim.PsfMatchConfig`
        The configuration.

    Attributes
    ----------
    n_rejected : int
        Count from the last `visit`.
    """

    def __init__(self, kernel, config):
        self.kernel = kernel
        self.config = config
        self.n_rejected = 0

    def visit(self, candidates):
        """Assess the good candidates; returns self."""
        good = _good(candidates)
        self.n_rejected = 0
        if not good:
            return self
        x = np.array([c.x for c in good])
        y = np.array([c.y for c in good])
        kernels = self.kernel.kernel_image(x, y)
        kernels = kernels.reshape(len(good), *kernels.shape[-2:])
        bgs = self.kernel.background_at(x, y)
        mean, std = residuals_with_kernels(good, kernels, bgs)
        reasons = _residual_flags(mean, std, self.config)
        for cand, mu, sd, why in zip(good, mean, std, reasons, strict=True):
            cand.spatial_residual_mean = float(mu)
            cand.spatial_residual_std = float(sd)
            if why and self.config.spatial_kernel_clipping:
                cand.set_bad(f"spatial kernel: {why}")
                self.n_rejected += 1
        return self
