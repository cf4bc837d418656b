"""ADI reduction, fake companions, SNR and contrast curves."""

import numpy as np
import pytest
from scipy import stats

from psfkit.datasets import make_adi_sequence
from psfkit.fitpsf import (
    KLIP,
    LOCI,
    SimpleSubtraction,
    adi_subtract,
    aperture_sums,
    classical_adi,
    contrast_curve,
    derotate_cube,
    inject_planet,
    snr,
)

FWHM = 4.0


@pytest.fixture(scope="module")
def sequence():
    return make_adi_sequence(random_state=1, mask_radius=4)


def test_make_adi_sequence_truth():
    cube, parangs, truth = make_adi_sequence(
        n_frames=6, shape=(41, 45), planets=[(10.0, 0.0, 0.01)],
        star_flux=1e4, n_speckles=0, halo_fraction=0.0, noise_std=0.0,
        strehl_variation=0.0, parang_range=(0, 90), random_state=3)
    assert cube.shape == (6, 41, 45)
    np.testing.assert_allclose(parangs, np.linspace(0, 90, 6))
    xc, yc = truth.meta["center"]
    assert (xc, yc) == (22.0, 20.0)
    assert truth["x"][0] == pytest.approx(32.0) and truth["y"][0] == 20.0
    assert truth["flux"][0] == pytest.approx(100.0)
    # without speckles and noise: star + companion exactly; the companion
    # sits at the rotated position in every frame
    for i, pa in enumerate(parangs):
        frame = cube[i] - inject_planet(np.zeros((41, 45)), (xc, yc), 1e4,
                                        fwhm=FWHM)
        x = xc + 10 * np.cos(np.deg2rad(pa))
        y = yc + 10 * np.sin(np.deg2rad(pa))
        np.testing.assert_allclose(frame.sum(), 100.0, rtol=1e-4)
        yy, xx = np.mgrid[0:41, 0:45]
        assert np.sum(frame * xx) / frame.sum() == pytest.approx(x, abs=1e-3)
        assert np.sum(frame * yy) / frame.sum() == pytest.approx(y, abs=1e-3)


def test_make_adi_sequence_mask_and_errors():
    cube, _, _ = make_adi_sequence(n_frames=3, shape=(21, 21), mask_radius=3,
                                   random_state=0)
    assert np.isnan(cube[:, 10, 10]).all() and np.isfinite(cube[:, 0, 0]).all()
    with pytest.raises(ValueError, match="planets"):
        make_adi_sequence(planets=[(1.0, 2.0)])
    with pytest.raises(ValueError, match="fwhm"):
        make_adi_sequence(fwhm=-1)


def test_derotate_brings_companion_back():
    cube, parangs, truth = make_adi_sequence(
        n_frames=5, shape=(41, 41), planets=[(12.0, 70.0, 0.05)],
        star_flux=1e3, n_speckles=0, halo_fraction=0.0, noise_std=0.0,
        strehl_variation=0.0, random_state=0)
    star = inject_planet(np.zeros((41, 41)), (20.0, 20.0), 1e3, fwhm=FWHM)
    der = derotate_cube(cube - star, parangs)
    yy, xx = np.mgrid[0:41, 0:41]
    for frame in der:
        f = frame.filled(0.0)
        assert np.sum(f * xx) / f.sum() == pytest.approx(truth["x"][0], abs=0.05)
        assert np.sum(f * yy) / f.sum() == pytest.approx(truth["y"][0], abs=0.05)
    with pytest.raises(ValueError, match="parangs must have one angle"):
        derotate_cube(cube, parangs[:2])


