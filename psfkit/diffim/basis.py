"""
Kernel bases for PSF matching.

A matching kernel is a linear combination ``K = sum_i a_i B_i`` of basis
images ``B_i``.  Two families are provided:

* the Alard-Lupton basis: Gaussians times monomials ``u**j v**k``;
* the delta-function basis: one basis image per kernel pixel, with a
  Laplacian regularisation matrix to keep the solution smooth.

Both are returned *renormalised* so that only the first basis image has a
non-zero sum: the kernel sum is then the first coefficient, which the spatial
model holds constant over the image.
"""

from collections import OrderedDict
import hashlib

import numpy as np

from .._numerics.gaussian import FWHM_PER_SIGMA
from ..utils import check_in, check_integer, check_odd, check_positive

__all__ = [
    "alard_lupton_basis",
    "delta_function_basis",
    "delta_function_regularization",
    "scaled_alard_lupton_parameters",
    "make_kernel_basis",
    "pca_kernel_basis",
]



# Bases made here are remembered (by their values) together with their
# structure: the Alard-Lupton images are linear combinations of separable
# images and the delta-function images of shifted pixels, so stamps can be
# convolved with them by 1-D passes instead of 2-D FFTs (see ``_stamps``).
_FACTORS = OrderedDict()
_MAX_FACTORS = 32


def _basis_key(basis):
    basis = np.ascontiguousarray(basis, dtype=float)
    digest = hashlib.blake2b(basis.tobytes(), digest_size=16).hexdigest()
    return basis.shape, digest


def _remember(basis, factors):
    key = _basis_key(basis)
    _FACTORS[key] = factors
    _FACTORS.move_to_end(key)
    while len(_FACTORS) > _MAX_FACTORS:
        _FACTORS.popitem(last=False)


def basis_factors(basis):
    """
    The structure of a basis made by this module, or `None`.

    Returns a dict with ``kind`` ``'separable'`` (keys ``x_filters``,
    ``y_filters``, ``pairs`` and ``transform``: ``basis = transform @ raw``
    with ``raw[r] = outer(y_filters[pairs[r][0]], x_filters[pairs[r][1]])``)
    or ``'shift'`` (a delta-function basis), or `None` for any other basis.
    """
    return _FACTORS.get(_basis_key(basis))


def _renormalize(raw):
    """
    Make ``raw[0]`` unit-sum, all others zero-sum and unit L2 norm.

    Returns the basis and the matrix ``a`` with ``basis = a @ raw`` (over
    flattened images), built from the same operations.
    """
    basis = np.array(raw, dtype=float)
    n = len(basis)
    a = np.eye(n)
    s0 = basis[0].sum()
    basis[0] /= s0
    a[0] /= s0
    for i in range(1, n):
        total = basis[i].sum()
        if abs(total) > 1e-10 * np.abs(basis[i]).sum():
            basis[i] = basis[i] / total - basis[0]
            a[i] = a[i] / total - a[0]
        norm = np.sqrt(np.sum(basis[i] ** 2))
        if not norm > 1e-12:
            msg = (f"basis image {i} vanishes after renormalisation (it "
                   "duplicates the first one); use distinct Gaussian widths")
            raise ValueError(msg)
        basis[i] /= norm
        a[i] /= norm
    return basis, a


