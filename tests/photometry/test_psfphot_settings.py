"""
Options of the photometry classes: checked when set, carried to the table.
"""

import pickle

from astropy.modeling import Fittable2DModel, Parameter
from astropy.modeling.models import Gaussian2D
from astropy.nddata import NDData
from astropy.table import QTable
import numpy as np
from numpy.testing import assert_allclose
import pytest

from psfkit.photometry import (
    BasicPSFPhotometry,
    DAOPhotPSFPhotometry,
    DAOStarFinder,
    IntegratedGaussianPRF,
    IterativelySubtractedPSFPhotometry,
    prepare_psf_model,
)

SIGMA = 1.5


def star_field(positions, fluxes, shape=(48, 48)):
    psf = IntegratedGaussianPRF(sigma=SIGMA)
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    image = np.zeros(shape)
    for (x, y), f in zip(positions, fluxes, strict=True):
        image += psf.evaluate(xx, yy, f, x, y, SIGMA)
    return image


def basic(**kw):
    return BasicPSFPhotometry(None, None, IntegratedGaussianPRF(sigma=SIGMA),
                              (9, 9), **kw)


def iterative(**kw):
    kw.setdefault("finder", DAOStarFinder(threshold=5.0, fwhm=3.5))
    return IterativelySubtractedPSFPhotometry(
        None, None, IntegratedGaussianPRF(sigma=SIGMA), (9, 9), **kw)


@pytest.mark.parametrize(("make", "attr", "value", "exc"), [
    (basic, "fitshape", 8, ValueError),
    (basic, "fitshape", (9, 10), ValueError),
    (basic, "subshape", 4, ValueError),
    (basic, "aperture_radius", -1.0, ValueError),
    (basic, "fitter", "lm", TypeError),
    (basic, "finder", "daofind", TypeError),
    (basic, "group_maker", 3.0, TypeError),
    (basic, "progress_bar", "yes", TypeError),
    (basic, "extra_output_cols", [1, 2], TypeError),
    (basic, "psf_model", object(), ValueError),
    (iterative, "niters", 0, ValueError),
    (iterative, "niters", 2.5, ValueError),
    (iterative, "mode", "some", ValueError),
    (iterative, "finder", None, ValueError),
])
def test_setters_are_checked(make, attr, value, exc):
    phot = make()
    before = getattr(phot, attr)
    with pytest.raises(exc, match=attr):
        setattr(phot, attr, value)
    # a rejected value leaves the option as it was
    assert getattr(phot, attr) is before


def test_constructor_checks_the_same_way():
    with pytest.raises(ValueError, match="fitshape"):
        BasicPSFPhotometry(None, None, IntegratedGaussianPRF(sigma=1.0), 6)
    with pytest.raises(ValueError, match="finder is required"):
        IterativelySubtractedPSFPhotometry(
            None, None, IntegratedGaussianPRF(sigma=1.0), 7, finder=None)


def test_valid_values_are_normalised_and_used():
    image = star_field([(20.3, 22.6)], [800.0])
    phot = basic()
    phot.fitshape = 7
    assert phot.fitshape == (7, 7)
    phot.aperture_radius = 3
    assert phot.aperture_radius == 3.0
    tab = phot(image, init_guesses=QTable({"x_0": [20.0], "y_0": [23.0]}))
    assert tab["npix_fit"][0] == 49
    assert_allclose(tab["flux_fit"][0], 800.0, rtol=1e-6)


def test_daophot_parameters_forward_to_its_parts():
    phot = DAOPhotPSFPhotometry(8.0, 10.0, 4.7,
                                IntegratedGaussianPRF(sigma=2.0), (11, 11))
    phot.crit_separation = 5.0
    phot.threshold = 3.0
    phot.fwhm = 3.0
    assert phot.group_maker.crit_separation == 5.0
    assert phot.finder.threshold == 3.0
    assert phot.finder.fwhm == 3.0


def test_checked_objects_pickle():
    phot = iterative(niters=2, extra_output_cols=["sharpness"])
    back = pickle.loads(pickle.dumps(phot))
    assert back.niters == 2 and back.fitshape == (9, 9)
    assert back.extra_output_cols == ("sharpness",)


class ParameterFWHMGaussian(Fittable2DModel):
    """A Gaussian PSF whose fwhm is a model parameter (as photutils 3.x)."""

    flux = Parameter(default=1.0)
    x_0 = Parameter(default=0.0)
    y_0 = Parameter(default=0.0)
    fwhm = Parameter(default=3.0, fixed=True)

    @staticmethod
    def evaluate(x, y, flux, x_0, y_0, fwhm):
        sigma = fwhm / (2.0 * np.sqrt(2.0 * np.log(2.0)))
        r2 = (x - x_0) ** 2 + (y - y_0) ** 2
        return flux / (2 * np.pi * sigma**2) * np.exp(-0.5 * r2 / sigma**2)


def test_model_with_fwhm_parameter():
    # the aperture radius for the initial fluxes comes from the fwhm
    # parameter's value (a float() of the Parameter used to fail)
    model = ParameterFWHMGaussian(fwhm=3.2)
    yy, xx = np.mgrid[0:40, 0:40]
    image = model.evaluate(xx, yy, 500.0, 18.4, 21.7, 3.2)
    phot = BasicPSFPhotometry(None, None, model, (11, 11))
    tab = phot(image, init_guesses=QTable({"x_0": [18.0], "y_0": [22.0]}))
    assert_allclose([tab["x_fit"][0], tab["y_fit"][0], tab["flux_fit"][0]],
                    [18.4, 21.7, 500.0], rtol=1e-5)
    it = IterativelySubtractedPSFPhotometry(
        None, None, model, (11, 11),
        finder=DAOStarFinder(threshold=1.0, fwhm=3.2))
    assert it._min_separation() == pytest.approx(1.6)


