import copy
import pickle

from astropy.modeling import models as amodels
from astropy.modeling.fitting import LevMarLSQFitter, TRFLSQFitter
from astropy.nddata import NDData
import numpy as np
from numpy.testing import assert_allclose, assert_array_equal
import pytest
from scipy.special import erf

from psfkit.photometry import (
    GaussianPSF,
    GriddedPSFModel,
    ImagePSF,
    IntegratedGaussianPRF,
    MoffatPSF,
    PreparedPSFModel,
    evaluate_stack,
    prepare_psf_model,
)


def _grid(n, offset=0.0):
    yy, xx = np.mgrid[0:n, 0:n]
    return xx + offset, yy + offset


def _stack_coords(centers, half=7):
    """Each source's pixels: a (2 half + 1)^2 box around its centre."""
    yy, xx = np.mgrid[-half:half + 1, -half:half + 1]
    cx = np.round(np.asarray(centers)[:, 0])[:, None]
    cy = np.round(np.asarray(centers)[:, 1])[:, None]
    return xx.ravel()[None, :] + cx, yy.ravel()[None, :] + cy


def _check_jacobian_fd(model, params, x, y, *, rtol=1e-5):
    """Analytic jacobian against central differences, per parameter."""
    values, jac = evaluate_stack(model, x, y, params, jacobian=True)
    assert values.shape == x.shape
    assert jac.shape == (*x.shape, params.shape[1])
    for i in range(params.shape[1]):
        h = 1e-5 * np.maximum(np.abs(params[:, i]), 1.0)
        plus = params.copy()
        minus = params.copy()
        plus[:, i] += h
        minus[:, i] -= h
        fd = (evaluate_stack(model, x, y, plus)
              - evaluate_stack(model, x, y, minus)) / (2 * h[:, None])
        scale = np.max(np.abs(fd), axis=1, keepdims=True)
        assert np.all(scale > 0), model.param_names[i]
        err = np.abs(jac[..., i] - fd) / scale
        assert err.max() < rtol, (model.param_names[i], err.max())


# --------------------------------------------------------------------------
# IntegratedGaussianPRF


def _erf_closed_form(x, y, flux, x0, y0, sigma):
    s = np.sqrt(2.0) * sigma
    return (flux / 4.0 * (erf((x - x0 + 0.5) / s) - erf((x - x0 - 0.5) / s))
            * (erf((y - y0 + 0.5) / s) - erf((y - y0 - 0.5) / s)))


@pytest.mark.parametrize("sigma", [0.4, 1.0, 2.7])
def test_igprf_closed_form_and_flux(sigma):
    x, y = _grid(61)
    model = IntegratedGaussianPRF(sigma=sigma, x_0=30.37, y_0=29.81, flux=123.4)
    values = model(x, y)
    assert_allclose(values, _erf_closed_form(x, y, 123.4, 30.37, 29.81, sigma),
                    rtol=1e-12, atol=1e-12)
    assert_allclose(values.sum(), 123.4, rtol=1e-10)
    assert model.param_names == ("flux", "x_0", "y_0", "sigma")
    assert model.sigma.fixed
    assert_allclose(model.fwhm, 2 * np.sqrt(2 * np.log(2)) * sigma)


def test_igprf_far_wing_keeps_precision():
    from scipy.special import erfc
    model = IntegratedGaussianPRF(sigma=1.0)
    # pixels 9.5-10.5 sigma away on either side: a difference of erf values
    # there would cancel to zero, the model keeps full relative precision
    x = np.array([10.0, -10.0])
    s2 = np.sqrt(2.0)
    truth = (0.25 * (erfc(9.5 / s2) - erfc(10.5 / s2))
             * 2 * erf(0.5 / s2))
    assert truth > 0
    assert_allclose(model(x, np.zeros(2)), [truth, truth], rtol=1e-10)


