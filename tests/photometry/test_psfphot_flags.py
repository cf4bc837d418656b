"""Every quality flag raised by a purpose-built case, and bad input."""

from astropy.table import QTable
import numpy as np
from numpy.testing import assert_allclose
import pytest

from psfkit.photometry import (
    BasicPSFPhotometry,
    BatchedLMFitter,
    DAOGroup,
    DAOStarFinder,
    IntegratedGaussianPRF,
    IterativelySubtractedPSFPhotometry,
    PSFFlags,
)
from psfkit.photometry.fitting import iterative
from psfkit.utils import NoDetectionsWarning, PsfkitWarning

SHAPE = (40, 40)
YY, XX = np.mgrid[0:SHAPE[0], 0:SHAPE[1]]


def star(x, y, flux, sigma=2.0):
    return IntegratedGaussianPRF(sigma=1.0).evaluate(XX, YY, flux, x, y, sigma)


def phot(**kwargs):
    psf = kwargs.pop("psf", IntegratedGaussianPRF(sigma=2.0))
    return BasicPSFPhotometry(kwargs.pop("group", None), None, psf, (9, 9),
                              aperture_radius=4.0, **kwargs)


def init(x, y, **cols):
    return QTable({"x_0": np.atleast_1d(x), "y_0": np.atleast_1d(y),
                   **{k: np.atleast_1d(v) for k, v in cols.items()}})


def flags_of(table):
    return [PSFFlags(int(f)) for f in table["flags"]]


def test_clean_fit_has_no_flags():
    tab = phot()(star(20.3, 19.6, 1000.0), init_guesses=init(20, 20))
    assert tab["flags"][0] == 0


def test_partial_box():
    image = star(1.7, 20.2, 3000.0)
    tab = phot()(image, init_guesses=init(2.0, 20.0))
    assert flags_of(tab)[0] == PSFFlags.PARTIAL_BOX
    assert tab["npix_fit"][0] == 9 * 7
    assert_allclose([tab["x_fit"][0], tab["flux_fit"][0]], [1.7, 3000.0],
                    rtol=1e-6)


def test_outside_image():
    image = star(0.2, 20.0, 3000.0)
    tab = phot()(image, init_guesses=init([-2.0, 60.0], [20.0, 20.0]))
    f = flags_of(tab)
    assert PSFFlags.OUTSIDE_IMAGE in f[0] and PSFFlags.PARTIAL_BOX in f[0]
    assert np.isfinite(tab["flux_fit"][0])
    # a box with no pixel in the image at all is not fitted
    assert PSFFlags.OUTSIDE_IMAGE in f[1] and PSFFlags.TOO_FEW_PIXELS in f[1]
    assert np.isnan(tab["flux_fit"][1]) and tab["npix_fit"][1] == 0


def test_nonpositive_flux():
    tab = phot()(-star(20.0, 20.0, 500.0), init_guesses=init(20, 20,
                                                             flux_0=100.0))
    assert tab["flux_fit"][0] < 0
    assert PSFFlags.NONPOSITIVE_FLUX in flags_of(tab)[0]


def test_not_converged():
    image = star(20.4, 19.5, 1000.0)
    tab = phot(fitter=BatchedLMFitter(maxiters=1))(image,
                                                   init_guesses=init(21, 20))
    assert flags_of(tab)[0] == PSFFlags.NOT_CONVERGED
    assert phot()(image, init_guesses=init(21, 20))["flags"][0] == 0


def test_no_covariance():
    # two sources at the same place in one group: their parameters are
    # exactly degenerate
    image = star(20.0, 20.0, 1000.0)
    tab = phot(group=DAOGroup(5.0))(image,
                                    init_guesses=init([20.2, 20.2], [20.1, 20.1]))
    for f in flags_of(tab):
        assert PSFFlags.NO_COVARIANCE in f
    assert np.all(np.isnan(tab["flux_unc"]))
    assert_allclose(np.sum(tab["flux_fit"]), 1000.0, rtol=1e-6)
    # a third member of the group keeps its uncertainties, which equal
    # those of a fit without the degenerate pair's twin
    image = image + star(24.0, 20.0, 800.0)
    ones = np.ones(SHAPE)
    tab = phot(group=DAOGroup(5.0))(
        image, error=ones,
        init_guesses=init([20.2, 20.2, 24.1], [20.1, 20.1, 20.0]))
    f = flags_of(tab)
    assert PSFFlags.NO_COVARIANCE in f[0] and PSFFlags.NO_COVARIANCE in f[1]
    assert PSFFlags.NO_COVARIANCE not in f[2]
    single = phot(group=DAOGroup(5.0))(
        image, error=ones, init_guesses=init([20.2, 24.1], [20.1, 20.0]))
    assert_allclose(tab["flux_fit"][2], single["flux_fit"][1], rtol=1e-6)
    assert_allclose(tab["flux_unc"][2], single["flux_unc"][1], rtol=1e-4)


