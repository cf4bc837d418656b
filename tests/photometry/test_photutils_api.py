"""
psfkit's photutils 3.x API (`PSFPhotometry`, `IterativePSFPhotometry`)
against the truth of simulated fields: fitted values, the table layout,
flags, model and residual images, metadata, units, sky positions and the
errors raised for bad input.
"""

import warnings

from astropy.nddata import CCDData, NDData, StdDevUncertainty
from astropy.table import QTable, Table
import astropy.units as u
from astropy.utils.exceptions import AstropyDeprecationWarning, AstropyUserWarning
from astropy.wcs import WCS
import numpy as np
from numpy.testing import assert_allclose, assert_array_equal
import pytest

from psfkit.photometry import (
    BatchedLMFitter,
    CircularGaussianPRF,
    DAOStarFinder,
    IterativePSFPhotometry,
    LocalBackground,
    MMMBackground,
    PSFPhotometry,
    SourceGrouper,
    decode_psf_flags,
)
from psfkit.utils import NoDetectionsWarning

FWHM = 2.7
SKY = 5.0

#: photutils 3.x's output columns, in order
COLUMNS = ["id", "group_id", "group_size", "local_bkg", "x_init", "y_init",
           "flux_init", "x_fit", "y_fit", "flux_fit", "x_err", "y_err",
           "flux_err", "n_pixels_fit", "qfit", "cfit", "reduced_chi2",
           "flags"]


def _field(n=16, seed=3, shape=(96, 96), sky=0.0, noise=1.0):
    """Isolated stars on a grid, unit noise; the image and the truth."""
    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(n)))
    step = (shape[0] - 20) / max(side - 1, 1)
    grid = 10.0 + step * np.arange(side)
    gx, gy = np.meshgrid(grid, grid)
    x = gx.ravel()[:n] + rng.uniform(-1.5, 1.5, n)
    y = gy.ravel()[:n] + rng.uniform(-1.5, 1.5, n)
    flux = rng.uniform(800.0, 2500.0, n)
    model = CircularGaussianPRF(fwhm=FWHM)
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    image = np.full(shape, sky)
    for xi, yi, fi in zip(x, y, flux, strict=True):
        image += model.evaluate(xx, yy, fi, xi, yi, FWHM)
    image += rng.normal(0.0, noise, shape)
    return image, QTable({"x": x, "y": y, "flux": flux})


@pytest.fixture(scope="module")
def field():
    return _field()


def _phot(**kwargs):
    kwargs.setdefault("aperture_radius", 4)
    return PSFPhotometry(CircularGaussianPRF(fwhm=FWHM), (7, 7), **kwargs)


def _pulls(tbl, truth):
    order = np.argsort(tbl["id"])
    tbl = tbl[order]
    return ((tbl["x_fit"] - truth["x"]) / tbl["x_err"],
            (tbl["y_fit"] - truth["y"]) / tbl["y_err"],
            (tbl["flux_fit"] - truth["flux"]) / tbl["flux_err"])


def test_truth_within_errors(field):
    image, truth = field
    tbl = _phot()(image, error=np.ones_like(image),
                  init_params=truth["x", "y"])
    assert tbl.colnames == COLUMNS
    for pull in _pulls(tbl, truth):
        # 16 stars: every pull within 4 sigma, and the spread about 1
        assert np.all(np.abs(pull) < 4)
        assert 0.5 < np.std(pull) < 1.6
    assert_array_equal(tbl["flags"], 0)
    assert_allclose(np.median(tbl["reduced_chi2"]), 1.0, atol=0.15)
    assert_array_equal(tbl["n_pixels_fit"], 49)
    assert_array_equal(tbl["group_size"], 1)


def test_finder_and_grouper(field):
    image, truth = field
    phot = _phot(finder=DAOStarFinder(20.0, FWHM), grouper=SourceGrouper(6))
    tbl = phot(image)
    assert len(tbl) == len(truth)
    assert phot.finder_results is not None
    assert_array_equal(tbl["id"], np.arange(1, len(truth) + 1))
    dist = np.hypot(tbl["x_fit"][:, None] - truth["x"][None, :],
                    tbl["y_fit"][:, None] - truth["y"][None, :])
    assert np.all(dist.min(axis=1) < 0.1)
    # without errors the uncertainties come from the residual scatter
    assert np.all(np.isnan(tbl["reduced_chi2"]))
    assert np.all(tbl["flux_err"] > 0)


