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


def test_photutils_gridded_psf_in_psfkit_photometry():
    # photutils' GriddedPSFModel takes scalar parameters only: psfkit
    # evaluates it one star at a time, and finds the stars of a blend
    from astropy.nddata import NDData

    yy, xx = np.mgrid[:25, :25]
    stamps = [pu_psf.CircularGaussianPSF(x_0=12, y_0=12, fwhm=f)(xx, yy) * 4
              for f in (5.0, 5.6, 5.4, 6.0)]
    grid = pu_psf.GriddedPSFModel(NDData(np.array(stamps), meta={
        "grid_xypos": [(0, 0), (100, 0), (0, 100), (100, 100)],
        "oversampling": 2}))
    truth = [(20.3, 31.2, 3000.0), (60.7, 70.1, 5000.0), (64.2, 72.5, 2000.0),
             (90.1, 15.6, 4000.0)]
    image = np.random.default_rng(0).normal(0.0, 1.0, (110, 110))
    yy, xx = np.mgrid[:110, :110]
    for x, y, flux in truth:
        star = grid.copy()
        star.x_0, star.y_0, star.flux = x, y, flux
        image += star(xx, yy)
    init = QTable({"x": [20.0, 61.0, 64.0, 90.0], "y": [31.0, 70.0, 72.5, 15.5]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = pk.PSFPhotometry(grid, 9, aperture_radius=4)(
            image, error=np.ones(image.shape), init_params=init)
    expect = np.array(truth)
    assert_allclose(result["x_fit"], expect[:, 0], atol=0.02)
    assert_allclose(result["y_fit"], expect[:, 1], atol=0.02)
    pull = (result["flux_fit"] - expect[:, 2]) / result["flux_err"]
    assert np.all(np.abs(pull) < 4)
    assert np.all(result["flags"] == 0)


def test_a_centre_stopped_at_its_box_edge_is_flagged():
    # a start 3 pixels off with a 5 x 5 box: the centre stops at the edge
    # of the box (photutils reports no convergence there); the fit is
    # flagged near_bound, not clean
    yy, xx = np.mgrid[:41, :41]
    image = pk.CircularGaussianPRF().evaluate(xx, yy, 1000.0, 20.0, 20.0, 3.0)
    init = QTable({"x": [17.0], "y": [20.0], "flux": [1000.0]})
    result = pk.PSFPhotometry(pk.CircularGaussianPRF(fwhm=3.0), 5)(
        image, init_params=init)
    assert result["x_fit"][0] == pytest.approx(19.5)
    assert result["flags"][0] & pk.PSF_FLAGS["near_bound"]
    assert "near_bound" in pk.decode_psf_flags(int(result["flags"][0]))


def test_empty_init_params_give_an_empty_table():
    image = np.random.default_rng(1).normal(0.0, 1.0, (30, 30))
    init = QTable({"x": np.zeros(0), "y": np.zeros(0)})
    phot = pk.PSFPhotometry(pk.CircularGaussianPRF(fwhm=3.0), 5,
                            aperture_radius=3)
    result = phot(image, init_params=init)
    assert len(result) == 0
    assert {"x_fit", "y_fit", "flux_fit", "flags"} <= set(result.colnames)


def test_negative_errors_in_masked_pixels_are_ignored(crowded):
    # -1 is a common "no error" sentinel in masked pixels: photutils
    # ignores them, and so does psfkit (outside the mask they are errors)
    from astropy.nddata import NDData, StdDevUncertainty

    image, truth = crowded
    masked = np.zeros(image.shape, bool)
    masked[:, :3] = True
    error = np.where(masked, -1.0, 1.0)
    phot = pk.PSFPhotometry(pk.CircularGaussianPRF(fwhm=2.7), 7,
                            aperture_radius=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expect = phot(image, mask=masked, error=np.ones(image.shape),
                      init_params=truth[["x", "y"]])
        got = phot(image, mask=masked, error=error,
                   init_params=truth[["x", "y"]])
        nd = phot(NDData(image, uncertainty=StdDevUncertainty(error),
                         mask=masked), init_params=truth[["x", "y"]])
    for table in (got, nd):
        assert_allclose(table["flux_fit"], expect["flux_fit"], rtol=1e-12)
        assert_allclose(table["flux_err"], expect["flux_err"], rtol=1e-12)
    with pytest.raises(ValueError, match="error"):
        phot(image, mask=masked[:, ::-1], error=error,
             init_params=truth[["x", "y"]])


def test_model_bounds_that_exclude_a_source_are_an_error(crowded):
    image, truth = crowded
    psf = pk.CircularGaussianPRF(fwhm=2.7)
    x0 = float(truth["x"][0])
    psf.x_0.bounds = (x0 - 1, x0 + 1)
    for fitter in (None, pytest.importorskip("astropy.modeling.fitting")
                   .TRFLSQFitter()):
        kwargs = {} if fitter is None else {"fitter": fitter}
        phot = pk.PSFPhotometry(psf, 7, aperture_radius=3, **kwargs)
        with pytest.raises(ValueError, match="bounds .* of psf_model's x_0 "
                           r"leave no room for \d+ source"):
            phot(image, init_params=truth)
