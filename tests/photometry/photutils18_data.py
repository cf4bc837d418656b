"""
Inputs of the PSF photometry cases re-expressed from photutils 1.8.

photutils (https://github.com/astropy/photutils) is distributed under the
BSD 3-Clause licence.  This module is psfkit's own code building, from the
same numbers, the images and photometry objects that
``photutils/psf/tests/test_photometry.py`` of photutils 1.8.0 uses; the
cases themselves are in ``test_psfphot_photutils18_cases.py``.
"""

from functools import cache

from astropy.convolution.utils import discretize_model
from astropy.modeling import Fittable2DModel, Parameter
from astropy.modeling.fitting import LevMarLSQFitter
from astropy.modeling.models import Gaussian2D
from astropy.stats import gaussian_sigma_to_fwhm
from astropy.table import Table
import numpy as np

from psfkit.datasets import make_noise_image
from psfkit.photometry import (
    BasicPSFPhotometry,
    DAOGroup,
    DAOPhotPSFPhotometry,
    DAOStarFinder,
    ImagePSF,
    IntegratedGaussianPRF,
    IterativelySubtractedPSFPhotometry,
    MMMBackground,
)

#: the star lists of photutils 1.8's module: two blended stars and an
#: isolated one; four stars in one group; a bright star with a faint
#: companion the finder only sees once the bright one is subtracted
SOURCES = {
    1: {"flux": [800, 1000, 1200], "x_0": [13, 18, 25], "y_0": [16, 16, 25],
        "sigma": 2.0, "id": [1, 2, 3], "group_id": [1, 1, 2]},
    2: {"flux": [700, 800, 700, 800], "x_0": [12, 17, 12, 17],
        "y_0": [15, 15, 20, 20], "sigma": 2.0, "id": [1, 2, 3, 4],
        "group_id": [1, 1, 1, 1]},
    3: {"flux": [10000, 1000], "x_0": [18, 13], "y_0": [17, 19],
        "sigma": 2.0, "id": [1, 1], "group_id": [1, 1],
        "iter_detected": [1, 2]},
}

#: the Gaussian2D test image of the module's second half
GAUSSIAN_WIDTH = 1.0
PSF_SIZE = 11
IMAGE_SIZE = 101
INTAB = Table([[50.0, 23, 12, 86], [50.0, 83, 80, 84],
               [np.pi * 10, 3.654, 20.0, 80 / np.sqrt(3)]],
              names=["x_0", "y_0", "flux_0"])
#: wider stars, one of them on the edge
WIDE_GAUSSIAN_WIDTH = 3.0
WIDE_INTAB = Table([[50, 23.2], [50.5, 1], [10, 20]],
                   names=["x_0", "y_0", "flux_0"])


def prf_sources_image(shape, flux, x_0, y_0, sigma):
    """Integrated-Gaussian stars evaluated over the whole image."""
    yy, xx = np.indices(shape, dtype=float)
    image = np.zeros(shape)
    model = IntegratedGaussianPRF()
    for f, x, y, s in zip(*np.broadcast_arrays(flux, x_0, y_0, sigma),
                          strict=True):
        image += model.evaluate(xx, yy, f, x, y, s)
    return image


def noise(shape):
    """Poisson sky of 6 plus Gaussian read noise of 2 (seed 0 for each)."""
    return (make_noise_image(shape, type="poisson", mean=6.0, random_state=0)
            + make_noise_image(shape, type="gaussian", mean=0.0, stddev=2.0,
                               random_state=0))


def sources_image(key, *, with_read_noise=True):
    """The 32x32 image of ``SOURCES[key]`` with photutils' noise."""
    src = SOURCES[key]
    shape = (32, 32)
    image = prf_sources_image(shape, src["flux"], src["x_0"], src["y_0"],
                              src["sigma"])
    if with_read_noise:
        return image + noise(shape)
    return image + make_noise_image(shape, type="poisson", mean=6.0,
                                    random_state=0)


