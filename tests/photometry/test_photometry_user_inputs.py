"""
Inputs as astronomers give them to the photutils-style classes: residuals
of images in other units, NaN pixels with NaN errors, masked arrays,
photutils' local background on data with units, tiles of an image with a
WCS, absurd starting positions and mistyped options.
"""

import warnings

from astropy.io import fits
from astropy.nddata import NDData
from astropy.table import QTable
import astropy.units as u
from astropy.wcs import WCS
import numpy as np
from numpy.testing import assert_allclose, assert_array_equal
import pytest

from psfkit._numerics.gaussian import integrated_gaussian_image
from psfkit.cli import main
from psfkit.photometry import (
    BasicPSFPhotometry,
    BatchedLMFitter,
    CircularGaussianPRF,
    DAOStarFinder,
    IntegratedGaussianPRF,
    LocalBackground,
    PSFPhotometry,
    tiled_photometry,
)
from psfkit.utils import NonFiniteValueWarning

FWHM = 3.0
SIGMA = FWHM / 2.3548200450309493


@pytest.fixture(scope="module")
def field():
    """A 96 x 96 field of 12 stars with noise, and their true positions."""
    rng = np.random.default_rng(21)
    gy, gx = np.divmod(np.arange(12), 4)
    x = 14.0 + 22.0 * gx + rng.uniform(-0.5, 0.5, 12)
    y = 16.0 + 28.0 * gy + rng.uniform(-0.5, 0.5, 12)
    flux = rng.uniform(2e3, 8e3, 12)
    image = (integrated_gaussian_image((96, 96), x, y, flux, SIGMA)
             + rng.normal(0.0, 2.0, (96, 96)))
    return image, QTable({"x": x, "y": y})


def _phot(**options):
    return PSFPhotometry(CircularGaussianPRF(fwhm=FWHM), (7, 7),
                         aperture_radius=4, **options)


def test_residual_of_an_image_in_another_unit(field):
    image, init = field
    phot = _phot()
    data = image * u.electron / u.s
    phot(data, init_params=init)
    direct = phot.make_residual_image(data)
    # the same image in e/ks: the model is converted, not taken as e/ks
    other = phot.make_residual_image(data.to(u.electron / u.ks))
    assert other.unit == u.electron / u.ks
    assert_allclose(other.to_value(u.electron / u.s), direct.value,
                    atol=1e-9)
    with pytest.raises(u.UnitConversionError,
                       match=r"data is in Jy, which the fitted fluxes \(in "
                             r"electron / s\) cannot be converted to"):
        phot.make_residual_image(image * u.Jy)
    # NDData: the same rule, and an integer image's residual is not rounded
    nd = NDData(data.to_value(u.electron / u.ks), unit=u.electron / u.ks)
    assert_allclose(phot.make_residual_image(nd).data, other.value,
                    atol=1e-9)
    counts = np.round(image).astype(np.int32)
    phot(NDData(counts, unit="adu"), init_params=init)
    res = phot.make_residual_image(NDData(counts, unit="adu"))
    assert res.data.dtype == np.float64 and res.unit == u.adu
    assert_allclose(res.data, counts - phot.make_model_image(
        counts.shape).to_value(u.adu), atol=1e-9)


def test_nan_pixels_with_nan_errors_are_masked(field):
    image, init = field
    bad = np.zeros(image.shape, bool)
    bad[40:50, 40:50] = True
    data = np.where(bad, np.nan, image)
    error = np.where(bad, np.nan, 2.0)
    with pytest.warns(NonFiniteValueWarning, match="automatically ignored"):
        got = _phot()(data, error=error, init_params=init)
    # the same as masking them
    want = _phot()(image, error=np.full(image.shape, 2.0), mask=bad,
                   init_params=init)
    assert_array_equal(got["flux_fit"], want["flux_fit"])
    assert_array_equal(got["flags"], want["flags"])
    # a bad error on a usable pixel is still an error
    error[0, 0] = -1.0
    with pytest.raises(ValueError, match="non-positive or non-finite"):
        _phot()(data, error=error, init_params=init)


