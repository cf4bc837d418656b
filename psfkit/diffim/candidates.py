"""
Kernel candidates and the spatial cells that hold them.

A `KernelCandidate` is a pair of stamps around one source: the stamp of the
image to be convolved (called *template* here, as in the usual direction of
matching) and the stamp of the image it is matched to (*science*), with
their variances and mask.  Its normal equations ``M a = b`` for the kernel
coefficients are computed once per basis (`build_kernel_equations`) and then
reused by every step of the solve: the candidate's own kernel, the spatial
fit, and the assessment of the spatial kernel.

A `SpatialCellSet` divides the image into cells; each cell keeps its
candidates sorted by rating, and visitors process the first
``n_star_per_cell`` of them that are not `CandidateStatus.BAD`.
"""

from dataclasses import dataclass, field
import enum

from astropy.table import QTable
import numpy as np

from ..utils import SummaryReprMixin, check_integer, describe
from ._equations import EquationBuilder

__all__ = [
    "CandidateStatus",
    "KernelCandidate",
    "SpatialCell",
    "SpatialCellSet",
    "build_kernel_equations",
]


class CandidateStatus(enum.Enum):
    """State of a kernel candidate in the solve."""

    UNKNOWN = "unknown"
    GOOD = "good"
    BAD = "bad"


