"""The shared pixel-integrated Gaussian against direct numerical integration."""

from astropy.stats import gaussian_sigma_to_fwhm
import numpy as np
from numpy.testing import assert_allclose
import pytest
from scipy import integrate

from psfkit._numerics.gaussian import (
    FWHM_PER_SIGMA,
    SIGMA_PER_FWHM,
    integrated_gaussian,
    integrated_gaussian_grid,
    integrated_gaussian_image,
    pixel_integral_1d,
)


def test_constants_are_astropys():
    assert FWHM_PER_SIGMA == gaussian_sigma_to_fwhm
    assert_allclose(FWHM_PER_SIGMA * SIGMA_PER_FWHM, 1.0, rtol=1e-15)
    assert_allclose(FWHM_PER_SIGMA, 2 * np.sqrt(2 * np.log(2)), rtol=1e-15)


@pytest.mark.parametrize("sigma", [0.3, 1.0, 2.5])
@pytest.mark.parametrize("d", [0.0, 0.4, 1.7, 6.0])
def test_pixel_integral_against_quad(d, sigma):
    def g(t):
        return np.exp(-0.5 * (t / sigma) ** 2) / (np.sqrt(2 * np.pi) * sigma)

    ref = integrate.quad(g, d - 0.5, d + 0.5, epsabs=0, epsrel=1e-13)[0]
    value = pixel_integral_1d(np.array(d), sigma)[0]
    assert_allclose(0.5 * value, ref, rtol=1e-10)


@pytest.mark.parametrize("sigma", [0.4, 2.0, -1.3])
def test_grid_integral_shares_edges_without_losing_precision(sigma):
    # pixel grids evaluate the error function once per shared edge: the
    # values and both derivatives must equal the per-pixel integral to
    # rounding, far into the wings on both sides and across the centre
    from psfkit._numerics.gaussian import _grid_integral_1d

    rng = np.random.default_rng(3)
    centre = rng.uniform(-2.0, 2.0, size=(7, 2, 1))
    d = np.arange(-45.0, 46.0) - centre
    ref = pixel_integral_1d(d, sigma, jacobian=True)
    got = _grid_integral_1d(d, sigma, jacobian=True)
    for r, g in zip(ref, got, strict=True):
        # relative agreement wherever the value is representable
        keep = np.abs(r) > 1e-290
        assert keep.sum() > d.size // 4
        assert_allclose(g[keep], r[keep], rtol=1e-11, atol=0)
        assert np.all(g[~keep] == pytest.approx(0.0, abs=1e-280))
    value, d_offset, d_sigma = _grid_integral_1d(d, sigma, jacobian=True,
                                                 width=False)
    assert d_sigma is None
    assert_allclose(d_offset, ref[1], rtol=1e-11, atol=1e-300)
    assert _grid_integral_1d(d, sigma)[1:] == (None, None)


def test_grid_of_any_spacing_equals_pointwise():
    # unit-spaced grids take the shared-edge path, others the per-pixel
    # one; both must equal the pointwise evaluation
    par = [np.full((2, 1, 1), v) for v in (50.0, 3.3, 2.2, 1.2)]
    for cols in (np.arange(7.0), np.array([0.0, 1.0, 3.0, 4.5, 6.0])):
        rows = np.arange(5.0)
        c = np.broadcast_to(cols, (2, 1, len(cols)))
        r = np.broadcast_to(rows, (2, 1, len(rows)))
        values, jac = integrated_gaussian_grid(c, r, *par,
                                               wanted=(0, 1, 2, 3))
        x, y = np.meshgrid(cols, rows)
        ref, derivs = integrated_gaussian(x, y, 50.0, 3.3, 2.2, 1.2,
                                          jacobian=True)
        assert_allclose(values[0], ref.ravel(), rtol=1e-12)
        for k in range(4):
            assert_allclose(jac[1, :, k], derivs[k].ravel(), rtol=1e-11,
                            atol=1e-14)


def test_jacobian_against_finite_differences():
    x, y = np.meshgrid(np.arange(9.0), np.arange(9.0))
    p = np.array([100.0, 4.3, 3.8, 1.4])
    _, derivs = integrated_gaussian(x, y, *p, jacobian=True)
    for k in range(4):
        h = 1e-6 * max(1.0, abs(p[k]))
        up, dn = p.copy(), p.copy()
        up[k] += h
        dn[k] -= h
        num = (integrated_gaussian(x, y, *up)[0]
               - integrated_gaussian(x, y, *dn)[0]) / (2 * h)
        assert_allclose(derivs[k], num, rtol=1e-5, atol=1e-9)


def test_image_matches_direct_sum_and_flux():
    rng = np.random.default_rng(0)
    x, y = rng.uniform(-3, 40, 30), rng.uniform(-3, 30, 30)
    flux, sig = rng.uniform(10, 100, 30), rng.uniform(0.8, 2.0, 30)
    image = integrated_gaussian_image((28, 37), x, y, flux, sig)
    yy, xx = np.mgrid[0:28, 0:37]
    direct = sum(integrated_gaussian(xx, yy, f, xi, yi, s)[0]
                 for xi, yi, f, s in zip(x, y, flux, sig, strict=True))
    assert_allclose(image, direct, atol=1e-7 * flux.max())
    inside = integrated_gaussian_image((200, 200), 100.3, 99.6, 7.0, 1.5)
    assert_allclose(inside.sum(), 7.0, rtol=1e-8)


def test_image_elliptical_and_empty():
    image = integrated_gaussian_image((31, 31), 15.0, 15.0, 1.0, 1.0, 3.0)
    assert image[:, 15].sum() > image[15].sum()  # wider in y
    assert not integrated_gaussian_image((5, 4), [], [], [], 1.0).any()
