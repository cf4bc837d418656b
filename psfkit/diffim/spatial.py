"""
Spatially varying kernels: the spatial polynomial, its least-squares fit to
the candidates, and its application to whole images.

The kernel at pixel ``(x, y)`` is ``K(x, y) = sum_i a_i(x, y) B_i`` with each
coefficient a polynomial ``a_i(x, y) = sum_t c_it P_t(x, y)`` (the first
basis, which alone carries the kernel sum, is held constant).  Applied to an
image the sum is regrouped per spatial term,

    ``(K * I)(x, y) = sum_t P_t(x, y) (I * K_t)(x, y)``,  ``K_t = sum_i c_it B_i``,

which is exactly the sum of the per-basis convolutions times their
polynomials, computed with one FFT convolution per spatial term.
"""


import numpy as np

from .._numerics.linalg import scaled_condition_number, solve
from ..utils import (
    PsfkitWarning,
    check_in,
    check_integer,
    executor_threads,
    renamed_keyword,
    warn,
)
from ._imageconv import convolve_strips

__all__ = [
    "IllConditionedKernelWarning",
    "SpatialFunction",
    "SpatialKernel",
    "solve_spatial_kernel",
]


class IllConditionedKernelWarning(PsfkitWarning):
    """The kernel system is ill-conditioned; a pseudo-inverse was used."""


class SpatialFunction:
    """
    2-D polynomial terms of ``(x, y)`` over an image.

    ``x`` and ``y`` are mapped linearly from the image box (pixel edges
    ``-0.5`` to ``n - 0.5``) to ``[-1, 1]``; the terms are the products
    ``f_i(u) f_j(v)`` with ``i + j <= order``, ``f`` being Chebyshev
    polynomials of the first kind or monomials, ordered by total degree.
    The first term is the constant 1.

    Parameters
    ----------
    order : int
        Largest total degree.
    shape : tuple of int
        ``(ny, nx)`` of the image.
    kind : {'chebyshev1', 'polynomial'}, optional
        The polynomial family.

    Examples
    --------
    >>> from psfkit.diffim import SpatialFunction
    >>> f = SpatialFunction(2, (100, 100))
    >>> f.n_terms
    6
    >>> f.terms([-0.5, 99.5], [49.5, 49.5]).round(3).tolist()
    [[1.0, -1.0, 0.0, 1.0, -0.0, -1.0], [1.0, 1.0, 0.0, 1.0, 0.0, -1.0]]
    """

    def __init__(self, order, shape, kind="chebyshev1"):
        self.order = check_integer("order", order, minimum=0)
        self.shape = tuple(int(s) for s in shape)
        self.kind = check_in("kind", kind, ("chebyshev1", "polynomial"))
        self.powers = [(d - j, j) for d in range(self.order + 1)
                       for j in range(d + 1)]

    @property
    def n_terms(self):
        """Number of terms, ``(order + 1) (order + 2) / 2``."""
        return len(self.powers)

    def _scaled(self, values, axis):
        n = self.shape[1] if axis == 0 else self.shape[0]
        return 2.0 * (np.asarray(values, dtype=float) + 0.5) / n - 1.0

    def _family(self, u):
        out = [np.ones_like(u)]
        if self.order >= 1:
            out.append(u)
        for k in range(2, self.order + 1):
            if self.kind == "chebyshev1":
                out.append(2.0 * u * out[-1] - out[-2])
            else:
                out.append(u ** k)
        return out

    def terms(self, x, y):
        """
        The terms at positions ``(x, y)``.

        Parameters
        ----------
        x, y : float or array-like
            Pixel positions (broadcast against each other).

        Returns
        -------
        terms : `~numpy.ndarray`
            Shape ``(n, n_terms)``.

        Raises
        ------
        ValueError
            When ``x`` and ``y`` do not broadcast to one shape.
        """
        x, y = np.atleast_1d(x, y)
        try:
            x, y = np.broadcast_arrays(x, y)
        except ValueError:
            msg = (f"x and y must have the same length (or broadcast), got "
                   f"shapes {x.shape} and {y.shape}")
            raise ValueError(msg) from None
        fx = self._family(self._scaled(x, 0))
        fy = self._family(self._scaled(y, 1))
        return np.stack([fx[i] * fy[j] for i, j in self.powers], axis=-1)

    def separable_terms(self):
        """Per-term ``(row_factor (ny,), column_factor (nx,))`` over the image."""
        ny, nx = self.shape
        fx = self._family(self._scaled(np.arange(nx), 0))
        fy = self._family(self._scaled(np.arange(ny), 1))
        return [(fy[j], fx[i]) for i, j in self.powers]

    def evaluate(self, coefficients, rows=None):
        """
        Image of ``sum_t coefficients[t] P_t`` over the whole image (or
        the rows of the slice ``rows``).
        """
        rows = slice(None) if rows is None else rows
        ny, nx = self.shape
        fx = self._family(self._scaled(np.arange(nx), 0))
        fy = self._family(self._scaled(np.arange(ny)[rows], 1))
        # grouped by the power of x: one outer product per power
        out = np.zeros((len(fy[0]), nx))
        for i in range(self.order + 1):
            col = np.zeros(len(fy[0]))
            for c, (pi, pj) in zip(coefficients, self.powers, strict=True):
                if pi == i and c:
                    col += c * fy[pj]
            if col.any():
                out += np.outer(col, fx[i])
        return out

    def weight(self):
        """
        ``weight(t, rows)``: the map of term ``t`` on the rows of the slice
        ``rows``, as a separable pair (the form the strip convolution
        takes).
        """
        terms = self.separable_terms()

        def term(t, sl):
            ry, rx = terms[t]
            return ry[sl][:, None], rx[None, :]

        return term

    def __repr__(self):
        return (f"SpatialFunction(order={self.order}, shape={self.shape}, "
                f"kind={self.kind!r}, n_terms={self.n_terms})")