def test_igprf_jacobian_matches_finite_differences():
    model = IntegratedGaussianPRF(sigma=1.3)
    params = np.array([[200.0, 10.3, 11.7, 1.3],
                       [55.0, 31.1, 8.4, 0.8],
                       [1.0, 50.49, 40.02, 2.2]])
    x, y = _stack_coords(params[:, 1:3], half=8)
    _check_jacobian_fd(model, params, x, y)


def test_negative_widths_give_the_same_profile():
    # a fitter may step a width through zero: the profile depends on its
    # absolute value and the derivatives stay exact
    x, y = _stack_coords(np.array([[10.3, 11.6]]), half=6)
    for model, params in [
        (IntegratedGaussianPRF(), np.array([[50.0, 10.3, 11.6, 1.2]])),
        (GaussianPSF(), np.array([[50.0, 10.3, 11.6, 3.0, 2.0, 20.0]])),
    ]:
        flipped = params.copy()
        flipped[:, 3] *= -1
        assert_allclose(evaluate_stack(model, x, y, flipped),
                        evaluate_stack(model, x, y, params), rtol=1e-12)
        _check_jacobian_fd(model, flipped, x, y)


def test_igprf_fit_deriv_equals_stack_jacobian():
    model = IntegratedGaussianPRF(sigma=1.5, x_0=5.2, y_0=4.9, flux=30)
    x, y = _grid(11)
    derivs = model.fit_deriv(x, y, *model.parameters)
    vals, jac = model.evaluate_stack(x.reshape(1, -1), y.reshape(1, -1),
                                     model.parameters[None, :], jacobian=True)
    assert_allclose(vals[0], model(x, y).ravel())
    for i, d in enumerate(derivs):
        assert d.shape == x.shape
        assert_allclose(jac[0, :, i], d.ravel())


def test_igprf_bounding_box_follows_sigma():
    model = IntegratedGaussianPRF(sigma=1.0, x_0=10, y_0=20)
    assert_allclose(model.bounding_box.bounding_box(), [[16, 24], [6, 14]])
    model.sigma = 2.0
    assert_allclose(model.bounding_box.bounding_box(), [[12, 28], [2, 18]])
    assert_allclose(model.bounding_box(factor=1),
                    [[18, 22], [8, 12]])
    model.sigma.fixed = False
    assert_allclose(model.bounding_box.bounding_box(), [[12, 28], [2, 18]])
    # rendering uses the box
    assert model.render().shape == (17, 17)


def test_igprf_positional_order():
    model = IntegratedGaussianPRF(1.5, 3.0, 4.0, 100.0)
    assert_allclose([model.sigma.value, model.x_0.value, model.y_0.value,
                     model.flux.value], [1.5, 3.0, 4.0, 100.0])


def test_igprf_bad_sigma():
    with pytest.raises(ValueError, match="sigma"):
        IntegratedGaussianPRF(sigma=-1.0)


