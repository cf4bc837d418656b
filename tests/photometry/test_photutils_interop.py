"""
psfkit's components inside photutils 3.x's PSF photometry, and photutils'
components inside psfkit's: both sides call each other through the
documented call signatures only.
"""

import warnings

from astropy.table import QTable
import numpy as np
from numpy.testing import assert_allclose, assert_array_equal
import pytest

import psfkit.photometry as pk

pu_psf = pytest.importorskip("photutils.psf")
pu_det = pytest.importorskip("photutils.detection")
pu_bkg = pytest.importorskip("photutils.background")


@pytest.fixture(scope="module")
def crowded():
    """40 stars with blends, a sky of 0 and unit noise, and the truth."""
    rng = np.random.default_rng(5)
    n = 40
    x = rng.uniform(6, 94, n)
    y = rng.uniform(6, 94, n)
    flux = rng.uniform(400, 2000, n)
    model = pk.CircularGaussianPRF(fwhm=2.7)
    yy, xx = np.mgrid[:100, :100]
    image = np.zeros((100, 100))
    for xi, yi, fi in zip(x, y, flux, strict=True):
        image += model.evaluate(xx, yy, fi, xi, yi, 2.7)
    image += rng.normal(0.0, 1.0, image.shape)
    return image, QTable({"x": x, "y": y, "flux": flux})


def _run(phot, image, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return phot(image, error=np.ones(image.shape), **kwargs)


def _assert_same_photometry(a, b):
    # the same inputs to photutils' fitter, to its convergence tolerance
    # (psfkit's models hand it analytic derivatives)
    assert len(a) == len(b)
    for column in ("x_fit", "y_fit", "flux_fit", "group_id", "local_bkg"):
        assert_allclose(np.asarray(a[column], float),
                        np.asarray(b[column], float), rtol=1e-6, atol=1e-7,
                        err_msg=column)


@pytest.mark.parametrize("cls", ["DAOStarFinder", "IRAFStarFinder"])
def test_psfkit_finders_in_photutils_photometry(crowded, cls):
    image, _ = crowded
    kwargs = {"min_separation": 4.0}
    ours = getattr(pk, cls)(8.0, 2.7, **kwargs)
    theirs = getattr(pu_det, cls)(8.0, 2.7, **kwargs)
    results = [_run(pu_psf.PSFPhotometry(pu_psf.CircularGaussianPRF(fwhm=2.7),
                                         (7, 7), finder=finder,
                                         aperture_radius=3), image)
               for finder in (ours, theirs)]
    _assert_same_photometry(*results)


@pytest.mark.parametrize("grouper", [pk.SourceGrouper(5.0), pk.DAOGroup(5.0),
                                     pk.DBSCANGroup(5.0)])
def test_psfkit_groupers_in_photutils_photometry(crowded, grouper):
    image, truth = crowded
    init = truth[["x", "y"]]
    results = [_run(pu_psf.PSFPhotometry(pu_psf.CircularGaussianPRF(fwhm=2.7),
                                         (7, 7), grouper=g,
                                         aperture_radius=3),
                    image, init_params=init)
               for g in (grouper, pu_psf.SourceGrouper(5.0))]
    _assert_same_photometry(*results)


def test_psfkit_models_and_estimators_in_photutils_photometry(crowded):
    image, truth = crowded
    init = truth[["x", "y"]]
    results = []
    for model, estimator in ((pk.CircularGaussianPRF(fwhm=2.7),
                              pk.MMMBackground()),
                             (pu_psf.CircularGaussianPRF(fwhm=2.7),
                              pu_bkg.MMMBackground())):
        local = pu_bkg.LocalBackground(6, 10, bkg_estimator=estimator)
        phot = pu_psf.PSFPhotometry(model, (7, 7), grouper=pk.SourceGrouper(5),
                                    local_bkg_estimator=local,
                                    aperture_radius=3)
        results.append(_run(phot, image, init_params=init))
    _assert_same_photometry(*results)
    good = results[0]["flags"] == 0
    assert_allclose(results[0]["flux_fit"][good], truth["flux"][good],
                    rtol=0.05)


def test_psfkit_components_in_iterative_photometry(crowded):
    image, _ = crowded
    results = []
    for finder, grouper, model in (
            (pk.DAOStarFinder(10.0, 2.7, min_separation=None),
             pk.SourceGrouper(5), pk.CircularGaussianPRF(fwhm=2.7)),
            (pu_det.DAOStarFinder(10.0, 2.7), pu_psf.SourceGrouper(5),
             pu_psf.CircularGaussianPRF(fwhm=2.7))):
        phot = pu_psf.IterativePSFPhotometry(model, (7, 7), finder=finder,
                                             grouper=grouper,
                                             aperture_radius=3, maxiters=2)
        results.append(_run(phot, image))
    assert_array_equal(results[0]["iter_detected"], results[1]["iter_detected"])
    _assert_same_photometry(*results)


def test_photutils_components_in_psfkit(crowded):
    image, truth = crowded
    # a photutils finder's table feeds psfkit's groupers and star cutouts
    stars = pu_det.DAOStarFinder(10.0, 2.7)(image)
    grouped = pk.SourceGrouper(5.0)(stars)
    assert_array_equal(grouped["group_id"],
                       pu_psf.SourceGrouper(5.0)(stars["x_centroid"],
                                                 stars["y_centroid"]))
    cutouts = pk.extract_stars(image, stars, size=11)
    assert len(cutouts) > 0
    # photutils' estimators in psfkit's LocalBackground
    local = pk.LocalBackground(6, 10, pu_bkg.MMMBackground())
    reference = pk.LocalBackground(6, 10, pk.MMMBackground())
    assert_allclose(local(image, truth["x"], truth["y"]),
                    reference(image, truth["x"], truth["y"]), rtol=1e-12)