def test_a_masked_arrays_own_mask_counts(field):
    image, init = field
    data = image.copy()
    data[:, 60] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error", NonFiniteValueWarning)
        got = _phot()(np.ma.MaskedArray(data, mask=np.isnan(data)),
                      init_params=init)
    want = _phot()(image, mask=np.isnan(data), init_params=init)
    assert_array_equal(got["flux_fit"], want["flux_fit"])


def test_photutils_local_background_on_data_with_units(field):
    pu_bkg = pytest.importorskip("photutils.background")
    image, init = field
    data = (image + 10.0) * u.electron / u.s
    theirs = _phot(local_bkg_estimator=pu_bkg.LocalBackground(6, 10))(
        data, init_params=init)
    ours = _phot(local_bkg_estimator=LocalBackground(6, 10))(
        data, init_params=init)
    assert theirs["local_bkg"].unit == u.electron / u.s
    assert_allclose(theirs["local_bkg"], ours["local_bkg"])
    assert_allclose(theirs["flux_fit"], ours["flux_fit"])
    assert np.all(np.abs(ours["local_bkg"].value - 10.0) < 2.0)


def test_tiles_of_an_image_with_a_wcs_have_sky_positions(field):
    image, _ = field
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval, wcs.wcs.crpix = [250.4, 36.5], [48.0, 48.0]
    wcs.wcs.cdelt = [-2e-4, 2e-4]
    phot = BasicPSFPhotometry(None, None, CircularGaussianPRF(fwhm=FWHM), 7,
                              finder=DAOStarFinder(30.0, FWHM))
    nd = NDData(image, wcs=wcs)
    single = phot(nd)
    tiles = tiled_photometry(nd, phot, tile_size=48, overlap=16).table
    assert len(tiles) == len(single) == 12
    sky = wcs.pixel_to_world(tiles["x_fit"], tiles["y_fit"])
    assert tiles["sky_centroid"].separation(sky).max() < 1e-9 * u.arcsec
    order = np.lexsort((single["y_fit"], single["x_fit"]))
    back = np.lexsort((tiles["y_fit"], tiles["x_fit"]))
    assert_allclose(tiles["sky_centroid"].ra.deg[back],
                    single["sky_centroid"].ra.deg[order], atol=1e-9)


def test_absurd_starting_positions_and_mistyped_options(field):
    image, _ = field
    phot = _phot()
    for far in (np.nan, np.inf, 1e19, -1e300):
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            tab = phot(image, init_params=QTable({"x": [far, 14.0],
                                                  "y": [20.0, 16.0]}))
        # off the image: flagged (no overlap with the image, no finite
        # position fitted), not fitted; no numpy warning on the way
        assert tab["flags"][0] & 64 and tab["flags"][0] & 512
        assert not np.isfinite(tab["x_fit"][0])
        assert tab["flags"][1] == 0
    with pytest.raises(TypeError, match="aperture_radius must be a strictly-"
                                        "positive scalar, got '4'"):
        PSFPhotometry(CircularGaussianPRF(fwhm=FWHM), 7, aperture_radius="4")
    with pytest.raises(TypeError, match="xy_bounds must hold numbers"):
        PSFPhotometry(CircularGaussianPRF(fwhm=FWHM), 7, xy_bounds="a")
    with pytest.raises(TypeError, match="data must contain real numbers, "
                                        "got dtype object"):
        phot(image.astype(object), init_params=QTable({"x": [14.0],
                                                       "y": [16.0]}))


def test_cli_masks_nan_pixels_without_warnings(field, tmp_path, capsys):
    image, _ = field
    data = image + 100.0
    data[:, 50] = np.nan
    data[5:9, 5:15] = np.nan
    fits.PrimaryHDU(data).writeto(tmp_path / "nan.fits")
    assert main(["photometry", str(tmp_path / "nan.fits"), "--fwhm",
                 str(FWHM), "-v", "-o", str(tmp_path / "nan.ecsv")]) == 0
    out, err = capsys.readouterr()
    assert "masked 136 pixels with a non-finite value" in out
    assert "warning" not in err
    assert len(QTable.read(tmp_path / "nan.ecsv")) >= 11