def alard_lupton_basis(kernel_size, sig_gauss=(0.7, 1.5, 3.0),
                       deg_gauss=(4, 2, 2)):
    """
    Make the renormalised Alard-Lupton kernel basis.

    Each Gaussian of width ``sig_gauss[n]`` (unit sum) is multiplied by the
    monomials ``u**j * v**k`` with ``j + k <= deg_gauss[n]``, where ``u`` and
    ``v`` run over ``[-1, 1]`` across the kernel.  The first image is then
    scaled to unit sum; every other image with a non-zero sum ``s_i`` becomes
    ``B_i / s_i - B_0``; all but the first are scaled to unit L2 norm.

    Parameters
    ----------
    kernel_size : int
        Odd width of the kernel images.
    sig_gauss : sequence of float, optional
        Gaussian widths (sigma, pixels).
    deg_gauss : sequence of int, optional
        Polynomial degree for each Gaussian.

    Returns
    -------
    basis : `~numpy.ndarray`
        Array of shape ``(n_basis, kernel_size, kernel_size)`` with
        ``n_basis = sum((d + 1) * (d + 2) / 2)``.

    Examples
    --------
    >>> from psfkit.diffim import alard_lupton_basis
    >>> basis = alard_lupton_basis(21)
    >>> basis.shape
    (27, 21, 21)
    >>> sums = basis.sum(axis=(1, 2))
    >>> float(sums[0]), bool(abs(sums[1:]).max() < 1e-12)
    (1.0, True)
    """
    kernel_size = check_odd("kernel_size", kernel_size)
    sig_gauss = [check_positive("sig_gauss", s) for s in sig_gauss]
    deg_gauss = [check_integer("deg_gauss", d, minimum=0) for d in deg_gauss]
    if len(sig_gauss) != len(deg_gauss) or not sig_gauss:
        msg = (f"sig_gauss and deg_gauss must have the same non-zero length, "
               f"got {len(sig_gauss)} and {len(deg_gauss)}")
        raise ValueError(msg)
    half = kernel_size // 2
    x = np.arange(-half, half + 1, dtype=float)
    u = x / max(half, 1)
    filters, pairs = [], []
    for sigma, degree in zip(sig_gauss, deg_gauss, strict=True):
        g = np.exp(-0.5 * (x / sigma) ** 2)
        g /= g.sum()
        first = len(filters)
        filters.extend(g * u ** j for j in range(degree + 1))
        # image[row=v, col=u]: u**j along x, v**k along y
        pairs.extend((first + k, first + j) for j in range(degree + 1)
                     for k in range(degree + 1 - j))
    filters = np.array(filters)
    raw = np.array([np.outer(filters[iy], filters[ix]) for iy, ix in pairs])
    basis, transform = _renormalize(raw)
    _remember(basis, {"kind": "separable", "x_filters": filters,
                      "y_filters": filters, "pairs": pairs,
                      "transform": transform})
    return basis


def delta_function_basis(kernel_size):
    """
    Make the renormalised delta-function kernel basis.

    The first basis image is a unit delta at the kernel centre; the others
    are ``delta_p - delta_centre`` for every other pixel ``p`` (raster
    order), so only the first has a non-zero sum.

    Parameters
    ----------
    kernel_size : int
        Odd width of the kernel images.

    Returns
    -------
    basis : `~numpy.ndarray`
        Array of shape ``(kernel_size**2, kernel_size, kernel_size)``.

    Examples
    --------
    >>> from psfkit.diffim import delta_function_basis
    >>> basis = delta_function_basis(3)
    >>> basis.shape
    (9, 3, 3)
    >>> basis[0].tolist()
    [[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]
    >>> basis[1].tolist()
    [[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 0.0]]
    """
    kernel_size = check_odd("kernel_size", kernel_size)
    transform = _delta_transform(kernel_size)
    basis = transform.T.reshape(-1, kernel_size, kernel_size).copy()
    _remember(basis, {"kind": "shift"})
    return basis


def _delta_transform(kernel_size):
    """Matrix T with pixel values = T @ coefficients of the renormalised basis."""
    npix = kernel_size * kernel_size
    centre = npix // 2
    order = [centre] + [p for p in range(npix) if p != centre]
    transform = np.zeros((npix, npix))
    transform[order, np.arange(npix)] = 1.0
    transform[centre, 1:] = -1.0
    return transform


def _stencil_operator(kernel_size, stencil):
    """Dense matrix applying a finite-difference stencil (zero outside)."""
    npix = kernel_size * kernel_size
    rows, cols = np.indices((kernel_size, kernel_size))
    rows = rows.ravel()
    cols = cols.ravel()
    op = np.zeros((npix, npix))
    for (dy, dx), weight in stencil.items():
        r = rows + dy
        c = cols + dx
        ok = (r >= 0) & (r < kernel_size) & (c >= 0) & (c < kernel_size)
        op[np.flatnonzero(ok), (r * kernel_size + c)[ok]] += weight
    return op