def gaussian2d_image(table, width):
    """Oversampled Gaussian2D stars on the 101x101 grid."""
    image = np.zeros((IMAGE_SIZE, IMAGE_SIZE))
    for x, y, flux in table:
        model = Gaussian2D(flux / (2 * np.pi * width**2), x, y, width, width)
        image += discretize_model(model, (0, IMAGE_SIZE), (0, IMAGE_SIZE),
                                  mode="oversample")
    return image


@cache
def _gaussian_images():
    return (gaussian2d_image(INTAB, GAUSSIAN_WIDTH),
            gaussian2d_image(WIDE_INTAB, WIDE_GAUSSIAN_WIDTH))


def gaussian_image():
    """The four-star Gaussian2D image (a fresh copy)."""
    return _gaussian_images()[0].copy()


def wide_image():
    """The wide-star Gaussian2D image (a fresh copy)."""
    return _gaussian_images()[1].copy()


def photometry_objects(std=1.0, sigma_psf=1.0, *, fitter="LevMarLSQFitter"):
    """
    The basic, iterative (one pass) and DAOPhot objects of photutils 1.8's
    ``make_psf_photometry_objs``.

    photutils 1.8 fits with ``LevMarLSQFitter`` (given to the first two,
    its default for the third); ``fitter=None`` uses psfkit's default
    fitter for all three instead.
    """
    fwhm = sigma_psf * gaussian_sigma_to_fwhm
    threshold = 5.0 * std
    crit_separation = 1.5 * fwhm

    def new_fitter():
        return LevMarLSQFitter() if fitter == "LevMarLSQFitter" else None

    psf_model = IntegratedGaussianPRF(sigma=sigma_psf)
    common = {"group_maker": DAOGroup(crit_separation),
              "bkg_estimator": MMMBackground(), "psf_model": psf_model,
              "fitshape": (11, 11)}
    finder = DAOStarFinder(threshold=threshold, fwhm=fwhm)
    basic = BasicPSFPhotometry(finder=finder, fitter=new_fitter(), **common)
    iterative = IterativelySubtractedPSFPhotometry(
        finder=finder, fitter=new_fitter(), niters=1, **common)
    dao = DAOPhotPSFPhotometry(crit_separation=crit_separation,
                               threshold=threshold, fwhm=fwhm,
                               psf_model=psf_model, fitshape=(11, 11),
                               niters=1, fitter=new_fitter())
    return basic, iterative, dao


def tophat_image():
    """Three flat 3x3 stars (fluxes 50, 100, 200) on a 50x50 image."""
    image = np.zeros((50, 50))
    for x, y, flux in zip([38, 20, 35], [20, 5, 40], [50, 100, 200],
                          strict=True):
        image[y - 1:y + 2, x - 1:x + 2] = flux / 9
    return image


def tophat_prf():
    """The 7x7 image PSF with a flat 3x3 core summing to one."""
    data = np.zeros((7, 7))
    data[2:5, 2:5] = 1 / 9
    return ImagePSF(data)


def tophat_finder(image, mask=None):
    """
    A finder for `tophat_image`: one source per distinct level above 1,
    at the mean position of its pixels, sorted by flux.
    """
    rows = []
    for level in np.unique(image[image > 1]):
        ys, xs = np.nonzero(image == level)
        rows.append((xs.mean(), ys.mean(), 9 * level))
    rows.sort(key=lambda row: row[2])
    return Table({"id": np.arange(1, len(rows) + 1),
                  "xcentroid": [r[0] for r in rows],
                  "ycentroid": [r[1] for r in rows],
                  "flux": [r[2] for r in rows]})


class PSFModelWithFWHM(Fittable2DModel):
    """photutils 1.8's toy model whose ``fwhm`` is a Parameter."""

    x_0 = Parameter(default=1)
    y_0 = Parameter(default=1)
    flux = Parameter(default=1)
    fwhm = Parameter(default=5)

    def __init__(self, fwhm=fwhm.default):
        super().__init__(fwhm=fwhm)

    @staticmethod
    def evaluate(x, y, x_0, y_0, flux, fwhm):
        with np.errstate(divide="ignore", invalid="ignore"):
            return flux / (fwhm * (x - x_0)**2 * (y - y_0)**2)
