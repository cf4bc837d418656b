"""
photutils 3.x names and behaviours of psfkit's photometry API, each
checked against photutils' own on the same inputs: the passes kept by
`IterativePSFPhotometry`, `PSF_FLAGS`, the model and simulation helpers
(`make_psf_model`, `make_psf_model_image`, `fit_2dgaussian`, `fit_fwhm`),
the ePSF inputs and the smaller spellings.
"""

import warnings

from astropy.nddata import NDData
from astropy.table import QTable
import numpy as np
from numpy.testing import assert_allclose, assert_array_equal
import pytest

import psfkit.photometry as pk
from psfkit.utils import PsfkitDeprecationWarning, PsfkitWarning

pu_psf = pytest.importorskip("photutils.psf")
pu_det = pytest.importorskip("photutils.detection")

FWHM = 3.0


def _quiet(func, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return func(*args, **kwargs)


@pytest.fixture(scope="module")
def pairs_image():
    """15 bright stars, each with a faint companion 3 pixels away."""
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[:120, :120]
    psf = pu_psf.CircularGaussianPRF(fwhm=FWHM)
    image = rng.normal(0.0, 2.0, xx.shape)
    for x, y in rng.uniform(10, 110, (15, 2)):
        image += psf.evaluate(xx, yy, 8000.0, x, y, FWHM)
        image += psf.evaluate(xx, yy, 600.0, x + 2.6, y + 1.4, FWHM)
    return image


def _iterative(module, mode):
    return module.IterativePSFPhotometry(
        module.CircularGaussianPRF(fwhm=FWHM), 7,
        pu_det.DAOStarFinder(12.0, FWHM, min_separation=3),
        grouper=module.SourceGrouper(8), mode=mode, aperture_radius=3,
        maxiters=3)


@pytest.mark.parametrize("mode", ["new", "all"])
def test_iterative_fit_results_per_pass(pairs_image, mode):
    """Each kept pass holds its own tables, as photutils' do."""
    error = np.full(pairs_image.shape, 2.0)
    theirs, mine = _iterative(pu_psf, mode), _iterative(pk, mode)
    _quiet(theirs, pairs_image, error=error)
    _quiet(mine, pairs_image, error=error)
    assert len(mine.fit_results) == len(theirs.fit_results) >= 2
    for a, b in zip(theirs.fit_results, mine.fit_results, strict=True):
        assert type(b) is pk.PSFPhotometry
        assert b.results.colnames == a.results.colnames
        for phot in (a, b):
            # numbered from 1 in each pass, as its initial values are
            assert_array_equal(phot.results["id"],
                               np.arange(1, len(phot.results) + 1))
            assert_array_equal(phot.init_params["id"], phot.results["id"])
        assert (b.finder_results is None) == (a.finder_results is None)
    for phot in (*theirs.fit_results[1:], *mine.fit_results[1:]):
        # a later pass keeps the finder's table of the residual image
        assert "x_centroid" in phot.finder_results.colnames
        if mode == "new":
            assert len(phot.finder_results) == len(phot.results)
        else:
            assert len(phot.finder_results) < len(phot.results)
    # the entries are not the running table
    first = mine.fit_results[0]
    assert first.results is not mine.results
    assert len(mine.results) > len(first.results)
    # a later call starts afresh
    n = len(mine.fit_results)
    _quiet(mine, pairs_image, error=error)
    assert len(mine.fit_results) == n


def test_iterative_warns_once(pairs_image):
    """A warning of every pass is given once, as in photutils."""
    data = pairs_image.copy()
    data[:, 60] = np.nan
    told = {}
    for name, module in (("photutils", pu_psf), ("psfkit", pk)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _iterative(module, "new")(data)
        told[name] = [str(w.message) for w in caught
                      if "non-finite" in str(w.message)]
    assert len(told["photutils"]) == 1
    assert told["psfkit"] == told["photutils"]


def test_psf_flags_interface():
    """`PSF_FLAGS` answers photutils' attributes and methods alike."""
    mine, theirs = pk.PSF_FLAGS, pu_psf.PSF_FLAGS
    assert mine.names == theirs.names
    assert mine.bit_values == theirs.bit_values
    assert mine.flag_dict == theirs.flag_dict
    for bit, name in theirs.flag_dict.items():
        assert getattr(mine, name.upper()) == getattr(theirs, name.upper())
        assert mine.get_name(bit) == theirs.get_name(bit) == name
        assert mine.get_bit_value(name) == theirs.get_bit_value(name) == bit
        assert mine.get_definition(bit).bit_value == bit
        assert mine.get_description(bit)
        assert mine.get_detailed_description(bit)
        # and, as before, a mapping of the names to the bits
        assert mine[name] == bit
    assert [d.name for d in mine.all_flags] == theirs.names
    assert dict(mine) == {n: b for b, n in theirs.flag_dict.items()}
    for bad, error in ((3, KeyError), ("nope", KeyError), (2.0, TypeError)):
        with pytest.raises(error):
            theirs.get_definition(bad)
        with pytest.raises(error, match="bit value|name|identifier"):
            mine.get_definition(bad)
    with pytest.warns(PsfkitDeprecationWarning, match="N_PIXELS_FIT"):
        assert mine.NPIXFIT_PARTIAL == 1
    with pytest.warns(PsfkitDeprecationWarning, match="n_pixels_fit"):
        assert mine.get_bit_value("npixfit_partial") == 1
    with pytest.raises(AttributeError, match="NOPE"):
        mine.NOPE  # noqa: B018
    assert pk.decode_psf_flags(4095) == pu_psf.decode_psf_flags(4095)


def test_decode_flags_positional():
    """``decode_flags(True)`` as photutils' (positional) signature allows."""
    yy, xx = np.mgrid[:40, :40]
    psf = pu_psf.CircularGaussianPRF(fwhm=FWHM)
    data = (psf.evaluate(xx, yy, 500.0, 20.2, 19.7, FWHM)
            + psf.evaluate(xx, yy, 300.0, 38.6, 10.3, FWHM))
    init = QTable({"x": [20.0, 38.0], "y": [20.0, 10.0]})
    out = {}
    for name, module in (("photutils", pu_psf), ("psfkit", pk)):
        phot = module.PSFPhotometry(module.CircularGaussianPRF(fwhm=FWHM), 7,
                                    aperture_radius=3)
        _quiet(phot, data, init_params=init)
        out[name] = (_quiet(phot.decode_flags, True),
                     phot.decode_flags(return_bit_values=True))
    assert out["psfkit"] == out["photutils"]
    assert out["psfkit"][0] == [[], [1]]


# ---------------------------------------------------------------- models
@pytest.mark.parametrize("names", [
    {"x_name": "x_mean", "y_name": "y_mean"},
    {"x_name": "x_mean", "y_name": "y_mean", "flux_name": "amplitude"},
    {},
    {"flux_name": "amplitude", "normalize": False},
])
def test_make_psf_model_same_model(names):
    from astropy.modeling import CompoundModel
    from astropy.modeling.models import Gaussian2D

    model = Gaussian2D(1.7, 0.0, 0.0, 1.5, 2.0, 0.3)
    theirs = pu_psf.make_psf_model(model, **names)
    mine = pk.make_psf_model(model, **names)
    assert isinstance(mine, CompoundModel)
    assert mine.param_names == theirs.param_names
    for attr in ("x_name", "y_name", "flux_name"):
        assert getattr(mine, attr) == getattr(theirs, attr)
    assert mine.fixed == theirs.fixed
    assert_allclose(mine.parameters, theirs.parameters, rtol=1e-9)
    assert mine.x_0.name == theirs.x_0.name
    assert mine.flux.name == theirs.flux.name
    yy, xx = np.mgrid[-8:9, -9:10]
    assert_allclose(mine(xx, yy), theirs(xx, yy), rtol=1e-9, atol=1e-15)
    # the input model is left as it was
    assert model.x_mean.fixed is False


def test_make_psf_model_in_photometry():
    """The model fits in psfkit's photometry as in photutils'."""
    from astropy.modeling.models import Moffat2D

    psf = pk.make_psf_model(Moffat2D(gamma=2.0, alpha=3.0), x_name="x_0",
                            y_name="y_0", dx=41, dy=41, use_dblquad=False)
    yy, xx = np.mgrid[:40, :40]
    star = psf.copy()
    star.x_0_2, star.y_0_2, star.amplitude_3 = 20.3, 19.6, 800.0
    data = star(xx, yy)
    assert_allclose(data.sum(), 800.0, rtol=2e-3)
    init = QTable({"x": [20.0], "y": [20.0]})
    a = _quiet(pu_psf.PSFPhotometry(psf, 7, aperture_radius=4), data,
               init_params=init)
    b = _quiet(pk.PSFPhotometry(psf, 7, aperture_radius=4), data,
               init_params=init)
    assert b.colnames == a.colnames
    for name in ("x_fit", "y_fit"):
        assert_allclose(b[name], a[name], atol=1e-4)
    assert_allclose(b["flux_fit"], a["flux_fit"], rtol=1e-4)
    assert_allclose(b["flux_fit"], 800.0, rtol=1e-4)


def test_make_psf_model_errors():
    from astropy.modeling.models import Gaussian2D

    with pytest.raises(ValueError, match="x_name='xc'"):
        pk.make_psf_model(Gaussian2D(), x_name="xc")
    with pytest.raises(ValueError, match="subsample"):
        pk.make_psf_model(Gaussian2D(), subsample=0)
    with pytest.raises(ValueError, match="finite"):
        pk.make_psf_model(Gaussian2D(x_mean=np.nan), x_name="x_mean",
                          y_name="y_mean")
    # only the normalisation needs the integral
    psf = pk.make_psf_model(Gaussian2D(x_mean=np.nan), x_name="x_mean",
                            y_name="y_mean", normalize=False)
    assert psf.param_names[-1] == "amplitude_3"


def test_make_psf_model_dblquad():
    from astropy.modeling.models import Gaussian2D

    mine = pk.make_psf_model(Gaussian2D(x_stddev=1.2, y_stddev=0.9),
                             use_dblquad=True)
    assert_allclose(mine.parameters[-1], 1 / (2 * np.pi * 1.2 * 0.9),
                    rtol=1e-6)


def test_prepare_psf_model_photutils_names():
    """photutils' spellings; psfkit's former ones still work, deprecated."""
    from astropy.modeling.models import Gaussian2D

    g = Gaussian2D(3.0, 1.0, 2.0, 2.0, 1.5)
    new = pk.prepare_psf_model(g, x_name="x_mean", y_name="y_mean",
                               flux_name="amplitude")
    with pytest.warns(PsfkitDeprecationWarning, match="use x_name="):
        old = pk.prepare_psf_model(g, xname="x_mean", y_name="y_mean",
                                   flux_name="amplitude")
    yy, xx = np.mgrid[:9, :9]
    assert_allclose(old(xx, yy), new(xx, yy))
    with pytest.raises(TypeError, match="flux_name"):
        pk.prepare_psf_model(g, fluxname="amplitude", flux_name="amplitude")


# ------------------------------------------------------------ simulation
@pytest.mark.parametrize("kwargs", [
    {"flux": (100, 250), "min_separation": 10, "seed": 0},
    {"flux": (100, 250), "fwhm": (2, 4), "min_separation": 10, "seed": 0,
     "model_shape": (13, 13)},
    {"flux": (500, 2e4), "min_separation": 2, "border_size": 0, "seed": 3,
     "model_shape": 19, "nope": (1, 2)},
])
def test_make_psf_model_image_same_image(kwargs):
    theirs = pu_psf.make_psf_model_image((90, 120),
                                         pu_psf.CircularGaussianPRF(fwhm=3),
                                         25, **kwargs)
    mine = pk.make_psf_model_image((90, 120), pk.CircularGaussianPRF(fwhm=3),
                                   25, **kwargs)
    assert type(mine[0]) is np.ndarray
    assert type(mine[1]) is QTable
    assert mine[1].colnames == theirs[1].colnames
    for name in theirs[1].colnames:
        assert_array_equal(mine[1][name], theirs[1][name])
    assert_allclose(mine[0], theirs[0], rtol=0, atol=1e-9 * theirs[0].max())


def test_make_psf_model_image_make_psf_model():
    """A `make_psf_model` model: its parameter names and an even box."""
    from astropy.modeling.models import Gaussian2D

    psf = pk.make_psf_model(Gaussian2D(x_stddev=1.5, y_stddev=1.5),
                            x_name="x_mean", y_name="y_mean")
    kwargs = {"model_shape": (12, 12), "seed": 2, "amplitude_3": (10, 20),
              "min_separation": 5}
    data, params = pk.make_psf_model_image((64, 64), psf, 5, **kwargs)
    ref, ref_params = pu_psf.make_psf_model_image((64, 64), psf, 5, **kwargs)
    assert params.colnames == ["id", "x_mean_2", "y_mean_2", "amplitude_3"]
    for name in ref_params.colnames:
        assert_array_equal(params[name], ref_params[name])
    # drawn over 13x13 boxes where photutils draws 12x12: the same to the
    # faint wings
    assert_allclose(data, ref, atol=1e-3 * ref.max())
    assert_allclose(data.sum(), params["amplitude_3"].sum(), rtol=1e-4)


def test_make_psf_model_image_crowded_and_errors():
    psf = pk.CircularGaussianPRF(fwhm=3)
    with pytest.warns(Warning) as theirs:
        ref = pu_psf.make_psf_model_image((40, 40), psf, 200,
                                          min_separation=8, seed=1)
    with pytest.warns(PsfkitWarning, match="Only 9 of the 200") as mine:
        got = pk.make_psf_model_image((40, 40), psf, 200, min_separation=8,
                                      seed=1)
    assert "Only 9 coordinates" in str(theirs[0].message)
    assert len(mine) == 1
    assert len(got[1]) == len(ref[1]) == 9
    with pytest.raises(ValueError, match="border_size"):
        pk.make_psf_model_image((20, 20), psf, 3, border_size=10)
    with pytest.raises(ValueError, match="flux must be a"):
        pk.make_psf_model_image((20, 20), psf, 3, flux=(1, 2, 3))
    with pytest.raises(ValueError, match="x_0, y_0 and flux"):
        pk.make_psf_model_image((20, 20), object(), 3)


# ---------------------------------------------------------- gaussian fits
@pytest.fixture(scope="module")
def five_stars():
    data, sources = pu_psf.make_psf_model_image(
        (100, 100), pu_psf.CircularGaussianPRF(), 5, min_separation=25,
        model_shape=(15, 15), flux=(100, 200), fwhm=[3, 8])
    return data, sources


def test_fit_2dgaussian_same_fits(five_stars):
    data, sources = five_stars
    for fix_fwhm in (True, False):
        kwargs = {"fit_shape": 7, "fix_fwhm": fix_fwhm}
        theirs = pu_psf.fit_2dgaussian(
            data, xypos=zip(sources["x_0"], sources["y_0"], strict=True), **kwargs)
        mine = pk.fit_2dgaussian(
            data, xypos=zip(sources["x_0"], sources["y_0"], strict=True), **kwargs)
        assert type(mine) is pk.PSFPhotometry
        a, b = theirs.results, mine.results
        assert b.colnames == a.colnames
        assert_array_equal(b["flux_init"], a["flux_init"])
        for name in ("x_fit", "y_fit"):
            assert_allclose(b[name], a[name], atol=1e-3)
        assert_allclose(b["flux_fit"], a["flux_fit"], rtol=1e-4)
    assert_allclose(b["fwhm_fit"], a["fwhm_fit"], rtol=1e-4)


def test_fit_fwhm_same_values(five_stars):
    data, sources = five_stars
    xypos = np.column_stack([sources["x_0"], sources["y_0"]])
    theirs = pu_psf.fit_fwhm(data, xypos=xypos, fit_shape=7)
    mine = pk.fit_fwhm(data, xypos=xypos, fit_shape=7)
    assert type(mine) is np.ndarray
    assert_allclose(mine, theirs, rtol=1e-5)
    # with a mask and errors too
    mask = np.zeros(data.shape, bool)
    mask[::7, ::5] = True
    error = np.full(data.shape, 0.01)
    assert_allclose(pk.fit_fwhm(data, xypos=xypos, fit_shape=9, mask=mask,
                                error=error),
                    pu_psf.fit_fwhm(data, xypos=xypos, fit_shape=9,
                                    mask=mask, error=error), rtol=1e-4)


def test_fit_fwhm_cutout():
    """One star of a cutout, no fit_shape: the cutout, with a warning."""
    yy, xx = np.mgrid[:51, :50]
    star = pk.CircularGaussianPRF(x_0=22.17, y_0=28.87, fwhm=3.123, flux=9.7)
    data = star(xx, yy)
    with pytest.warns(Warning, match="fit_shape=.51, 49."):
        theirs = pu_psf.fit_fwhm(data)
    with pytest.warns(PsfkitWarning, match="fit_shape=.51, 49."):
        mine = pk.fit_fwhm(data)
    assert_allclose(mine, theirs, rtol=1e-6)
    assert_allclose(mine, [3.123], rtol=1e-6)
    with pytest.raises(ValueError, match="fit_shape is required"):
        pk.fit_2dgaussian(data, xypos=[(10, 10), (20, 20)])


# ------------------------------------------------------------------ ePSF
@pytest.fixture(scope="module")
def epsf_field():
    data, truth = pu_psf.make_psf_model_image(
        (120, 120), pu_psf.CircularGaussianPRF(fwhm=3), 12,
        model_shape=(25, 25), flux=(5000, 20000), min_separation=20,
        border_size=12, seed=2)
    return data, QTable({"x": truth["x_0"], "y": truth["y_0"]})


def _same_stars(mine, theirs):
    assert len(mine) == len(theirs)
    for a, b in zip(theirs, mine, strict=True):
        assert_allclose(b.cutout_center, a.cutout_center, atol=1e-8)
        assert_allclose(b.origin, a.origin)
        assert_allclose(b.data, a.data)
        assert b.id_label == a.id_label


def test_extract_stars_photutils_spellings(epsf_field):
    from astropy.nddata import NDData

    data, cat = epsf_field
    nd = NDData(data)
    theirs = pu_psf.extract_stars(nd, catalogs=cat, size=15)
    _same_stars(pk.extract_stars(nd, catalogs=cat, size=15), theirs)
    with pytest.warns(PsfkitDeprecationWarning, match="use catalogs="):
        _same_stars(pk.extract_stars(nd, catalog=cat, size=15), theirs)
    with pytest.raises(TypeError, match="catalogs"):
        pk.extract_stars(nd, size=15)


def test_extract_stars_lists(epsf_field):
    from astropy.nddata import NDData

    data, cat = epsf_field
    other = np.roll(data, 3, axis=1)
    cat2 = cat.copy()
    cat2["x"] += 3
    images = [NDData(data), NDData(other)]
    theirs = pu_psf.extract_stars(images, [cat, cat2], size=15)
    mine = pk.extract_stars(images, [cat, cat2], size=15)
    _same_stars(mine, theirs)
    # arrays in a list too, and one image with a list of one catalogue
    _same_stars(pk.extract_stars([data, other], [cat, cat2], size=15),
                theirs)
    _same_stars(pk.extract_stars(data, [cat], size=15),
                pu_psf.extract_stars(NDData(data), [cat], size=15))
    with pytest.raises(ValueError, match="one catalogue per image"):
        pk.extract_stars(images, [cat], size=15)


def test_extract_stars_skycoord(epsf_field):
    from astropy.nddata import NDData
    from astropy.wcs import WCS

    data, cat = epsf_field
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [10.0, 20.0]
    wcs.wcs.crpix = [60.0, 60.0]
    wcs.wcs.cdelt = [-1e-4, 1e-4]
    sky = QTable({"skycoord": wcs.pixel_to_world(cat["x"], cat["y"])})
    nd = NDData(data, wcs=wcs)
    theirs = pu_psf.extract_stars(nd, sky, size=15)
    mine = pk.extract_stars(nd, sky, size=15)
    assert len(mine) == len(theirs) == len(cat)
    for a, b in zip(theirs, mine, strict=True):
        assert_allclose(b.cutout_center, a.cutout_center, atol=1e-6)
        assert_allclose(b.origin, a.origin)
    assert_allclose(mine.center_flat, np.column_stack([cat["x"], cat["y"]]),
                    atol=1e-6)
    with pytest.raises(ValueError, match="WCS"):
        pk.extract_stars(data, sky, size=15)


def test_epsf_builder_recentering_func(epsf_field):
    centroids = pytest.importorskip("photutils.centroids")
    data, cat = epsf_field
    stars = pk.extract_stars(data, cat, size=15)
    kwargs = {"oversampling": 2, "maxiters": 3, "progress_bar": False}
    default = pk.EPSFBuilder(**kwargs)(stars)
    com = pk.EPSFBuilder(recentering_func=centroids.centroid_com,
                         **kwargs)(stars)
    # photutils' default centroid is the centre of mass psfkit measures
    assert_allclose(com.epsf.data, default.epsf.data, rtol=1e-7,
                    atol=1e-10 * default.epsf.data.max())
    quad = pk.EPSFBuilder(recentering_func=centroids.centroid_quadratic,
                          **kwargs)(stars)
    assert_allclose(quad.fitted_stars.center_flat,
                    np.column_stack([cat["x"], cat["y"]]), atol=0.02)
    # photutils takes the same keyword
    pu_psf.EPSFBuilder(recentering_func=centroids.centroid_quadratic)
    with pytest.raises(TypeError, match="recentering_func"):
        pk.EPSFBuilder(recentering_func="com")


@pytest.mark.slow
def test_epsf_builder_crowded_cutouts_against_photutils():
    # stars at random positions, a quarter of their 25-pixel cutouts with
    # a neighbour in them, oversampling 2 with noise: psfkit's ePSF and
    # fluxes are at least as close to the truth as photutils'
    rng = np.random.default_rng(3)
    n, size, sigma = 80, 420, 1.6
    x = rng.uniform(15, size - 15, n)
    y = rng.uniform(15, size - 15, n)
    flux = rng.uniform(2e4, 1e5, n)
    yy, xx = np.mgrid[0:size, 0:size]
    data = np.zeros((size, size))
    for x0, y0, f in zip(x, y, flux, strict=True):
        data += pk.IntegratedGaussianPRF(sigma=sigma, x_0=x0, y_0=y0,
                                         flux=f)(xx, yy)
    data += rng.normal(0, 20.0, data.shape)
    cat = QTable({"x": x, "y": y})

    def scores(epsf, centers, fluxes):
        grid = np.asarray(epsf.data, dtype=float)
        grid = grid * 4 / grid.sum()
        ny, nx = grid.shape
        fy, fx = np.mgrid[0:ny, 0:nx]
        truth = pk.IntegratedGaussianPRF(sigma=sigma).evaluate(
            (fx - (nx - 1) / 2) / 2, (fy - (ny - 1) / 2) / 2, 1.0, 0.0, 0.0,
            sigma)
        truth *= 4 / truth.sum()
        d = np.hypot(centers[:, None, 0] - x[None],
                     centers[:, None, 1] - y[None])
        ratio = np.median(fluxes / flux[np.argmin(d, axis=1)])
        return np.abs(grid - truth).max() / truth.max(), ratio

    mine = pk.EPSFBuilder(oversampling=2, maxiters=20)(
        pk.extract_stars(data, cat, size=25))
    theirs = pu_psf.EPSFBuilder(oversampling=2, maxiters=20,
                                progress_bar=False)(
        pu_psf.extract_stars(NDData(data), cat, size=25))
    err, ratio = scores(mine.epsf, mine.fitted_stars.center_flat,
                        np.asarray(mine.fitted_stars.flux))
    p_err, p_ratio = scores(theirs.epsf,
                            np.asarray(theirs.fitted_stars.center_flat),
                            np.asarray(theirs.fitted_stars.flux))
    assert err <= p_err
    assert err < 0.04
    assert abs(ratio - 1) < 0.015 and abs(p_ratio - 1) < 0.015


# --------------------------------------------------------------- smaller
@pytest.mark.parametrize("kwargs", [{}, {"oversampling": 2},
                                    {"oversampling": (2, 3),
                                     "origin": (10.0, 11.5)}])
def test_image_psf_attributes(kwargs):
    yy, xx = np.mgrid[:25, :27]
    image = pu_psf.CircularGaussianPSF(x_0=13, y_0=12, fwhm=5.0)(xx, yy)
    theirs = pu_psf.ImagePSF(image, **kwargs)
    mine = pk.ImagePSF(image, **kwargs)
    assert mine.shape == theirs.shape == image.shape
    for name in ("oversampling", "origin"):
        assert type(getattr(mine, name)) is np.ndarray
        assert_array_equal(getattr(mine, name), getattr(theirs, name))


def test_results_npixfit_deprecated(pairs_image):
    """photutils 3.x reads its former ``npixfit`` name, with a warning."""
    from astropy.utils.exceptions import AstropyDeprecationWarning

    init = QTable({"x": [20.0, 60.0], "y": [20.0, 118.0]})
    tables = {}
    for name, module in (("photutils", pu_psf), ("psfkit", pk)):
        phot = module.PSFPhotometry(module.CircularGaussianPRF(fwhm=FWHM), 7,
                                    aperture_radius=3)
        table = _quiet(phot, pairs_image, init_params=init)
        with pytest.warns(AstropyDeprecationWarning, match="npixfit"):
            tables[name] = table["npixfit"]
        assert "npixfit" not in table.colnames
        assert isinstance(table, QTable)
    assert_array_equal(tables["psfkit"], tables["photutils"])
    assert tables["psfkit"].tolist() == [49, 35]
    # the iterative table too
    table = _quiet(_iterative(pk, "new"), pairs_image)
    with pytest.warns(PsfkitDeprecationWarning, match="use 'n_pixels_fit'"):
        assert_array_equal(table["npixfit"], table["n_pixels_fit"])
