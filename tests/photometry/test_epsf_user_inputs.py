"""
ePSF building as astronomers set it up: non-square oversampling and
recentring boxes, astropy's clipping and fitters, catalogues with fluxes,
half-pixel and absurd positions, photutils' stars, and mistakes named.
"""

import warnings

from astropy.modeling.fitting import TRFLSQFitter
from astropy.nddata import NDData
from astropy.stats import SigmaClip
from astropy.table import MaskedColumn, QTable
import numpy as np
from numpy.testing import assert_allclose, assert_array_equal
import pytest

from psfkit._numerics.gaussian import integrated_gaussian_image
from psfkit.photometry import (
    EPSFBuilder,
    EPSFStar,
    EPSFStars,
    LinkedEPSFStar,
    StarExcludedWarning,
    extract_stars,
)


def _ghost_field(n=100, seed=12):
    """
    Isolated stars whose PSF has a faint ghost 6 px above the core (8% of
    the core's flux), on a grid with sub-pixel offsets, with noise.
    """
    rng = np.random.default_rng(seed)
    gy, gx = np.divmod(np.arange(n), 10)
    x = 20.0 + 36.0 * gx + rng.uniform(-0.5, 0.5, n)
    y = 16.0 + 36.0 * gy + rng.uniform(-0.5, 0.5, n)
    flux = rng.uniform(2e4, 5e4, n)
    shape = (370, 380)
    image = (integrated_gaussian_image(shape, x, y, flux, 1.3)
             + integrated_gaussian_image(shape, x, y + 6.0, 0.08 * flux, 1.3)
             + rng.normal(0.0, 3.0, shape))
    return image, x, y


@pytest.fixture(scope="module")
def ghosts():
    image, x, y = _ghost_field()
    return extract_stars(image, QTable({"x": x, "y": y}), size=21), x, y


@pytest.mark.parametrize("oversampling", [(4, 4), (1, 4), (4, 1)])
def test_recentring_box_is_in_detector_pixels_on_each_axis(ghosts,
                                                           oversampling):
    stars, x, y = ghosts
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StarExcludedWarning)
        result = EPSFBuilder(oversampling=oversampling, recentering_boxsize=5,
                             maxiters=6)(stars)
    bias = (result.fitted_stars.center_flat - np.column_stack([x, y])).mean(0)
    # a 5-pixel box (the ghost, 6 px up, outside it) on both axes: the
    # centres are those of the core; oversampling (1, 4) took a 17-pixel
    # box in y, which reached the ghost (+0.42 px)
    assert np.all(np.abs(bias) < 0.02)


def test_builder_options_as_astropy_spells_them(ghosts):
    stars, x, y = ghosts
    sub = stars[:30]
    builder = EPSFBuilder(recentering_boxsize=(5, 11))
    assert builder.recentering_boxsize == (5, 11)
    assert builder._recentering_half() == (8, 20)
    # clipping until convergence (astropy keeps maxiters=None as inf)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StarExcludedWarning)
        clipped = EPSFBuilder(oversampling=2, maxiters=3,
                              sigma_clip=SigmaClip(sigma=3, maxiters=None))(sub)
        # an astropy fitter stopped at its iteration limit keeps its values
        short = EPSFBuilder(oversampling=2, maxiters=2, fitter=TRFLSQFitter(),
                            fitter_maxiters=2)(sub)
    assert clipped.n_excluded_stars == 0 and short.n_excluded_stars == 0
    d = short.fitted_stars.center_flat - np.column_stack([x, y])[:30]
    assert np.sqrt(np.mean(d ** 2)) < 0.1
    with pytest.raises(ValueError, match="recentering_func must return the "
                                         r"\(x, y\) centroid"):
        EPSFBuilder(oversampling=2, maxiters=1,
                    recentering_func=lambda box: None)(sub)


def test_cutouts_as_photutils_makes_them():
    pu_psf = pytest.importorskip("photutils.psf")
    image = np.random.default_rng(2).normal(0.0, 1.0, (40, 60))
    # half-pixel positions: the pixel below, as astropy's overlap_slices
    catalog = QTable({"x": [11.5, 12.5, 30.5, 20.2], "y": [20.5, 13.5, 20.0,
                                                          21.5],
                      "flux": [500.0, 600.0, np.nan, 700.0]})
    ours = extract_stars(image, catalog, size=11)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = pu_psf.extract_stars(NDData(image), catalog, size=11)
    assert_array_equal(ours.center_flat, theirs.center_flat)
    assert_array_equal([s.origin for s in ours],
                       [tuple(s.origin) for s in theirs])
    # a flux column is the stars' flux (NaN: the cutout's sum)
    assert_allclose(ours.flux[[0, 1, 3]], [500.0, 600.0, 700.0])
    assert ours.flux[2] == pytest.approx(float(ours[2].data.sum()))
    # a star plots as its cutout, as photutils' do
    assert_array_equal(np.asarray(ours[0]), ours[0].data)
    assert np.asarray(ours[0], dtype=np.float32).dtype == np.float32
    # photutils' stars are taken as they are
    mine = EPSFStars(theirs)
    assert_array_equal(mine.center_flat, ours.center_flat)
    assert_array_equal(mine.flux, theirs.flux)