def test_derotate_masks_every_pixel_its_spline_reaches():
    # the input pixels an output pixel interpolates, computed here from
    # the rotation: output q samples the input at c + R(parang) (q - c)
    n = 23
    rng = np.random.default_rng(2)
    bad = rng.random((n, n)) < 0.03
    bad[9:13, 10:12] = True
    cube = np.where(bad, np.nan, 1.0)[None]
    yy, xx = np.mgrid[0:n, 0:n]
    for parang in (0.0, 33.0, 90.0):
        t = np.deg2rad(parang)
        sx = 11 + np.cos(t) * (xx - 11) - np.sin(t) * (yy - 11)
        sy = 11 + np.sin(t) * (xx - 11) + np.cos(t) * (yy - 11)
        by, bx = np.nonzero(bad)
        for order in range(6):
            half = (order + 1) / 2
            # (less a rounding margin: at 90 degrees sample points fall
            # on pixel centres up to 1e-15)
            reached = ((np.abs(sx[..., None] - bx) < half - 1e-9)
                       & (np.abs(sy[..., None] - by) < half - 1e-9)).any(axis=-1)
            mask = derotate_cube(cube, [parang], order=order).mask[0]
            assert not (reached & ~mask).any(), (parang, order)
    with pytest.raises(ValueError, match="order must be a spline order from "
                       "0 to 5, got 7"):
        derotate_cube(cube, [0.0], order=7)
    with pytest.raises(ValueError, match="order must be an integer"):
        derotate_cube(cube, [0.0], order=1.5)


@pytest.mark.parametrize(("order", "tolerance"), [(1, 0.0), (3, 0.01),
                                                  (5, 0.016)])
def test_derotate_masked_core_leaves_the_halo_intact(order, tolerance):
    # a smooth halo, unchanged by rotation, with a masked core: the
    # unmasked outputs must agree with the derotation of the whole halo
    n = 41
    yy, xx = np.mgrid[0:n, 0:n]
    r = np.hypot(xx - 20, yy - 20)
    halo = 1000 * (1 + (r / 3) ** 2) ** -1.5
    cube = np.stack([halo, halo])
    parangs = [30.0, 77.0]
    masked = derotate_cube(np.where(r < 4, np.nan, cube), parangs, order=order)
    whole = derotate_cube(cube, parangs, order=order)
    good = ~masked.mask & (r < 12)
    assert good.sum() > 0.5 * 2 * (r < 12).sum()
    # order 1 interpolates the nearest pixels only: no influence at all;
    # the coefficients of higher orders couple all pixels, and the tail of
    # the filled core stays below a percent of this steep halo (it reached
    # 18% for a cubic spline)
    error = np.abs(masked.data - whole.data) / halo
    assert error[good].max() <= tolerance
    assert masked.mask[:, r < 4].all()


def test_aperture_sums_and_snr_brute_force():
    rng = np.random.default_rng(11)
    img = rng.normal(size=(61, 61))
    img = inject_planet(img, (48.0, 30.0), 40.0, fwhm=3.0)
    res = snr(img, (48.0, 30.0), 3.0)
    # brute force: the same apertures summed with a plain sub-pixel loop
    r = 18.0
    n = int(np.floor(2 * np.pi * r / 3.0))
    sums = []
    sub = (np.arange(10) + 0.5) / 10 - 0.5
    for k in range(n):
        cx = 30 + r * np.cos(2 * np.pi * k / n)
        cy = 30 + r * np.sin(2 * np.pi * k / n)
        tot = 0.0
        for y in range(int(cy) - 3, int(cy) + 4):
            for x in range(int(cx) - 3, int(cx) + 4):
                frac = np.mean((x + sub[None, :] - cx) ** 2
                               + (y + sub[:, None] - cy) ** 2 <= 1.5 ** 2)
                tot += frac * img[y, x]
        sums.append(tot)
    sums = np.array(sums)
    noise = sums[1:].std(ddof=1) * np.sqrt(1 + 1 / (n - 1))
    want = (sums[0] - sums[1:].mean()) / noise
    assert res.n_apertures == n - 1
    assert res.snr == pytest.approx(want, rel=0.02)
    assert res.fpf == pytest.approx(stats.t.sf(res.snr, n - 2), rel=1e-6)
    with pytest.raises(ValueError, match="too close"):
        snr(img, (31.0, 30.0), 3.0)


def test_snr_null_distribution_is_student_t():
    # with pure noise, the SNR at a fixed place follows the t distribution:
    # the fraction above the 90% quantile is ~10%
    rng = np.random.default_rng(0)
    n2 = int(np.floor(2 * np.pi * 6 / 3.0)) - 1
    q90 = stats.t.isf(0.1, n2 - 1)
    hits = [snr(rng.normal(size=(21, 21)), (16.0, 10.0), 3.0).snr > q90
            for _ in range(300)]
    assert 0.05 < np.mean(hits) < 0.15


