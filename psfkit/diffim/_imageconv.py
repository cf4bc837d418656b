"""
Whole-image convolution with a spatially varying kernel, strip by strip.

The kernel is ``K(x, y) = sum_t w_t(x, y) K_t``: fixed kernels ``K_t``
weighted by smooth maps ``w_t`` (the spatial polynomial terms).  So

    ``(K * I)(x, y) = sum_t w_t(x, y) (I * K_t)(x, y)``

exactly: one FFT of the image and one inverse FFT per term.  The image is
processed in strips of rows (each grown by the kernel half-width), which
keeps the transforms in cache, bounds the memory to a few strips and lets
threads share the work.  Masked pixels are replaced by ``level`` and the
image is convolved after subtracting ``level``; the constant comes back
analytically (``level * sum_t w_t sum(K_t)``), which also makes the
pixels beyond the edges count as ``level`` rather than zero.

Single-precision transforms are twice as fast; their rounding error is a
fixed fraction (about ``1e-7 sqrt(log N)``) of the r.m.s. of the image
after subtracting ``level``, so `choose_precision` uses them only when
that error is far below the pixel noise.
"""

import numpy as np
from scipy import fft as sfft

from .._numerics.linalg import pow2
from ..utils import run_chunked

__all__ = []

# strips of about this many rows measured fastest (the transforms stay in
# cache)
_STRIP_ROWS = 128


def choose_precision(image, level, noise, valid=None):
    """
    ``'float32'`` when single-precision FFT rounding stays below 1% of
    ``noise``, else ``'float64'``.
    """
    step = max(1, int(np.sqrt(image.size / 250_000)))
    sample = image[::step, ::step]
    if valid is not None:
        sample = sample[valid[::step, ::step]]
    if sample.size == 0 or not noise > 0:
        return "float64"
    rms = float(np.sqrt(np.mean((np.asarray(sample, float) - level) ** 2)))
    error = 1e-6 * rms * np.sqrt(np.log2(max(image.size, 2)))
    return "float32" if error < 0.01 * noise else "float64"


def convolve_strips(image, kernels, weight, *, bad=None, level=0.0, out=None,
                    precision="float64", scale=1.0, n_threads=1):
    """
    ``sum_t weight(t, rows) * (image * kernels[t])`` on the image grid.

    Parameters
    ----------
    image : `~numpy.ndarray`
        ``(ny, nx)`` image (any float dtype).
    kernels : `~numpy.ndarray`
        ``(n_terms, k, k)`` kernels, ``k`` odd.
    weight : callable
        ``weight(t, rows)`` gives the map ``w_t`` on the rows ``rows`` (a
        slice): an array broadcastable to ``(n_rows, nx)``, or a separable
        pair ``(row_factor (n_rows, 1), column_factor (1, nx))``.
    bad : `~numpy.ndarray` of bool, optional
        Pixels replaced by ``level`` before convolving.
    level : float, optional
        Constant subtracted before, and restored after, the transforms.
    out : `~numpy.ndarray`, optional
        Where to write (any float dtype); a new float64 array by default.
    precision : {'float64', 'float32'}, optional
        Precision of the transforms.
    scale : float, optional
        A typical magnitude of the image (its noise, its level): single
        precision transforms work in units of the power of two nearest
        to it, so that no unit takes them out of their range.
    n_threads : int, optional
        Threads over strips.

    Returns
    -------
    out : `~numpy.ndarray`
    """
    ny, nx = image.shape
    kernels = np.asarray(kernels, dtype=float)
    k = kernels.shape[-1]
    h = k // 2
    real = np.float32 if precision == "float32" else np.float64
    shape = (sfft.next_fast_len(max(_STRIP_ROWS, 8 * h), real=True),
             sfft.next_fast_len(nx + h, real=True))
    rows_per_strip = min(shape[0] - 2 * h, ny)
    spectra = sfft.rfft2(kernels.astype(real), s=shape)
    sums = kernels.sum(axis=(1, 2))
    if out is None:
        out = np.empty((ny, nx))
    # a power of two: the change of units rounds nothing
    unit = float(pow2(abs(scale))) if real is np.float32 else 1.0
    level = float(level) / unit

    # the kernels carrying no flux (all but the first of a renormalised
    # basis) add nothing to the restored constant
    carries = np.abs(sums) > 1e-12 * max(np.abs(sums).max(), 1e-300)

    def work(start, stop, scratch):
        buffer, product = scratch
        for r0 in range(start * rows_per_strip, min(stop * rows_per_strip, ny),
                        rows_per_strip):
            r1 = min(r0 + rows_per_strip, ny)
            lo, hi = max(r0 - h, 0), min(r1 + h, ny)
            buffer[:] = 0.0
            block = buffer[lo - (r0 - h):hi - (r0 - h), :nx]
            if unit == 1.0:
                block[:] = image[lo:hi]
            else:
                np.multiply(image[lo:hi], 1.0 / unit, out=block)
            block -= level
            if bad is not None:
                block[bad[lo:hi]] = 0.0
            ft = sfft.rfft2(buffer)
            rows = slice(r0, r1)
            # accumulate in the precision of the transforms
            acc = out[rows] if out.dtype == real else np.empty(
                (r1 - r0, nx), dtype=real)
            acc[:] = 0.0
            for t in range(len(kernels)):
                np.multiply(ft, spectra[t], out=product)
                conv = sfft.irfft2(product, s=shape)[2 * h:2 * h + r1 - r0,
                                                      h:h + nx]
                w = weight(t, rows)
                if isinstance(w, tuple):
                    conv *= w[1].astype(real, copy=False)
                    conv *= w[0].astype(real, copy=False)
                    acc += conv
                    if level and carries[t]:
                        acc += (level * sums[t]) * (w[0] * w[1])
                else:
                    acc += conv * w
                    if level and carries[t]:
                        acc += (level * sums[t]) * w
            if unit != 1.0:
                # back to the image's units in double precision, where
                # they may lie beyond the range of single precision
                np.multiply(acc, np.float64(unit), out=out[rows])
            elif acc is not out[rows]:
                out[rows] = acc

    n_strips = -(-ny // rows_per_strip)
    complex_type = np.complex64 if real is np.float32 else np.complex128
    run_chunked(work, n_strips, 1, n_threads=n_threads,
                scratch=lambda: (np.zeros(shape, dtype=real),
                                 np.empty(spectra.shape[1:], complex_type)))
    return out
