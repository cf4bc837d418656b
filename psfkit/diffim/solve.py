"""
The solve loop that turns a cell set of candidates into a spatial kernel.

Up to ``max_spatial_iterations`` passes of: fit the candidates' own kernels
(re-visiting the cells until no candidate is rejected, so rejected ones are
replaced by the next candidates of their cell), clip outlying kernel sums,
optionally replace the basis by principal components of the candidates'
kernels, fit the spatial kernel, and assess it on every candidate.  The loop
stops as soon as the assessment rejects nothing.
"""

from collections import Counter
from dataclasses import dataclass, replace
import re
import time

import numpy as np

from ..utils import PsfkitError, single_threaded_blas
from .basis import pca_kernel_basis
from .visitors import (
    AssessSpatialKernelVisitor,
    BuildSingleKernelVisitor,
    BuildSpatialKernelVisitor,
    KernelSumVisitor,
)

__all__ = ["NoKernelCandidatesError", "KernelSolution", "solve_matching_kernel"]


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
        """Build the error with a summary of why each candidate failed."""
        reasons = Counter(re.sub(r"[-+]?\d[\d.e+-]*", "#", c.reason or "unused")
                          for c in candidates)
        detail = "; ".join(f"{n} x {r}" for r, n in reasons.most_common())
        msg = (f"no good kernel candidates{context}: {len(candidates)} tried"
               + (f"; rejected: {detail}" if candidates else ""))
        return cls(msg, n_tried=len(candidates), reasons=reasons, table=table)


@dataclass
class KernelSolution:
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
    timings: dict


def _single_kernels(cell_set, visitor, n_per_cell):
    while True:
        cell_set.visit_candidates(visitor, n_per_cell)
        if visitor.n_rejected == 0:
            return


def _raise_if_none_good(cell_set, n_per_cell, context):
    if not cell_set.good_candidates(n_per_cell):
        cands = cell_set.candidates
        raise NoKernelCandidatesError.from_candidates(
            cands, cell_set.to_table() if cands else None, context=context)


def solve_matching_kernel(cell_set, basis, config, *, regularization=None):
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

    Returns
    -------
    solution : `KernelSolution`

    Raises
    ------
    NoKernelCandidatesError
        When every candidate has been rejected.
    """
    with single_threaded_blas():
        return _solve(cell_set, basis, config, regularization)


def _solve(cell_set, basis, config, regularization):
    n = config.n_star_per_cell
    single = BuildSingleKernelVisitor(basis, config,
                                      regularization=regularization,
                                      basis_key=("basis", id(basis)))
    spatial_basis = basis
    ksum = KernelSumVisitor(config)
    builder = None
    n_iter = 0
    rejected_last = 0
    timings = {"single_kernels": 0.0, "spatial": 0.0}
    for n_iter in range(1, config.max_spatial_iterations + 1):
        t0 = time.perf_counter()
        _single_kernels(cell_set, single, n)
        _raise_if_none_good(cell_set, n, " after fitting single kernels")
        cell_set.visit_candidates(ksum, n)
        _raise_if_none_good(cell_set, n, " after kernel-sum clipping")
        if config.use_pca_for_spatial_kernel:
            good = cell_set.good_candidates(n)
            if len(good) >= 2:
                spatial_basis = pca_kernel_basis(
                    np.stack([c.kernel for c in good]),
                    config.num_principal_components)
                pca = BuildSingleKernelVisitor(
                    spatial_basis, config, basis_key=("pca", n_iter))
                pca.visit(good)
                _raise_if_none_good(cell_set, n, " after the PCA refit")
        t1 = time.perf_counter()
        timings["single_kernels"] += t1 - t0
        builder = BuildSpatialKernelVisitor(spatial_basis, config,
                                            cell_set.shape)
        cell_set.visit_candidates(builder, n)
        assess = AssessSpatialKernelVisitor(builder.kernel, config)
        cell_set.visit_candidates(assess, n)
        rejected_last = assess.n_rejected
        timings["spatial"] += time.perf_counter() - t1
        if rejected_last == 0:
            break
        _raise_if_none_good(cell_set, n, " after assessing the spatial kernel")
    t1 = time.perf_counter()
    if rejected_last:
        # the last assessment rejected candidates: refit without them
        if config.use_pca_for_spatial_kernel:
            good = cell_set.good_candidates(n)
            pca = BuildSingleKernelVisitor(spatial_basis, config,
                                           basis_key=("pca", "final"))
            pca.visit(good)
        _raise_if_none_good(cell_set, n, " after the final refit")
        builder = BuildSpatialKernelVisitor(spatial_basis, config,
                                            cell_set.shape)
        cell_set.visit_candidates(builder, n)
        AssessSpatialKernelVisitor(
            builder.kernel, replace(config, spatial_kernel_clipping=False)
        ).visit(cell_set.good_candidates(n))
    timings["spatial"] += time.perf_counter() - t1
    return KernelSolution(kernel=builder.kernel, basis=spatial_basis,
                          n_iterations=n_iter, n_used=builder.n_used,
                          condition_number=builder.condition_number,
                          kernel_sum_mean=ksum.mean, kernel_sum_std=ksum.std,
                          timings=timings)