class SpatialKernel:
    """
    A spatially varying PSF-matching kernel with its differential background.

    Parameters
    ----------
    basis : `~numpy.ndarray`
        ``(n_basis, k, k)`` basis images.
    coefficients : `~numpy.ndarray`
        ``(n_basis, n_terms)`` spatial coefficients ``c_it``.
    kernel_function : `SpatialFunction`
        The spatial terms of the kernel.
    background_coefficients : `~numpy.ndarray`, optional
        Coefficients of ``background_function``; no background if `None`.
    background_function : `SpatialFunction`, optional
        The spatial terms of the background.

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.diffim import SpatialFunction, SpatialKernel, alard_lupton_basis
    >>> basis = alard_lupton_basis(9, [1.5], [0])
    >>> k = SpatialKernel(basis, np.array([[2.0]]), SpatialFunction(0, (64, 64)))
    >>> round(float(k.kernel_sum), 6), k.kernel_image(10, 20).shape
    (2.0, (9, 9))
    """

    def __init__(self, basis, coefficients, kernel_function, *,
                 background_coefficients=None, background_function=None):
        self.basis = np.asarray(basis, dtype=float)
        self.coefficients = np.asarray(coefficients, dtype=float)
        self.kernel_function = kernel_function
        want = (self.basis.shape[0], kernel_function.n_terms)
        if self.coefficients.shape != want:
            msg = f"coefficients must have shape {want}, got {self.coefficients.shape}"
            raise ValueError(msg)
        self.background_function = background_function
        self.background_coefficients = (
            None if background_coefficients is None
            else np.asarray(background_coefficients, dtype=float))

    def __repr__(self):
        bg = ("none" if self.background_coefficients is None else
              f"order {self.background_function.order}")
        return (f"SpatialKernel(kernel_size={self.kernel_size}, "
                f"n_basis={self.basis.shape[0]}, "
                f"spatial_order={self.kernel_function.order}, "
                f"shape={self.shape}, kernel_sum={self.kernel_sum:.6g}, "
                f"background={bg})")

    @property
    def shape(self):
        """``(ny, nx)`` of the image the kernel was fitted on."""
        return self.kernel_function.shape

    @property
    def kernel_size(self):
        """Width of the kernel images."""
        return self.basis.shape[-1]

    @property
    def term_kernels(self):
        """``(n_terms, k, k)`` kernels ``K_t = sum_i c_it B_i``."""
        return np.einsum("it,ikl->tkl", self.coefficients, self.basis)

    def coefficients_at(self, x, y):
        """Basis coefficients ``(n, n_basis)`` at positions ``(x, y)``."""
        return self.kernel_function.terms(x, y) @ self.coefficients.T

    def kernel_image(self, x, y):
        """
        The kernel image at ``(x, y)``.

        Parameters
        ----------
        x, y : float or array-like
            Pixel positions (of one length, or one of them a number).

        Returns
        -------
        kernel : `~numpy.ndarray`
            ``(k, k)`` for scalar positions, else ``(n, k, k)``.

        Raises
        ------
        ValueError
            When ``x`` and ``y`` have different lengths.
        """
        images = np.einsum("ni,ikl->nkl", self.coefficients_at(x, y), self.basis)
        return images[0] if np.ndim(x) == 0 and np.ndim(y) == 0 else images

    def kernel_sum_at(self, x, y):
        """Kernel sum at positions ``(x, y)``."""
        return self.coefficients_at(x, y) @ self.basis.sum(axis=(1, 2))

    @property
    def kernel_sum(self):
        """Kernel sum at the image centre."""
        ny, nx = self.shape
        return float(self.kernel_sum_at((nx - 1) / 2, (ny - 1) / 2)[0])

    def kernel_sum_image(self):
        """Map of the kernel sum over the image."""
        sums = self.coefficients.T @ self.basis.sum(axis=(1, 2))
        return self.kernel_function.evaluate(sums)

    def background_at(self, x, y):
        """Differential background at positions ``(x, y)``."""
        if self.background_coefficients is None:
            return np.zeros(np.size(x))
        return self.background_function.terms(x, y) @ self.background_coefficients

    def background_image(self):
        """Map of the differential background over the image."""
        if self.background_coefficients is None:
            return np.zeros(self.shape)
        return self.background_function.evaluate(self.background_coefficients)

    @renamed_keyword(n_threads="executor")
    def convolve(self, image, *, executor=1):
        """
        Convolve an image with the spatially varying kernel.

        One FFT convolution per spatial term; pixels within ``k // 2`` of
        the edge see zeros beyond it and should be treated as invalid.

        Parameters
        ----------
        image : `~numpy.ndarray`
            Image of the fitted shape, without NaNs.
        executor : int or `~concurrent.futures.ThreadPoolExecutor`, optional
            Threads over strips of the image (default 1; `None`: every
            core).
        n_threads : int, optional
            Deprecated alias of ``executor``.

        Returns
        -------
        convolved : `~numpy.ndarray`
        """
        image = self._check_image(image)
        return convolve_strips(image, self.term_kernels,
                               self.kernel_function.weight(),
                               n_threads=executor_threads(executor))

    def squared_sum_coefficients(self, *, n_grid=7):
        """
        The spatial variation of ``sum(K(x, y)**2)`` relative to the image
        centre, as coefficients of the kernel's spatial terms (fitted on an
        ``n_grid x n_grid`` grid), and the squared central kernel.
        """
        ny, nx = self.shape
        centre = self.kernel_image((nx - 1) / 2, (ny - 1) / 2) ** 2
        gx, gy = np.meshgrid(np.linspace(0, nx - 1, n_grid),
                             np.linspace(0, ny - 1, n_grid))
        sq_sums = (self.kernel_image(gx.ravel(), gy.ravel()) ** 2).sum(
            axis=(1, 2))
        phi = self.kernel_function.terms(gx.ravel(), gy.ravel())
        coeffs = np.linalg.lstsq(phi, sq_sums / centre.sum(), rcond=None)[0]
        return coeffs, centre

    @renamed_keyword(n_threads="executor")
    def convolve_variance(self, variance, *, n_grid=7, executor=1):
        """
        Propagate a variance image through the kernel (``var * K**2``).

        The variance is convolved with the squared kernel at the image
        centre, then scaled by the spatial variation of ``sum(K(x, y)**2)``,
        fitted with the kernel's spatial terms on an ``n_grid x n_grid``
        grid of positions: exact for a kernel whose shape changes only by a
        scale, and to second order otherwise, for the cost of one FFT
        convolution.

        Parameters
        ----------
        variance : `~numpy.ndarray`
            Variance image of the fitted shape.
        n_grid : int, optional
            Grid size used to fit the variation of ``sum(K**2)``.
        executor : int or `~concurrent.futures.ThreadPoolExecutor`, optional
            Threads over strips of the image (default 1; `None`: every
            core).
        n_threads : int, optional
            Deprecated alias of ``executor``.

        Returns
        -------
        variance : `~numpy.ndarray`
        """
        variance = self._check_image(variance)
        coeffs, centre = self.squared_sum_coefficients(n_grid=n_grid)
        func = self.kernel_function
        return convolve_strips(variance, centre[None],
                               lambda t, rows: func.evaluate(coeffs, rows),
                               n_threads=executor_threads(executor))

    def _check_image(self, image):
        image = np.asarray(image)
        if image.dtype.kind != "f":
            image = image.astype(float)
        if image.shape != self.shape:
            msg = (f"image must have the kernel's image shape {self.shape}, "
                   f"got {image.shape}")
            raise ValueError(msg)
        return image