def _chain_with_a_star_at_its_bound():
    """12 stars in a chain, and a guess 4 px short of a 13th: its y stops
    on the edge of its fit box."""
    psf = IntegratedGaussianPRF(sigma=1.5)
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:40, 0:80]
    xs = 10.0 + 5.0 * np.arange(12)
    image = (sum(psf.evaluate(xx, yy, 5000.0, x, 20.0, 1.5) for x in xs)
             + psf.evaluate(xx, yy, 5000.0, 34.0, 26.0, 1.5)
             + rng.normal(0.0, 2.0, xx.shape))
    guesses = QTable({"x": [*xs, 34.0], "y": [20.0] * 12 + [22.0]})
    return psf, image, guesses


def test_uncertainty_of_a_parameter_on_its_bound():
    psf, image, guesses = _chain_with_a_star_at_its_bound()
    error = np.full(image.shape, 2.0)
    sparse = BasicPSFPhotometry(None, None, psf, 7)(
        image, init_guesses=guesses, error=error)
    dense = BasicPSFPhotometry(None, None, psf, 7, fitter=BatchedLMFitter())(
        image, init_guesses=guesses, error=error)
    last = sparse[-1]
    assert last["y_fit"] == pytest.approx(25.5)  # the edge of its box
    # the curvature's uncertainty, as the dense fit gives it; it was 0
    # (and the flux's, conditional on y held, too small)
    for name in ("x_0_unc", "y_0_unc", "flux_unc"):
        assert last[name] > 0
        assert_allclose(sparse[name], dense[name], rtol=2e-3)


def test_seed_classes_name_their_mistakes(field):
    from astropy.modeling.fitting import LevMarLSQFitter

    from psfkit.photometry import DAOGroup, DAOPhotPSFPhotometry

    image, init = field
    psf = CircularGaussianPRF(fwhm=FWHM)
    with pytest.raises(TypeError, match=r"fitter must be an instance, got "
                                        r"the class LevMarLSQFitter: give "
                                        r"LevMarLSQFitter\(...\)"):
        BasicPSFPhotometry(None, None, psf, 7, fitter=LevMarLSQFitter)
    with pytest.raises(TypeError, match="psf_model must be an instance"):
        BasicPSFPhotometry(None, None, IntegratedGaussianPRF, 7)
    with pytest.raises(TypeError, match="group_maker must be an instance"):
        BasicPSFPhotometry(DAOGroup, None, psf, 7)
    with pytest.raises(TypeError, match="grouper must be an instance"):
        PSFPhotometry(psf, 7, grouper=DAOGroup)
    # extra columns may not replace the results'
    phot = BasicPSFPhotometry(None, None, psf, 7,
                              extra_output_cols=["x_fit", "id"])
    with pytest.raises(ValueError, match=r"extra_output_cols names columns "
                                         r"of the results \(x_fit, id\)"):
        phot(image, init_guesses=init)
    # a masked error array: its masked pixels are not used
    yy, xx = np.mgrid[0:96, 0:96]
    column = xx == int(round(float(init["x"][0])))
    masked = np.ma.MaskedArray(np.where(column, 0.0, 2.0), mask=column)
    got = BasicPSFPhotometry(None, None, psf, 7)(image, init_guesses=init,
                                                error=masked)
    want = BasicPSFPhotometry(None, None, psf, 7)(
        image, init_guesses=init, error=np.full(image.shape, 2.0),
        mask=column)
    assert got["npix_masked"][0] == 7
    assert_array_equal(got["flux_fit"], want["flux_fit"])
    # DAOPhot's sigma: set later, used
    late = DAOPhotPSFPhotometry(6.0, 30.0, FWHM, psf, 7, niters=1)
    late.sigma = 1.5
    early = DAOPhotPSFPhotometry(6.0, 30.0, FWHM, psf, 7, niters=1, sigma=1.5)
    assert late.bkg_estimator(image) == early.bkg_estimator(image)
    assert repr(late) == repr(early)
    with pytest.raises(TypeError, match="sigma must be a positive number"):
        late.sigma = "x"
    # a finder whose table has no positions is named as such
    phot = BasicPSFPhotometry(None, None, psf, 7,
                              finder=lambda data: QTable({"a": [1.0]}))
    with pytest.raises(ValueError, match="the finder's table must have x "
                                         "and y position columns"):
        phot(image)


