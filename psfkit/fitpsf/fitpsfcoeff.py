r"""
Coefficient plug-ins: how the bases are combined into the PSF of a region.

Every function here is a plug-in for the ``fitpsfcoeff`` slot of a fitter:
``fitpsfcoeff(self, img, base)`` takes the fitter, the image values on the
optimisation region (shape ``(n_pix,)``) and the selected bases there (shape
``(n_pix, n_use)``), and returns ``n_use`` coefficients; the fitted PSF of
the region is ``base_region @ coefficients``.

Both solvers here work on the normal equations.  With the Gram matrix
:math:`G = B^T B` of the bases on the optimisation region, the coefficients
are :math:`c = W B^T t + c_0` with a matrix :math:`W` and offset
:math:`c_0` that depend on the bases only.  The plug-ins expose that as an
attribute ``prepare(fitter, gram, n_pix) -> (W, c0)`` (``c0`` may be
`None`); fitters use it to solve each region once and reuse :math:`W` for
every further image with the same bases and optimisation region.  If
``W`` approximates the pseudo-inverse of the Gram matrix, the plug-in also
sets ``refine = True``, and one step of iterative refinement is applied to
make up for the precision lost in forming the Gram matrix.  The attribute
``scaling`` (``'columns'`` or ``'common'``) says how the bases and the image
may be rescaled before solving, which keeps the solution exact at any
scale of the data (1e-300 or 1e300); without it nothing is rescaled.  A
custom plug-in without ``prepare`` is simply called for every region.

Fitter attributes used here:

``rcond``
    Relative cut-off for small singular values in `lstsq` (default `None`:
    1e-6, the shared policy of `psfkit._numerics.linalg`, whose
    pseudo-inverse `lstsq` uses).  Directions of the bases with smaller
    singular values are left out, so singular systems (duplicated reference
    frames) give the minimum-norm solution instead of a failure.
``klip_modes``
    The number ``K`` of principal components used by `klip`.
"""

import numpy as np

from .._numerics import linalg
from ..utils import check_integer, check_positive
from ._solve import ScaledSystem, solve_scaled

__all__ = ["lstsq", "klip", "lstsq_operator", "klip_operator"]

_EPS = np.finfo(float).eps


def lstsq_operator(gram, *, rcond=None, n_pix=None):
    """
    Return the pseudo-inverse of a Gram matrix, robust to singularity.

    The matrix is equilibrated by its diagonal (which removes the
    ill-conditioning that comes from bases of different brightness) and
    inverted by a symmetric eigen-decomposition that drops the directions
    whose eigenvalue is below ``rcond**2`` times the largest: the policy
    for singular systems shared by every psfkit engine
    (`psfkit._numerics.linalg.pseudo_inverse`).  The result equals the
    least-squares solution of ``numpy.linalg.lstsq`` for every system whose
    condition number is below ``1 / rcond``.

    Parameters
    ----------
    gram : `~numpy.ndarray`
        The ``(n, n)`` matrix ``B.T @ B``.
    rcond : float or None, optional
        Relative singular-value cut-off; `None` for the shared default
        (1e-6), or ``sqrt(eps * n_pix)`` if larger.
    n_pix : int, optional
        The number of rows of ``B`` (for the default ``rcond``: rounding in
        forming ``B.T @ B`` grows with it).

    Returns
    -------
    inverse : `~numpy.ndarray`
        The ``(n, n)`` pseudo-inverse, so ``c = inverse @ (B.T @ t)``.

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.fitpsf.fitpsfcoeff import lstsq_operator
    >>> base = np.array([[1., 1.], [1., 1.], [0., 0.]])   # two equal columns
    >>> lstsq_operator(base.T @ base) @ (base.T @ np.array([2., 2., 5.]))
    array([1., 1.])
    """
    gram = np.asarray(gram, dtype=float)
    n = gram.shape[0]
    if rcond is None:
        cut = max(linalg.RCOND, _EPS * max(n, n_pix or n))
    else:
        cut = check_positive("rcond", rcond, strict=False) ** 2
    return linalg.pseudo_inverse(gram[None], rcond=cut)[0]


