"""
`EPSFFitter` and the ``fitter`` of `EPSFBuilder`: psfkit's batched fit,
astropy fitters star by star, and photutils' class, against the truth and
against each other.
"""

import warnings

from astropy.modeling.fitting import LevMarLSQFitter, TRFLSQFitter
from astropy.nddata import NDData
from astropy.table import QTable
from epsf_samples import gaussian_epsf_samples
import numpy as np
from numpy.testing import assert_allclose
import pytest

from psfkit._numerics.gaussian import integrated_gaussian_image
from psfkit.photometry import (
    EPSFBuilder,
    EPSFFitter,
    EPSFStar,
    EPSFStars,
    ImagePSF,
    IntegratedGaussianPRF,
    StarExcludedWarning,
    extract_stars,
)

SIGMA = 1.5
OVER = 4


def _epsf(sigma=SIGMA, over=OVER, half=7):
    """An ePSF oversampled ``over`` times: the integrated Gaussian."""
    return ImagePSF(gaussian_epsf_samples(sigma, over, half),
                    oversampling=over)


def _field(n=30, *, seed=4, noise=3.0, spacing=25):
    """Isolated integrated-Gaussian stars with photon and read noise."""
    rng = np.random.default_rng(seed)
    gy, gx = np.divmod(np.arange(n), 6)
    x = spacing * (gx + 1) + rng.uniform(-0.5, 0.5, n)
    y = spacing * (gy + 1) + rng.uniform(-0.5, 0.5, n)
    flux = rng.uniform(5e3, 5e4, n)
    shape = (spacing * (gy.max() + 2), spacing * 7)
    image = integrated_gaussian_image(shape, x, y, flux, SIGMA, extent=12.0)
    if noise:
        image += rng.normal(size=shape) * np.sqrt(noise ** 2 + image)
    return image, x, y, flux, rng


def _stars(image, x, y, rng, *, size=13, scatter=0.3):
    """Cutouts around catalogue positions off by ``scatter`` pixels."""
    catalog = QTable({"x": x + rng.normal(0, scatter, x.size),
                      "y": y + rng.normal(0, scatter, y.size)})
    return extract_stars(image, catalog, size=size)


def test_batched_fit_recovers_truth_and_equals_astropy_fitters():
    image, x, y, flux, rng = _field()
    stars = _stars(image, x, y, rng)
    epsf = _epsf()
    fast = EPSFFitter(fit_boxsize=7)(epsf, stars)
    assert isinstance(fast, EPSFStars) and len(fast) == len(stars)
    assert fast.meta["fit_failed"] == []
    # against the truth: photon-noise-limited centres and fluxes
    d = fast.center_flat - np.column_stack([x, y])
    assert np.sqrt(np.mean(d ** 2)) < 0.03
    assert np.median(np.abs(fast.flux / flux - 1)) < 0.01
    # the same least-squares problem solved star by star by astropy's
    # fitters gives the same minimum
    for fitter in (TRFLSQFitter(), LevMarLSQFitter()):
        slow = EPSFFitter(fitter=fitter, fit_boxsize=7, maxiter=200)(epsf,
                                                                     stars)
        assert slow.meta["fit_failed"] == []
        assert_allclose(slow.center_flat, fast.center_flat, atol=2e-5)
        assert_allclose(slow.flux, fast.flux, rtol=1e-6)
    # the input stars are left as they were
    assert_allclose([s.flux for s in stars], [s.flux for s in stars])
    assert stars[0] is not fast[0]


def test_fit_boxes_rectangular_whole_cutout_and_masked_pixels():
    image, x, y, flux, rng = _field(n=12, noise=0.0)
    stars = _stars(image, x, y, rng, scatter=0.2)
    epsf = _epsf()
    truth = np.column_stack([x, y])
    for box in (7, (5, 9), None):
        fitted = EPSFFitter(fit_boxsize=box)(epsf, stars)
        assert_allclose(fitted.center_flat, truth, atol=2e-3)
        assert_allclose(fitted.flux, flux, rtol=2e-3)
    # a masked column through every star's core: the other pixels decide
    masked = []
    for star in stars:
        data = np.ma.masked_array(star.data.copy(), mask=star.mask.copy())
        col = int(round(star.cutout_center[0]))
        data[:, col] = 1e6
        data.mask[:, col] = True
        masked.append(EPSFStar(data, cutout_center=star.cutout_center,
                               origin=star.origin, flux=star.flux))
    fitted = EPSFFitter(fit_boxsize=7)(epsf, masked)
    assert_allclose(fitted.center_flat, truth, atol=5e-3)
    assert_allclose(fitted.flux, flux, rtol=5e-3)


def test_failed_fits_keep_their_stars_and_warn():
    image, x, y, flux, rng = _field(n=6, noise=1.0)
    stars = list(_stars(image, x, y, rng))
    # a cutout of noise only: no positive flux to fit
    empty = EPSFStar(rng.normal(size=(13, 13)) - 5.0, origin=(0, 0),
                     flux=100.0, id_label=99)
    stars.insert(2, empty)
    with pytest.warns(StarExcludedWarning, match=r"1 star.*ids: 99") as rec:
        fitted = EPSFFitter()(_epsf(), stars)
    # attributed to this file, not to psfkit's internals
    assert rec[0].filename == __file__
    assert fitted.meta["fit_failed"] == [2]
    assert fitted[2].center == empty.center and fitted[2].flux == 100.0
    assert len(fitted) == len(stars)
    # no stars: nothing to do
    assert len(EPSFFitter()(_epsf(), [])) == 0


