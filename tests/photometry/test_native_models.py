"""
photutils' PSF models fitted through psfkit's twins: the twin reproduces
the original, keeps its fixed flags and bounds, is refused where it would
differ, and the fits equal those with psfkit's own model.
"""

from astropy.nddata import NDData
from astropy.table import QTable
import numpy as np
from numpy.testing import assert_allclose
import pytest

from psfkit._numerics.gaussian import integrated_gaussian_image
from psfkit.photometry import CircularGaussianPRF, PSFPhotometry
from psfkit.photometry.models._native import native_model

pu = pytest.importorskip("photutils.psf")


def _stamp(sigma=1.7, half=12):
    yy, xx = np.mgrid[-half:half + 1, -half:half + 1]
    data = np.exp(-(xx**2 + yy**2) / (2 * sigma**2)) * (1 + 0.05 * np.cos(xx))
    return data / data.sum()


def _peer_models():
    stamp = _stamp()
    grid = NDData(np.array([stamp, 1.1 * stamp, 0.9 * stamp, stamp]),
                  meta={"grid_xypos": [(0, 0), (60, 0), (0, 60), (60, 60)],
                        "oversampling": 2})
    return [
        pu.CircularGaussianPRF(flux=30, x_0=4.2, y_0=5.1, fwhm=3.44),
        pu.CircularGaussianPSF(flux=30, x_0=4.2, y_0=5.1, fwhm=2.1),
        pu.CircularGaussianSigmaPRF(flux=30, x_0=4.2, y_0=5.1, sigma=1.3),
        pu.GaussianPRF(flux=30, x_0=4.2, y_0=5.1, x_fwhm=3, y_fwhm=2,
                       theta=30),
        pu.GaussianPSF(flux=30, x_0=4.2, y_0=5.1, x_fwhm=3, y_fwhm=2,
                       theta=30),
        pu.MoffatPSF(flux=30, x_0=4.2, y_0=5.1, alpha=2.0, beta=3.0),
        pu.AiryDiskPSF(flux=30, x_0=4.2, y_0=5.1, radius=2.0),
        pu.ImagePSF(stamp, flux=30, x_0=4.2, y_0=5.1, oversampling=2),
        pu.GriddedPSFModel(grid, flux=30, x_0=24.2, y_0=35.1),
        # bright borders, as ePSFs built from real cutouts have
        pu.GriddedPSFModel(
            NDData(grid.data + 0.2 * stamp.max(), meta=grid.meta),
            flux=30, x_0=44.2, y_0=15.1),
    ]


@pytest.mark.parametrize("peer", _peer_models(),
                         ids=lambda m: type(m).__name__)
def test_twin_reproduces_the_peer_model(peer):
    peer.flux.bounds = (0, None)
    peer.x_0.fixed = True
    twin = native_model(peer)
    assert type(twin).__module__.startswith("psfkit.")
    assert type(twin).__name__ == type(peer).__name__
    assert twin.param_names == peer.param_names
    assert dict(twin.fixed) == dict(peer.fixed)
    assert dict(twin.bounds) == dict(peer.bounds)
    assert_allclose(twin.parameters, peer.parameters)
    x0, y0 = peer.x_0.value, peer.y_0.value
    yy, xx = np.mgrid[-6:7, -6:7]
    x, y = xx + x0 + 0.3, yy + y0 - 0.2
    assert_allclose(twin(x, y), peer(x, y), rtol=0,
                    atol=1e-8 * np.max(peer(x, y)))


def test_when_a_twin_is_used():
    # psfkit's own models and models of other packages are used as given
    own = CircularGaussianPRF(fwhm=2.0)
    assert native_model(own) is own

    # a photutils model whose values a twin would not reproduce
    class CircularGaussianPRF_(pu.CircularGaussianPRF):
        def evaluate(self, x, y, flux, x_0, y_0, fwhm):
            return 1.01 * super().evaluate(x, y, flux, x_0, y_0, fwhm)

    CircularGaussianPRF_.__name__ = "CircularGaussianPRF"
    CircularGaussianPRF_.__module__ = "photutils.psf.elsewhere"
    changed = CircularGaussianPRF_(fwhm=2.0)
    assert native_model(changed) is changed

    # a model set to no flux still gets its twin (the profiles agree)
    dark = pu.CircularGaussianPRF(fwhm=2.0, flux=0.0)
    assert type(native_model(dark)).__module__.startswith("psfkit.")

    # an image with a bright border (an ePSF built from real cutouts): the
    # twin's spline ends as photutils' does, so it still agrees
    stamp = _stamp()
    bright = pu.ImagePSF(stamp + 0.15 * stamp.max(), oversampling=2,
                         x_0=3.2, y_0=-1.7)
    twin = native_model(bright)
    assert type(twin).__module__.startswith("psfkit.")
    rng = np.random.default_rng(3)
    x, y = rng.uniform(-9, 9, (2, 500))
    x += 3.2
    y -= 1.7
    assert_allclose(twin(x, y), bright(x, y), rtol=0,
                    atol=1e-11 * np.max(bright(x, y)))

    # ties refer to the original model
    tied = pu.CircularGaussianPRF(fwhm=2.0)
    tied.y_0.tied = lambda m: m.x_0
    assert native_model(tied) is tied


def test_fits_with_the_peer_model_equal_those_with_psfkit_model():
    rng = np.random.default_rng(5)
    # a jittered grid of stars 12 pixels apart
    gy, gx = np.mgrid[8:80:12, 8:80:12]
    x = gx.ravel() + rng.uniform(-1, 1, gx.size)
    y = gy.ravel() + rng.uniform(-1, 1, gx.size)
    flux = rng.uniform(500, 3000, gx.size)
    sigma = 3.44 / 2.3548200450309493
    clean = integrated_gaussian_image((80, 80), x, y, flux, sigma)
    error = np.sqrt(4.0 + clean)
    image = clean + rng.normal(size=clean.shape) * error
    init = QTable({"x": x + 0.3, "y": y - 0.2})
    tabs = []
    for model in (pu.CircularGaussianPRF(fwhm=3.44),
                  CircularGaussianPRF(fwhm=3.44)):
        phot = PSFPhotometry(model, (9, 9), aperture_radius=4)
        tabs.append(phot(image, error=error, init_params=init))
    peer_tab, own_tab = tabs
    for col in ("x_fit", "y_fit", "flux_fit", "x_err", "y_err", "flux_err"):
        assert_allclose(peer_tab[col], own_tab[col], rtol=1e-10)
    assert_allclose(peer_tab["flux_fit"], flux, rtol=0.1)