def test_bad_positions_and_inputs_are_named(ghosts):
    image = np.zeros((40, 40))
    with pytest.warns(StarExcludedWarning, match="1 star.* off the image"):
        stars = extract_stars(image, QTable({"x": [20.0, 1e19],
                                             "y": [20.0, 20.0]}))
    assert len(stars) == 1
    masked = QTable({"x": MaskedColumn([20.0, 25.0], mask=[False, True]),
                     "y": [20.0, 20.0]})
    with pytest.raises(ValueError, match=r"rows \[1\] are masked or not "
                                         "finite"):
        extract_stars(image, masked)
    with pytest.raises(TypeError, match=r"data\[1\] must be a 2-D image .*"
                                        "got a 3-D array"):
        extract_stars([image, np.zeros((2, 40, 40))],
                      [QTable({"x": [20.0], "y": [20.0]})] * 2)
    with pytest.raises(TypeError, match=r"data\[1\] must be a 2-D image .*"
                                        "got NoneType"):
        extract_stars([image, None], [QTable({"x": [20.0], "y": [20.0]})] * 2)
    with pytest.raises(ValueError, match="stars_list is empty"):
        LinkedEPSFStar([])
    # a star with no flux is excluded, and the warning says it may be that
    stars = EPSFStars([*ghosts[0][:5], EPSFStar(-np.ones((21, 21)),
                                                id_label=99)])
    with pytest.warns(StarExcludedWarning, match=r"no positive flux, or "
                                                 r"their fit failed \(ids: 99"):
        result = EPSFBuilder(oversampling=2, maxiters=1)(stars)
    assert result.excluded_star_indices == [5]


def _noisy_half_field(n=60, seed=5):
    """Stars on a detector whose left half of every 36-px cell is ten
    times noisier; the error map that says so."""
    rng = np.random.default_rng(seed)
    gy, gx = np.divmod(np.arange(n), 10)
    x = 18.0 + 36.0 * gx + rng.uniform(-0.5, 0.5, n)
    y = 18.0 + 36.0 * gy + rng.uniform(-0.5, 0.5, n)
    shape = (220, 370)
    flux = rng.uniform(1e4, 2e4, n)
    error = np.where((np.arange(shape[1]) % 36) < 18, 30.0, 3.0)
    error = np.broadcast_to(error, shape).copy()
    image = (integrated_gaussian_image(shape, x, y, flux, 1.4)
             + rng.normal(0.0, 1.0, shape) * error)
    return image, error, x, y


def test_star_fits_are_weighted_by_the_uncertainty():
    from astropy.nddata import StdDevUncertainty

    from psfkit.photometry import EPSFFitter

    image, error, x, y = _noisy_half_field()
    catalog = QTable({"x": x, "y": y})
    weighted = extract_stars(NDData(image,
                                    uncertainty=StdDevUncertainty(error)),
                             catalog, size=15)
    plain = extract_stars(image, catalog, size=15)
    star = weighted[0]
    assert_allclose(star.weights, 1.0 / error[star.slices])
    assert_array_equal(plain[0].weights, np.ones((15, 15)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StarExcludedWarning)
        epsf = EPSFBuilder(oversampling=2, maxiters=5)(weighted).epsf
    truth = np.column_stack([x, y])

    def rms(stars):
        d = EPSFFitter(fit_boxsize=9)(epsf, stars).center_flat - truth
        return np.sqrt(np.mean(d ** 2))

    # the noisy half counts for what it is worth: the centres are better
    assert rms(weighted) < 0.8 * rms(plain)
    # photutils' EPSFFitter weights the same stars the same way
    pu_psf = pytest.importorskip("photutils.psf")
    theirs_stars = pu_psf.extract_stars(
        NDData(image, uncertainty=StdDevUncertainty(error)), catalog,
        size=15)
    assert_allclose(theirs_stars[0].weights, star.weights)
    model = pu_psf.ImagePSF(epsf.data, oversampling=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = pu_psf.EPSFFitter(fit_boxsize=9)(model, theirs_stars)
    ours = EPSFFitter(fit_boxsize=9)(model, weighted)
    assert_allclose(ours.center_flat, np.asarray(theirs.center_flat),
                    atol=1e-4)
    # with weights, a zero or non-finite weight masks its pixel
    w = np.ones((5, 5))
    w[0, 0], w[1, 1] = 0.0, np.nan
    star = EPSFStar(np.ones((5, 5)), weights=w)
    assert star.mask[0, 0] and star.mask[1, 1] and star.mask.sum() == 2
    with pytest.raises(ValueError, match=r"weights must have the shape of "
                                         r"the cutout \(5, 5\)"):
        EPSFStar(np.ones((5, 5)), weights=np.ones(3))


def test_a_star_flux_leaves_out_what_its_weights_mask():
    data = np.ones((5, 5))
    data[0, 0] = 1e6
    weights = np.ones((5, 5))
    weights[0, 0] = 0.0
    star = EPSFStar(data, weights=weights)
    assert star.flux == 24.0
    assert star.flux == EPSFStar(np.ma.MaskedArray(
        data, mask=weights == 0)).flux
