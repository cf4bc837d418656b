from astropy.table import QTable, Table
import numpy as np
from numpy.testing import assert_allclose, assert_array_equal
import pytest
from scipy import stats
from scipy.special import erf

from psfkit.datasets import (
    make_gaussian_sources,
    make_noise_image,
    make_random_gaussians,
)
from psfkit.utils import PsfkitDeprecationWarning


def one_source(**kw):
    t = Table()
    defaults = dict(flux=1000.0, x_mean=30.3, y_mean=25.7, x_stddev=2.0,
                    y_stddev=3.0, theta=0.4)
    defaults.update(kw)
    for key, value in defaults.items():
        t[key] = [value]
    return t


@pytest.mark.parametrize("oversample", [1, 4])
def test_flux_integrates_to_total(oversample):
    image = make_gaussian_sources((64, 64), one_source(), oversample=oversample)
    assert_allclose(image.sum(), 1000.0, rtol=1e-6)


def test_oversampled_matches_pixel_integral():
    # a circular Gaussian integrated over pixels has a closed form (erf)
    t = one_source(x_stddev=1.0, y_stddev=1.0, theta=0.0, x_mean=10.2, y_mean=9.6)
    image = make_gaussian_sources((20, 20), t, oversample=20)
    x = np.arange(20)
    ex = 0.5 * (erf((x - 10.2 + 0.5) / np.sqrt(2)) - erf((x - 10.2 - 0.5) / np.sqrt(2)))
    ey = 0.5 * (erf((x - 9.6 + 0.5) / np.sqrt(2)) - erf((x - 9.6 - 0.5) / np.sqrt(2)))
    truth = 1000.0 * ey[:, None] * ex[None, :]
    assert_allclose(image, truth, atol=1e-3 * truth.max())


@pytest.mark.parametrize(("oversample", "second_moment"), [
    # integrated over pixels (the default), a pixel's own width adds 1/12
    (None, 1.5**2 + 1.0 / 12.0),
    # sampled at pixel centres: sigma**2 itself
    (1, 1.5**2),
])
def test_pixel_centre_convention_and_moments(oversample, second_moment):
    t = one_source(x_mean=20.0, y_mean=12.0, x_stddev=1.5, y_stddev=1.5, theta=0.0)
    image = make_gaussian_sources((30, 40), t, oversample=oversample)
    yy, xx = np.indices(image.shape)
    assert image[12, 20] == image.max()
    assert_allclose((image * xx).sum() / image.sum(), 20.0, atol=1e-9)
    assert_allclose((image * yy).sum() / image.sum(), 12.0, atol=1e-9)
    assert_allclose((image * (xx - 20.0) ** 2).sum() / image.sum(),
                    second_moment, rtol=1e-6)


def test_default_integrates_over_pixels_exactly():
    # axis-aligned sources (theta = 0 or a quarter turn) against the closed
    # form: the product of two differences of error functions
    x = np.arange(30)
    for theta, (wx, wy) in ((0.0, (0.8, 1.7)), (np.pi / 2, (1.7, 0.8)),
                            (-np.pi, (0.8, 1.7))):
        t = one_source(x_mean=14.3, y_mean=15.8, x_stddev=0.8, y_stddev=1.7,
                       theta=theta, flux=500.0)
        image = make_gaussian_sources((30, 30), t)
        ex = 0.5 * (erf((x - 14.3 + 0.5) / (np.sqrt(2) * wx))
                    - erf((x - 14.3 - 0.5) / (np.sqrt(2) * wx)))
        ey = 0.5 * (erf((x - 15.8 + 0.5) / (np.sqrt(2) * wy))
                    - erf((x - 15.8 - 0.5) / (np.sqrt(2) * wy)))
        assert_allclose(image, 500.0 * ey[:, None] * ex[None, :],
                        rtol=1e-10, atol=1e-12)


def test_circular_sources_exact_at_any_angle():
    a = make_gaussian_sources((30, 30), one_source(x_mean=14.2, y_mean=15.6,
                                                   x_stddev=1.2, y_stddev=1.2,
                                                   theta=0.0))
    b = make_gaussian_sources((30, 30), one_source(x_mean=14.2, y_mean=15.6,
                                                   x_stddev=1.2, y_stddev=1.2,
                                                   theta=0.7))
    assert_array_equal(a, b)


@pytest.mark.parametrize("sigma", [0.3, 0.7, 2.0])
def test_rotated_sources_integrated_by_quadrature(sigma):
    # against a very fine sub-pixel average of the same rotated profile
    t = one_source(x_mean=20.4, y_mean=19.7, x_stddev=sigma, y_stddev=2 * sigma,
                   theta=0.6)
    image = make_gaussian_sources((40, 40), t)
    fine = make_gaussian_sources((40, 40), t, oversample=200)
    assert_allclose(image, fine, atol=2e-5 * image.max())
    assert_allclose(image.sum(), 1000.0, rtol=1e-6)


