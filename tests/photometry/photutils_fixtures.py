"""
Data shared by the test cases re-expressed from photutils' test suite.

photutils (https://github.com/astropy/photutils) is distributed under the
BSD 3-Clause licence; the cases in the ``test_*_photutils_cases.py``
modules are psfkit's own code re-expressing the inputs and expected
behaviour of photutils 3.0 tests, each naming the test it mirrors.
"""

import numpy as np

from psfkit._numerics.gaussian import FWHM_PER_SIGMA
from psfkit.photometry import CircularGaussianPRF

#: the FWHM of the stars of `prf_field` (sigma 1.5 pixels)
FIELD_FWHM = 1.5 * FWHM_PER_SIGMA


def prf_field():
    """
    25 noiseless integrated-Gaussian stars (sigma 1.5 px, flux 100-200),
    at least 10 px apart and 10 px from the edges, on a 101x101 image,
    each drawn over an 11x11 box: the image photutils' detection tests
    build with ``make_psf_model_image``.
    """
    rng = np.random.default_rng(0)
    grid = 12.0 + 19.0 * np.arange(5)
    gx, gy = np.meshgrid(grid, grid)
    x = gx.ravel() + rng.uniform(-2.0, 2.0, 25)
    y = gy.ravel() + rng.uniform(-2.0, 2.0, 25)
    flux = rng.uniform(100.0, 200.0, 25)
    image = np.zeros((101, 101))
    model = CircularGaussianPRF(fwhm=FIELD_FWHM)
    span = np.arange(-5, 6)
    for xi, yi, fi in zip(x, y, flux, strict=True):
        cols = int(round(xi)) + span
        rows = int(round(yi)) + span
        image[np.ix_(rows, cols)] += model.evaluate(
            cols[None, :], rows[:, None], fi, xi, yi, FIELD_FWHM)
    return image, x, y, flux