def test_igprf_matches_photutils():
    psf = pytest.importorskip("photutils.psf")
    x, y = _grid(25)
    ours = IntegratedGaussianPRF(sigma=1.7, x_0=12.3, y_0=11.6, flux=321.0)
    peer = psf.CircularGaussianSigmaPRF(flux=321.0, x_0=12.3, y_0=11.6,
                                        sigma=1.7)
    assert_allclose(ours(x, y), peer(x, y), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("fitter", [LevMarLSQFitter, TRFLSQFitter])
def test_igprf_astropy_fit_with_free_sigma(fitter):
    x, y = _grid(21)
    truth = IntegratedGaussianPRF(sigma=1.6, x_0=10.27, y_0=9.61, flux=1000.0)
    rng = np.random.default_rng(3)
    data = truth(x, y) + rng.normal(0, 0.05, x.shape)
    init = IntegratedGaussianPRF(sigma=1.2, x_0=10.0, y_0=10.0, flux=800.0)
    init.sigma.fixed = False
    fit = fitter()(init, x, y, data)
    assert_allclose(fit.parameters, truth.parameters, rtol=2e-3)


def test_igprf_astropy_fit_fixed_sigma():
    x, y = _grid(15)
    truth = IntegratedGaussianPRF(sigma=1.1, x_0=7.4, y_0=6.8, flux=50.0)
    init = IntegratedGaussianPRF(sigma=1.1, x_0=7.0, y_0=7.0, flux=40.0)
    fit = LevMarLSQFitter()(init, x, y, truth(x, y))
    assert_allclose(fit.parameters, truth.parameters, rtol=1e-6)
    assert fit.sigma.value == 1.1


@pytest.mark.parametrize("model", [
    IntegratedGaussianPRF(sigma=1.4, x_0=3, y_0=4, flux=7),
    GaussianPSF(flux=7, x_0=3, y_0=4, x_fwhm=3, y_fwhm=2, theta=20),
    MoffatPSF(flux=7, x_0=3, y_0=4, alpha=2, beta=3),
])
def test_pickle_and_copy(model):
    x, y = _grid(9)
    for other in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model),
                  model.copy()):
        assert other.param_names == model.param_names
        assert_allclose(other(x, y), model(x, y))
        assert [p.fixed for p in map(other.__getattribute__,
                                     other.param_names)] == [
            p.fixed for p in map(model.__getattribute__, model.param_names)]


# --------------------------------------------------------------------------
# GaussianPSF and MoffatPSF


def _elliptical_truth(x, y, flux, x0, y0, fx, fy, theta_deg):
    # independent form: quadratic form with the rotated covariance matrix
    c = 2 * np.sqrt(2 * np.log(2))
    t = np.deg2rad(theta_deg)
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    cov = rot @ np.diag([(fx / c) ** 2, (fy / c) ** 2]) @ rot.T
    icov = np.linalg.inv(cov)
    d = np.stack([x - x0, y - y0], axis=-1)
    q = np.einsum("...i,ij,...j->...", d, icov, d)
    return flux * np.exp(-0.5 * q) / (2 * np.pi * np.sqrt(np.linalg.det(cov)))


def test_gaussian_psf_values_and_flux():
    x, y = _grid(81)
    model = GaussianPSF(flux=42.0, x_0=40.2, y_0=39.7, x_fwhm=6.0, y_fwhm=3.5,
                        theta=35.0)
    assert_allclose(model(x, y),
                    _elliptical_truth(x, y, 42.0, 40.2, 39.7, 6.0, 3.5, 35.0),
                    rtol=1e-10, atol=1e-14)
    assert_allclose(model(x, y).sum(), 42.0, rtol=1e-6)
    assert model.param_names == ("flux", "x_0", "y_0", "x_fwhm", "y_fwhm",
                                 "theta")
    assert_allclose(model.fwhm, np.sqrt(6.0 * 3.5))


def test_gaussian_psf_bounding_box_contains_ellipse():
    model = GaussianPSF(x_0=0, y_0=0, x_fwhm=6.0, y_fwhm=2.0, theta=90.0)
    (ylo, yhi), (xlo, xhi) = model.bounding_box.bounding_box()
    s = 1 / (2 * np.sqrt(2 * np.log(2)))
    # rotated by 90 degrees: the long axis is along y
    assert_allclose([yhi, xhi], [5.5 * 6.0 * s, 5.5 * 2.0 * s])


def test_gaussian_psf_jacobian():
    model = GaussianPSF()
    params = np.array([[100.0, 10.3, 11.7, 3.0, 2.1, 25.0],
                       [5.0, 30.6, 8.1, 2.2, 4.0, -70.0]])
    x, y = _stack_coords(params[:, 1:3], half=8)
    _check_jacobian_fd(model, params, x, y)