def test_fitted_fluxes_unbiased():
    # the least-squares flux of a pixel-integrated Gaussian PSF (psfkit's
    # IntegratedGaussianPRF model) on isolated, noiseless stars
    from psfkit._numerics.gaussian import integrated_gaussian

    rng = np.random.default_rng(11)
    n = 40
    t = Table({"flux": rng.uniform(500, 5000, n),
               "x_mean": 20.0 + 40.0 * np.arange(n) + rng.uniform(-0.5, 0.5, n),
               "y_mean": 20.0 + rng.uniform(-0.5, 0.5, n),
               "x_stddev": np.full(n, 1.5), "y_stddev": np.full(n, 1.5)})
    yy, xx = np.mgrid[0:40, 0:40 * n]

    def fitted(image):
        out = []
        for row in t:
            box = (slice(10, 31), slice(int(row["x_mean"]) - 10,
                                        int(row["x_mean"]) + 11))
            model, _ = integrated_gaussian(xx[box], yy[box], 1.0, row["x_mean"],
                                           row["y_mean"], 1.5)
            out.append(np.sum(model * image[box]) / np.sum(model * model))
        return np.array(out) / t["flux"]

    ratio = fitted(make_gaussian_sources((40, 40 * n), t))
    assert_allclose(ratio, 1.0, atol=1e-8)
    # what the default used to give: pixel-centre samples, fitted with the
    # integrated model at the true positions, come out 1.8% too bright at
    # sigma = 1.5 px (1.2% when positions are fitted too)
    biased = fitted(make_gaussian_sources((40, 40 * n), t, oversample=1))
    assert 0.015 < np.mean(biased) - 1 < 0.021


def test_rotation_theta_swaps_axes():
    a = make_gaussian_sources((41, 41), one_source(x_mean=20, y_mean=20, theta=0.0))
    b = make_gaussian_sources((41, 41), one_source(x_mean=20, y_mean=20,
                                                   theta=np.pi / 2))
    assert_allclose(a, b.T, atol=1e-10)


@pytest.mark.parametrize("theta", [np.pi / 4, 0.4, -1.1, 2.5])
def test_theta_turns_counter_clockwise_as_astropy(theta):
    # the pixel integral of astropy's Gaussian2D (counter-clockwise from
    # +x), by the mean of a 20 x 20 sub-pixel grid
    from astropy.modeling.models import Gaussian2D

    src = one_source(x_mean=20.3, y_mean=19.6, x_stddev=4.0, y_stddev=1.5,
                     theta=theta)
    image = make_gaussian_sources((41, 41), src)
    sub = (np.arange(20) + 0.5) / 20 - 0.5
    yy, xx = np.mgrid[:41, :41]
    model = Gaussian2D(1000.0 / (2 * np.pi * 4.0 * 1.5), 20.3, 19.6, 4.0, 1.5,
                       theta)
    expect = np.mean([model(xx + dx, yy + dy) for dx in sub for dy in sub],
                     axis=0)
    assert_allclose(image, expect, atol=2e-3 * expect.max())
    # the second moment: cov(x, y) = (sx^2 - sy^2) sin(2 theta) / 2
    w = image / image.sum()
    cov = np.sum(w * (xx - 20.3) * (yy - 19.6))
    assert cov == pytest.approx((16.0 - 2.25) * np.sin(2 * theta) / 2,
                                rel=0.02)


def test_amplitude_column():
    t = one_source()
    t.remove_column("flux")
    t["amplitude"] = [5.0]
    image = make_gaussian_sources((64, 64), t)
    assert_allclose(image.max(), 5.0, rtol=0.05)
    assert_allclose(image.sum(), 5.0 * 2 * np.pi * 2.0 * 3.0, rtol=1e-6)


def test_seed_four_star_example():
    sources = Table()
    sources["flux"] = [700, 800, 700, 800]
    sources["x_mean"] = [12, 17, 12, 17]
    sources["y_mean"] = [15, 15, 20, 20]
    sources["x_stddev"] = 2.0 * np.ones(4)
    sources["y_stddev"] = sources["x_stddev"]
    sources["theta"] = [0, 0, 0, 0]
    sources["id"] = [1, 2, 3, 4]
    tshape = (32, 32)
    stars = make_gaussian_sources(tshape, sources)
    image = (stars
             + make_noise_image(tshape, type="poisson", mean=6., random_state=1)
             + make_noise_image(tshape, type="gaussian", mean=0., stddev=2.,
                                random_state=1))
    assert image.shape == tshape
    assert_allclose(stars.sum(), 3000.0, rtol=1e-3)
    # the brightest pixel is at one of the four stars
    y, x = np.unravel_index(np.argmax(stars), tshape)
    assert (x, y) in {(12, 15), (17, 15), (12, 20), (17, 20)}


