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
    CircularGaussianPRF,
    DAOStarFinder,
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
