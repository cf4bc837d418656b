"""
Images in and out of the matching engines.

An input (array, masked array, Quantity, NDData/CCDData) becomes an
`Image`: its data in its own float type (never copied when it need not
be), the bad pixels, the variance (the uncertainty's array itself when it
is a variance, a number when the image has none), the sky and the noise.
`apply_kernel` convolves an image and its variance with a spatial kernel
strip by strip, writing straight into output arrays of the input's type.
"""

from dataclasses import dataclass

from astropy.nddata import NDData, VarianceUncertainty
import numpy as np
from scipy import ndimage

from ..utils import (
    InputDataError,
    check_non_negative,
    coerce_data,
    uncertainty_to_error,
)
from . import _select
from ._imageconv import choose_precision, convolve_strips

__all__ = []


@dataclass(frozen=True)
class Image:
    """One input, ready for the engines."""

    data: np.ndarray      # float32 or float64, masked pixels untouched
    bad: np.ndarray
    variance: object      # array, or a float when constant
    sky: float
    noise: float
    unit: object
    wcs: object
    meta: dict


def _variance_of(nddata, arr, name):
    unc = nddata.uncertainty
    if (isinstance(unc, VarianceUncertainty)
            and (unc.unit is None or arr.unit is None
                 or unc.unit == arr.unit ** 2)):
        var = np.asarray(unc.array)
        var = var if var.dtype.kind == "f" else var.astype(float)
        check_non_negative(f"{name}.uncertainty (VarianceUncertainty)", var,
                           what="a VarianceUncertainty")
    else:
        var = uncertainty_to_error(unc, name=f"{name}.uncertainty",
                                   unit=arr.unit) ** 2
    if var.shape != arr.shape:
        msg = (f"{name}.uncertainty must have the data's shape {arr.shape}, "
               f"got {var.shape}")
        raise ValueError(msg)
    return var


def variance_of(arr, variance):
    """
    The variance of an `~psfkit.utils.ArrayData`: ``variance`` when given
    (checked against the data's shape), else the square of its error, or
    `None`.
    """
    if variance is None:
        return None if arr.error is None else arr.error ** 2
    var = coerce_data(variance, name="variance", allow_all_masked=True).data
    check_non_negative("variance", var)
    if var.shape != arr.shape:
        msg = (f"variance must have the image's shape {arr.shape}, got "
               f"{var.shape}")
        raise ValueError(msg)
    return var


def load_image(image, name, *, require_noise=True, min_size=None):
    """Data, bad pixels, variance, sky and noise of an input image
    (``require_noise``: a constant image is an error; ``min_size``: the
    smallest side the caller can work with)."""
    unc = image.uncertainty if isinstance(image, NDData) else None
    if unc is not None:
        image = NDData(image.data, mask=image.mask, unit=image.unit,
                       wcs=image.wcs, meta=image.meta)
    arr = coerce_data(image, name=name, dtype=None)
    if min_size is not None:
        # said before anything is measured: a tiny image otherwise fails
        # on its statistics ("constant", "empty") rather than its size
        check_image_size(arr.shape, name, min_size,
                         "the smallest kernel, config.kernel_size_min")
    bad = arr.mask
    var = None
    if unc is not None:
        var = _variance_of(NDData(arr.data, uncertainty=unc, unit=arr.unit),
                           arr, name)
        bad = bad | ~(var > 0) | ~np.isfinite(var)
    sky, noise = _select.sky_and_noise(arr.data, bad, name,
                                       require_noise=require_noise)
    return Image(data=arr.data, bad=bad,
                  variance=noise ** 2 if var is None else var, sky=sky,
                  noise=noise, unit=arr.unit, wcs=arr.wcs, meta=arr.meta)


def check_image_size(shape, name, min_size, kernel):
    """
    Raise `~psfkit.utils.InputDataError` when an image is smaller than
    ``min_size`` on a side (``kernel`` says which kernel needs that size):
    its matched version would be all border.
    """
    if min(shape) < min_size:
        msg = (f"{name} is {shape[0]}x{shape[1]} pixels; PSF matching needs "
               f"at least {min_size}x{min_size} ({kernel})")
        raise InputDataError(msg)


def robust_std(values, *, overwrite=False):
    """MAD-based standard deviation of the finite values (at most a
    million of them, evenly strided: more only cost time); ``overwrite``
    lets it reorder and overwrite ``values`` instead of copying them."""
    values = values[::max(1, values.size // 1_000_000)]
    finite = np.isfinite(values)
    if not finite.all():
        values, overwrite = values[finite], True
    if values.size == 0:
        return np.nan
    med = np.median(values, overwrite_input=overwrite)
    if overwrite:
        values -= med
        dev = values
    else:
        dev = values - med
    np.abs(dev, out=dev)
    return float(1.482602218505602 * np.median(dev, overwrite_input=True))


def grown_mask(bad, kernel_size):
    """``bad`` grown by the kernel footprint, plus the unreachable border."""
    h = kernel_size // 2
    grown = (ndimage.maximum_filter(bad, size=kernel_size, mode="constant")
             if bad.any() else np.zeros(bad.shape, dtype=bool))
    return mask_border(grown, h)


def mask_border(mask, width):
    """Set the ``width``-pixel border of a 2-D boolean ``mask`` (in place;
    nothing for a width of 0, where ``mask[-0:]`` would be all of it)."""
    if width > 0:
        mask[:width] = mask[-width:] = True
        mask[:, :width] = mask[:, -width:] = True
    return mask


def apply_kernel(kernel, image, *, n_threads, dtype=None):
    """``K * image + bg`` and ``var * K**2`` of an `Image`, in ``dtype``
    (by default the image's)."""
    dtype = image.data.dtype if dtype is None else dtype
    precision = choose_precision(image.data, image.sky, image.noise,
                                 ~image.bad)
    func = kernel.kernel_function
    matched = convolve_strips(image.data, kernel.term_kernels, func.weight(),
                              bad=image.bad, level=image.sky,
                              out=np.empty(image.data.shape, dtype),
                              precision=precision, scale=image.noise,
                              n_threads=n_threads)
    if kernel.background_coefficients is not None:
        bfun = kernel.background_function
        for rows in np.array_split(np.arange(image.data.shape[0]), 8):
            sl = slice(rows[0], rows[-1] + 1) if rows.size else slice(0, 0)
            matched[sl] += bfun.evaluate(kernel.background_coefficients, sl)
    coeffs, centre = kernel.squared_sum_coefficients()
    if np.ndim(image.variance) == 0:
        variance = np.empty(image.data.shape, dtype)
        for rows in np.array_split(np.arange(image.data.shape[0]), 8):
            sl = slice(rows[0], rows[-1] + 1) if rows.size else slice(0, 0)
            variance[sl] = (image.variance * centre.sum()) * func.evaluate(
                coeffs, sl)
    else:
        sample = image.variance[::7, ::7][~image.bad[::7, ::7]]
        level = float(np.median(sample)) if sample.size else 0.0
        variance = convolve_strips(
            image.variance, centre[None],
            lambda t, rows: func.evaluate(coeffs, rows), bad=image.bad,
            level=level, out=np.empty(image.data.shape, dtype),
            precision="float32", scale=level, n_threads=n_threads)
    return matched, variance