def test_too_few_pixels_fully_masked():
    image = star(20.0, 20.0, 1000.0) + star(8.0, 8.0, 800.0)
    mask = np.zeros(SHAPE, dtype=bool)
    mask[14:27, 14:27] = True
    tab = phot()(image, mask=mask, init_guesses=init([20.0, 8.0], [20.0, 8.0]))
    assert flags_of(tab)[0] == PSFFlags.TOO_FEW_PIXELS
    assert tab["npix_fit"][0] == 0
    assert np.isnan(tab["flux_fit"][0]) and np.isnan(tab["flux_0"][0])
    assert tab["flags"][1] == 0
    assert_allclose(tab["flux_fit"][1], 800.0, rtol=1e-6)


def test_nonfinite():
    # a zero initial width makes the model non-finite: reported, not
    # raised
    psf = IntegratedGaussianPRF(sigma=2.0)
    psf.sigma.fixed = False
    tab = phot(psf=psf)(star(20.0, 20.0, 1000.0),
                        init_guesses=init([20.0, 5.0], [20.0, 5.0],
                                          sigma_0=[0.0, 2.0]))
    assert PSFFlags.NONFINITE in flags_of(tab)[0]
    assert PSFFlags.NONFINITE not in flags_of(tab)[1]


def test_at_bound():
    psf = IntegratedGaussianPRF(sigma=2.0)
    psf.flux.bounds = (None, 400.0)
    tab = phot(psf=psf)(star(20.0, 20.0, 1000.0), init_guesses=init(20, 20))
    assert flags_of(tab)[0] == PSFFlags.AT_BOUND
    assert tab["flux_fit"][0] == 400.0
    # a centre may not leave its fit box
    tab = phot()(star(30.0, 20.0, 1000.0) + star(20.0, 20.0, 10.0),
                 init_guesses=init(23.0, 20.0, flux_0=500.0))
    assert PSFFlags.AT_BOUND in flags_of(tab)[0]
    assert tab["x_fit"][0] <= 23.0 + 4.5


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("fitshape", [(8, 9), 4, 0, -3, (9, 9, 9)])
def test_bad_fitshape_rejected_at_construction(fitshape):
    with pytest.raises(ValueError, match="fitshape"):
        BasicPSFPhotometry(None, None, IntegratedGaussianPRF(), fitshape)


def test_construction_errors():
    psf = IntegratedGaussianPRF()
    with pytest.raises(TypeError, match="fitter must be"):
        BasicPSFPhotometry(None, None, psf, 5, fitter=3)
    with pytest.raises(ValueError, match="finder is required"):
        IterativelySubtractedPSFPhotometry(None, None, psf, 5, finder=None)
    from astropy.modeling.models import Gaussian2D

    with pytest.raises(ValueError, match="must have parameters x_0, y_0"):
        BasicPSFPhotometry(None, None, Gaussian2D(), 5)


def test_bad_images_and_guesses():
    p = phot()
    with pytest.raises(ValueError, match="image must be a 2-D"):
        p(np.zeros((3, 10, 10)), init_guesses=init(5, 5))
    with pytest.raises(ValueError, match="non-finite positions"):
        p(np.zeros(SHAPE), init_guesses=init([5.0, np.nan], [5.0, 5.0]))
    with pytest.raises(ValueError, match="must be given when the photometry"):
        p(np.zeros(SHAPE))
    with pytest.raises(ValueError, match="error must be positive"):
        p(np.ones(SHAPE), error=np.zeros(SHAPE), init_guesses=init(5, 5))
    psf = IntegratedGaussianPRF()
    for name in psf.param_names:
        getattr(psf, name).fixed = True
    with pytest.raises(ValueError, match="no free parameter"):
        phot(psf=psf)(np.ones(SHAPE), init_guesses=init(5, 5))


def test_no_detections_gives_empty_table_with_all_columns():
    rng = np.random.default_rng(1)
    image = rng.normal(0, 1, SHAPE)
    psf = IntegratedGaussianPRF(sigma=2.0)
    psf.sigma.fixed = False
    it = IterativelySubtractedPSFPhotometry(
        DAOGroup(5.0), None, psf, (9, 9),
        finder=DAOStarFinder(threshold=1000.0, fwhm=4.7))
    with pytest.warns(NoDetectionsWarning, match="no sources"):
        empty = it(image)
    full = it(image + star(20.0, 20.0, 5000.0) * 10)
    assert len(empty) == 0 and len(full) == 1
    assert empty.colnames == full.colnames
    assert "sigma_fit" in empty.colnames and "iter_detected" in empty.colnames
    assert_allclose(it.get_residual_image(), image + star(20, 20, 5000) * 10
                    - it.get_model_image())


def test_niters_none_stops_at_cap_with_warning(monkeypatch):
    monkeypatch.setattr(iterative, "MAX_ITERATIONS", 4)
    calls = []

    def restless_finder(data):
        # always "finds" a new source far from the previous ones
        calls.append(1)
        return QTable({"xcentroid": [5.0 + 7 * len(calls)],
                       "ycentroid": [20.0]})

    it = IterativelySubtractedPSFPhotometry(
        None, None, IntegratedGaussianPRF(sigma=2.0), (5, 5),
        finder=restless_finder, niters=None, aperture_radius=3.0)
    with pytest.warns(PsfkitWarning, match="cap of 4 passes"):
        tab = it(star(20.0, 20.0, 100.0) + 1.0)
    assert tab["iter_detected"].tolist() == [1, 2, 3, 4]