def delta_function_regularization(kernel_size, *,
                                  regularization_type="central-difference",
                                  stencil=9):
    """
    Regularisation matrix ``H`` of the delta-function basis.

    ``a.T @ H @ a`` is the squared norm of a finite-difference derivative of
    the kernel image ``K = sum_i a_i B_i`` (pixels outside the kernel count
    as zero, so the kernel is also pushed towards zero at its edge): the
    Laplacian (5- or 9-point central difference) or the gradient (forward
    differences).  The solve then uses ``(M + lambda * H) a = b``.

    Parameters
    ----------
    kernel_size : int
        Odd width of the kernel.
    regularization_type : {'central-difference', 'forward-difference'}, optional
        The derivative that is penalised.
    stencil : {5, 9}, optional
        Number of points of the central-difference Laplacian.

    Returns
    -------
    h : `~numpy.ndarray`
        Symmetric positive semi-definite matrix of shape
        ``(kernel_size**2, kernel_size**2)``, in the coefficients of
        `delta_function_basis`.

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.diffim import delta_function_regularization
    >>> h = delta_function_regularization(5)
    >>> h.shape, bool(np.allclose(h, h.T))
    ((25, 25), True)
    """
    kernel_size = check_odd("kernel_size", kernel_size)
    check_in("regularization_type", regularization_type,
             ("central-difference", "forward-difference"))
    if regularization_type == "central-difference":
        check_in("stencil", stencil, (5, 9))
        if stencil == 5:
            weights = {(0, 0): -4.0, (0, 1): 1.0, (0, -1): 1.0, (1, 0): 1.0,
                       (-1, 0): 1.0}
        else:
            weights = {(0, 0): -20.0 / 6, (0, 1): 4.0 / 6, (0, -1): 4.0 / 6,
                       (1, 0): 4.0 / 6, (-1, 0): 4.0 / 6}
            for d in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
                weights[d] = 1.0 / 6
        ops = [_stencil_operator(kernel_size, weights)]
    else:
        ops = [_stencil_operator(kernel_size, {(0, 0): -1.0, (0, 1): 1.0}),
               _stencil_operator(kernel_size, {(0, 0): -1.0, (1, 0): 1.0})]
    h_pix = sum(op.T @ op for op in ops)
    transform = _delta_transform(kernel_size)
    return transform.T @ h_pix @ transform


def scaled_alard_lupton_parameters(config, convolved_fwhm, target_fwhm):
    """
    Gaussian widths and kernel size of the Alard-Lupton basis from FWHMs.

    The matching kernel of two Gaussian PSFs is a Gaussian of width
    ``sigma_k = sqrt(sigma_target**2 - sigma_convolved**2)`` (at least
    ``config.alard_min_sig``); the basis Gaussians are spaced by
    ``config.alard_gauss_beta`` around it (the whole ladder scaled up so
    the narrowest is at least ``alard_min_sig``), and the kernel size is
    ``config.kernel_size_fwhm_scaling`` times the widest of them, made odd
    and clamped to ``[kernel_size_min, kernel_size_max]``.

    Parameters
    ----------
    config : `~psfkit.diffim.PsfMatchConfig`
        The configuration.
    convolved_fwhm, target_fwhm : float
        FWHM (pixels) of the image that is convolved and of the image it is
        matched to.

    Returns
    -------
    kernel_size : int
    sig_gauss : tuple of float

    Examples
    --------
    >>> from psfkit.diffim import PsfMatchConfig, scaled_alard_lupton_parameters
    >>> size, sigmas = scaled_alard_lupton_parameters(PsfMatchConfig(), 3.0, 5.0)
    >>> size, [round(s, 3) for s in sigmas]
    (21, [0.849, 1.699, 3.397])
    """
    s_conv = check_positive("convolved_fwhm", convolved_fwhm) / FWHM_PER_SIGMA
    s_targ = check_positive("target_fwhm", target_fwhm) / FWHM_PER_SIGMA
    sigma_k = np.sqrt(max(s_targ ** 2 - s_conv ** 2, 0.0))
    sigma_k = max(sigma_k, config.alard_min_sig)
    n = config.alard_n_gauss
    powers = np.arange(n) - (n - 1) // 2
    sigmas = sigma_k * config.alard_gauss_beta ** powers.astype(float)
    # keep the widths distinct: shift the whole ladder up to the minimum
    sigmas = sigmas * max(1.0, config.alard_min_sig / sigmas[0])
    size = int(np.ceil(config.kernel_size_fwhm_scaling * max(sigmas)))
    size += 1 - size % 2
    size = int(np.clip(size, config.kernel_size_min, config.kernel_size_max))
    return size, tuple(float(s) for s in sigmas)