def test_moffat_values_flux_and_fwhm():
    model = MoffatPSF(flux=3.0, x_0=150.3, y_0=149.6, alpha=2.0, beta=3.5)
    x, y = _grid(301)
    r2 = (x - 150.3) ** 2 + (y - 149.6) ** 2
    truth = 3.0 * 2.5 / (np.pi * 4.0) * (1 + r2 / 4.0) ** -3.5
    assert_allclose(model(x, y), truth, rtol=1e-12)
    # the flux outside a radius-150 circle is (1 + 150^2/4)^-2.5 ~ 1e-9; the
    # integral is checked on a 4x finer grid (a sampled profile this sharp
    # aliases at the 5e-4 level on the pixel grid)
    h = 0.25
    yf, xf = np.mgrid[0:300 + h / 2:h, 0:300 + h / 2:h]
    assert_allclose(model(xf, yf).sum() * h * h, 3.0, rtol=1e-6)
    # a broader profile sums to its flux on the pixel grid itself
    broad = MoffatPSF(flux=3.0, x_0=150.3, y_0=149.6, alpha=4.0, beta=4.0)
    assert_allclose(broad(x, y).sum(), 3.0, rtol=1e-6)
    # the profile at fwhm/2 is half of the peak
    half = model.fwhm / 2
    assert_allclose(model(150.3 + half, 149.6) / model(150.3, 149.6), 0.5)
    astropy_moffat = amodels.Moffat2D(gamma=2.0, alpha=3.5)
    assert_allclose(model.fwhm, astropy_moffat.fwhm)


def test_moffat_bounding_box_and_validation():
    model = MoffatPSF(alpha=2.0, beta=2.5)
    (ylo, yhi), _ = model.bounding_box.bounding_box()
    # photutils' box: bbox_factor (10) FWHMs on each side
    assert_allclose(yhi, 10 * model.fwhm)
    x, y = _grid(2001, offset=-1000.0)
    values = model(x, y)
    inside = (np.abs(x) <= yhi) & (np.abs(y) <= yhi)
    # less flux outside the square than outside its inscribed circle
    assert values[~inside].sum() < (1 + yhi**2 / 4.0) ** (1 - 2.5)
    model.bbox_factor = 20
    assert_allclose(model.bounding_box.bounding_box()[0][1], 20 * model.fwhm)
    with pytest.raises(ValueError, match="beta"):
        MoffatPSF(beta=1.0)
    with pytest.raises(ValueError, match="alpha"):
        MoffatPSF(alpha=0.0)


def test_moffat_jacobian():
    model = MoffatPSF()
    params = np.array([[100.0, 10.3, 11.7, 2.5, 2.8],
                       [5.0, 30.6, 8.1, 1.4, 4.5]])
    x, y = _stack_coords(params[:, 1:3], half=8)
    _check_jacobian_fd(model, params, x, y)


@pytest.mark.parametrize("fitter", [LevMarLSQFitter, TRFLSQFitter])
def test_gaussian_and_moffat_fit(fitter):
    x, y = _grid(31)
    truth = MoffatPSF(flux=500, x_0=15.3, y_0=14.8, alpha=2.5, beta=3.0)
    init = MoffatPSF(flux=400, x_0=15, y_0=15, alpha=2.0, beta=2.5)
    # the shape is fixed by default (as in photutils): free it to fit it
    init.alpha.fixed = init.beta.fixed = False
    fit = fitter()(init, x, y, truth(x, y))
    assert_allclose(fit.parameters, truth.parameters, rtol=1e-5)
    truth = GaussianPSF(flux=500, x_0=15.3, y_0=14.8, x_fwhm=5, y_fwhm=3.5,
                        theta=20)
    init = GaussianPSF(flux=400, x_0=15, y_0=15, x_fwhm=4, y_fwhm=4, theta=10)
    init.x_fwhm.fixed = init.y_fwhm.fixed = init.theta.fixed = False
    fit = fitter()(init, x, y, truth(x, y))
    assert_allclose(fit.parameters, truth.parameters, rtol=1e-5)


# --------------------------------------------------------------------------
# module-level evaluate_stack


