"""
Batched numerical engines on stacks of candidate stamps.

Every function works on plain arrays holding many candidates at once:
stamps ``(n, S, S)``, kernels ``(n, k, k)`` or a shared basis ``(nb, k, k)``.
Convolutions are circular FFTs of size ``>= S``; only the *valid* region,
``(S - k + 1)**2`` pixels untouched by wrap-around, is returned.
"""

import numpy as np
from scipy import fft as sfft

__all__ = []

_CHUNK_BYTES = 64 * 2**20
_WORKERS = -1  # threads for the batched stamp FFTs


def _fft_size(stamp_size):
    return sfft.next_fast_len(stamp_size, real=True)


def _chunks(n, per_item_bytes):
    step = max(1, int(_CHUNK_BYTES // max(per_item_bytes, 1)))
    for start in range(0, n, step):
        yield slice(start, min(n, start + step))


def convolve_basis_valid(stamps, basis):
    """``(n, S, S)`` stamps (*) ``(nb, k, k)`` basis -> ``(n, nb, V, V)``."""
    n, size = stamps.shape[0], stamps.shape[-1]
    k = basis.shape[-1]
    big = _fft_size(size)
    fb = sfft.rfft2(basis, s=(big, big))
    out = np.empty((n, basis.shape[0], size - k + 1, size - k + 1))
    per_item = basis.shape[0] * big * (big // 2 + 1) * 16 * 2
    for sl in _chunks(n, per_item):
        ft = sfft.rfft2(stamps[sl], s=(big, big), workers=_WORKERS)
        conv = sfft.irfft2(ft[:, None] * fb[None], s=(big, big), workers=_WORKERS)
        out[sl] = conv[..., k - 1:size, k - 1:size]
    return out


def convolve_each_valid(stamps, kernels):
    """``(n, S, S)`` stamps, each (*) its own ``(n, k, k)`` kernel."""
    size = stamps.shape[-1]
    k = kernels.shape[-1]
    big = _fft_size(size)
    conv = sfft.irfft2(sfft.rfft2(stamps, s=(big, big), workers=_WORKERS)
                       * sfft.rfft2(kernels, s=(big, big), workers=_WORKERS),
                       s=(big, big), workers=_WORKERS)
    return conv[..., k - 1:size, k - 1:size]


def crop_valid(stamps, kernel_size):
    """The central ``(S - k + 1)**2`` region of ``(n, S, S)`` stamps."""
    h = kernel_size // 2
    size = stamps.shape[-1]
    return stamps[..., h:size - h, h:size - h]


def normal_equations(design, target, weights):
    """
    Weighted normal equations of a stack of linear least-squares problems.

    Parameters
    ----------
    design : ndarray, shape (n, p, npix)
        The design matrices, one column per row (C transposed).
    target : ndarray, shape (n, npix)
    weights : ndarray, shape (n, npix)

    Returns
    -------
    m : ndarray, shape (n, p, p)
    b : ndarray, shape (n, p)
    """
    cw = design * weights[:, None, :]
    # one BLAS product per candidate: numpy's stacked matmul does not use
    # BLAS for these shapes and is an order of magnitude slower
    m = np.empty((design.shape[0], design.shape[1], design.shape[1]))
    for i in range(design.shape[0]):
        m[i] = cw[i] @ design[i].T
    b = (cw * target[:, None, :]).sum(axis=2)
    return 0.5 * (m + m.transpose(0, 2, 1)), b


def scaled_condition_number(m):
    """
    Condition numbers of symmetric matrices scaled to unit diagonal.

    Scaling first makes the number independent of the units of each
    unknown (a bright star and a background term differ by orders of
    magnitude in their raw columns).
    """
    m = np.asarray(m)
    d = np.sqrt(np.abs(np.diagonal(m, axis1=-2, axis2=-1)))
    d = np.where(d > 0, d, 1.0)
    ms = m / (d[..., :, None] * d[..., None, :])
    ev = np.linalg.eigvalsh(ms)
    lo = np.abs(ev).min(axis=-1)
    hi = np.abs(ev).max(axis=-1)
    with np.errstate(divide="ignore"):
        return np.where(lo > 0, hi / np.where(lo > 0, lo, 1.0), np.inf)


def solve_stack(m, b):
    """Solve ``m @ x = b`` for a stack; singular systems use least squares."""
    try:
        return np.linalg.solve(m, b[..., None])[..., 0]
    except np.linalg.LinAlgError:
        out = np.empty_like(b)
        for i in range(len(b)):
            out[i] = np.linalg.lstsq(m[i], b[i], rcond=None)[0]
        return out


def residual_statistics(template, science, template_var, science_var, mask,
                        kernels, backgrounds):
    """
    Normalised residual ``D / sqrt(var)`` statistics over candidate stamps.

    ``D = science - template (*) K - bg`` on the valid region and
    ``var = science_var + template_var (*) K**2``.

    Returns
    -------
    mean, std : ndarray, shape (n,)
    """
    k = kernels.shape[-1]
    model = convolve_each_valid(template, kernels)
    var = crop_valid(science_var, k) + convolve_each_valid(template_var,
                                                           kernels ** 2)
    diff = crop_valid(science, k) - model - backgrounds[:, None, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        z = diff / np.sqrt(np.maximum(var, 1e-300))
    good = ~crop_valid(mask, k) & np.isfinite(z)
    n = np.maximum(good.sum(axis=(1, 2)), 1)
    zg = np.where(good, z, 0.0)
    mean = zg.sum(axis=(1, 2)) / n
    std = np.sqrt(np.where(good, (z - mean[:, None, None]) ** 2, 0.0)
                  .sum(axis=(1, 2)) / np.maximum(n - 1, 1))
    return mean, std