def make_kernel_basis(config, *, convolved_fwhm=None, target_fwhm=None):
    """
    Build the basis (and regularisation matrix) a configuration asks for.

    Parameters
    ----------
    config : `~psfkit.diffim.PsfMatchConfig`
        The configuration.
    convolved_fwhm, target_fwhm : float, optional
        FWHMs used when ``config.scale_by_fwhm`` is set for the
        Alard-Lupton basis; without both, the configured widths and
        ``kernel_size`` are used.

    Returns
    -------
    basis : `~numpy.ndarray`
        ``(n_basis, kernel_size, kernel_size)`` renormalised basis.
    regularization : `~numpy.ndarray` or None
        ``H`` for the delta-function basis when regularisation is on.

    Examples
    --------
    >>> from psfkit.diffim import PsfMatchConfig, make_kernel_basis
    >>> basis, h = make_kernel_basis(PsfMatchConfig(kernel_size=11,
    ...                                             scale_by_fwhm=False))
    >>> basis.shape, h is None
    ((27, 11, 11), True)
    """
    if config.kernel_basis_set == "delta-function":
        basis = delta_function_basis(config.kernel_size)
        reg = None
        if config.use_regularization:
            reg = delta_function_regularization(
                config.kernel_size,
                regularization_type=config.regularization_type,
                stencil=config.central_regularization_stencil)
        return basis, reg
    if (config.scale_by_fwhm and convolved_fwhm is not None
            and target_fwhm is not None):
        size, sigmas = scaled_alard_lupton_parameters(config, convolved_fwhm,
                                                      target_fwhm)
    else:
        size, sigmas = config.kernel_size, config.alard_sig_gauss
    return alard_lupton_basis(size, sigmas, config.alard_deg_gauss), None


def pca_kernel_basis(kernels, n_components):
    """
    A basis made of the mean and principal components of kernel images.

    Each kernel is divided by its sum; the first basis image is the mean
    normalised kernel, followed by the ``n_components`` leading principal
    components of the deviations from it, renormalised like the other bases
    (only the first has a non-zero sum, the others have unit L2 norm).

    Parameters
    ----------
    kernels : `~numpy.ndarray`
        ``(n, k, k)`` kernel images, for instance the candidates' own
        kernels.
    n_components : int
        Number of principal components kept (at most ``n - 1``).

    Returns
    -------
    basis : `~numpy.ndarray`
        ``(1 + n_components, k, k)``.

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.diffim import alard_lupton_basis, pca_kernel_basis
    >>> rng = np.random.default_rng(0)
    >>> al = alard_lupton_basis(9, [1.0, 2.0], [1, 1])
    >>> kernels = np.einsum('ni,ikl->nkl', rng.normal(size=(20, 6)) * 0.1
    ...                     + [1, 0, 0, 0, 0, 0], al)
    >>> pca_kernel_basis(kernels, 3).shape
    (4, 9, 9)
    """
    kernels = np.asarray(kernels, dtype=float)
    n_components = check_integer("n_components", n_components, minimum=1)
    if kernels.ndim != 3 or len(kernels) < 2:
        msg = f"kernels must be a stack of at least 2 images, got {kernels.shape}"
        raise ValueError(msg)
    n_components = min(n_components, len(kernels) - 1)
    flat = kernels.reshape(len(kernels), -1)
    flat = flat / flat.sum(axis=1, keepdims=True)
    mean = flat.mean(axis=0)
    _, _, vt = np.linalg.svd(flat - mean, full_matrices=False)
    raw = np.vstack([mean, vt[:n_components]])
    return _renormalize(raw.reshape(-1, *kernels.shape[1:]))[0]
