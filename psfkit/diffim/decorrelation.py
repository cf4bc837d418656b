"""
Decorrelation of a difference image (the Reiss & Lupton afterburner).

Convolving one image of a pair with the matching kernel ``K`` correlates
its noise: with the template convolved, the noise power of
``D = S - K * T`` at spatial frequency ``f`` is ``s_s + s_t |k(f)|**2``
(``s_s`` and ``s_t`` the pixel variances, ``k`` the transform of ``K``),
no longer flat, so thresholds set in units of the per-pixel sigma give
several times too many false detections.  Filtering the difference with

    ``psi(f) = sqrt((s_s + s_t ksum**2) / (s_s + s_t |k(f)|**2))``

makes the noise power flat again, ``s_s + s_t ksum**2`` at every frequency,
while ``psi(0) = 1`` keeps fluxes.  When the science image is convolved the
roles of the two variances swap (and the difference is divided by the
kernel sum).  The PSF of the decorrelated difference is the PSF of the
difference convolved with the correction kernel, the inverse transform of
``psi``, which the result returns.
"""

from dataclasses import dataclass

from astropy.nddata import NDData, VarianceUncertainty
import numpy as np
from scipy import fft as sfft
from scipy import ndimage

from ..utils import SummaryReprMixin, check_in, coerce_data, copy_meta
from .spatial import SpatialKernel

__all__ = ["DecorrelationResult", "decorrelation_filter",
           "decorrelate_difference"]


@dataclass(frozen=True, repr=False)
class DecorrelationResult(SummaryReprMixin):
    """
    The outcome of `decorrelate_difference`.

    Attributes
    ----------
    difference : `~astropy.nddata.NDData`
        The decorrelated difference with its updated
        ``VarianceUncertainty`` and mask.
    correction_kernel : `~numpy.ndarray`
        The real-space correction kernel (unit sum, odd size, centred):
        the difference was convolved with it, and so was its PSF.
    science_variance, template_variance : float
        The scalar variances used in the filter.
    kernel_sum : float
        The kernel sum used in the filter.
    """

    difference: NDData
    correction_kernel: np.ndarray
    science_variance: float
    template_variance: float
    kernel_sum: float


def decorrelation_filter(kernel, shape, science_variance, template_variance, *,
                         convolved="template"):
    """
    The decorrelation filter ``psi(f)`` on a real-FFT frequency grid.

    Parameters
    ----------
    kernel : `~numpy.ndarray`
        The ``(k, k)`` matching kernel image.
    shape : tuple of int
        ``(ny, nx)`` of the FFT grid (at least the kernel size).
    science_variance, template_variance : float
        Pixel variances of the science and template images.
    convolved : {'template', 'science'}, optional
        Which image was convolved with ``kernel``.

    Returns
    -------
    psi : `~numpy.ndarray`
        Real, shape ``(ny, nx // 2 + 1)``, ``psi[0, 0] = 1``.

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.diffim import decorrelation_filter
    >>> yy, xx = np.mgrid[-7:8, -7:8]
    >>> k = np.exp(-(xx**2 + yy**2) / 8.0)
    >>> k /= k.sum()
    >>> psi = decorrelation_filter(k, (64, 64), 1.0, 1.0)
    >>> float(psi[0, 0]), bool(psi.max() <= np.sqrt(2) + 1e-12)
    (1.0, True)
    """
    kernel = np.asarray(kernel, dtype=float)
    check_in("convolved", convolved, ("template", "science"))
    for name, value in (("science_variance", science_variance),
                        ("template_variance", template_variance)):
        if not (np.isfinite(value) and value >= 0):
            msg = f"{name} must be a finite non-negative number, got {value}"
            raise ValueError(msg)
    if science_variance + template_variance <= 0:
        msg = "science_variance and template_variance cannot both be zero"
        raise ValueError(msg)
    ksum = float(kernel.sum())
    if not ksum > 0:
        msg = f"the kernel sum must be positive to decorrelate, got {ksum:.4g}"
        raise ValueError(msg)
    v_conv, v_other = ((template_variance, science_variance)
                       if convolved == "template"
                       else (science_variance, template_variance))
    k2 = np.abs(sfft.rfft2(kernel, s=shape)) ** 2
    return np.sqrt((v_other + v_conv * ksum ** 2) / (v_other + v_conv * k2))


def _scalar_variance(name, value, bad):
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        out = float(arr)
    else:
        if arr.shape != bad.shape:
            msg = (f"{name} must be a scalar or have the difference's shape "
                   f"{bad.shape}, got {arr.shape}")
            raise ValueError(msg)
        ok = ~bad & np.isfinite(arr)
        out = float(np.median(arr[ok])) if ok.any() else np.nan
    if not (np.isfinite(out) and out >= 0):
        msg = f"{name} must be finite and non-negative, got {out}"
        raise ValueError(msg)
    return out


