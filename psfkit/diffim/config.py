"""
Configuration of PSF matching: kernel basis, spatial model, cells, clipping.

`PsfMatchConfig` holds every option of the kernel solve, with the defaults
established by the Alard-Lupton method as the LSST pipelines run it.  All
values are checked when the object is created (and again by `validate` after
later edits), so a bad value fails at once with a message naming the field.
"""

from dataclasses import dataclass, fields

from ..utils import (
    ParamReprMixin,
    check_bool,
    check_in,
    check_integer,
    check_odd,
    check_positive,
)

__all__ = ["PsfMatchConfig"]

_BASIS_SETS = ("alard-lupton", "delta-function")
_SPATIAL_TYPES = ("chebyshev1", "polynomial")
_REG_TYPES = ("central-difference", "forward-difference")
_LAMBDA_TYPES = ("absolute", "relative")


@dataclass(repr=False)
class PsfMatchConfig(ParamReprMixin):
    """
    Options of the PSF-matching kernel solve.

    Every field is validated on creation; call `validate` after changing a
    field of an existing object.

    Parameters
    ----------
    kernel_size : int
        Width (and height) of the matching kernel in pixels; odd.  Used as
        is when ``scale_by_fwhm`` is `False` or the FWHMs are unknown.
    kernel_basis_set : {'alard-lupton', 'delta-function'}
        The family of basis kernels.
    alard_n_gauss : int
        Number of Gaussians in the Alard-Lupton basis.
    alard_sig_gauss : tuple of float
        Widths (sigma, pixels) of the Gaussians when they are not scaled by
        the FWHMs; one per Gaussian.
    alard_deg_gauss : tuple of int
        Degree of the polynomial multiplying each Gaussian; one per Gaussian.
    alard_gauss_beta : float
        Ratio between consecutive Gaussian widths when they are scaled by
        the FWHMs.
    alard_min_sig : float
        Smallest Gaussian width (pixels) when scaling by the FWHMs.
    scale_by_fwhm : bool
        Derive the Gaussian widths and the kernel size from the FWHMs of
        the two images.
    kernel_size_fwhm_scaling : float
        With ``scale_by_fwhm``, the kernel size is this many times the
        widest Gaussian sigma ...
    kernel_size_min, kernel_size_max : int
        ... clamped to this range (both odd).
    spatial_kernel_order : int
        Order of the spatial polynomial of the kernel coefficients.
    spatial_bg_order : int
        Order of the spatial polynomial of the differential background.
    fit_for_background : bool
        Fit a differential background together with the kernel.
    spatial_model_type : {'chebyshev1', 'polynomial'}
        Chebyshev polynomials of the first kind, or plain monomials, of
        ``(x, y)`` scaled to ``[-1, 1]`` over the image.
    size_cell_x, size_cell_y : int
        Size of the spatial cells in pixels.
    n_star_per_cell : int
        Number of good candidates used in each cell.
    max_spatial_iterations : int
        Maximum number of passes of the solve loop.
    single_kernel_clipping, kernel_sum_clipping, spatial_kernel_clipping : bool
        Reject candidates on the residuals of their own kernel, on an
        outlying kernel sum, and on the residuals of the spatial kernel.
    candidate_residual_mean_max : float
        Largest accepted ``|mean|`` of the normalised residual
        ``D / sqrt(var)`` over a candidate stamp.
    candidate_residual_std_max : float
        Largest accepted standard deviation of the normalised residual.
    max_ksum_sigma : float
        Kernel-sum clipping threshold, in clipped standard deviations.
    constant_variance_weighting : bool
        Weight the per-candidate fit with ``1/median(var)`` rather than
        ``1/var`` pixel by pixel.
    use_regularization : bool
        Regularise the delta-function basis with a Laplacian penalty.
    regularization_type : {'central-difference', 'forward-difference'}
        Finite-difference form of the Laplacian penalty.
    central_regularization_stencil : {5, 9}
        Number of points of the central-difference Laplacian.
    lambda_type : {'absolute', 'relative'}
        ``lambda_value`` is used as is, or ``lambda_scaling`` times
        ``trace(M) / trace(H)``.  `~psfkit.diffim.ModelPsfMatch` always
        uses ``'relative'``.
    lambda_value : float
        Regularisation strength for ``lambda_type='absolute'``.
    lambda_scaling : float
        For ``lambda_type='relative'``: ``lambda = lambda_scaling *
        trace(M) / trace(H)``.
    use_pca_for_spatial_kernel : bool
        Replace the basis by the principal components of the candidates'
        own kernels before the spatial fit.
    num_principal_components : int
        Number of principal components (besides the mean kernel) kept.
    check_condition_number : bool
        Reject candidates whose normal matrix has a condition number above
        ``max_condition_number``.  Off by default: the Alard-Lupton basis
        is nearly degenerate on noiseless stamps (condition numbers of
        ``1e8`` and more) while its solutions remain good.
    max_condition_number : float
        Largest accepted condition number of a candidate's normal matrix
        (computed after scaling the matrix to unit diagonal) when
        ``check_condition_number`` is set.
    max_spatial_condition_number : float
        Largest accepted (scaled) condition number of the spatial system;
        above it the system is solved by pseudo-inverse, truncating the
        singular values below ``1 / max_spatial_condition_number`` of the
        largest, with an `~psfkit.diffim.IllConditionedKernelWarning`.  The
        spatial system is typically ~10-100 times worse conditioned than
        the candidates' own systems.
    detection_threshold : float
        Signal-to-noise ratio of the peaks used as candidates when no
        sources are given.
    max_candidates : int
        Largest number of automatically selected candidates.

    Raises
    ------
    ValueError, TypeError
        If a field has a bad value; the message names the field.

    Examples
    --------
    >>> from psfkit.diffim import PsfMatchConfig
    >>> config = PsfMatchConfig(kernel_size=15, spatial_kernel_order=1)
    >>> config.kernel_size, config.alard_deg_gauss
    (15, (4, 2, 2))
    >>> config  # the fields that differ from the defaults
    PsfMatchConfig(kernel_size=15, spatial_kernel_order=1)
    >>> PsfMatchConfig(kernel_size=20)
    Traceback (most recent call last):
    ...
    ValueError: kernel_size must be odd, got 20
    """

    kernel_size: int = 21
    kernel_basis_set: str = "alard-lupton"
    alard_n_gauss: int = 3
    alard_sig_gauss: tuple = (0.7, 1.5, 3.0)
    alard_deg_gauss: tuple = (4, 2, 2)
    alard_gauss_beta: float = 2.0
    alard_min_sig: float = 0.7
    scale_by_fwhm: bool = True
    kernel_size_fwhm_scaling: float = 6.0
    kernel_size_min: int = 21
    kernel_size_max: int = 35
    spatial_kernel_order: int = 2
    spatial_bg_order: int = 1
    fit_for_background: bool = True
    spatial_model_type: str = "chebyshev1"
    size_cell_x: int = 128
    size_cell_y: int = 128
    n_star_per_cell: int = 5
    max_spatial_iterations: int = 3
    single_kernel_clipping: bool = True
    kernel_sum_clipping: bool = True
    spatial_kernel_clipping: bool = True
    candidate_residual_mean_max: float = 0.25
    candidate_residual_std_max: float = 1.5
    max_ksum_sigma: float = 3.0
    constant_variance_weighting: bool = True
    use_regularization: bool = True
    regularization_type: str = "central-difference"
    central_regularization_stencil: int = 9
    lambda_type: str = "absolute"
    lambda_value: float = 0.2
    lambda_scaling: float = 1.0e-4
    use_pca_for_spatial_kernel: bool = False
    num_principal_components: int = 5
    check_condition_number: bool = False
    max_condition_number: float = 5.0e7
    max_spatial_condition_number: float = 1.0e11
    detection_threshold: float = 10.0
    max_candidates: int = 5000

    def __post_init__(self):
        self.validate()

    def _summary_items(self):
        # a constructor call giving the fields that differ from the defaults
        return [(f.name, repr(getattr(self, f.name))) for f in fields(self)
                if getattr(self, f.name) != f.default]

    def validate(self):
        """
        Check every field; raise ``ValueError``/``TypeError`` naming it.

        Returns
        -------
        config : `PsfMatchConfig`
            This object, with tuples normalised.
        """
        self.kernel_size = check_odd("kernel_size", self.kernel_size)
        self.kernel_size_min = check_odd("kernel_size_min", self.kernel_size_min)
        self.kernel_size_max = check_odd("kernel_size_max", self.kernel_size_max)
        if self.kernel_size_min > self.kernel_size_max:
            msg = (f"kernel_size_min ({self.kernel_size_min}) must not exceed "
                   f"kernel_size_max ({self.kernel_size_max})")
            raise ValueError(msg)
        check_in("kernel_basis_set", self.kernel_basis_set, _BASIS_SETS)
        check_in("spatial_model_type", self.spatial_model_type, _SPATIAL_TYPES)
        check_in("regularization_type", self.regularization_type, _REG_TYPES)
        check_in("lambda_type", self.lambda_type, _LAMBDA_TYPES)
        check_in("central_regularization_stencil",
                 self.central_regularization_stencil, (5, 9))
        self.alard_n_gauss = check_integer("alard_n_gauss", self.alard_n_gauss,
                                           minimum=1)
        self.alard_sig_gauss = tuple(
            check_positive("alard_sig_gauss", s)
            for s in _as_tuple("alard_sig_gauss", self.alard_sig_gauss))
        self.alard_deg_gauss = tuple(
            check_integer("alard_deg_gauss", d, minimum=0)
            for d in _as_tuple("alard_deg_gauss", self.alard_deg_gauss))
        for name in ("alard_sig_gauss", "alard_deg_gauss"):
            if len(getattr(self, name)) != self.alard_n_gauss:
                msg = (f"{name} must have alard_n_gauss={self.alard_n_gauss} "
                       f"values, got {len(getattr(self, name))}")
                raise ValueError(msg)
        self.alard_gauss_beta = check_positive("alard_gauss_beta",
                                               self.alard_gauss_beta)
        if self.alard_gauss_beta <= 1:
            msg = f"alard_gauss_beta must be > 1, got {self.alard_gauss_beta}"
            raise ValueError(msg)
        for name in ("alard_min_sig", "kernel_size_fwhm_scaling",
                     "candidate_residual_mean_max", "candidate_residual_std_max",
                     "max_ksum_sigma", "max_condition_number",
                     "max_spatial_condition_number",
                     "detection_threshold"):
            setattr(self, name, check_positive(name, getattr(self, name)))
        for name in ("lambda_value", "lambda_scaling"):
            setattr(self, name, check_positive(name, getattr(self, name),
                                               strict=False))
        for name in ("spatial_kernel_order", "spatial_bg_order"):
            setattr(self, name, check_integer(name, getattr(self, name),
                                              minimum=0))
        for name in ("size_cell_x", "size_cell_y", "n_star_per_cell",
                     "max_spatial_iterations", "num_principal_components",
                     "max_candidates"):
            setattr(self, name, check_integer(name, getattr(self, name),
                                              minimum=1))
        for f in fields(self):
            if f.type == "bool" or isinstance(f.default, bool):
                setattr(self, f.name, check_bool(f.name, getattr(self, f.name)))
        return self


def _as_tuple(name, value):
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
        msg = f"{name} must be a sequence of numbers, got {value!r}"
        raise TypeError(msg)
    return tuple(value)
