"""Lanczos-3 warping and image differencing of pairs with different WCSs."""

import warnings

from astropy.nddata import NDData, VarianceUncertainty
from astropy.wcs import WCS
import numpy as np
import pytest
from scipy.special import erf

from psfkit.diffim import (
    ImagePsfMatch,
    NoKernelCandidatesError,
    PsfMatchConfig,
    align_template,
    lanczos_kernel,
    lanczos_resample,
    pixel_mapping,
    warp_image,
    wcs_differ,
)
from psfkit.utils import PsfkitWarning

SHAPE = (256, 256)
SCALE = 0.2 / 3600  # degrees per pixel


def make_wcs(rotation_deg=0.0, crpix=(128.5, 128.5), scale=SCALE):
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [150.0, 2.0]
    w.wcs.crpix = list(crpix)
    t = np.deg2rad(rotation_deg)
    w.wcs.cd = scale * np.array([[-np.cos(t), np.sin(t)],
                                 [np.sin(t), np.cos(t)]])
    return w


def render(shape, x, y, flux, sigma):
    """Pixel-integrated circular Gaussians (erf profiles)."""
    ny, nx = shape
    image = np.zeros(shape)
    r = int(6 * sigma) + 1
    s2 = np.sqrt(2) * sigma
    for xi, yi, f in zip(x, y, flux, strict=True):
        xs = np.arange(int(round(xi)) - r, int(round(xi)) + r + 1)
        ys = np.arange(int(round(yi)) - r, int(round(yi)) + r + 1)
        px = 0.5 * (erf((xs + 0.5 - xi) / s2) - erf((xs - 0.5 - xi) / s2))
        py = 0.5 * (erf((ys + 0.5 - yi) / s2) - erf((ys - 0.5 - yi) / s2))
        okx = (xs >= 0) & (xs < nx)
        oky = (ys >= 0) & (ys < ny)
        image[np.ix_(ys[oky], xs[okx])] += f * np.outer(py[oky], px[okx])
    return image


@pytest.fixture(scope="module")
def misaligned_pair():
    """Science on one WCS; the template rotated by 12 degrees and shifted by
    a few pixels, with a sharper PSF and less noise."""
    rng = np.random.default_rng(1)
    n = 250
    ws = make_wcs()
    wt = make_wcs(12.0, (131.2, 125.9))
    xs = rng.uniform(-20, SHAPE[1] + 20, n)
    ys = rng.uniform(-20, SHAPE[0] + 20, n)
    flux = 3e3 / (1 - rng.uniform(0, 1, n) * (1 - 3e3 / 3e5))
    xt, yt = wt.world_to_pixel_values(*ws.pixel_to_world_values(xs, ys))
    mt = render(SHAPE, xt, yt, flux, 1.06) + 200.0
    ms = render(SHAPE, xs, ys, 1.2 * flux, 1.49) + 300.0
    vt = mt / 16 + 25
    vs = ms / 4 + 25
    template = NDData(mt + rng.normal(size=SHAPE) * np.sqrt(vt),
                      uncertainty=VarianceUncertainty(vt), wcs=wt)
    science = NDData(ms + rng.normal(size=SHAPE) * np.sqrt(vs),
                     uncertainty=VarianceUncertainty(vs), wcs=ws)
    return template, science, (xs, ys, flux)


def test_lanczos_kernel_values():
    t = np.array([0.0, 1.0, 2.0, 2.9999, 3.0, 3.5, -1.5])
    expect = np.where(np.abs(t) < 3, np.sinc(t) * np.sinc(t / 3), 0.0)
    assert np.allclose(lanczos_kernel(t), expect)
    assert lanczos_kernel(0.5) == pytest.approx(
        np.sin(np.pi / 2) / (np.pi / 2) * np.sin(np.pi / 6) / (np.pi / 6))


def test_resample_integer_shift_is_exact():
    rng = np.random.default_rng(0)
    img = rng.normal(size=(40, 50))
    yy, xx = np.mgrid[0:40, 0:50].astype(float)
    v, bad, _ = lanczos_resample(img, xx + 2, yy - 3)
    ok = ~bad
    assert np.allclose(v[ok], np.roll(img, (3, -2), (0, 1))[ok], atol=1e-12)
    # at integer positions only the central tap has weight: exactly the
    # pixels whose source lies outside the image are flagged
    assert bad[:, -2:].all() and bad[:3].all()
    assert not bad[3:, :-2].any()