def test_a_masked_extra_guess_takes_the_models_value():
    from astropy.table import MaskedColumn

    psf = IntegratedGaussianPRF(sigma=1.5)
    psf.sigma.fixed = False
    yy, xx = np.mgrid[0:40, 0:60]
    rng = np.random.default_rng(0)
    image = (psf.evaluate(xx, yy, 3000.0, 20.3, 20.0, 1.6)
             + psf.evaluate(xx, yy, 3000.0, 40.2, 20.4, 1.6)
             + rng.normal(0.0, 2.0, xx.shape))
    given = QTable({"x_0": [20.0, 40.0], "y_0": [20.0, 20.0],
                    "sigma_0": [1.5, 1.5]})
    masked = QTable(given, copy=True)
    masked["sigma_0"] = MaskedColumn([1.5, np.nan], mask=[False, True])
    for fitter in (None, BatchedLMFitter()):
        options = {} if fitter is None else {"fitter": fitter}
        phot = BasicPSFPhotometry(None, None, psf, 9, **options)
        want = phot(image, init_guesses=given)
        got = phot(image, init_guesses=masked)
        # the star is fitted from the model's sigma (it was dropped, or
        # given a flux with no width)
        assert_allclose(got["sigma_fit"], want["sigma_fit"], rtol=1e-6)
        assert_allclose(got["flux_fit"], want["flux_fit"], rtol=1e-6)
        assert np.all(got["flags"] == 0)
        assert_allclose(got["sigma_fit"], 1.6, atol=0.02)


def test_a_negative_width_guess_gives_a_positive_width():
    # IntegratedGaussianPRF's profile depends on |sigma| (its sigma is
    # unbounded, as in the seed): a fit from a negative guess reached
    # -1.7 and reported it; widths are reported positive, equal to the
    # fit from the positive guess
    psf = IntegratedGaussianPRF(sigma=1.5)
    psf.sigma.fixed = False
    yy, xx = np.mgrid[0:40, 0:40]
    image = psf.evaluate(xx, yy, 5000.0, 20.3, 19.6, 1.7)
    for fitter in (None, BatchedLMFitter()):
        options = {} if fitter is None else {"fitter": fitter}
        phot = BasicPSFPhotometry(None, None, psf, 11, **options)
        results = [phot(image, init_guesses=QTable({
            "x_0": [20.0], "y_0": [20.0], "sigma_0": [s]}))
            for s in (1.5, -1.5)]
        for res in results:
            assert_allclose(res["sigma_fit"], 1.7, rtol=1e-6)
            assert_allclose(res["flux_fit"], 5000.0, rtol=1e-6)
            assert res["flags"][0] == 0
    res = PSFPhotometry(psf, 11, aperture_radius=4)(
        image, init_params=QTable({"x": [20.0], "y": [20.0],
                                   "sigma": [-1.5]}))
    assert_allclose(res["sigma_fit"], 1.7, rtol=1e-6)


def test_guess_labels_are_checked():
    from astropy.table import MaskedColumn

    psf = IntegratedGaussianPRF(sigma=1.5)
    yy, xx = np.mgrid[0:40, 0:60]
    image = (psf.evaluate(xx, yy, 3000.0, 20.3, 20.0, 1.5)
             + psf.evaluate(xx, yy, 3000.0, 40.2, 20.4, 1.5))
    phot = BasicPSFPhotometry(None, None, psf, 7)
    bad = [({"group_id": [1.0, np.nan]}, "'group_id' must hold integers"),
           ({"group_id": MaskedColumn([1, 2], mask=[False, True])},
            "'group_id' has masked values"),
           ({"id": MaskedColumn([1, 2], mask=[False, True])},
            "'id' has masked values"),
           ({"id": [1.5, 2.0]}, "'id' must hold integers"),
           ({"id": [3, 3]}, "'id' must hold unique integers")]
    for columns, message in bad:
        guesses = QTable({"x": [20.0, 40.0], "y": [20.0, 20.0], **columns})
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            with pytest.raises(ValueError, match=message):
                phot(image, init_guesses=guesses)
    # whole numbers stored as floats are labels as good as integers
    tab = phot(image, init_guesses=QTable({"x": [20.0, 40.0],
                                           "y": [20.0, 20.0],
                                           "id": [7.0, 9.0],
                                           "group_id": [1.0, 1.0]}))
    assert tab["id"].tolist() == [7, 9] and tab["group_id"].tolist() == [1, 1]