def _stamp(name, value, shape=None):
    """A float stamp without a copy when it already is one (stamps are
    often views of the images)."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "fb":
        arr = arr.astype(float)
    if shape is not None and arr.shape != shape:
        try:
            arr = np.broadcast_to(arr, shape)
        except ValueError:
            msg = f"{name} must have the stamp shape {shape}, got {arr.shape}"
            raise ValueError(msg) from None
    return arr


@dataclass(eq=False, repr=False)
class KernelCandidate(SummaryReprMixin):
    """
    One source seen in both images, used to constrain the kernel.

    Parameters
    ----------
    x, y : float
        Position of the stamp centre in the full image.
    template : `~numpy.ndarray`
        ``(S, S)`` stamp of the image that is convolved.
    science : `~numpy.ndarray`
        ``(S, S)`` stamp of the image it is matched to, on the same pixels;
        only its central ``(S - kernel_size + 1)**2`` pixels are fitted.
    template_variance, science_variance : `~numpy.ndarray`, optional
        Variance stamps; default 1 everywhere.
    mask : `~numpy.ndarray` of bool, optional
        Pixels to ignore (`True`).
    rating : float, optional
        Sort key inside a cell (larger first), e.g. the signal-to-noise
        ratio.
    candidate_id : int, optional
        An identifier carried into result tables.

    Attributes
    ----------
    status : `CandidateStatus`
        ``UNKNOWN`` until processed, then ``GOOD`` or ``BAD``.
    reason : str
        Why the candidate was rejected (empty while not ``BAD``).
    m, b : `~numpy.ndarray` or None
        Normal equations of the kernel (and background) coefficients.
    coefficients : `~numpy.ndarray` or None
        The candidate's own solution (background last when fitted).
    kernel : `~numpy.ndarray` or None
        Its own kernel image.
    kernel_sum, background, condition_number : float
        From its own solution.
    residual_mean, residual_std : float
        Statistics of ``D / sqrt(var)`` with its own kernel.
    spatial_residual_mean, spatial_residual_std : float
        The same with the spatial kernel evaluated at its position.
    """

    x: float
    y: float
    template: np.ndarray
    science: np.ndarray
    template_variance: np.ndarray = None
    science_variance: np.ndarray = None
    mask: np.ndarray = None
    rating: float = 0.0
    candidate_id: int = 0
    status: CandidateStatus = CandidateStatus.UNKNOWN
    reason: str = ""
    m: np.ndarray = field(default=None, repr=False)
    b: np.ndarray = field(default=None, repr=False)
    basis_key: object = field(default=None, repr=False)
    coefficients: np.ndarray = field(default=None, repr=False)
    kernel: np.ndarray = field(default=None, repr=False)
    kernel_sum: float = np.nan
    background: float = np.nan
    condition_number: float = np.nan
    residual_mean: float = np.nan
    residual_std: float = np.nan
    spatial_residual_mean: float = np.nan
    spatial_residual_std: float = np.nan

    # the fit in the coordinates of the basis it was built with (see
    # ``_equations.Reference``); not a field: internal state
    _reference = None

    def __post_init__(self):
        self.template = _stamp("template", self.template)
        shape = self.template.shape
        if (self.template.ndim != 2 or shape[0] != shape[1]
                or shape[0] % 2 == 0):
            msg = f"template stamp must be square with an odd size, got {shape}"
            raise ValueError(msg)
        self.science = _stamp("science", self.science)
        if self.science.shape != shape:
            msg = (f"science stamp must have the template stamp's shape "
                   f"{shape}, got {self.science.shape}")
            raise ValueError(msg)
        # absent variances and masks are read-only broadcasts (no memory)
        for name in ("template_variance", "science_variance"):
            value = getattr(self, name)
            setattr(self, name, _stamp(name, 1.0 if value is None else value,
                                       shape))
        self.mask = _stamp("mask", False if self.mask is None else self.mask,
                           shape).astype(bool, copy=False)

    def _summary_items(self):
        items = [("x", describe(self.x)), ("y", describe(self.y)),
                 ("stamp_size", describe(self.stamp_size)),
                 ("status", self.status.value)]
        if self.reason:
            items.append(("reason", repr(self.reason)))
        if np.isfinite(self.kernel_sum):
            items += [("kernel_sum", describe(self.kernel_sum)),
                      ("residual_mean", describe(self.residual_mean)),
                      ("residual_std", describe(self.residual_std))]
        return items

    @classmethod
    def from_psfs(cls, x, y, convolved_psf, target_psf, *, rating=1.0,
                  candidate_id=0):
        """
        A candidate made of two PSF images (variance 1, nothing masked).

        Parameters
        ----------
        x, y : float
            The position the PSFs belong to.
        convolved_psf, target_psf : `~numpy.ndarray`
            Odd, square, same-shape images of the PSF to be convolved and of
            the PSF to match; their size must exceed the kernel size.
        rating : float, optional
            Sort key within the cell.
        candidate_id : int, optional
            Identifier.

        Returns
        -------
        candidate : `KernelCandidate`
        """
        return cls(x=float(x), y=float(y), template=convolved_psf,
                   science=target_psf, rating=float(rating),
                   candidate_id=int(candidate_id))

    @property
    def stamp_size(self):
        """Width of the stamps."""
        return self.template.shape[0]

    def set_bad(self, reason):
        """Mark the candidate ``BAD`` with a reason."""
        self.status = CandidateStatus.BAD
        self.reason = reason


def build_kernel_equations(candidates, basis, *, fit_background=True,
                           constant_variance_weighting=True, regularization=None,
                           lambda_type="absolute", lambda_value=0.2,
                           lambda_scaling=1e-4, basis_key=None):
    """
    Compute the normal equations ``M a = b`` of a list of candidates.

    For each candidate the columns of the design matrix are its template
    stamp convolved with each basis image (valid region only), plus a
    column of ones for the background; ``M = C.T W C`` and ``b = C.T W s``
    with ``W = 1 / var`` (``var`` = science + template variance) or, with
    constant weighting, ``1 / median(var)``.  All candidates are processed
    together (one batched FFT convolution, one batched matrix product).

    Parameters
    ----------
    candidates : list of `KernelCandidate`
        Candidates with stamps of one common size ``S > kernel_size``.
    basis : `~numpy.ndarray`
        ``(n_basis, k, k)`` kernel basis.
    fit_background : bool, optional
        Add the background column.
    constant_variance_weighting : bool, optional
        Use one weight per candidate.
    regularization : `~numpy.ndarray`, optional
        ``(n_basis, n_basis)`` penalty matrix ``H``; ``lambda * H`` is added
        to ``M`` (the background is not penalised).
    lambda_type : {'absolute', 'relative'}, optional
        ``lambda = lambda_value``, or ``lambda_scaling * trace(M) /
        trace(H)`` for each candidate.
    lambda_value, lambda_scaling : float, optional
        See ``lambda_type``.
    basis_key : object, optional
        Stored on the candidates to record which basis the equations use.

    Returns
    -------
    candidates : list of `KernelCandidate`
        The same objects, with ``m`` and ``b`` set.

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.diffim import (KernelCandidate, alard_lupton_basis,
    ...                            build_kernel_equations)
    >>> yy, xx = np.mgrid[-10:11, -10:11]
    >>> star = np.exp(-(xx**2 + yy**2) / 4.0)
    >>> cand = KernelCandidate(x=50., y=50., template=star, science=2 * star)
    >>> _ = build_kernel_equations([cand], alard_lupton_basis(7, [1.0], [0]))
    >>> cand.m.shape, cand.b.shape
    ((2, 2), (2,))
    """
    if not candidates:
        return candidates
    basis = np.asarray(basis, dtype=float)
    k = basis.shape[-1]
    sizes = {c.stamp_size for c in candidates}
    if len(sizes) != 1:
        msg = f"candidates must share one stamp size, got {sorted(sizes)}"
        raise ValueError(msg)
    size = sizes.pop()
    if size <= k:
        msg = (f"the candidate stamps ({size} pixels) must be larger than the "
               f"kernel ({k} pixels)")
        raise ValueError(msg)
    builder = EquationBuilder(
        basis, fit_background=fit_background,
        constant_variance_weighting=constant_variance_weighting,
        regularization=regularization, lambda_type=lambda_type,
        lambda_value=lambda_value, lambda_scaling=lambda_scaling)
    builder.run(candidates, solve_kernels=False)
    for cand in candidates:
        cand.basis_key = basis_key
    return candidates


@dataclass(eq=False, repr=False)
class SpatialCell(SummaryReprMixin):
    """
    One cell of a `SpatialCellSet`: its pixel box and its candidates.

    Attributes
    ----------
    index : int
        Running number of the cell.
    x_range, y_range : tuple of float
        ``[start, stop)`` pixel-edge bounds.
    candidates : list of `KernelCandidate`
        Sorted by decreasing rating.
    """

    index: int
    x_range: tuple
    y_range: tuple
    candidates: list = field(default_factory=list)

    def _summary_items(self):
        return [("index", str(self.index)), ("x_range", describe(self.x_range)),
                ("y_range", describe(self.y_range)),
                ("candidates", str(len(self.candidates)))]

    def usable(self, n_star_per_cell):
        """The first ``n_star_per_cell`` candidates that are not ``BAD``."""
        out = []
        for cand in self.candidates:
            if cand.status is not CandidateStatus.BAD:
                out.append(cand)
                if len(out) == n_star_per_cell:
                    break
        return out


class SpatialCellSet:
    """
    A grid of spatial cells over an image, each holding kernel candidates.

    Parameters
    ----------
    shape : tuple of int
        ``(ny, nx)`` of the image.
    size_cell_x, size_cell_y : int
        Cell size in pixels (the last row and column of cells may be
        smaller).

    Examples
    --------
    >>> from psfkit.diffim import SpatialCellSet
    >>> cells = SpatialCellSet((256, 300), 128, 128)
    >>> len(cells.cells)
    6
    """

    def __init__(self, shape, size_cell_x, size_cell_y):
        self.shape = tuple(int(s) for s in shape)
        sx = check_integer("size_cell_x", size_cell_x, minimum=1)
        sy = check_integer("size_cell_y", size_cell_y, minimum=1)
        ny, nx = self.shape
        self.n_cells_x = int(np.ceil(nx / sx))
        self.n_cells_y = int(np.ceil(ny / sy))
        self.size_cell = (sx, sy)
        self.cells = []
        for j in range(self.n_cells_y):
            for i in range(self.n_cells_x):
                self.cells.append(SpatialCell(
                    index=len(self.cells),
                    x_range=(i * sx - 0.5, min((i + 1) * sx, nx) - 0.5),
                    y_range=(j * sy - 0.5, min((j + 1) * sy, ny) - 0.5)))

    def __repr__(self):
        counts = {s: 0 for s in CandidateStatus}
        for cand in self.candidates:
            counts[cand.status] += 1
        return (f"SpatialCellSet(shape={self.shape}, cells={self.n_cells_x}x"
                f"{self.n_cells_y} of {self.size_cell[0]}x{self.size_cell[1]}, "
                f"candidates={len(self.candidates)}: "
                + ", ".join(f"{n} {s.value}" for s, n in counts.items()) + ")")

    def cell_index(self, x, y):
        """Index of the cell holding ``(x, y)`` (clipped to the grid)."""
        sx, sy = self.size_cell
        i = int(np.clip(np.floor((x + 0.5) / sx), 0, self.n_cells_x - 1))
        j = int(np.clip(np.floor((y + 0.5) / sy), 0, self.n_cells_y - 1))
        return j * self.n_cells_x + i

    def insert_candidate(self, candidate):
        """Add a candidate to its cell, keeping the cell sorted by rating."""
        cell = self.cells[self.cell_index(candidate.x, candidate.y)]
        cell.candidates.append(candidate)
        cell.candidates.sort(key=lambda c: -c.rating)

    @property
    def candidates(self):
        """Every candidate of every cell."""
        return [c for cell in self.cells for c in cell.candidates]

    def usable_candidates(self, n_star_per_cell):
        """The first ``n_star_per_cell`` non-``BAD`` candidates of each cell."""
        n = check_integer("n_star_per_cell", n_star_per_cell, minimum=1)
        return [c for cell in self.cells for c in cell.usable(n)]

    def good_candidates(self, n_star_per_cell):
        """The ``GOOD`` candidates among `usable_candidates`."""
        return [c for c in self.usable_candidates(n_star_per_cell)
                if c.status is CandidateStatus.GOOD]

    def visit_candidates(self, visitor, n_star_per_cell):
        """
        Let a visitor process the usable candidates of every cell at once.

        Parameters
        ----------
        visitor : object
            Anything with a ``visit(candidates)`` method.
        n_star_per_cell : int
            How many non-``BAD`` candidates each cell contributes.

        Returns
        -------
        result : object
            What ``visitor.visit`` returns.
        """
        return visitor.visit(self.usable_candidates(n_star_per_cell))

    def to_table(self):
        """
        Every candidate with its cell, status, reason and QA statistics.

        Returns
        -------
        table : `~astropy.table.QTable`
        """
        cands = self.candidates
        cell_of = {id(c): cell.index for cell in self.cells
                   for c in cell.candidates}
        cols = {
            "id": [c.candidate_id for c in cands],
            "x": [c.x for c in cands],
            "y": [c.y for c in cands],
            "cell": [cell_of[id(c)] for c in cands],
            "rating": [c.rating for c in cands],
            "status": [c.status.value for c in cands],
            "reason": [c.reason for c in cands],
            "kernel_sum": [c.kernel_sum for c in cands],
            "background": [c.background for c in cands],
            "condition_number": [c.condition_number for c in cands],
            "residual_mean": [c.residual_mean for c in cands],
            "residual_std": [c.residual_std for c in cands],
            "spatial_residual_mean": [c.spatial_residual_mean for c in cands],
            "spatial_residual_std": [c.spatial_residual_std for c in cands],
        }
        table = QTable(cols)
        for name in ("x", "y", "rating", "kernel_sum", "background",
                     "condition_number", "residual_mean", "residual_std",
                     "spatial_residual_mean", "spatial_residual_std"):
            table[name] = np.asarray(table[name], dtype=float)
        return table
