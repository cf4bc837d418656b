"""
The four candidate visitors of the LSST vocabulary, as thin wrappers.

The kernel solve is written as plain functions in `psfkit.diffim.solve`;
these classes keep the names under which the LSST ``ImagePsfMatchTask``
documents the steps (so that its descriptions and scripts map onto
psfkit), each with a ``visit(candidates)`` method that calls the function
and records its counts:

1. `BuildSingleKernelVisitor`: `~psfkit.diffim.fit_single_kernels`;
2. `KernelSumVisitor`: `~psfkit.diffim.clip_kernel_sums`;
3. `BuildSpatialKernelVisitor`: `~psfkit.diffim.fit_spatial_kernel`;
4. `AssessSpatialKernelVisitor`: `~psfkit.diffim.assess_spatial_kernel`.

A `~psfkit.diffim.SpatialCellSet` hands each visitor the candidates its
cells offer (``cell_set.visit_candidates(visitor, n_star_per_cell)``).
"""

import numpy as np

from ..utils import ParamReprMixin
from .solve import (
    assess_spatial_kernel,
    clip_kernel_sums,
    fit_single_kernels,
    fit_spatial_kernel,
)

__all__ = [
    "BuildSingleKernelVisitor",
    "KernelSumVisitor",
    "BuildSpatialKernelVisitor",
    "AssessSpatialKernelVisitor",
]


class BuildSingleKernelVisitor(ParamReprMixin):
    """
    Fit every candidate's own kernel and background (see
    `~psfkit.diffim.fit_single_kernels`).

    Parameters
    ----------
    basis, config, regularization, basis_key
        As for `~psfkit.diffim.fit_single_kernels` (candidates solved with
        the same ``basis_key`` are not refitted).

    Attributes
    ----------
    n_processed, n_rejected : int
        Counts from the last `visit`.
    """

    _repr_params = ("basis", "n_processed", "n_rejected")

    def __init__(self, basis, config, *, regularization=None, basis_key=None):
        self.basis = np.asarray(basis, dtype=float)
        self.config = config
        self.regularization = regularization
        self.basis_key = id(self.basis) if basis_key is None else basis_key
        self.n_processed = 0
        self.n_rejected = 0

    def visit(self, candidates):
        """Fit the candidates not yet solved with this basis; returns self."""
        self.n_processed, self.n_rejected = fit_single_kernels(
            candidates, self.basis, self.config,
            regularization=self.regularization, basis_key=self.basis_key)
        return self


class KernelSumVisitor(ParamReprMixin):
    """
    Reject candidates whose kernel sum is an outlier (see
    `~psfkit.diffim.clip_kernel_sums`).

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

    _repr_params = ("mean", "std", "n_rejected")

    def __init__(self, config):
        self.config = config
        self.mean = np.nan
        self.std = np.nan
        self.n_rejected = 0

    def visit(self, candidates):
        """Compute the statistics and clip; returns self."""
        self.mean, self.std, self.n_rejected = clip_kernel_sums(candidates,
                                                                self.config)
        return self


class BuildSpatialKernelVisitor(ParamReprMixin):
    """
    Fit the spatial kernel to the good candidates (see
    `~psfkit.diffim.fit_spatial_kernel`).

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

    _repr_params = ("shape", "n_used", "condition_number")

    def __init__(self, basis, config, shape):
        self.basis = np.asarray(basis, dtype=float)
        self.config = config
        self.shape = tuple(shape)
        self.kernel = None
        self.condition_number = np.nan
        self.n_used = 0

    def visit(self, candidates):
        """Solve the spatial system; returns self."""
        self.kernel, self.condition_number, self.n_used = fit_spatial_kernel(
            candidates, self.basis, self.config, self.shape)
        return self


class AssessSpatialKernelVisitor(ParamReprMixin):
    """
    Evaluate the spatial kernel at every good candidate and clip (see
    `~psfkit.diffim.assess_spatial_kernel`).

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

    _repr_params = ("kernel", "n_rejected")

    def __init__(self, kernel, config):
        self.kernel = kernel
        self.config = config
        self.n_rejected = 0

    def visit(self, candidates):
        """Assess the good candidates; returns self."""
        self.n_rejected = assess_spatial_kernel(candidates, self.kernel,
                                                self.config)
        return self
