"""
Checks shared by the cases re-expressed from photutils 3.0.0's PSF
photometry tests (``test_psfphot_photutils3_*.py``; photutils is
distributed under the BSD 3-Clause licence, see ``LICENSE-photutils.rst``
beside this file).  psfkit's own code: see ``photutils3_cases_data`` for
how the cases relate to photutils' tests.
"""

from astropy.table import Table
import numpy as np
import pytest

from psfkit.photometry import CircularGaussianPRF, decode_psf_flags

__all__ = [
    "FLAG_ALL_MASKED",
    "FLAG_BAD_LOCAL_BKG",
    "FLAG_NOT_CONVERGED",
    "FLAG_NO_OVERLAP",
    "FLAG_TOO_FEW_PIXELS",
    "UNFITTED_NAN",
    "assert_same_table",
    "assert_unfitted",
    "check_decoded_flags",
    "flag_test_image",
    "same_fit_info",
]

#: the columns that are NaN for a source that could not be fitted
UNFITTED_NAN = ("x_fit", "y_fit", "flux_fit", "x_err", "y_err", "flux_err",
                "qfit", "cfit", "reduced_chi2")

# photutils 3.x's flag bits
FLAG_NOT_CONVERGED = 8
FLAG_NO_OVERLAP = 64
FLAG_ALL_MASKED = 128
FLAG_TOO_FEW_PIXELS = 256
FLAG_BAD_LOCAL_BKG = 2048


def assert_unfitted(table, rows):
    """The `rows` of `table` hold NaN in every column of `UNFITTED_NAN`."""
    for name in UNFITTED_NAN:
        assert np.all(np.isnan(table[name][rows])), name


def assert_same_table(first, second):
    """Same columns, element for element equal (NaN differs from NaN)."""
    assert first.colnames == second.colnames
    for name in first.colnames:
        assert np.array_equal(first[name], second[name]), name


def same_fit_info(first, second):
    """Whether two fit_info lists hold equal entries (NaN equal to NaN)."""
    if len(first) != len(second):
        return False
    for one, two in zip(first, second, strict=True):
        if not (isinstance(one, dict) and isinstance(two, dict)):
            if one != two:
                return False
            continue
        if one.keys() != two.keys():
            return False
        for key, value in one.items():
            if isinstance(value, np.ndarray):
                if not np.array_equal(value, two[key], equal_nan=True):
                    return False
            elif value != two[key]:
                return False
    return True


def flag_test_image():
    """
    21x21 pixels: a star of flux 100 at (10, 10), one of flux -50 at
    (5, 5) and one of flux 100 at (25, 25), off the image.  Returns the
    image and the three true positions with flux 100 as starting values.
    """
    yy, xx = np.mgrid[:21, :21]
    image = sum(CircularGaussianPRF(flux=flux, x_0=x, y_0=x, fwhm=2)(xx, yy)
                for x, flux in ((10, 100), (5, -50), (25, 100)))
    start = Table({"x": [10, 5, 25], "y": [10, 5, 25], "flux": [100] * 3})
    return image, start


def check_decoded_flags(phot, image, start):
    """
    `phot` refuses to decode flags before a run; after a run on
    `flag_test_image` the negative star is 'negative_flux', the star off
    the image 'no_overlap', and decode_flags() agrees with
    decode_psf_flags.
    """
    with pytest.raises(ValueError, match="No results available"):
        phot.decode_flags()
    fitted = phot(image, init_params=start)
    decoded = phot.decode_flags()
    assert isinstance(decoded, list)
    assert len(decoded) == len(fitted)
    for names in decoded:
        assert isinstance(names, list)
        assert all(isinstance(name, str) for name in names)
    assert "negative_flux" in decoded[1]
    assert len(decoded[2]) > 0
    assert "no_overlap" in decoded[2]
    assert decoded == decode_psf_flags(fitted["flags"])