def test_init_params_aliases(field):
    image, truth = field
    first = _phot()(image, init_params=truth["x", "y"])
    for names in (("x_init", "y_init"), ("xcentroid", "ycentroid"),
                  ("x_centroid", "y_centroid"), ("x_0", "y_0"),
                  ("xcen", "ycen"), ("x_fit", "y_fit")):
        init = QTable({names[0]: truth["x"], names[1]: truth["y"]})
        tbl = _phot()(image, init_params=init)
        assert_allclose(tbl["flux_fit"], first["flux_fit"], rtol=1e-9)
    for name in ("flux_init", "flux", "flux_0", "flux_fit", "source_sum"):
        init = QTable({"x": truth["x"], "y": truth["y"], name: truth["flux"]})
        tbl = _phot(aperture_radius=None)(image, init_params=init)
        assert_allclose(tbl["flux_init"], truth["flux"])
        assert_allclose(tbl["flux_fit"], first["flux_fit"], rtol=1e-6)


def test_given_ids_groups_and_local_bkg(field):
    image, truth = field
    n = len(truth)
    init = QTable({"x": truth["x"], "y": truth["y"],
                   "id": np.arange(n)[::-1] + 10,
                   "group_id": np.repeat([1, 2], n // 2),
                   "local_bkg": np.full(n, 0.25)})
    tbl = _phot()(image, init_params=init)
    # rows come out in id order, as photutils joins them
    assert_array_equal(tbl["id"], np.arange(10, 10 + n))
    assert_array_equal(tbl["group_size"], n // 2)
    assert_allclose(tbl["local_bkg"], 0.25)


def test_local_background_estimator():
    image, truth = _field(sky=SKY)
    phot = _phot(local_bkg_estimator=LocalBackground(6, 10))
    tbl = phot(image, error=np.ones_like(image), init_params=truth["x", "y"])
    assert_allclose(tbl["local_bkg"], SKY, atol=0.3)
    for pull in _pulls(tbl, truth):
        assert np.all(np.abs(pull) < 5)
    # without the local background the flux absorbs the sky
    plain = _phot()(image, init_params=truth["x", "y"])
    assert np.all(plain["flux_fit"] > tbl["flux_fit"])


def test_extra_free_parameter(field):
    image, truth = field
    model = CircularGaussianPRF(fwhm=2.0)
    model.fwhm.fixed = False
    tbl = PSFPhotometry(model, (9, 9), aperture_radius=4)(
        image, init_params=truth["x", "y"])
    assert tbl.colnames[tbl.colnames.index("flux_init") + 1] == "fwhm_init"
    assert {"fwhm_fit", "fwhm_err"} <= set(tbl.colnames)
    assert_allclose(tbl["fwhm_init"], 2.0)
    assert_allclose(np.median(tbl["fwhm_fit"]), FWHM, atol=0.02)


def test_xy_bounds(field):
    image, truth = field
    init = QTable({"x": truth["x"] + 1.5, "y": truth["y"]})
    tbl = _phot(xy_bounds=(0.5, None))(image, init_params=init)
    assert np.all(np.abs(tbl["x_fit"] - tbl["x_init"]) <= 0.5 + 1e-9)
    # the centres end on their bound, and say so (bit 32)
    assert np.all(tbl["flags"] & 32)
    free = _phot(xy_bounds=3)(image, init_params=init)
    assert_allclose(free["x_fit"], truth["x"], atol=0.1)


def test_flags_and_decode():
    image, truth = _field(n=4)
    init = QTable({"x": [*truth["x"][:2], 200.0, 30.0],
                   "y": [*truth["y"][:2], 50.0, 1.0],
                   "flux": [1000.0, -50.0, 100.0, np.nan]})
    mask = np.zeros(image.shape, bool)
    mask[:3, 25:36] = True
    phot = _phot()
    tbl = phot(image, mask=mask, init_params=init)
    flags = tbl["flags"]
    assert flags[0] == 0
    assert flags[2] & 64  # no overlap with the image
    assert flags[3] & 1 and flags[3] & 1024  # partial box, NaN flux
    assert np.isnan(tbl["x_fit"][2]) and np.isnan(tbl["flux_fit"][3])
    names = phot.decode_flags()
    assert names[0] == []
    assert "no_overlap" in names[2]
    assert "non_finite_flux" in names[3]
    assert 64 in phot.decode_flags(return_bit_values=True)[2]
    assert names == decode_psf_flags(tbl["flags"])
    assert decode_psf_flags(1024 + 1) == ["n_pixels_fit_partial",
                                          "non_finite_flux"]
    with pytest.raises(ValueError, match="non-negative"):
        decode_psf_flags(-1)


def test_model_and_residual_images():
    image, truth = _field(n=4, noise=0.0)
    phot = _phot(local_bkg_estimator=LocalBackground(6, 10))
    data = image + SKY
    tbl = phot(data, init_params=truth["x", "y"])
    assert_allclose(tbl["flux_fit"], truth["flux"], rtol=1e-6)
    model = phot.make_model_image(image.shape)
    assert model.shape == image.shape
    # the stars' light within their drawn boxes (13x13 for this FWHM)
    assert_allclose(model, image, atol=1e-3 * truth["flux"].max())
    resid = phot.make_residual_image(data, include_local_bkg=True,
                                     psf_shape=(25, 25))
    assert_allclose(np.abs(resid).max(), SKY, atol=1e-3)
    near = np.zeros(image.shape, bool)
    for xi, yi in zip(truth["x"], truth["y"], strict=True):
        near[int(round(yi)) - 12:int(round(yi)) + 13,
             int(round(xi)) - 12:int(round(xi)) + 13] = True
    assert_allclose(resid[near], 0.0, atol=1e-3)
    with pytest.warns(AstropyDeprecationWarning, match="include_localbkg"):
        old = phot.make_model_image(image.shape, include_localbkg=True)
    assert_allclose(old, phot.make_model_image(image.shape,
                                               include_local_bkg=True))


def test_meta_and_attributes(field):
    image, truth = field
    phot = _phot(grouper=SourceGrouper(5))
    tbl = phot(image, init_params=truth["x", "y"])
    meta = tbl.meta
    assert meta["psf_class"] == "PSFPhotometry"
    assert "psfkit" in meta["version"] and "date" in meta
    assert meta["fit_shape"] == (7, 7)
    assert meta["aperture_radius"] == 4
    assert meta["grouper"] == repr(phot.grouper)
    assert meta["psf_model"] == repr(phot.psf_model)
    assert phot.results is tbl
    assert phot.init_params.colnames == ["id", "group_id", "local_bkg",
                                         "x_init", "y_init", "flux_init"]
    assert len(phot.fit_info) == len(tbl)
    assert set(phot.fit_info[0]) == {"n_iterations", "converged", "param_err"}
    init = phot.results_to_init_params()
    assert {"x_init", "y_init", "flux_init"} <= set(init.colnames)
    params = phot.results_to_model_params()
    assert {"x_0", "y_0", "flux"} <= set(params.colnames)
    assert "PSFPhotometry(psf_model=" in repr(phot)
    with pytest.warns(AstropyDeprecationWarning, match="fit_params"):
        assert phot.fit_params.colnames[:3] == ["id", "x_fit", "y_fit"]


def test_quantity_units(field):
    image, truth = field
    phot = _phot()
    plain = phot(image, init_params=truth["x", "y"])
    tbl = phot(image * u.Jy, error=np.ones(image.shape) * u.Jy,
               init_params=truth["x", "y"])
    assert phot.data_unit == u.Jy
    for name in ("local_bkg", "flux_init", "flux_fit", "flux_err"):
        assert tbl[name].unit == u.Jy
    assert not hasattr(tbl["x_fit"], "unit") or tbl["x_fit"].unit is None
    assert_allclose(tbl["flux_fit"].value, plain["flux_fit"], rtol=1e-6)
    resid = phot.make_residual_image(image * u.Jy)
    assert resid.unit == u.Jy
    init = QTable({"x": truth["x"], "y": truth["y"], "flux": truth["flux"]})
    with pytest.raises(ValueError, match="init_params flux column"):
        phot(image * u.Jy, init_params=init)
    init["flux"] = truth["flux"] * u.m
    with pytest.raises(ValueError, match="init_params flux column"):
        phot(image * u.Jy, init_params=init)


def _wcs(shape):
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [150.0, 2.0]
    wcs.wcs.crpix = [shape[1] / 2, shape[0] / 2]
    wcs.wcs.cdelt = [-1e-4, 1e-4]
    return wcs


def test_nddata_and_sky_centroid(field):
    image, truth = field
    wcs = _wcs(image.shape)
    ccd = CCDData(image, unit="electron", wcs=wcs,
                  uncertainty=StdDevUncertainty(np.ones_like(image)))
    phot = _phot()
    tbl = phot(ccd, init_params=truth["x", "y"])
    assert tbl["flux_fit"].unit == u.electron
    assert_allclose(np.median(tbl["reduced_chi2"]), 1.0, atol=0.15)
    sky = tbl["sky_centroid"]
    expect = wcs.pixel_to_world(tbl["x_fit"], tbl["y_fit"])
    assert_allclose(sky.ra.deg, expect.ra.deg)
    assert_allclose(sky.dec.deg, expect.dec.deg)
    # no celestial WCS, no column; an NDData mask is honoured
    mask = np.zeros(image.shape, bool)
    mask[:, :20] = True
    nd = NDData(image, mask=mask)
    tbl = phot(nd, init_params=truth["x", "y"])
    assert "sky_centroid" not in tbl.colnames
    assert np.all(tbl["n_pixels_fit"][truth["x"] < 10] < 49)
    resid = phot.make_residual_image(nd)
    assert isinstance(resid, NDData)


def test_iterative_finds_hidden_neighbours():
    """A faint star 3.5 px from each bright one appears in pass 2."""
    rng = np.random.default_rng(11)
    model = CircularGaussianPRF(fwhm=FWHM)
    yy, xx = np.mgrid[:80, :80]
    bright = [(20.0, 20.0), (55.0, 25.0), (30.0, 58.0)]
    x = np.array([p[0] for p in bright] + [p[0] + 3.5 for p in bright])
    y = np.array([p[1] for p in bright] + [p[1] + 0.5 for p in bright])
    flux = np.array([8000.0] * 3 + [900.0] * 3)
    image = rng.normal(0.0, 1.0, (80, 80))
    for xi, yi, fi in zip(x, y, flux, strict=True):
        image += model.evaluate(xx, yy, fi, xi, yi, FWHM)
    finder = DAOStarFinder(15.0, FWHM)
    for mode in ("all", "new"):
        phot = IterativePSFPhotometry(
            CircularGaussianPRF(fwhm=FWHM), (7, 7), finder, mode=mode,
            grouper=SourceGrouper(8), aperture_radius=4)
        tbl = phot(image, error=np.ones_like(image))
        assert tbl.colnames[:4] == ["id", "group_id", "group_size",
                                    "iter_detected"]
        assert len(tbl) == 6
        assert_array_equal(np.bincount(tbl["iter_detected"]), [0, 3, 3])
        assert len(phot.fit_results) >= 2
        assert tbl.meta["mode"] == mode and tbl.meta["maxiters"] == 3
        if mode == "all":
            # refitting everything together recovers the truth
            dist = np.hypot(tbl["x_fit"][:, None] - x, tbl["y_fit"][:, None] - y)
            match = dist.argmin(axis=1)
            assert np.all(dist.min(axis=1) < 0.1)
            assert np.all(np.abs(tbl["flux_fit"] - flux[match])
                          < 4 * tbl["flux_err"])
            resid = phot.make_residual_image(image)
            assert np.abs(resid).max() < 5


def test_iterative_nddata_and_no_sources(field):
    image, truth = field
    ccd = CCDData(image, unit="adu", wcs=_wcs(image.shape))
    phot = IterativePSFPhotometry(CircularGaussianPRF(fwhm=FWHM), 7,
                                  DAOStarFinder(20.0 * u.adu, FWHM),
                                  aperture_radius=4)
    tbl = phot(ccd)
    assert len(tbl) == len(truth)
    assert "sky_centroid" in tbl.colnames and tbl["flux_fit"].unit == u.adu
    with pytest.warns(NoDetectionsWarning):
        assert phot(np.zeros((30, 30)) * u.adu) is None


def test_fitters_agree(field):
    image, truth = field
    kwargs = {"init_params": truth["x", "y"]}
    sparse = _phot()(image, **kwargs)
    batched = _phot(fitter=BatchedLMFitter())(image, **kwargs)
    assert_allclose(batched["flux_fit"], sparse["flux_fit"], rtol=1e-5)
    assert_allclose(batched["x_fit"], sparse["x_fit"], atol=1e-5)
    fitting = pytest.importorskip("astropy.modeling.fitting")
    trf = _phot(fitter=fitting.TRFLSQFitter())(image, **kwargs)
    assert_allclose(trf["flux_fit"], sparse["flux_fit"], rtol=1e-4)
    assert_allclose(trf["x_fit"], sparse["x_fit"], atol=1e-4)


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"psf_model": 1}, TypeError, "psf_model must be an Astropy Model"),
    ({"fit_shape": (4, 3)}, ValueError, "fit_shape"),
    ({"finder": 1}, TypeError, "'finder' must be a callable"),
    ({"grouper": 1}, TypeError, "'grouper' must be a callable"),
    ({"fitter": 1}, TypeError, "'fitter' must be a callable"),
    ({"aperture_radius": -1}, ValueError, "aperture_radius"),
    ({"xy_bounds": (1, 2, 3)}, ValueError, "xy_bounds must have 1 or 2"),
    ({"xy_bounds": -1}, ValueError, "xy_bounds must be strictly positive"),
    ({"local_bkg_estimator": MMMBackground()}, TypeError,
     "local_bkg_estimator must be a LocalBackground"),
    ({"fitter_maxiters": 0}, ValueError, "fitter_maxiters"),
])
def test_bad_settings_name_the_argument(kwargs, error, match):
    args = {"psf_model": CircularGaussianPRF(fwhm=FWHM), "fit_shape": 5}
    args.update(kwargs)
    with pytest.raises(error, match=match):
        PSFPhotometry(args.pop("psf_model"), args.pop("fit_shape"), **args)
    # the same check when the attribute is set later
    phot = PSFPhotometry(CircularGaussianPRF(fwhm=FWHM), 5)
    name, value = next(iter(kwargs.items()))
    with pytest.raises(error, match=match):
        setattr(phot, name, value)