def klip_operator(gram, n_modes):
    r"""
    Return the KLIP projection in terms of the original bases.

    The bases are centred on their mean (the mean reference is the zeroth
    mode), the covariance of the centred bases is eigen-decomposed, and the
    target minus the mean reference is projected on the first ``n_modes``
    Karhunen-Loeve modes :math:`Z_k` (Soummer et al. 2012):
    :math:`\mathrm{psf} = m + \sum_k \langle t - m, Z_k\rangle Z_k`.
    Since every mode is a combination of the bases, this is
    ``B @ (W @ B.T @ t + c0)``.

    Parameters
    ----------
    gram : `~numpy.ndarray`
        The ``(n, n)`` matrix ``B.T @ B``.
    n_modes : int
        The number of modes; fewer are used if the centred bases have lower
        rank.

    Returns
    -------
    W, c0 : `~numpy.ndarray`
        The ``(n, n)`` matrix and the ``(n,)`` offset.

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.fitpsf.fitpsfcoeff import klip_operator
    >>> rng = np.random.default_rng(0)
    >>> base = rng.normal(size=(50, 4))
    >>> W, c0 = klip_operator(base.T @ base, 1)
    >>> W.shape, c0.shape
    ((4, 4), (4,))
    """
    gram = np.asarray(gram, dtype=float)
    n = gram.shape[0]
    n_modes = check_integer("klip_modes", n_modes, minimum=1)
    mean = np.full(n, 1.0 / n)
    center = np.eye(n) - 1.0 / n
    cov = center @ gram @ center
    w, v = np.linalg.eigh(cov)
    w, v = w[::-1], v[:, ::-1]
    good = w > max(w[0], 0.0) * n * 100 * _EPS
    k = min(n_modes, int(np.count_nonzero(good)))
    if k == 0:
        return np.zeros((n, n)), mean
    a = center @ (v[:, :k] / np.sqrt(w[:k]))
    op = a @ a.T
    return op, mean - op @ (gram @ mean)


def _lstsq_prepare(self, gram, n_pix):
    return lstsq_operator(gram, rcond=getattr(self, "rcond", None),
                          n_pix=n_pix), None


def _klip_prepare(self, gram, n_pix):
    return klip_operator(gram, getattr(self, "klip_modes", 5))


def _apply(func, fitter, img, base):
    img = np.asarray(img, dtype=float)
    base = np.asarray(base, dtype=float)
    if base.ndim != 2 or img.shape != base.shape[:1]:
        msg = (f"base must have shape (n_pix, n_bases) matching img of shape "
               f"{img.shape}, got {base.shape}")
        raise ValueError(msg)
    system = ScaledSystem(base, func.scaling)
    op, offset = func.prepare(fitter, system.gram, base.shape[0])
    w, st = solve_scaled(system, op, offset, img,
                         refine=getattr(func, "refine", False))
    return w * st


def lstsq(self, img, base):
    """
    Least-squares coefficients, robust to singular systems.

    Minimises ``sum((img - base @ c)**2)`` through the normal equations with
    `lstsq_operator` (cut-off ``self.rcond``), followed by one step of
    iterative refinement from the residual, which restores the accuracy
    that forming ``base.T @ base`` loses.  Every base and the image are
    first divided by a power of two near their norm, so the result scales
    exactly with the data, from 1e-300 to 1e300.

    Parameters
    ----------
    img : `~numpy.ndarray`
        ``(n_pix,)`` image values on the optimisation region.
    base : `~numpy.ndarray`
        ``(n_pix, n_use)`` bases on the optimisation region.

    Returns
    -------
    coeff : `~numpy.ndarray`
        ``(n_use,)`` coefficients.

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.fitpsf import SimpleSubtraction
    >>> base = np.array([[1., 0.], [0., 1.], [1., 1.]])
    >>> fitter = SimpleSubtraction(np.ones((2, 3, 3)))
    >>> np.round(fitter.fitpsfcoeff(base @ [2., 3.], base), 12)
    array([2., 3.])
    """
    return _apply(lstsq, self, img, base)


lstsq.prepare = _lstsq_prepare
lstsq.config = ("rcond",)
lstsq.refine = True
lstsq.scaling = "columns"


def klip(self, img, base):
    """
    KLIP coefficients: projection on the first ``self.klip_modes`` modes.

    See `klip_operator`.

    Parameters
    ----------
    img : `~numpy.ndarray`
        ``(n_pix,)`` image values on the optimisation region.
    base : `~numpy.ndarray`
        ``(n_pix, n_use)`` bases on the optimisation region.

    Returns
    -------
    coeff : `~numpy.ndarray`
        ``(n_use,)`` coefficients of the bases.
    """
    return _apply(klip, self, img, base)


klip.prepare = _klip_prepare
klip.config = ("klip_modes",)
klip.scaling = "common"