def test_aperture_sums_masked():
    img = np.ma.MaskedArray(np.ones((20, 20)), mask=np.zeros((20, 20), bool))
    img.mask[10, 8:13] = True
    s = aperture_sums(img, [10.0, 0.0], [10.0, 0.0], 3.0, subsample=10)
    assert s[0] == pytest.approx(np.pi * 9, rel=0.02)
    assert np.isnan(s[1])  # mostly outside the image


def test_loci_and_klip_recover_where_median_fails(sequence):
    cube, parangs, truth = sequence
    pos = (truth["x"][0], truth["y"][0])
    cadi = classical_adi(cube, parangs)
    loci = adi_subtract(cube, parangs, LOCI, n_delta=0.75, fwhm=FWHM)
    klip = adi_subtract(cube, parangs, KLIP, n_delta=0.75, fwhm=FWHM,
                        settings={"klip_modes": 5})
    s_cadi = snr(cadi.image, pos, FWHM).snr
    s_loci = snr(loci.image, pos, FWHM).snr
    s_klip = snr(klip.image, pos, FWHM).snr
    assert s_cadi < 5 <= min(s_loci, s_klip)
    # the companion is at the injected position: the brightest point within
    # 2 FWHM of it is within 1 pixel
    for res in (loci, klip):
        img = res.image.filled(-np.inf)
        yy, xx = np.mgrid[0:img.shape[0], 0:img.shape[1]]
        near = np.hypot(xx - pos[0], yy - pos[1]) < 2 * FWHM
        k = np.argmax(np.where(near, img, -np.inf))
        assert np.hypot(xx.flat[k] - pos[0], yy.flat[k] - pos[1]) <= 1.0
    assert loci.residuals.shape == cube.shape
    # the coronagraph stays masked
    assert loci.image.mask[32, 32]


def test_adi_subtract_errors(sequence):
    cube, parangs, _ = sequence
    with pytest.raises(TypeError, match="fitter_class"):
        adi_subtract(cube, parangs, "LOCI", n_delta=1, fwhm=FWHM)
    with pytest.raises(ValueError, match="parangs"):
        adi_subtract(cube, parangs[:-1], LOCI, n_delta=1, fwhm=FWHM)
    with pytest.raises(ValueError, match="combine"):
        adi_subtract(cube[:3], parangs[:3], SimpleSubtraction, n_delta=0,
                     fwhm=FWHM, combine="sum")


def test_contrast_curve_throughput(sequence):
    cube, parangs, truth = sequence
    curve = contrast_curve(cube, parangs, KLIP, fwhm=FWHM,
                           star_flux=truth.meta["star_flux"],
                           separations=[8.0, 16.0, 24.0], n_delta=0.75,
                           n_angles=2)
    assert curve.colnames == ["separation", "n_apertures", "noise",
                              "threshold", "throughput", "contrast"]
    assert np.all((curve["throughput"] > 0.2) & (curve["throughput"] < 1.2))
    # threshold: the Student-t 5-sigma-equivalent quantile times the noise
    tau = stats.t.isf(stats.norm.sf(5.0), curve["n_apertures"] - 1)
    np.testing.assert_allclose(curve["threshold"], tau * curve["noise"])
    # noise falls with separation, and so does the contrast limit
    assert np.all(np.diff(curve["contrast"]) < 0)
    # the injected companion (contrast 2e-3 at 12 px) is above the limit
    # interpolated at its separation
    limit = np.interp(12.0, curve["separation"], curve["contrast"])
    assert truth["contrast"][0] > limit


def test_demo_quick(tmp_path):
    from psfkit.demo.fitpsf import demo

    section = demo(tmp_path, quick=True)
    assert section.figures
    for fig in section.figures:
        assert (tmp_path / fig).exists()
    assert "LOCI SNR" in section.metrics


def test_adi_subtract_executor_gives_same_result():
    from concurrent.futures import ThreadPoolExecutor

    cube, parangs, _ = make_adi_sequence(n_frames=8, shape=(33, 33),
                                         random_state=4)
    serial = adi_subtract(cube, parangs, KLIP, n_delta=0.5, fwhm=FWHM,
                          combine="mean")
    with ThreadPoolExecutor(2) as pool:
        threaded = adi_subtract(cube, parangs, KLIP, n_delta=0.5, fwhm=FWHM,
                                combine="mean", executor=pool)
    np.testing.assert_allclose(serial.image, threaded.image, atol=1e-12)
    assert np.array_equal(serial.image.mask, threaded.image.mask)
