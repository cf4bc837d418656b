"""
Bit flags describing the quality of each PSF fit.

The ``flags`` column of a photometry table is the bitwise OR of the values
below; zero means a clean fit.  `PSFFlags` is an `enum.IntFlag`, so
``PSFFlags(row['flags'])`` lists the conditions by name.
"""

import enum

__all__ = ["PSFFlags"]


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