def test_evaluate_stack_generic_with_fit_deriv():
    model = amodels.Gaussian2D()
    params = np.array([[2.0, 5.1, 4.9, 1.5, 1.2, 0.3],
                       [1.0, 20.3, 7.7, 2.5, 1.0, -0.5]])
    x, y = _stack_coords(params[:, 1:3], half=6)
    values, jac = evaluate_stack(model, x, y, params, jacobian=True)
    for i in range(2):
        single = amodels.Gaussian2D(*params[i])
        assert_allclose(values[i], single(x[i], y[i]))
        derivs = single.fit_deriv(x[i], y[i], *params[i])
        assert_allclose(jac[i], np.stack(derivs, axis=-1), atol=1e-14)


def test_evaluate_stack_generic_finite_differences():
    # AiryDisk2D has no fit_deriv: the jacobian comes from finite differences
    model = amodels.AiryDisk2D()
    assert model.fit_deriv is None
    params = np.array([[3.0, 5.2, 4.9, 3.0], [1.0, 20.3, 7.7, 4.0]])
    x, y = _stack_coords(params[:, 1:3], half=6)
    values, jac = evaluate_stack(model, x, y, params, jacobian=True)
    h = 1e-4
    for j in range(4):
        plus = params.copy()
        plus[:, j] += h
        minus = params.copy()
        minus[:, j] -= h
        fd = (model.evaluate(x, y, *plus.T[:, :, None])
              - model.evaluate(x, y, *minus.T[:, :, None])) / (2 * h)
        assert_allclose(jac[..., j], fd, rtol=1e-5,
                        atol=1e-6 * np.abs(fd).max())
    assert_allclose(values[1], amodels.AiryDisk2D(*params[1])(x[1], y[1]))


def test_evaluate_stack_input_errors():
    model = IntegratedGaussianPRF()
    x = np.zeros((2, 5))
    with pytest.raises(ValueError, match="params must have shape"):
        evaluate_stack(model, x, x, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="params has 3 rows"):
        evaluate_stack(model, x, x, np.zeros((3, 4)))
    with pytest.raises(ValueError, match="2-D arrays"):
        evaluate_stack(model, np.zeros(5), np.zeros(5), np.zeros((1, 4)))
    with pytest.raises(TypeError, match="2-D astropy model"):
        evaluate_stack(amodels.Gaussian1D(), x, x, np.zeros((2, 3)))


# --------------------------------------------------------------------------
# ImagePSF and GriddedPSFModel


def _fine_gaussian(sigma, oversampling, half_size):
    """A unit-flux Gaussian sampled on an oversampled grid, centred."""
    n = 2 * half_size * oversampling + 1
    c = (n - 1) / 2
    yy, xx = np.mgrid[0:n, 0:n]
    r2 = ((xx - c) ** 2 + (yy - c) ** 2) / oversampling ** 2
    return np.exp(-r2 / (2 * sigma ** 2)) / (2 * np.pi * sigma ** 2)


def test_image_psf_reproduces_gaussian_at_any_subpixel_shift():
    sigma = 1.5
    psf = ImagePSF(_fine_gaussian(sigma, 4, 10), oversampling=4,
                   normalize=True)
    truth = GaussianPSF(x_fwhm=sigma * 2.3548200450309493,
                        y_fwhm=sigma * 2.3548200450309493)
    x, y = _grid(25)
    peak = 1 / (2 * np.pi * sigma ** 2)
    worst = 0.0
    for sx in np.linspace(0, 1, 9):
        for sy in np.linspace(0, 1, 7):
            for m in (psf, truth):
                m.x_0 = 12 + sx
                m.y_0 = 12 + sy
            worst = max(worst, np.abs(psf(x, y) - truth(x, y)).max() / peak)
    assert worst < 0.005
    # normalised: data.sum() / oversampling**2 == 1
    assert_allclose(psf.data.sum() / 16, 1.0, rtol=1e-12)


