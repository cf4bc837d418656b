"""
Fits at extreme value scales: results scale with the data.

Formed from raw values, the Gram matrix of the bases underflowed to zero
for data of order 1e-170 (nothing was subtracted, without a warning) and
overflowed for data of order 1e160 (``LinAlgError``).  The solvers now
work in units of powers of two near the data's norms.
"""

from hypothesis import given, settings
from hypothesis import strategies as st
import numpy as np
import pytest

from psfkit.fitpsf import (
    KLIP,
    LOCI,
    SimpleSubtraction,
    UseAllPixelsSubtraction,
    fitpsfcoeff,
)

FITTERS = [SimpleSubtraction, UseAllPixelsSubtraction, LOCI, KLIP]


def _data(seed=0, shape=(24, 26), n=6):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    star = np.exp(-((xx - 12.5) ** 2 + (yy - 11.5) ** 2) / 18.0)
    base = star * (1 + 0.1 * rng.normal(size=(n, 1, 1))) \
        + 0.05 * rng.normal(size=(n, *shape))
    image = base[:3].sum(axis=0) / 3 + 0.01 * rng.normal(size=shape)
    return base, image


def _fitter(cls, base):
    fitter = cls(base, bases_axis=0)
    fitter.sector_radius_n = 3
    fitter.sector_phi = 4
    fitter.dilation_region = 3
    return fitter


def _residuals(cls, base, image, n_images=2):
    """First use and cached-operator results of one fitter."""
    fitter = _fitter(cls, base)
    out = [fitter.remove_psf(image) for _ in range(n_images + 1)]
    return out[0], out[-1]


@pytest.mark.parametrize("cls", FITTERS)
@pytest.mark.parametrize("scale", [1e-170, 1e-300, 1e160, 1e300])
def test_extreme_scale_regression(cls, scale):
    # before: 1e-170 and 1e-300 subtracted nothing, 1e160 and 1e300 raised
    base, image = _data()
    want = _residuals(cls, base, image)[0]
    for got in _residuals(cls, base * scale, image * scale):
        assert not got.mask.any()
        assert np.all(np.isfinite(got.data))
        np.testing.assert_allclose(got.data / scale, want.data, rtol=0,
                                   atol=1e-9 * np.std(image))
    assert np.std(want) < 0.1 * np.std(image)       # the PSF was removed


@pytest.mark.parametrize("cls", FITTERS)
@pytest.mark.parametrize("exponent", [-1000, -700, -60, 1, 70, 900])
def test_power_of_two_scales_are_exact(cls, exponent):
    # multiplying by a power of two is exact, and so is every step after
    base, image = _data(seed=1)
    want_first, want_cached = _residuals(cls, base, image)
    scale = 2.0 ** exponent
    got_first, got_cached = _residuals(cls, base * scale, image * scale)
    assert np.array_equal(got_first.data, want_first.data * scale)
    assert np.array_equal(got_cached.data, want_cached.data * scale)


@settings(max_examples=30, deadline=None)
@given(base_exp=st.floats(-290, 290), image_exp=st.floats(-290, 290),
       seed=st.integers(0, 50))
def test_least_squares_scale_property(base_exp, image_exp, seed):
    # least squares does not care how bases and image are scaled, even
    # hundreds of orders of magnitude apart
    base, image = _data(seed=seed)
    want = _residuals(LOCI, base, image)
    s_base, s_image = 10.0 ** base_exp, 10.0 ** image_exp
    got = _residuals(LOCI, base * s_base, image * s_image)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g.data / s_image, w.data, rtol=0,
                                   atol=1e-8 * np.std(image))


@settings(max_examples=30, deadline=None)
@given(exp=st.floats(-300, 300), seed=st.integers(0, 50),
       cls=st.sampled_from(FITTERS))
def test_common_scale_property(exp, seed, cls):
    base, image = _data(seed=seed)
    want = _residuals(cls, base, image)
    scale = 10.0 ** exp
    got = _residuals(cls, base * scale, image * scale)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g.data / scale, w.data, rtol=0,
                                   atol=1e-8 * np.std(image))


@pytest.mark.parametrize("scale", [1e-200, 1.0, 1e200])
def test_plugins_called_directly_scale(scale):
    rng = np.random.default_rng(3)
    b = rng.normal(size=(300, 5))
    coeff = np.array([1.0, -2.0, 0.5, 3.0, 0.25])
    f = SimpleSubtraction(np.ones((1, 2, 2)))
    got = fitpsfcoeff.lstsq(f, (b @ coeff) * scale, b * scale)
    np.testing.assert_allclose(got, coeff, rtol=1e-12)
    # bases at 1e-200 and an image at 1: coefficients of 1e200
    got = fitpsfcoeff.lstsq(f, b @ coeff, b * scale)
    np.testing.assert_allclose(got * scale, coeff, rtol=1e-12)
    k = fitpsfcoeff.klip(f, (b @ coeff) * scale, b * scale)
    k1 = fitpsfcoeff.klip(f, b @ coeff, b)
    np.testing.assert_allclose(k, k1, rtol=1e-10)


def test_zero_base_column_is_not_mistaken_for_underflow():
    # a base that is exactly zero on the optimisation region is simply
    # unused; a tiny base is rescaled and used
    base, image = _data(seed=4)
    base[5] = 0.0
    got = SimpleSubtraction(base, image).remove_psf()
    want = SimpleSubtraction(base[:5], image).remove_psf()
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    base[5] = 1e-200 * base[0]
    got = SimpleSubtraction(base, image).remove_psf()
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