def test_resample_matches_brute_force_loop():
    rng = np.random.default_rng(3)
    img = rng.normal(size=(30, 30))
    var = rng.uniform(1, 2, size=(30, 30))
    x = rng.uniform(5, 24, 20)
    y = rng.uniform(5, 24, 20)
    v, bad, vv = lanczos_resample(img, x, y, variance=var)
    for i in range(20):
        xs = np.arange(int(np.floor(x[i])) - 2, int(np.floor(x[i])) + 4)
        ys = np.arange(int(np.floor(y[i])) - 2, int(np.floor(y[i])) + 4)
        wx = np.sinc(x[i] - xs) * np.sinc((x[i] - xs) / 3)
        wy = np.sinc(y[i] - ys) * np.sinc((y[i] - ys) / 3)
        w = np.outer(wy / wy.sum(), wx / wx.sum())
        assert v[i] == pytest.approx((w * img[np.ix_(ys, xs)]).sum(), abs=1e-12)
        assert vv[i] == pytest.approx((w * var[np.ix_(ys, xs)]).sum(), abs=1e-12)
    assert not bad.any()


def test_smooth_image_interpolated_accurately():
    yy, xx = np.mgrid[0:64, 0:64].astype(float)
    f = np.sin(xx / 5.0) * np.cos(yy / 7.0)
    x = np.linspace(10, 50, 30) + 0.37
    y = np.linspace(12, 48, 30) + 0.61
    v, _, _ = lanczos_resample(f, x, y)
    # a wave of period ~31 pixels: Lanczos-3 is good to a few 1e-3
    assert np.abs(v - np.sin(x / 5.0) * np.cos(y / 7.0)).max() < 5e-3


def test_warp_conserves_flux_with_scale_change():
    """A pixel scale change of 1.3 between the grids: the flux of a star is
    conserved and it lands where the WCSs put it."""
    src_wcs = make_wcs(scale=SCALE)
    dst_wcs = make_wcs(7.0, (100.0, 95.0), scale=1.3 * SCALE)
    img = render((200, 200), [90.3], [110.6], [1e4], 2.0)
    out = warp_image(NDData(img, wcs=src_wcs), dst_wcs, (200, 200))
    assert np.median(out.jacobian) == pytest.approx(1.3 ** 2, rel=1e-4)
    assert out.image.data.sum() == pytest.approx(1e4, rel=2e-3)
    xd, yd = dst_wcs.world_to_pixel_values(
        *src_wcs.pixel_to_world_values(90.3, 110.6))
    d = out.image.data
    yy, xx = np.mgrid[0:200, 0:200]
    assert (d * xx).sum() / d.sum() == pytest.approx(float(xd), abs=0.02)
    assert (d * yy).sum() / d.sum() == pytest.approx(float(yd), abs=0.02)


def test_warp_carries_mask_and_variance():
    w = make_wcs()
    shifted = make_wcs(0.0, (130.0, 127.0))
    img = np.ones(SHAPE)
    mask = np.zeros(SHAPE, dtype=bool)
    mask[100, 100] = True
    var = np.full(SHAPE, 9.0)
    out = warp_image(NDData(img, wcs=w, mask=mask,
                            uncertainty=VarianceUncertainty(var)),
                     shifted, SHAPE).image
    # target pixel (x, y) sees source (x - 1.5, y + 1.5); source pixel
    # (100, 100) has a non-zero weight for source positions within 3 pixels
    assert out.mask[96:102, 99:105].all()
    assert not out.mask[95, 99:105].any() and not out.mask[102, 99:105].any()
    assert not out.mask[96:102, 98].any() and not out.mask[96:102, 105].any()
    good = ~out.mask
    assert np.allclose(out.data[good], 1.0)
    assert np.allclose(out.uncertainty.array[good], 9.0)
    # the strip with no source pixels is masked
    assert out.mask[:, :1].all() and out.mask[-1:].all()


def test_wcs_differ_and_align():
    w = make_wcs()
    assert not wcs_differ(w, make_wcs(), SHAPE)
    assert wcs_differ(w, make_wcs(0.01), SHAPE)
    img = np.zeros(SHAPE)
    same, warped = align_template(NDData(img, wcs=w), NDData(img, wcs=make_wcs()))
    assert not warped and same.data is img
    assert align_template(NDData(img, wcs=w), img)[1] is False
    _, warped = align_template(NDData(img, wcs=w), NDData(img, wcs=w), True)
    assert warped
    with pytest.raises(ValueError, match="science has no WCS"):
        align_template(NDData(img, wcs=w), img, True)
    with pytest.raises(ValueError, match="warp must be None, True or False"):
        align_template(img, img, "yes")