def test_image_psf_sums_to_flux():
    psf = ImagePSF(_fine_gaussian(2.0, 4, 14), oversampling=4, flux=250.0,
                   normalize=True)
    x, y = _grid(41)
    for x0, y0 in [(20.0, 20.0), (20.37, 19.81), (19.5, 20.25)]:
        psf.x_0, psf.y_0 = x0, y0
        assert_allclose(psf(x, y).sum(), 250.0, rtol=1e-6)


def test_image_psf_oversampling_pair_origin_and_normalize():
    # a different oversampling along x and y, and an off-centre origin
    osy, osx = 2, 5
    ny, nx = 31, 61
    yy, xx = np.mgrid[0:ny, 0:nx]
    ox, oy = 28.0, 16.0
    image = np.exp(-(((xx - ox) / osx) ** 2 + ((yy - oy) / osy) ** 2) / 2.0)
    psf = ImagePSF(image, oversampling=(osy, osx), origin=(ox, oy),
                   normalize=False, x_0=3.0, y_0=4.0)
    assert_array_equal(psf.oversampling, (osy, osx))
    assert_array_equal(psf.origin, (ox, oy))
    assert_allclose(psf.data, image)
    # at detector position (x_0 + 1.2, y_0 - 0.5): image point ox + 6, oy - 1
    assert_allclose(psf(4.2, 3.5), image[int(oy) - 1, int(ox) + 6], rtol=1e-12)
    (ylo, yhi), (xlo, xhi) = psf.bounding_box.bounding_box()
    assert_allclose([xlo, xhi], [3.0 + (-0.5 - ox) / osx,
                                 3.0 + (nx - 0.5 - ox) / osx])
    assert_allclose([ylo, yhi], [4.0 + (-0.5 - oy) / osy,
                                 4.0 + (ny - 0.5 - oy) / osy])
    # far outside the image the model is zero
    assert psf(100.0, 100.0) == 0.0


def test_image_psf_fwhm_estimate():
    psf = ImagePSF(_fine_gaussian(2.0, 4, 12), oversampling=4)
    assert_allclose(psf.fwhm, 2.0 * 2.3548200450309493, rtol=0.02)


def test_image_psf_jacobian():
    psf = ImagePSF(_fine_gaussian(1.3, 3, 8), oversampling=3)
    params = np.array([[120.0, 10.31, 11.77], [8.0, 30.6, 8.05],
                       [1.0, 5.5, 5.5]])
    x, y = _stack_coords(params[:, 1:3], half=7)
    _check_jacobian_fd(psf, params, x, y)


def test_image_psf_fit_with_astropy():
    psf = ImagePSF(_fine_gaussian(1.8, 4, 10), oversampling=4)
    truth = GaussianPSF(flux=900, x_0=10.41, y_0=9.63, x_fwhm=1.8 * 2.35482,
                        y_fwhm=1.8 * 2.35482)
    x, y = _grid(21)
    psf.x_0, psf.y_0, psf.flux = 10.0, 10.0, 800.0
    fit = TRFLSQFitter()(psf, x, y, truth(x, y))
    assert_allclose([fit.x_0.value, fit.y_0.value], [10.41, 9.63], atol=2e-3)
    assert_allclose(fit.flux.value, 900, rtol=2e-3)


@pytest.mark.parametrize("bad, match", [
    (np.where(np.eye(5) > 0, np.nan, 1.0), "finite and unmasked"),
    (np.full((5, 5), np.nan), "no usable values"),
    (np.zeros(5), "2-D"),
    (np.zeros((5, 5)), "cannot be normalised"),
])
def test_image_psf_bad_data(bad, match):
    with pytest.raises(ValueError, match=match):
        ImagePSF(bad, normalize=True)


def test_image_psf_bad_options():
    image = _fine_gaussian(1.0, 2, 4)
    with pytest.raises(ValueError, match="oversampling"):
        ImagePSF(image, oversampling=0)
    with pytest.raises(ValueError, match="origin"):
        ImagePSF(image, origin=(1.0, 2.0, 3.0))


def _grid_stack(widths, oversampling=2, half=8):
    return np.array([_fine_gaussian(w, oversampling, half) for w in widths])