def decorrelate_difference(difference, kernel, science_variance,
                           template_variance, *, convolved="template",
                           mask=None):
    """
    Remove the kernel-induced noise correlation from a difference image.

    Parameters
    ----------
    difference : array-like or `~astropy.nddata.NDData`
        The difference ``S - K * T`` (or ``(K * S - T) / ksum`` with
        ``convolved='science'``).
    kernel : `~psfkit.diffim.SpatialKernel` or `~numpy.ndarray`
        The matching kernel; a spatial kernel is taken at the image centre.
    science_variance, template_variance : float or array-like
        Variances of the science and template images before matching.
        Arrays give the variance map of the output (``var_s + ksum**2
        var_t``, or ``var_s + var_t / ksum**2`` when the science image was
        convolved) and their medians over unmasked pixels enter the filter;
        scalars are used as is.
    convolved : {'template', 'science'}, optional
        Which image was convolved.
    mask : array-like of bool, optional
        Bad pixels of the difference (added to any it carries).

    Returns
    -------
    result : `DecorrelationResult`

    Notes
    -----
    Masked pixels are set to zero before filtering and the mask is grown by
    the radius within which the correction kernel holds 99.9% of its
    absolute sum.  The filter uses one kernel and one variance per image
    (its median), as in the published method; a strongly varying kernel or
    sky would call for the filter to be computed per region.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import ndimage
    >>> from psfkit.diffim import decorrelate_difference
    >>> rng = np.random.default_rng(0)
    >>> yy, xx = np.mgrid[-7:8, -7:8]
    >>> k = np.exp(-(xx**2 + yy**2) / 4.0)
    >>> k /= k.sum()
    >>> s, t = rng.normal(size=(2, 256, 256))
    >>> d = s - ndimage.convolve(4.0 * t, k, mode='wrap')  # template var 16
    >>> out = decorrelate_difference(d, k, 1.0, 16.0)
    >>> z = out.difference.data[~out.difference.mask]
    >>> def lag1(a):
    ...     a = a - a.mean()
    ...     return float((a[:, 1:] * a[:, :-1]).mean() / a.var())
    >>> lag1(d) > 0.3, abs(lag1(out.difference.data[8:-8, 8:-8])) < 0.03
    (True, True)
    >>> float(out.difference.uncertainty.array[0, 0])  # 1 + 16 ksum**2
    17.0
    """
    check_in("convolved", convolved, ("template", "science"))
    arr = coerce_data(difference, name="difference", mask=mask)
    bad = arr.mask
    shape = arr.shape
    if isinstance(kernel, SpatialKernel):
        ny, nx = kernel.shape
        kimg = kernel.kernel_image((nx - 1) / 2, (ny - 1) / 2)
    else:
        kimg = np.asarray(kernel, dtype=float)
        if kimg.ndim != 2 or not np.all(np.isfinite(kimg)):
            msg = (f"kernel must be a SpatialKernel or a finite 2-D array, got "
                   f"shape {kimg.shape}")
            raise ValueError(msg)
    k = max(kimg.shape)
    if min(shape) < k:
        msg = (f"difference ({shape}) must be at least as large as the kernel "
               f"({kimg.shape})")
        raise ValueError(msg)
    s_var = _scalar_variance("science_variance", science_variance, bad)
    t_var = _scalar_variance("template_variance", template_variance, bad)
    ksum = float(kimg.sum())
    # pad by the kernel size so the filter does not wrap around the edges
    big = (sfft.next_fast_len(shape[0] + k, real=True),
           sfft.next_fast_len(shape[1] + k, real=True))
    psi = decorrelation_filter(kimg, big, s_var, t_var, convolved=convolved)
    filled = np.where(bad, 0.0, arr.data)
    out = sfft.irfft2(sfft.rfft2(filled, s=big, workers=-1) * psi, s=big,
                      workers=-1)[:shape[0], :shape[1]]

    # the correction kernel in real space, centred, odd size
    corr_full = sfft.fftshift(sfft.irfft2(psi, s=big))
    cy, cx = big[0] // 2, big[1] // 2
    half = k // 2 + 1
    corr = corr_full[cy - half:cy + half + 1, cx - half:cx + half + 1]
    radius = _support_radius(corr_full, cy, cx, min(cy, cx) - 1)
    corr = corr / corr.sum()

    grown = (ndimage.binary_dilation(bad, structure=np.ones(
        (2 * radius + 1, 2 * radius + 1), dtype=bool)) if radius > 0 and
        bad.any() else bad.copy())
    s_map = np.asarray(science_variance, dtype=float)
    t_map = np.asarray(template_variance, dtype=float)
    if isinstance(kernel, SpatialKernel):
        ksum_map = kernel.kernel_sum_image()
    else:
        ksum_map = ksum
    if convolved == "template":
        var = s_map + t_map * np.asarray(ksum_map) ** 2
    else:
        var = s_map + t_map / np.asarray(ksum_map) ** 2
    var = np.array(np.broadcast_to(var, shape), dtype=float)
    out = np.where(grown, 0.0, out)
    result = NDData(out, uncertainty=VarianceUncertainty(var, copy=False),
                    mask=grown,
                    unit=arr.unit, wcs=arr.wcs, meta=copy_meta(arr.meta))
    return DecorrelationResult(difference=result, correction_kernel=corr,
                               science_variance=s_var, template_variance=t_var,
                               kernel_sum=ksum)


def _support_radius(image, cy, cx, r_max):
    """Radius holding 99.9% of the absolute sum of a centred image."""
    ny, nx = image.shape
    yy, xx = np.ogrid[0:ny, 0:nx]
    r = np.maximum(np.abs(yy - cy), np.abs(xx - cx)).ravel()
    a = np.abs(image).ravel()
    order = np.argsort(r, kind="stable")
    csum = np.cumsum(a[order])
    n = np.searchsorted(csum, 0.999 * csum[-1])
    return int(min(r[order][min(n, a.size - 1)], r_max))