def test_subtraction_of_rotated_shifted_pair(misaligned_pair):
    template, science, (xs, ys, flux) = misaligned_pair
    cfg = PsfMatchConfig(size_cell_x=64, size_cell_y=64, kernel_size_min=11)
    res = ImagePsfMatch(cfg).subtract_images(template, science)
    assert res.warped and "warp" in res.timings
    assert abs(res.difference_std - 1) < 0.1
    assert abs(res.kernel_sum / 1.2 - 1) < 0.01
    d = res.difference
    z = d.data / np.sqrt(d.uncertainty.array)
    # no star residuals: around the brightest stars |z| behaves like noise
    inside = (xs > 15) & (xs < 240) & (ys > 15) & (ys < 240)
    brightest = np.argsort(-np.where(inside, flux, 0))[:20]
    values = []
    for i in brightest:
        r, c = int(round(ys[i])), int(round(xs[i]))
        box = (slice(r - 3, r + 4), slice(c - 3, c + 4))
        if not d.mask[box].any():
            values.append(z[box].ravel())
    values = np.concatenate(values)
    assert len(values) >= 10 * 49
    assert abs(np.std(values) - 1) < 0.25
    assert np.abs(values).max() < 6


def test_warp_false_fails_on_misaligned_pair(misaligned_pair):
    """Without the warp no star of the rotated template lines up with the
    science image, so no kernel candidate survives."""
    template, science, _ = misaligned_pair
    cfg = PsfMatchConfig(size_cell_x=64, size_cell_y=64, kernel_size_min=11)
    with warnings.catch_warnings():
        # the misaligned stars also look wider in the template
        warnings.simplefilter("ignore", PsfkitWarning)
        with pytest.raises(NoKernelCandidatesError):
            ImagePsfMatch(cfg).subtract_images(template, science, warp=False)


class _StepWCS:
    """A duck-typed WCS whose mapping jumps by half a pixel at x = 150."""

    def pixel_to_world_values(self, x, y):
        x = np.asarray(x, dtype=float)
        return x + 0.5 * (x > 150), np.asarray(y, dtype=float)

    def world_to_pixel_values(self, a, b):
        return np.asarray(a, dtype=float), np.asarray(b, dtype=float)


def test_pixel_mapping_interpolation_is_checked():
    src = make_wcs(scale=SCALE)
    dst = make_wcs(20.0, (140.0, 170.0), scale=1.1 * SCALE)
    fast = pixel_mapping(src, dst, (300, 320))
    exact = pixel_mapping(src, dst, (300, 320), step=1)
    assert np.abs(fast[0] - exact[0]).max() < 1e-4
    assert np.abs(fast[1] - exact[1]).max() < 1e-4
    # a mapping the spline cannot follow falls back to the exact one
    step = _StepWCS()
    x, _ = pixel_mapping(step, step, (300, 320))
    cols = np.arange(320.0)
    assert np.array_equal(x[0], cols + 0.5 * (cols > 150))


def test_warped_template_without_variance_keeps_its_noise():
    """Background-limited pair (noise 20 in the template, 5 in the science
    image) without uncertainties: the variance given to the warped
    template is the noise it had before the warp, which the Lanczos
    correlation would hide from an estimate after it, so the variance of
    the difference describes its scatter."""
    rng = np.random.default_rng(3)
    ws = make_wcs()
    wt = make_wcs(12.0, (131.2, 125.9))
    n = 150
    xs = rng.uniform(0, SHAPE[1] - 1, n)
    ys = rng.uniform(0, SHAPE[0] - 1, n)
    flux = 1 / (1 / 3e3 - rng.uniform(0, 1, n) * (1 / 3e3 - 1 / 3e5))
    xt, yt = wt.world_to_pixel_values(*ws.pixel_to_world_values(xs, ys))
    science = render(SHAPE, xs, ys, 1.2 * flux, 3.5 / 2.3548) + 300
    template = render(SHAPE, xt, yt, flux, 2.5 / 2.3548) + 200
    science += rng.normal(size=SHAPE) * 5.0
    template += rng.normal(size=SHAPE) * 20.0
    cfg = PsfMatchConfig(size_cell_x=64, size_cell_y=64, kernel_size_min=11,
                         spatial_kernel_order=1)
    res = ImagePsfMatch(cfg).subtract_images(NDData(template, wcs=wt),
                                             NDData(science, wcs=ws))
    assert res.warped
    d = res.difference
    good = ~d.mask
    sigma = np.sqrt(np.median(d.uncertainty.array[good]))
    values = d.data[good]
    scatter = 1.4826 * np.median(np.abs(values - np.median(values)))
    assert abs(sigma / scatter - 1) < 0.04
    assert abs(res.difference_std - 1) < 0.04
    # a template with an uncertainty keeps it
    given = align_template(NDData(template, wcs=wt, uncertainty=(
        VarianceUncertainty(np.full(SHAPE, 400.0)))), NDData(science, wcs=ws))
    expected = 400.0 * warp_image(NDData(template, wcs=wt), ws,
                                  SHAPE).jacobian ** 2
    inner = ~given[0].mask
    assert np.allclose(given[0].uncertainty.array[inner], expected[inner])