def test_gridded_psf_nddata_and_explicit_arrays():
    widths = [1.2, 1.6, 2.0, 1.4, 1.8, 2.2]
    xypos = [(0, 0), (50, 0), (100, 0), (0, 80), (50, 80), (100, 80)]
    stack = _grid_stack(widths)
    from_meta = GriddedPSFModel(
        NDData(stack, meta={"grid_xypos": xypos, "oversampling": 2}))
    explicit = GriddedPSFModel(stack, grid_xypos=xypos, oversampling=2)
    assert from_meta.grid_shape == (2, 3)
    assert_allclose(from_meta.grid_xypos, xypos)
    x, y = _grid(21)
    for model in (from_meta, explicit):
        # at a node: the image of that node
        node = ImagePSF(stack[4], oversampling=2)
        for m in (model, node):
            m.x_0, m.y_0 = 50.0, 80.0
        assert_allclose(model(x + 40, y + 70), node(x + 40, y + 70),
                        atol=1e-14)
        # bilinear inside a cell
        model.x_0, model.y_0 = 62.5, 20.0
        tx, ty = 0.25, 0.25
        singles = []
        for k in (1, 2, 4, 5):
            single = ImagePSF(stack[k], oversampling=2, x_0=62.5, y_0=20.0)
            singles.append(single(x + 52, y + 10))
        expected = ((1 - tx) * (1 - ty) * singles[0] + tx * (1 - ty) * singles[1]
                    + (1 - tx) * ty * singles[2] + tx * ty * singles[3])
        assert_allclose(model(x + 52, y + 10), expected, atol=1e-14)
        # outside the grid: the nearest edge images
        model.x_0, model.y_0 = -30.0, 200.0
        corner = ImagePSF(stack[3], oversampling=2, x_0=-30.0, y_0=200.0)
        assert_allclose(model(x - 40, y + 190), corner(x - 40, y + 190),
                        atol=1e-14)
    mean_psf = ImagePSF(from_meta.data.mean(axis=0), oversampling=2)
    assert from_meta.fwhm == mean_psf.fwhm
    assert 2.3548 * min(widths) < from_meta.fwhm < 2.3548 * max(widths)


def test_gridded_psf_jacobian_and_flux():
    stack = _grid_stack([1.2, 1.6, 2.0, 1.4], half=10)
    model = GriddedPSFModel(stack, grid_xypos=[(0, 0), (40, 0), (0, 40),
                                               (40, 40)], oversampling=2)
    params = np.array([[50.0, 13.3, 27.6], [3.0, 31.2, 4.4],
                       [7.0, -3.2, 44.9]])
    x, y = _stack_coords(params[:, 1:3], half=9)
    _check_jacobian_fd(model, params, x, y)
    xs, ys = _grid(41)
    model.flux, model.x_0, model.y_0 = 7.0, 13.3, 27.6
    assert_allclose(model(xs, ys).sum(), 7.0, rtol=1e-6)