def test_errors_name_the_argument():
    with pytest.raises(TypeError, match=r"TRFLSQFitter\(\), not the class"):
        EPSFFitter(fitter=TRFLSQFitter)
    with pytest.raises(TypeError, match="astropy fitter instance"):
        EPSFFitter(fitter="trf")
    with pytest.raises(ValueError, match="fit_boxsize"):
        EPSFFitter(fit_boxsize=4)
    with pytest.raises(ValueError, match="fit_boxsize"):
        EPSFFitter(fit_boxsize=1)
    with pytest.raises(TypeError, match="may not set weights"):
        EPSFFitter(fitter=TRFLSQFitter(), weights=1.0)
    with pytest.raises(TypeError, match="only fitter keyword is maxiter"):
        EPSFFitter(acc=1e-3)
    with pytest.raises(ValueError, match="maxiter"):
        EPSFFitter(maxiter=0)
    with pytest.raises(TypeError, match="epsf must be an ImagePSF"):
        EPSFFitter()(IntegratedGaussianPRF(sigma=1.0), [])
    # the builder's own checks of the same options
    with pytest.raises(TypeError, match="fit box comes from the EPSFFitter"):
        EPSFBuilder(fitter=EPSFFitter(fit_boxsize=7), fit_boxsize=9)
    with pytest.raises(TypeError, match="give only one"):
        EPSFBuilder(fitter=EPSFFitter(maxiter=5), fitter_maxiters=5)
    with pytest.raises(TypeError, match="not the class"):
        EPSFBuilder(fitter=LevMarLSQFitter)


def test_reprs():
    assert repr(EPSFFitter()) == "EPSFFitter()"
    assert repr(EPSFFitter(fit_boxsize=(5, 7), maxiter=20)) == (
        "EPSFFitter(fit_boxsize=(5, 7), maxiter=20)")
    assert repr(EPSFBuilder(oversampling=2, fitter=TRFLSQFitter())) == (
        "EPSFBuilder(oversampling=(2, 2), fitter=<TRFLSQFitter>)")
    builder = EPSFBuilder(fitter=EPSFFitter(fit_boxsize=(7, 5)))
    assert builder.fit_shape == (7, 5) and builder.fit_boxsize == (7, 5)


@pytest.mark.slow
def test_builder_fitter_options_build_the_same_epsf():
    image, x, y, flux, rng = _field(n=24, seed=8)
    stars = _stars(image, x, y, rng, size=15)
    options = {"oversampling": 2, "maxiters": 4}
    base = EPSFBuilder(fit_boxsize=7, **options)(stars)
    # an EPSFFitter with psfkit's solver and the same box: the same build
    same = EPSFBuilder(fitter=EPSFFitter(fit_boxsize=7), **options)(stars)
    assert_allclose(same.epsf.data, base.epsf.data, rtol=0, atol=1e-14)
    # an astropy fitter star by star: the same minimum at every iteration
    trf = EPSFBuilder(fit_boxsize=7, fitter=TRFLSQFitter(),
                      fitter_maxiters=200, **options)(stars)
    peak = base.epsf.data.max()
    assert np.abs(trf.epsf.data - base.epsf.data).max() < 1e-4 * peak
    assert_allclose(trf.fitted_stars.center_flat,
                    base.fitted_stars.center_flat, atol=1e-3)
    # and both against the truth
    d = base.fitted_stars.center_flat - np.column_stack([x, y])
    assert np.sqrt(np.mean(d ** 2)) < 0.05


def test_photutils_epsf_fitter_and_image_psf():
    pu_psf = pytest.importorskip("photutils.psf")
    image, x, y, flux, rng = _field(n=18, seed=5)
    catalog = QTable({"x": x + rng.normal(0, 0.3, x.size),
                      "y": y + rng.normal(0, 0.3, y.size)})
    mine = extract_stars(image, catalog, size=13)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = pu_psf.extract_stars(NDData(image), catalog, size=13)
        their_fitter = pu_psf.EPSFFitter(fit_boxsize=7)
    psf = _epsf()
    their_epsf = pu_psf.ImagePSF(psf.data, oversampling=OVER)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = their_fitter(their_epsf, theirs)
    ref_xy = np.array([s.center for s in ref])
    ref_flux = np.array([s.flux for s in ref])
    # psfkit's fitter on photutils' ImagePSF (and on its own) agrees with
    # photutils' fit of the same stars
    for epsf in (their_epsf, psf):
        fitted = EPSFFitter(fit_boxsize=7)(epsf, mine)
        assert_allclose(fitted.center_flat, ref_xy, atol=2e-5)
        assert_allclose(fitted.flux, ref_flux, rtol=1e-6)
    # photutils' EPSFFitter given to psfkit's builder: its fitter and box
    builder = EPSFBuilder(oversampling=2, maxiters=2, fitter=their_fitter)
    assert builder.fit_shape == (7, 7)
    assert isinstance(builder._star_fitter, TRFLSQFitter)
    result = builder(mine)
    d = result.fitted_stars.center_flat - np.column_stack([x, y])
    assert np.sqrt(np.mean(d ** 2)) < 0.1