def test_guess_units_are_checked():
    psf = IntegratedGaussianPRF(sigma=1.5)
    yy, xx = np.mgrid[0:40, 0:60]
    image = psf.evaluate(xx, yy, 3000.0, 20.3, 20.0, 1.5)
    phot = BasicPSFPhotometry(None, None, psf, 7)
    with pytest.raises(u.UnitsError, match="'x_0' has unit deg, but "
                                           "positions and shape parameters "
                                           "are in pixels"):
        phot(image, init_guesses=QTable({"x_0": [20.0] * u.deg,
                                         "y_0": [20.0] * u.deg}))
    with pytest.raises(u.UnitsError, match="'flux_0' has unit Jy, but the "
                                           "image has none"):
        phot(image, init_guesses=QTable({"x_0": [20.0], "y_0": [20.0],
                                         "flux_0": [3000.0] * u.Jy}))
    # pixels are positions; a flux in a unit of the image's kind converts
    in_pix = phot(image, init_guesses=QTable({"x_0": [20.0] * u.pix,
                                              "y_0": [20.0] * u.pix}))
    assert in_pix["x_fit"][0] == pytest.approx(20.3)
    tab = phot(image * u.uJy, init_guesses=QTable({
        "x_0": [20.0], "y_0": [20.0], "flux_0": [3.0] * u.mJy}))
    assert tab["flux_0"][0] == 3000.0 * u.uJy


def test_photutils_api_reads_guesses_and_errors_as_the_seed_classes(field):
    from astropy.table import MaskedColumn

    from psfkit.photometry import DAOPhotPSFPhotometry

    image, init = field
    phot = _phot()
    with pytest.raises(u.UnitsError, match="init_params column 'x' has unit "
                                           "deg"):
        phot(image, init_params=QTable({"x": init["x"] * u.deg,
                                        "y": init["y"] * u.deg}))
    ids = QTable(init, copy=True)
    ids["id"] = MaskedColumn(np.arange(1, 13), mask=[True] + [False] * 11)
    with pytest.raises(ValueError, match="init_params column 'id' has "
                                         "masked values"):
        phot(image, init_params=ids)
    ids["id"] = [1e20] + list(range(2, 13))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(ValueError, match="'id' must hold integers"):
            phot(image, init_params=ids)
    # a masked error array with zeros under its mask: those pixels unused
    yy, xx = np.mgrid[0:96, 0:96]
    column = xx == 30
    masked = np.ma.MaskedArray(np.where(column, 0.0, 2.0), mask=column)
    got = phot(image, error=masked, init_params=init)
    want = phot(image, error=np.full(image.shape, 2.0), mask=column,
                init_params=init)
    assert_array_equal(got["flux_fit"], want["flux_fit"])
    # aperture_radius that is not a scalar: photutils' ValueError
    with pytest.raises(ValueError, match="aperture_radius must be a "
                                         "strictly-positive scalar"):
        PSFPhotometry(CircularGaussianPRF(fwhm=FWHM), 7, aperture_radius=[4])
    # DAOPhot's sigma when its background estimator was replaced
    dao = DAOPhotPSFPhotometry(6.0, 30.0, FWHM, CircularGaussianPRF(fwhm=FWHM),
                               7, niters=1, sigma=2.5)
    dao.bkg_estimator = None
    assert dao.sigma == 2.5
    dao.sigma = 2.0
    assert dao.sigma == 2.0 and dao.bkg_estimator is None
