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