def solve_spatial_kernel(candidates, basis, *, shape, spatial_kernel_order=2,
                         spatial_bg_order=1, spatial_model_type="chebyshev1",
                         fit_for_background=True, max_condition_number=1e11):
    """
    Fit the spatial kernel to candidates with precomputed normal equations.

    With ``phi(x, y)`` the kernel terms and ``psi(x, y)`` the background
    terms, the candidate coefficients are ``a = A(x, y) theta`` where
    ``theta`` stacks the constant coefficient of the first basis, the
    ``n_terms`` coefficients of every other basis and the background
    coefficients.  The global system ``sum_c A_c.T M_c A_c theta =
    sum_c A_c.T b_c`` is assembled for all candidates at once.

    Parameters
    ----------
    candidates : list of `~psfkit.diffim.KernelCandidate`
        Candidates with ``m`` and ``b`` set (background last if fitted).
    basis : `~numpy.ndarray`
        ``(n_basis, k, k)`` basis the equations were built with.
    shape : tuple of int
        ``(ny, nx)`` of the image.
    spatial_kernel_order, spatial_bg_order : int, optional
        Orders of the spatial polynomials.
    spatial_model_type : {'chebyshev1', 'polynomial'}, optional
        The polynomial family.
    fit_for_background : bool, optional
        Whether the equations include the background.
    max_condition_number : float, optional
        Above this (scaled) condition number the system is solved with a
        pseudo-inverse and an `IllConditionedKernelWarning` is emitted.

    Returns
    -------
    kernel : `SpatialKernel`
    condition_number : float

    Examples
    --------
    See `~psfkit.diffim.ImagePsfMatch`, which calls this function.
    """
    if not candidates:
        msg = "no candidates to fit the spatial kernel with"
        raise ValueError(msg)
    kfun = SpatialFunction(spatial_kernel_order, shape, spatial_model_type)
    bfun = SpatialFunction(spatial_bg_order, shape, spatial_model_type)
    nb = basis.shape[0]
    p = nb + (1 if fit_for_background else 0)
    x = np.array([c.x for c in candidates])
    y = np.array([c.y for c in candidates])
    m = np.stack([c.m for c in candidates])
    b = np.stack([c.b for c in candidates])
    if m.shape[1] != p:
        msg = (f"candidate equations have {m.shape[1]} unknowns, expected {p} "
               f"for {nb} bases{' and a background' if fit_for_background else ''}")
        raise ValueError(msg)
    # the unknowns come in groups sharing their spatial terms: the
    # constant coefficient of the first basis, every other basis with the
    # kernel terms, the background with its terms.  Block (g, h) of the
    # global matrix is sum_c M_c[I_g, I_h] (x) tau_g(c) tau_h(c)^T: one
    # matrix product over the candidates per pair of groups
    groups = [(np.arange(1), np.ones((len(x), 1))),
              (np.arange(1, nb), kfun.terms(x, y))]
    if fit_for_background:
        groups.append((np.array([nb]), bfun.terms(x, y)))
    sizes = [len(idx) * tau.shape[1] for idx, tau in groups]
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    big_m = np.zeros((offsets[-1], offsets[-1]))
    big_b = np.zeros(offsets[-1])
    for g, (idx_g, tau_g) in enumerate(groups):
        sl_g = slice(offsets[g], offsets[g + 1])
        big_b[sl_g] = (b[:, idx_g].T @ tau_g).ravel()
        for h, (idx_h, tau_h) in enumerate(groups[g:], start=g):
            sub = m[:, idx_g][:, :, idx_h].reshape(len(x), -1)
            outer = (tau_g[:, :, None] * tau_h[:, None, :]).reshape(len(x), -1)
            block = (sub.T @ outer).reshape(len(idx_g), len(idx_h),
                                            tau_g.shape[1], tau_h.shape[1])
            block = block.transpose(0, 2, 1, 3).reshape(sizes[g], sizes[h])
            big_m[sl_g, offsets[h]:offsets[h + 1]] = block
            big_m[offsets[h]:offsets[h + 1], sl_g] = block.T
    cond = float(scaled_condition_number(big_m))
    singular = cond > max_condition_number
    if singular:
        warn(f"the spatial kernel system is ill-conditioned (condition number "
             f"{cond:.3g} > {max_condition_number:.3g} with {len(candidates)} "
             f"candidates and {len(big_b)} unknowns); solved by "
             "pseudo-inverse", IllConditionedKernelWarning)
    # one policy for singular systems (the shared core): LU, or the
    # pseudo-inverse dropping directions below 1 / max_condition_number
    theta = solve(big_m[None], big_b[None],
                  rcond=1.0 / max_condition_number)[0][0]
    coeffs = np.zeros((nb, kfun.n_terms))
    coeffs[0, 0] = theta[0]
    coeffs[1:] = theta[1:1 + (nb - 1) * kfun.n_terms].reshape(nb - 1, kfun.n_terms)
    bg = theta[1 + (nb - 1) * kfun.n_terms:] if fit_for_background else None
    kernel = SpatialKernel(basis, coeffs, kfun, background_coefficients=bg,
                           background_function=bfun if fit_for_background else None)
    return kernel, cond