def test_sources_off_image_and_empty():
    image = make_gaussian_sources((10, 10), one_source(x_mean=500.0, y_mean=500.0))
    assert not image.any()
    empty = one_source()[:0]
    assert not make_gaussian_sources((10, 10), empty).any()


def test_bad_tables():
    with pytest.raises(TypeError, match="astropy Table"):
        make_gaussian_sources((10, 10), {"flux": [1]})
    t = one_source()
    t.remove_column("flux")
    with pytest.raises(ValueError, match="'flux' or an 'amplitude'"):
        make_gaussian_sources((10, 10), t)
    with pytest.raises(ValueError, match="x_stddev and y_stddev must be positive"):
        make_gaussian_sources((10, 10), one_source(x_stddev=0.0))
    t = one_source()
    t.remove_column("x_mean")
    with pytest.raises(ValueError, match="'x_mean' column"):
        make_gaussian_sources((10, 10), t)
    with pytest.raises(ValueError, match="shape"):
        make_gaussian_sources((0, 10), one_source())


def test_random_gaussians_reproducible_and_in_range():
    args = (200, (100, 1000), (0, 50), (10, 20), (1, 2), (3, 4))
    a = make_random_gaussians(*args, random_state=7)
    with pytest.warns(PsfkitDeprecationWarning, match="use random_state"):
        b = make_random_gaussians(*args, seed=7)
    c = make_random_gaussians(*args, random_state=8)
    assert isinstance(a, QTable)
    for name in a.colnames:
        assert_array_equal(a[name], b[name])
    assert not np.array_equal(a["flux"], c["flux"])
    assert a["flux"].min() >= 100 and a["flux"].max() <= 1000
    assert a["y_mean"].min() >= 10 and a["y_mean"].max() <= 20
    assert a["y_stddev"].min() >= 3 and a["y_stddev"].max() <= 4
    amp = make_random_gaussians(5, None, (0, 5), (0, 5), (1, 1), (1, 1),
                                amplitude_range=(1, 2), random_state=0)
    assert "amplitude" in amp.colnames and "flux" not in amp.colnames
    with pytest.raises(ValueError, match="low <= high"):
        make_random_gaussians(3, (10, 1), (0, 5), (0, 5), (1, 1), (1, 1))


def test_gaussian_noise_statistics():
    img = make_noise_image((500, 500), type="gaussian", mean=3.0, stddev=2.0,
                           random_state=0)
    n = img.size
    assert abs(img.mean() - 3.0) < 5 * 2.0 / np.sqrt(n)
    assert abs(img.std() - 2.0) < 5 * 2.0 / np.sqrt(2 * n)
    # normality: Kolmogorov-Smirnov against the requested distribution
    assert stats.kstest(img.ravel()[:20000], "norm", args=(3.0, 2.0)).pvalue > 1e-3


def test_poisson_noise_statistics():
    img = make_noise_image((500, 500), type="poisson", mean=6.0, random_state=0)
    assert_array_equal(img, np.round(img))
    assert img.min() >= 0
    n = img.size
    assert abs(img.mean() - 6.0) < 5 * np.sqrt(6.0 / n)
    assert abs(img.var() - 6.0) < 0.1
    # frequencies follow the Poisson pmf
    counts = np.bincount(img.astype(int).ravel(), minlength=20)[:15]
    expected = stats.poisson.pmf(np.arange(15), 6.0) * n
    assert np.all(np.abs(counts - expected) < 6 * np.sqrt(expected) + 5)


def test_noise_reproducible_and_errors():
    a = make_noise_image((20, 20), mean=0, stddev=1, random_state=3)
    with pytest.warns(PsfkitDeprecationWarning, match="use random_state"):
        b = make_noise_image((20, 20), mean=0, stddev=1, seed=3)
    assert_array_equal(a, b)
    with pytest.raises(ValueError, match="mean must be given"):
        make_noise_image((5, 5), type="poisson")
    with pytest.raises(ValueError, match="stddev must be given"):
        make_noise_image((5, 5), type="gaussian", mean=1.0)
    with pytest.raises(ValueError, match="type must be one of"):
        make_noise_image((5, 5), type="uniform", mean=1.0)
    with pytest.raises(ValueError, match="mean must be a non-negative"):
        make_noise_image((5, 5), type="poisson", mean=-1.0)