def test_gridded_psf_errors():
    stack = _grid_stack([1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="grid_xypos is required"):
        GriddedPSFModel(stack)
    with pytest.raises(ValueError, match="rectangular grid"):
        GriddedPSFModel(stack, grid_xypos=[(0, 0), (1, 0), (0, 1)])
    with pytest.raises(ValueError, match="shape"):
        GriddedPSFModel(stack, grid_xypos=[(0, 0), (1, 0)])
    with pytest.raises(ValueError, match="3-D"):
        GriddedPSFModel(stack[0], grid_xypos=[(0, 0)])


def test_image_models_pickle_copy_and_stack():
    stack = _grid_stack([1.2, 1.6], half=6)
    models = [ImagePSF(stack[0], oversampling=2, flux=3, x_0=5, y_0=6),
              GriddedPSFModel(stack, grid_xypos=[(0, 0), (10, 0)],
                              oversampling=2, flux=3, x_0=5, y_0=6)]
    x, y = _grid(12)
    for model in models:
        for other in (pickle.loads(pickle.dumps(model)), model.copy()):
            assert_allclose(other(x, y), model(x, y))
        values = model.evaluate_stack(x.reshape(1, -1), y.reshape(1, -1),
                                      model.parameters[None, :])
        assert_allclose(values[0], model(x, y).ravel())


# --------------------------------------------------------------------------
# prepare_psf_model


def test_prepare_psf_model_with_parameter_names():
    g = amodels.Gaussian2D(amplitude=2.0, x_mean=3.0, y_mean=4.0, x_stddev=2.0,
                           y_stddev=1.5, theta=0.4)
    psf = prepare_psf_model(g, x_name="x_mean", y_name="y_mean",
                            flux_name="amplitude")
    assert isinstance(psf, PreparedPSFModel)
    assert psf.param_names == ("flux", "x_0", "y_0")
    # initially equal to the wrapped model; flux is its integral
    x, y = _grid(31, offset=-12.0)
    assert_allclose(psf(x, y), g(x, y), rtol=1e-6)
    assert_allclose(psf.flux.value, 2.0 * 2 * np.pi * 2.0 * 1.5, rtol=1e-6)
    psf.flux, psf.x_0, psf.y_0 = 10.0, 15.3, 14.6
    truth = GaussianPSF(flux=10.0, x_0=15.3, y_0=14.6, x_fwhm=2.0 * 2.35482004,
                        y_fwhm=1.5 * 2.35482004, theta=np.rad2deg(0.4))
    xx, yy = _grid(31)
    assert_allclose(psf(xx, yy), truth(xx, yy), rtol=1e-6, atol=1e-12)


def test_prepare_psf_model_shift_mode_and_jacobian():
    # no names: the model is shifted and scaled; Moffat2D has no bounding
    # box, so the normalisation is integrated over the whole plane
    m = amodels.Moffat2D(amplitude=5.0, gamma=2.0, alpha=3.0)
    psf = prepare_psf_model(m)
    assert_allclose(psf.flux.value, 5.0 * np.pi * 4.0 / 2.0, rtol=1e-6)
    psf.flux, psf.x_0, psf.y_0 = 1.0, 0.3, -0.2
    truth = MoffatPSF(flux=1.0, x_0=0.3, y_0=-0.2, alpha=2.0, beta=3.0)
    x, y = _grid(21, offset=-10.0)
    assert_allclose(psf(x, y), truth(x, y), rtol=1e-6)
    params = np.array([[40.0, 10.3, 11.7], [2.0, 30.6, 8.1]])
    xs, ys = _stack_coords(params[:, 1:3], half=6)
    _, jac = psf.evaluate_stack(xs, ys, params, jacobian=True)
    _, jac_truth = evaluate_stack(truth, xs, ys, np.column_stack(
        [params, np.full(2, 2.0), np.full(2, 3.0)]), jacobian=True)
    assert_allclose(jac, jac_truth[..., :3], rtol=1e-6,
                    atol=1e-7 * np.abs(jac_truth).max())
    fit = LevMarLSQFitter()(psf, x, y, truth(x, y) * 3.0)
    assert_allclose(fit.parameters, [3.0, 0.3, -0.2], rtol=1e-5, atol=1e-6)
    assert_allclose(pickle.loads(pickle.dumps(psf))(x, y), psf(x, y))


def test_prepare_psf_model_no_renormalize_and_errors():
    g = amodels.Gaussian2D(amplitude=2.0, x_stddev=1.0, y_stddev=1.0)
    psf = prepare_psf_model(g, renormalize=False)
    assert psf.flux.value == 1.0
    assert_allclose(psf(0.5, 0.5), g(0.5, 0.5))
    with pytest.raises(ValueError, match="x_name=.x0."):
        prepare_psf_model(g, x_name="x0")
    with pytest.raises(TypeError, match="2-D astropy model"):
        prepare_psf_model(amodels.Gaussian1D())
