"""
Convolution of stacks of candidate stamps: the design matrices of the
kernel fit.

For a stamp ``S`` of width ``L`` and a kernel basis of width ``k`` only the
*valid* region of each convolution, ``V = L - k + 1`` pixels on a side,
is used.  Three engines give the same numbers:

* Alard-Lupton bases are linear combinations (``basis = A @ raw``) of
  separable images ``outer(y_filter, x_filter)``: one banded matrix
  product along the rows with every x filter, then one per x filter along
  the columns with the y filters it is paired with.  That costs about a
  third of the batched FFTs and the products go to BLAS.  The design is
  returned in the coordinates of ``raw``; `StampDesign.transform` maps
  them to the basis (the normal equations are transformed, which is
  cheaper than transforming every pixel).
* Delta-function bases: every column is a shifted copy of the stamp.
* Any other basis: batched FFTs, a few stamps at a time so that the
  transforms stay in cache.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import fft as sfft

from .._numerics.linalg import pow2
from .basis import basis_factors

__all__ = []

# stamps per batch of FFTs: small batches stay in the CPU caches, which
# measured three times faster than one large batch
_FFT_BATCH = 2


def crop_valid(stamps, kernel_size):
    """The central ``(S - k + 1)**2`` region of ``(..., S, S)`` stamps."""
    h = kernel_size // 2
    size = stamps.shape[-1]
    return stamps[..., h:size - h, h:size - h]


def convolve_each_valid(stamps, kernels, *, dtype=np.float64):
    """``(n, S, S)`` stamps, each convolved with its own ``(n, k, k)``
    kernel; valid region ``(n, V, V)``.  ``dtype`` is the precision of the
    transforms (single precision is enough for variances: each stamp and
    kernel is divided by a power of two near its largest value first,
    which keeps any unit within its range)."""
    n, size = stamps.shape[0], stamps.shape[-1]
    k = kernels.shape[-1]
    big = sfft.next_fast_len(size, real=True)
    out = np.empty((n, size - k + 1, size - k + 1))
    for lo in range(0, n, 8 * _FFT_BATCH):
        sl = slice(lo, lo + 8 * _FFT_BATCH)
        st, st_scale = _scaled(stamps[sl], dtype)
        ke, ke_scale = _scaled(kernels[sl], dtype)
        conv = sfft.irfft2(sfft.rfft2(st, s=(big, big))
                           * sfft.rfft2(ke, s=(big, big)), s=(big, big))
        out[sl] = conv[..., k - 1:size, k - 1:size]
        out[sl] *= st_scale * ke_scale
    return out


def _scaled(arrays, dtype):
    """A stack divided by powers of two near each array's largest value,
    and those powers (shaped to broadcast over the stack)."""
    top = pow2(np.abs(arrays).max(axis=(1, 2), initial=0.0))[:, None, None]
    # divided in the input's precision, then rounded
    out = np.empty(arrays.shape, dtype)
    return np.divide(arrays, top, out=out), top


def _band(filters, size):
    """``(n_filters, V, size)``: row ``i`` of filter ``f`` applies it as a
    valid convolution to a vector of ``size`` values."""
    n, k = filters.shape
    valid = size - k + 1
    band = np.zeros((n, valid, size))
    rows = np.arange(valid)
    for t in range(k):
        band[:, rows, rows + k - 1 - t] = filters[:, t][:, None]
    return band


class StampDesign:
    """
    The design matrices of stamps for one kernel basis.

    Parameters
    ----------
    basis : `~numpy.ndarray`
        ``(n_basis, k, k)`` kernel basis.

    Attributes
    ----------
    n_work : int
        Columns of the design matrix returned by `design`.
    transform : `~numpy.ndarray` or None
        ``(n_basis, n_work)``: the basis coordinates of the design
        columns (`None` when they are the basis itself).
    """

    def __init__(self, basis):
        self.basis = np.asarray(basis, dtype=float)
        self.kernel_size = self.basis.shape[-1]
        factors = basis_factors(self.basis)
        self.kind = "fft" if factors is None else factors["kind"]
        self.transform = None
        self.n_work = self.basis.shape[0]
        self._bands = {}
        if self.kind == "separable":
            self._factors = factors
            self.transform = factors["transform"]
            self.n_work = len(factors["pairs"])
            by_x = {}
            for r, (iy, ix) in enumerate(factors["pairs"]):
                by_x.setdefault(ix, []).append((r, iy))
            self._by_x = sorted(by_x.items())
        elif self.kind == "fft":
            self._spectra = {}

    def design(self, stamps):
        """
        The design columns of ``(m, L, L)`` stamps: ``(m, n_work, V, V)``.
        """
        stamps = np.asarray(stamps, dtype=float)
        if self.kind == "separable":
            return self._separable(stamps)
        if self.kind == "shift":
            return self._shifted(stamps)
        return self._fft(stamps)

    def _separable(self, stamps):
        m, size = stamps.shape[0], stamps.shape[-1]
        k = self.kernel_size
        valid = size - k + 1
        if size not in self._bands:
            fx = _band(self._factors["x_filters"], size)   # (nfx, V, L)
            fy = _band(self._factors["y_filters"], size)   # (nfy, V, L)
            x_pass = np.ascontiguousarray(
                fx.transpose(2, 0, 1).reshape(size, -1))   # (L, nfx * V)
            y_pass = [np.ascontiguousarray(np.concatenate([fy[iy] for _, iy
                                                           in group]))
                      for _, group in self._by_x]           # (n * V, L)
            self._bands[size] = (x_pass, y_pass)
        x_pass, y_pass = self._bands[size]
        n_fx = x_pass.shape[1] // valid
        # rows convolved with every x filter: (m, L, n_fx, V), then one
        # contiguous (L, V) plane per x filter for the column pass
        rows = (stamps.reshape(m * size, size) @ x_pass).reshape(
            m, size, n_fx, valid)
        planes = np.ascontiguousarray(rows.transpose(0, 2, 1, 3))
        out = np.empty((m, self.n_work, valid, valid))
        for (ix, group), band in zip(self._by_x, y_pass, strict=True):
            cols = np.matmul(band, planes[:, ix])
            out[:, [r for r, _ in group]] = cols.reshape(m, len(group), valid,
                                                         valid)
        return out

    def _shifted(self, stamps):
        k = self.kernel_size
        windows = sliding_window_view(stamps, (k, k), axis=(1, 2))
        # column p of the raw design is the stamp shifted by pixel p of the
        # kernel (flipped: a convolution)
        m, valid = stamps.shape[0], stamps.shape[-1] - k + 1
        raw = windows[..., ::-1, ::-1].reshape(m, valid, valid, k * k)
        raw = np.moveaxis(raw, -1, 1)
        centre = (k * k) // 2
        order = [centre] + [p for p in range(k * k) if p != centre]
        out = np.array(raw[:, order])
        out[:, 1:] -= raw[:, centre][:, None]
        return out

    def _fft(self, stamps):
        size = stamps.shape[-1]
        k = self.kernel_size
        big = sfft.next_fast_len(size, real=True)
        if big not in self._spectra:
            self._spectra[big] = sfft.rfft2(self.basis, s=(big, big))
        spectra = self._spectra[big]
        m = stamps.shape[0]
        out = np.empty((m, self.n_work, size - k + 1, size - k + 1))
        for lo in range(0, m, _FFT_BATCH):
            sl = slice(lo, lo + _FFT_BATCH)
            ft = sfft.rfft2(stamps[sl], s=(big, big))
            conv = sfft.irfft2(ft[:, None] * spectra[None], s=(big, big))
            out[sl] = conv[..., k - 1:size, k - 1:size]
        return out