def test_bad_calls_name_the_argument():
    phot = _phot()
    data = np.ones((11, 11))
    tbl = Table({"x": [5.0], "y": [5.0]})
    with pytest.raises(ValueError, match="data must be a 2D array"):
        phot(np.ones(5), init_params=tbl)
    with pytest.raises(ValueError, match="data and error must have the same"):
        phot(data, error=np.ones((3, 3)), init_params=tbl)
    with pytest.raises(ValueError, match="data and mask must have the same"):
        phot(data, mask=np.ones((3, 3), bool), init_params=tbl)
    with pytest.raises(TypeError, match="init_params must be an astropy Table"):
        phot(data, init_params=1)
    with pytest.raises(ValueError, match="init_params must contain valid"):
        phot(data, init_params=Table({"a": [1]}))
    with pytest.raises(ValueError, match="finder must be defined"):
        phot(data)
    for gid, error in (([1.5], TypeError), ([0], ValueError)):
        bad = Table({"x": [5.0], "y": [5.0], "group_id": gid})
        with pytest.raises(error, match="group_id"):
            phot(data, init_params=bad)
    no_radius = _phot(aperture_radius=None)
    with pytest.raises(ValueError, match="aperture_radius must be defined"):
        no_radius(data, init_params=tbl)
    with pytest.raises(ValueError, match="No results available"):
        _phot().make_model_image((5, 5))
    nan = data.copy()
    nan[5, 5] = np.nan
    with pytest.warns(AstropyUserWarning, match="unmasked non-finite"):
        phot(nan, init_params=tbl)