def test_prepared_model_with_fwhm_set_by_hand():
    # photutils 1.x users attach a fwhm to a prepared model by hand; it
    # then sizes the aperture of the initial fluxes (setting it used to
    # raise AttributeError)
    image = star_field([(20.3, 22.6)], [800.0])
    guesses = QTable({"x_0": [20.0], "y_0": [23.0]})
    psf = prepare_psf_model(Gaussian2D(x_stddev=SIGMA, y_stddev=SIGMA))
    with pytest.raises(ValueError, match="aperture_radius must be given"):
        BasicPSFPhotometry(None, None, psf, (9, 9))(image,
                                                    init_guesses=guesses)
    psf.fwhm = Parameter("fwhm", "set by hand")
    psf.fwhm.value = 3.0
    tab = BasicPSFPhotometry(None, None, psf, (9, 9))(image,
                                                      init_guesses=guesses)
    ref = BasicPSFPhotometry(None, None, psf, (9, 9), aperture_radius=3.0)(
        image, init_guesses=guesses)
    assert tab["flux_0"][0] == ref["flux_0"][0]
    psf.fwhm = 4.0
    assert psf.fwhm == 4.0


def test_uncertainty_columns_only_for_free_parameters():
    image = star_field([(20.3, 22.6)], [800.0])
    guesses = QTable({"x_0": [20.0], "y_0": [23.0]})
    psf = IntegratedGaussianPRF(sigma=SIGMA)
    psf.x_0.fixed = psf.y_0.fixed = True
    tab = BasicPSFPhotometry(None, None, psf, (9, 9))(
        image, init_guesses=QTable({"x_0": [20.3], "y_0": [22.6]}))
    assert "flux_unc" in tab.colnames
    assert "x_0_unc" not in tab.colnames and "y_0_unc" not in tab.colnames
    free = IntegratedGaussianPRF(sigma=1.2)
    free.sigma.fixed = False
    tab = BasicPSFPhotometry(None, None, free, (9, 9))(
        image, init_guesses=guesses)
    assert {"x_0_unc", "y_0_unc", "flux_unc", "sigma_unc"} <= set(tab.colnames)
    assert_allclose(tab["sigma_fit"][0], SIGMA, rtol=1e-5)


def test_extra_output_cols_from_the_finder():
    image = star_field([(12.2, 14.1), (33.6, 30.4)], [900.0, 600.0])
    finder = DAOStarFinder(threshold=5.0, fwhm=3.5)
    found = finder(image)
    phot = basic(finder=finder, extra_output_cols=["sharpness", "roundness1"])
    tab = phot(image)
    assert tab.colnames[-3:] == ["sharpness", "roundness1", "flags"]
    assert_allclose(tab["sharpness"], found["sharpness"])
    assert_allclose(tab["roundness1"], found["roundness1"])


def test_extra_output_cols_through_iterations():
    # the faint star is found only in the residual of the first pass
    psf = IntegratedGaussianPRF(sigma=2.0)
    yy, xx = np.mgrid[0:40, 0:40]
    image = (psf.evaluate(xx, yy, 5000.0, 18.0, 20.0, 2.0)
             + psf.evaluate(xx, yy, 400.0, 23.5, 21.0, 2.0))
    finder = DAOStarFinder(threshold=5.0, fwhm=4.7)
    first = finder(image)
    assert len(first) == 1
    for mode in ("all", "new"):
        phot = IterativelySubtractedPSFPhotometry(
            None, None, psf, (11, 11), finder=finder, niters=None, mode=mode,
            extra_output_cols="sharpness")
        tab = phot(image)
        assert tab["iter_detected"].tolist() == [1, 2]
        assert_allclose(tab["sharpness"][0], first["sharpness"][0])
        assert np.isfinite(tab["sharpness"][1])
        assert tab["sharpness"][1] != tab["sharpness"][0]


def test_extra_output_cols_from_init_guesses_and_missing():
    image = star_field([(12.2, 14.1), (33.6, 30.4)], [900.0, 600.0])
    guesses = QTable({"x_0": [12.0, 34.0], "y_0": [14.0, 30.0],
                      "name": ["a", "b"]})
    tab = basic(extra_output_cols=["name", "absent"])(image,
                                                      init_guesses=guesses)
    assert tab["name"].tolist() == ["a", "b"]
    assert np.all(tab["absent"].mask)


def test_wrong_shaped_nddata_mask_is_named():
    image = NDData(np.ones((40, 40)), mask=np.zeros((10, 10), bool))
    with pytest.raises(ValueError, match=r"image\.mask must have the same "
                       r"shape as image \(40, 40\), got \(10, 10\)"):
        basic()(image, init_guesses=QTable({"x_0": [20.0], "y_0": [20.0]}))


def test_background_map_with_nan_leaves_those_pixels_out():
    truth = (20.3, 22.6, 800.0)
    image = star_field([truth[:2]], [truth[2]]) + 10.0
    bkg = np.full(image.shape, 10.0)
    bkg[22:25, 16:19] = np.nan  # a mesh without sky, inside the box

    class Map:
        background = bkg

    phot = BasicPSFPhotometry(None, Map(), IntegratedGaussianPRF(sigma=SIGMA),
                              (9, 9))
    tab = phot(image, init_guesses=QTable({"x_0": [20.0], "y_0": [23.0]}))
    assert tab["npix_masked"][0] == 9
    assert tab["npix_fit"][0] == 81 - 9
    assert_allclose([tab["x_fit"][0], tab["y_fit"][0], tab["flux_fit"][0]],
                    truth, rtol=1e-6)
    assert np.isfinite(phot.get_residual_image()[0, 0])
