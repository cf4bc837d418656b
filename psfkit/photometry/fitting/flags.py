"""
Bit flags describing the quality of each PSF fit.

The ``flags`` column of a photometry table is the bitwise OR of the values
below; zero means a clean fit.  `PSFFlags` is an `enum.IntFlag`, so
``PSFFlags(row['flags'])`` lists the conditions by name.  The photutils 3.x
API classes (`~psfkit.photometry.PSFPhotometry`) write photutils' bits
instead (`PSF_FLAGS`), decoded by `decode_psf_flags`.
"""

import enum

import numpy as np

__all__ = ["PSFFlags", "PSF_FLAGS", "decode_psf_flags"]

#: photutils 3.x's bits of the ``flags`` column of
#: `~psfkit.photometry.PSFPhotometry`, by name
PSF_FLAGS = {
    "n_pixels_fit_partial": 1,  # fewer fitted pixels than fit_shape holds
    "outside_bounds": 2,  # fitted centre outside the image
    "negative_flux": 4,  # fitted flux <= 0
    "no_convergence": 8,  # the fit may not have converged
    "no_covariance": 16,  # no parameter uncertainties
    "near_bound": 32,  # a centre within 0.01 pixel of an xy_bounds limit
    "no_overlap": 64,  # the fit box misses the image
    "fully_masked": 128,  # every pixel of the fit box is masked
    "too_few_pixels": 256,  # fewer usable pixels than free parameters
    "non_finite_position": 512,
    "non_finite_flux": 1024,
    "non_finite_localbkg": 2048,  # local_bkg not finite: not subtracted
}


def _decode_one(value, return_bit_values):
    if not isinstance(value, int | np.integer):
        msg = f"Flag value must be an integer, got {value!r}"
        raise TypeError(msg)
    if value < 0:
        msg = f"Flag value must be a non-negative integer, got {value}"
        raise ValueError(msg)
    return [bit if return_bit_values else name
            for name, bit in PSF_FLAGS.items() if value & bit]


def decode_psf_flags(flags, return_bit_values=False):
    """
    The names (or bits) set in photutils 3.x-style PSF photometry flags.

    Parameters
    ----------
    flags : int or array-like of int
        One ``flags`` value, or a column of them.
    return_bit_values : bool, optional
        Give the bit values instead of the names (see `PSF_FLAGS`).

    Returns
    -------
    decoded : list
        For one value, the list of the names (or bits) set in it; for a
        column, one such list per value.

    Examples
    --------
    >>> from psfkit.photometry import decode_psf_flags
    >>> decode_psf_flags(5)
    ['n_pixels_fit_partial', 'negative_flux']
    >>> decode_psf_flags([0, 136], return_bit_values=True)
    [[], [8, 128]]
    """
    if np.isscalar(flags) or np.ndim(flags) == 0:
        value = flags.item() if hasattr(flags, "item") else flags
        return _decode_one(value, return_bit_values)
    return [_decode_one(v, return_bit_values)
            for v in np.asarray(flags).ravel()]


class PSFFlags(enum.IntFlag):
    """
    Quality flags of a PSF fit (bit values of the ``flags`` column).

    Attributes
    ----------
    PARTIAL_BOX : 1
        The fit box extends beyond the image; only the pixels that exist
        were fitted.
    OUTSIDE_IMAGE : 2
        The initial or the fitted centre lies outside the image.
    NONPOSITIVE_FLUX : 4
        The fitted flux is zero or negative.
    NOT_CONVERGED : 8
        The fitter stopped at its iteration limit (or reported failure).
    NO_COVARIANCE : 16
        The normal matrix is singular: no uncertainties (NaN).
    TOO_FEW_PIXELS : 32
        The fit box holds fewer usable (unmasked, finite) pixels than free
        parameters, e.g. it is fully masked; the source was not fitted and
        its results are NaN.
    NONFINITE : 64
        A fitted value is not finite.
    AT_BOUND : 128
        A fitted parameter ended on a bound: for the centre, the edge of
        its fit box (the limit of its movement), which usually means a
        spurious or badly blended source.
    MASKED_PIXELS : 256
        Some pixels of the fit box inside the image are masked or not
        finite: the fit used fewer pixels than the box (how many is in
        ``npix_masked``).  Together with ``PARTIAL_BOX`` this is bit 1 of
        photutils 3.x.
    MASKED_CENTER : 512
        The central pixel of the fit box is masked or not finite: the
        source was fitted on the pixels around it.

    Examples
    --------
    >>> from psfkit.photometry import PSFFlags
    >>> int(PSFFlags.PARTIAL_BOX | PSFFlags.NONPOSITIVE_FLUX)
    5
    >>> PSFFlags.NOT_CONVERGED in PSFFlags(9)
    True
    """

    PARTIAL_BOX = 1
    OUTSIDE_IMAGE = 2
    NONPOSITIVE_FLUX = 4
    NOT_CONVERGED = 8
    NO_COVARIANCE = 16
    TOO_FEW_PIXELS = 32
    NONFINITE = 64
    AT_BOUND = 128
    MASKED_PIXELS = 256
    MASKED_CENTER = 512