def test_iterative_bad_settings():
    model = CircularGaussianPRF(fwhm=FWHM)
    finder = DAOStarFinder(5.0, FWHM)
    with pytest.raises(ValueError, match="finder cannot be None"):
        IterativePSFPhotometry(model, 5, None, aperture_radius=3)
    with pytest.raises(ValueError, match="aperture_radius cannot be None"):
        IterativePSFPhotometry(model, 5, finder)
    with pytest.raises(ValueError, match="mode"):
        IterativePSFPhotometry(model, 5, finder, aperture_radius=3, mode="x")
    with pytest.raises(ValueError, match="grouper must be input"):
        IterativePSFPhotometry(model, 5, finder, aperture_radius=3,
                               mode="all")
    with pytest.raises(ValueError, match="maxiters must be a strictly"):
        IterativePSFPhotometry(model, 5, finder, aperture_radius=3,
                               maxiters=0)
    phot = IterativePSFPhotometry(model, 5, finder, aperture_radius=3)
    with pytest.raises(ValueError, match="fit_shape"):
        phot.fit_shape = 4
    phot.fit_shape = 7
    assert phot.fit_shape == (7, 7)


def test_deprecated_localbkg_estimator():
    with pytest.warns(AstropyDeprecationWarning, match="localbkg_estimator"):
        phot = PSFPhotometry(CircularGaussianPRF(fwhm=FWHM), 5,
                             localbkg_estimator=LocalBackground(5, 8))
    assert isinstance(phot.local_bkg_estimator, LocalBackground)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        PSFPhotometry(CircularGaussianPRF(fwhm=FWHM), 5,
                      local_bkg_estimator=LocalBackground(5, 8))
