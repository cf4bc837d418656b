"""Tests of the background estimators against closed forms and truth."""

import warnings

from astropy.nddata import NDData
from astropy.stats import SigmaClip, biweight_location, biweight_scale
from astropy.table import QTable
import astropy.units as u
import numpy as np
from numpy.testing import assert_allclose
import pytest

from psfkit.datasets import make_gaussian_sources, make_noise_image
from psfkit.photometry import (
    Background2D,
    BiweightLocationBackground,
    BiweightScaleBackgroundRMS,
    LocalBackground,
    MADStdBackgroundRMS,
    MeanBackground,
    MedianBackground,
    MMMBackground,
    ModeEstimatorBackground,
    SExtractorBackground,
    StdBackgroundRMS,
)
from psfkit.photometry.background._sorted_clip import SortedSamples
from psfkit.utils import InputDataError, NonFiniteValueWarning

ALL = [MeanBackground, MedianBackground, MMMBackground, SExtractorBackground,
       BiweightLocationBackground, StdBackgroundRMS, MADStdBackgroundRMS,
       BiweightScaleBackgroundRMS, ModeEstimatorBackground]


def _clip_by_hand(values, sigma=3.0, maxiters=10):
    """Independent iterative median/std clipping."""
    keep = np.asarray(values, dtype=float)
    for _ in range(maxiters):
        med = np.median(keep)
        std = np.std(keep)
        new = keep[np.abs(keep - med) <= sigma * std]
        if new.size == keep.size:
            break
        keep = new
    return keep


def test_mmm_formula_on_known_samples():
    sample = np.array([1.0, 2.0, 2.0, 3.0, 4.0, 7.0])
    # median 2.5, mean 19/6
    assert_allclose(MMMBackground(sigma_clip=None)(sample), 7.5 - 19.0 / 3.0)
    rng = np.random.default_rng(0)
    data = np.concatenate([rng.normal(100.0, 5.0, 2000), [1e4, 5e3, -900.0]])
    kept = _clip_by_hand(data)
    assert kept.max() < 200 and kept.min() > 0
    expected = 3 * np.median(kept) - 2 * np.mean(kept)
    assert_allclose(MMMBackground()(data), expected, rtol=1e-12)
    assert_allclose(MMMBackground().calc_background(data), expected, rtol=1e-12)


def test_simple_estimators_against_numpy():
    rng = np.random.default_rng(1)
    data = rng.normal(10.0, 2.0, (50, 40))
    assert_allclose(MeanBackground(sigma_clip=None)(data), data.mean())
    assert_allclose(MedianBackground(sigma_clip=None)(data), np.median(data))
    assert_allclose(StdBackgroundRMS(sigma_clip=None)(data), data.std())
    assert_allclose(BiweightLocationBackground(sigma_clip=None)(data),
                    biweight_location(data))
    assert_allclose(BiweightScaleBackgroundRMS(sigma_clip=None)(data),
                    biweight_scale(data))
    mad = np.median(np.abs(data - np.median(data)))
    assert_allclose(MADStdBackgroundRMS(sigma_clip=None)(data),
                    mad / 0.6744897501960817, rtol=1e-12)


def test_sextractor_branches():
    est = SExtractorBackground(sigma_clip=None)
    symmetric = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    assert_allclose(est(symmetric), 2.5 * 3.5 - 1.5 * 3.5)
    skewed = np.array([0.0, 0.0, 0.0, 1.0, 10.0])  # |mean-median|/std >= 0.3
    assert_allclose(est(skewed), 0.0)
    assert_allclose(est(np.full(10, 4.0)), 4.0)  # std == 0: the mean
    mild = np.array([1.0, 2.0, 3.0, 3.0, 4.0, 5.0, 6.0])  # ratio 0.27
    assert_allclose(est(mild), 2.5 * 3.0 - 1.5 * np.mean(mild))


def test_mad_std_on_gaussian_noise():
    noise = np.random.default_rng(2).normal(0.0, 3.0, 1_000_000)
    assert_allclose(MADStdBackgroundRMS()(noise), 3.0, rtol=0.02)
    assert_allclose(StdBackgroundRMS()(noise), 3.0, rtol=0.02)
    assert_allclose(BiweightScaleBackgroundRMS()(noise), 3.0, rtol=0.02)


@pytest.mark.parametrize("cls", ALL)
def test_masks_nan_and_masked_arrays_are_ignored(cls):
    rng = np.random.default_rng(3)
    data = rng.normal(5.0, 1.0, (30, 30))
    bad = rng.uniform(size=data.shape) < 0.2
    polluted = data.copy()
    polluted[bad] = 1e6
    est = cls()
    ref = est(data[~bad])
    assert_allclose(est(polluted, mask=bad), ref)
    assert_allclose(est(np.ma.MaskedArray(polluted, mask=bad)), ref)
    with_nan = np.where(bad, np.nan, data)
    assert_allclose(est(with_nan), ref)
    assert_allclose(est(NDData(polluted, mask=bad)), ref)


@pytest.mark.parametrize("cls", ALL)
def test_axis_and_all_masked_rows(cls):
    rng = np.random.default_rng(4)
    data = rng.normal(5.0, 1.0, (6, 200))
    data[2] = np.nan
    est = cls()
    out = est(data, axis=1)
    assert out.shape == (6,)
    assert np.isnan(out[2])
    for i in (0, 1, 3, 4, 5):
        assert_allclose(out[i], est(data[i]), rtol=1e-10)
    assert np.isnan(est(np.full(10, np.nan)))
    cube = rng.normal(1.0, 1.0, (3, 20, 20))
    assert est(cube, axis=(1, 2)).shape == (3,)
    alias = getattr(est, "calc_background", None) or est.calc_background_rms
    assert_allclose(alias(data, axis=1), out, equal_nan=True)


@pytest.mark.parametrize("cls", ALL)
def test_quantity_in_quantity_out(cls):
    data = np.random.default_rng(5).normal(5.0, 1.0, 500)
    value = cls()(data * u.Jy)
    assert value.unit == u.Jy
    assert_allclose(value.value, cls()(data))
    assert cls()(data.reshape(50, 10) * u.Jy, axis=0).unit == u.Jy


def test_sigma_clip_argument():
    data = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 100.0])
    assert_allclose(MeanBackground()(data), 1.0)
    assert_allclose(MeanBackground(sigma_clip=None)(data), 110.0 / 11)
    clip = SigmaClip(sigma=100.0)
    assert_allclose(MeanBackground(sigma_clip=clip)(data), 110.0 / 11)
    with pytest.raises(TypeError, match="sigma_clip"):
        MeanBackground(sigma_clip=3.0)


def test_agreement_with_photutils_estimators():
    bg = pytest.importorskip("photutils.background")
    rng = np.random.default_rng(6)
    data = np.concatenate([rng.normal(20.0, 2.0, 5000),
                           rng.exponential(30.0, 300) + 20.0])
    for name in ("MeanBackground", "MedianBackground", "MMMBackground",
                 "SExtractorBackground", "BiweightLocationBackground",
                 "StdBackgroundRMS", "MADStdBackgroundRMS",
                 "BiweightScaleBackgroundRMS", "ModeEstimatorBackground"):
        ours = globals()[name]()(data)
        theirs = getattr(bg, name)()(data)
        assert_allclose(ours, theirs, rtol=1e-10, err_msg=name)


def _sky_field(shape, seed, *, nstars=60):
    y, x = np.mgrid[:shape[0], :shape[1]]
    sky = 200.0 + 0.15 * x - 0.1 * y + 1e-4 * (x - 80.0) * (y - 60.0)
    rng = np.random.default_rng(seed)
    stars = QTable({"flux": rng.uniform(500, 5000, nstars),
                    "x_mean": rng.uniform(0, shape[1], nstars),
                    "y_mean": rng.uniform(0, shape[0], nstars),
                    "x_stddev": np.full(nstars, 1.5),
                    "y_stddev": np.full(nstars, 1.5)})
    image = (sky + make_gaussian_sources(shape, stars)
             + make_noise_image(shape, mean=0.0, stddev=2.0, random_state=seed))
    return image, sky


def test_planar_background2d_recovers_gradient_sky_with_stars():
    image, sky = _sky_field((240, 300), 7)
    bkg = Background2D(image, 30, method="planar")
    assert bkg.background.shape == image.shape
    rel = np.abs(bkg.background - sky) / sky
    assert rel.max() < 0.01
    assert not np.any(bkg.mesh_rejected)
    assert bkg.background_mesh.shape == (8, 10)
    # the RMS of a box is the noise plus the spread of the sky inside it
    boxes = (sky.reshape(8, 30, 10, 30) - sky.reshape(8, 30, 10, 30).mean(
        axis=(1, 3), keepdims=True))
    expected = np.sqrt(2.0**2 + (boxes**2).mean(axis=(1, 3)))
    assert_allclose(bkg.background_rms_mesh, expected, rtol=0.1)


@pytest.mark.parametrize("method", ["photutils", "planar"])
def test_background2d_mesh_is_the_estimate_of_each_box(method):
    image, _ = _sky_field((240, 300), 11)
    bkg = Background2D(image, (40, 30), filter_size=1, method=method,
                       exclude_percentile=100)
    clip = SigmaClip(sigma=3.0, maxiters=10)
    for j in range(6):
        for i in range(10):
            box = image[40 * j:40 * (j + 1), 30 * i:30 * (i + 1)].ravel()
            kept = clip(box, masked=False)
            assert_allclose(bkg.background_mesh[j, i],
                            SExtractorBackground(sigma_clip=None)(kept),
                            rtol=1e-12)
            assert_allclose(bkg.background_rms_mesh[j, i], np.nanstd(kept),
                            rtol=1e-10)
            assert bkg.n_pixels_mesh[j, i] == np.count_nonzero(
                np.isfinite(kept))
    assert_allclose(bkg.mesh_x, 14.5 + 30 * np.arange(10))
    assert_allclose(bkg.mesh_y, 19.5 + 40 * np.arange(6))


def test_planar_background2d_plane_is_exact_without_noise():
    y, x = np.mgrid[:97, :131]
    sky = 10.0 + 0.3 * x - 0.2 * y
    for box, filt in ((16, 3), ((20, 25), (1, 3)), (40, 5)):
        bkg = Background2D(sky, box, filter_size=filt, sigma_clip=None,
                           method="planar")
        assert_allclose(bkg.background, sky, atol=1e-9)
    assert_allclose(bkg.background_at([0.0, 130.0], [0.0, 96.0]),
                    [10.0, 10.0 + 39.0 - 19.2], atol=1e-9)


def test_planar_background2d_rejected_boxes_are_filled():
    image, sky = _sky_field((240, 300), 8, nstars=20)
    mask = np.zeros(image.shape, dtype=bool)
    mask[60:140, 90:200] = True      # several boxes mostly masked
    image[mask] = 1e5                # garbage under the mask
    image[0:5, 0:5] = np.nan         # a few NaN pixels outside the mask
    with pytest.warns(NonFiniteValueWarning):
        bkg = Background2D(image, 30, mask=mask, method="planar")
    assert np.count_nonzero(bkg.mesh_rejected) >= 6
    rel = np.abs(bkg.background - sky) / sky
    assert rel.max() < 0.01


def test_background2d_units_and_errors():
    image, sky = _sky_field((90, 120), 9, nstars=5)
    for method in ("photutils", "planar"):
        bkg = Background2D(image * u.adu, 30, method=method,
                           bkg_estimator=MedianBackground(),
                           bkgrms_estimator=MADStdBackgroundRMS())
        assert bkg.background.unit == u.adu
        assert bkg.background_rms.unit == u.adu
        assert bkg.background_median.unit == u.adu
        assert np.median(np.abs(bkg.background.value - sky) / sky) < 0.01
    with pytest.raises(InputDataError):
        Background2D(np.full((50, 50), np.nan), 10)
    mask = np.ones((50, 50), dtype=bool)
    mask[::7, ::7] = False
    with pytest.raises(InputDataError, match="exclude_percentile"):
        Background2D(np.ones((50, 50)), 10, mask=mask)
    with pytest.raises(ValueError, match="filter_size"):
        Background2D(np.ones((50, 50)), 10, filter_size=2)
    with pytest.raises(ValueError, match="exclude_percentile"):
        Background2D(np.ones((50, 50)), 10, exclude_percentile=120)
    with pytest.raises(TypeError, match="bkg_estimator"):
        Background2D(np.ones((50, 50)), 10, bkg_estimator=3.0)
    with pytest.raises(ValueError, match="method"):
        Background2D(np.ones((50, 50)), 10, method="spline")
    with pytest.raises(TypeError, match="give only one"):
        Background2D(np.ones((50, 50)), 10, bkgrms_estimator=StdBackgroundRMS(),
                     bkg_rms_estimator=StdBackgroundRMS())


def test_planar_background2d_closer_to_truth_than_photutils():
    image, sky = _sky_field((240, 300), 10)
    planar = Background2D(image, 30, method="planar").background
    classic = Background2D(image, 30).background
    err_planar = np.abs(planar - sky)
    err_classic = np.abs(classic - sky)
    assert err_planar.max() < err_classic.max()
    assert np.sqrt(np.mean(err_planar**2)) < np.sqrt(np.mean(err_classic**2))


def test_background2d_single_box_and_nddata():
    data = np.full((40, 50), 5.0)
    for method in ("photutils", "planar"):
        bkg = Background2D(NDData(data, unit="adu"), 100, method=method)
        assert bkg.background_mesh.shape == (1, 1)
        assert_allclose(bkg.background.value, 5.0)
        assert bkg.background.unit == u.adu
        assert_allclose(bkg.background_at(3.0, 4.0).value, 5.0)


# --------------------------------------------------- photutils' numbers
def _photutils_pair(image, box, **kwargs):
    bg = pytest.importorskip("photutils.background")
    peer_kwargs = {k: v for k, v in kwargs.items()}
    for key in ("bkg_estimator", "bkg_rms_estimator"):
        if key in kwargs:
            peer_kwargs[key] = getattr(bg, type(kwargs[key]).__name__)()
    ours = Background2D(image, box, **kwargs)
    theirs = bg.Background2D(image, box, **peer_kwargs)
    return ours, theirs


@pytest.mark.parametrize(("box", "kwargs"), [
    (30, {}), (64, {}), ((37, 53), {}), ((50, 70), {"filter_size": 5}),
    (30, {"filter_size": (1, 3)}), (30, {"filter_threshold": 205.0}),
    (30, {"exclude_percentile": 2.0}), (30, {"exclude_percentile": 100.0}),
    (30, {"bkg_estimator": MMMBackground(),
          "bkg_rms_estimator": MADStdBackgroundRMS()}),
    (30, {"bkg_estimator": BiweightLocationBackground(),
          "bkg_rms_estimator": BiweightScaleBackgroundRMS()}),
    (30, {"bkg_estimator": MedianBackground(),
          "sigma_clip": SigmaClip(sigma_lower=2.0, sigma_upper=4.0,
                                  maxiters=None)}),
    (30, {"bkg_estimator": MeanBackground(),
          "sigma_clip": SigmaClip(sigma=2.5, cenfunc="mean")}),
    (30, {"sigma_clip": SigmaClip(sigma=3.0, stdfunc="mad_std")}),
    (30, {"sigma_clip": None}),
])
def test_background2d_equals_photutils(box, kwargs):
    image, _ = _sky_field((240, 300), 12, nstars=150)
    ours, theirs = _photutils_pair(image, box, **kwargs)
    rms_scale = float(np.median(theirs.background_rms))
    for name in ("background_mesh", "background_rms_mesh", "background",
                 "background_rms"):
        assert_allclose(getattr(ours, name), getattr(theirs, name),
                        rtol=0, atol=1e-10 * rms_scale, err_msg=name)
    assert np.array_equal(ours.n_pixels_mesh, theirs.n_pixels_mesh)
    assert ours.background_median == pytest.approx(theirs.background_median,
                                                   rel=1e-12)


def test_background2d_equals_photutils_with_masks():
    bg = pytest.importorskip("photutils.background")
    image, _ = _sky_field((240, 300), 13, nstars=80)
    mask = np.zeros(image.shape, dtype=bool)
    mask[40:130, 100:180] = True
    coverage = np.zeros(image.shape, dtype=bool)
    coverage[200:, :60] = True
    for kwargs in ({"mask": mask}, {"coverage_mask": coverage,
                                    "fill_value": -1.0},
                   {"mask": mask, "coverage_mask": coverage}):
        ours = Background2D(image, 30, **kwargs)
        theirs = bg.Background2D(image, 30, **kwargs)
        assert np.array_equal(ours.n_pixels_mesh, theirs.n_pixels_mesh)
        assert_allclose(ours.background, theirs.background, rtol=1e-12)
        assert_allclose(ours.background_rms, theirs.background_rms,
                        rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.int32])
def test_background2d_output_dtype_follows_the_input(dtype):
    image, _ = _sky_field((120, 150), 14, nstars=20)
    data = image.astype(dtype)
    ours, theirs = _photutils_pair(data, 30)
    for name in ("background", "background_rms", "background_mesh"):
        assert getattr(ours, name).dtype == getattr(theirs, name).dtype
    # photutils computes in float32 here, psfkit in float64
    assert_allclose(ours.background, theirs.background, rtol=1e-5)


def test_sorted_clipping_equals_astropy():
    rng = np.random.default_rng(15)
    stack = rng.normal(10.0, 2.0, (300, 400))
    stack[:, :20] += rng.exponential(30.0, (300, 20))
    stack[rng.uniform(size=stack.shape) < 0.05] = np.nan
    stack[7] = np.nan
    for clip in (SigmaClip(sigma=3.0, maxiters=10),
                 SigmaClip(sigma_lower=1.5, sigma_upper=2.5, maxiters=None),
                 SigmaClip(sigma=2.0, maxiters=2, cenfunc="mean")):
        samples = SortedSamples(stack).clip(clip.sigma_lower,
                                            clip.sigma_upper, clip.maxiters,
                                            clip.cenfunc)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = clip(stack, axis=1, masked=False)
        count = np.count_nonzero(np.isfinite(ref), axis=1)
        # the sums run in another order, so a value within ~1e-12 of a
        # clipping bound may fall on the other side (a row in 300 here)
        same = samples.count == count
        assert np.count_nonzero(~same) <= 2
        assert np.all(np.abs(samples.count - count) <= 1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            assert_allclose(samples.median()[same],
                            np.nanmedian(ref, axis=1)[same], rtol=1e-14,
                            equal_nan=True)
            assert_allclose(samples.mean()[same],
                            np.nanmean(ref, axis=1)[same], rtol=1e-12,
                            equal_nan=True)
            assert_allclose(samples.std()[same],
                            np.nanstd(ref, axis=1)[same], rtol=1e-9,
                            equal_nan=True)


def test_photutils_estimators_work_in_background2d():
    bg = pytest.importorskip("photutils.background")
    image, _ = _sky_field((120, 150), 16, nstars=40)
    ours = Background2D(image, 30, bkg_estimator=MMMBackground(),
                        bkg_rms_estimator=MADStdBackgroundRMS())
    duck = Background2D(image, 30, bkg_estimator=bg.MMMBackground(),
                        bkg_rms_estimator=bg.MADStdBackgroundRMS())
    assert_allclose(duck.background, ours.background, rtol=1e-12)
    assert_allclose(duck.background_rms, ours.background_rms, rtol=1e-12)


def test_background2d_leaves_its_estimators_alone():
    clip = SigmaClip(sigma=2.0)
    estimator = MeanBackground(sigma_clip=clip)
    bkg = Background2D(np.ones((60, 60)), 30, bkg_estimator=estimator)
    assert estimator.sigma_clip is clip
    assert bkg.bkg_estimator.sigma_clip is None


def test_background2d_repr_and_plot():
    import matplotlib.pyplot as plt

    image, _ = _sky_field((120, 150), 17, nstars=10)
    bkg = Background2D(image, 30)
    assert repr(bkg) == ("Background2D(data=<float64 array (120, 150)>, "
                         "box_size=(30, 30))")
    bkg = Background2D(image, (30, 50), mask=image > 1e4, filter_size=1,
                       bkg_estimator=MMMBackground(), method="planar")
    text = repr(bkg)
    assert "mask=<bool array (120, 150)>" in text
    assert "bkg_estimator=MMMBackground()" in text
    assert "method='planar'" in text
    assert "sigma_clip" in bkg._repr_html_()
    fig, ax = plt.subplots()
    bkg.plot_meshes(ax=ax, outlines=True)
    assert len(ax.patches) == bkg.background_mesh.size
    plt.close(fig)


# ----------------------------------------------------- LocalBackground
def test_local_background_is_the_annulus_statistic():
    rng = np.random.default_rng(18)
    image = rng.normal(10.0, 2.0, (80, 90))
    image[30:35, 40:45] = np.nan
    mask = np.zeros(image.shape, dtype=bool)
    mask[60:, 60:] = True
    x = np.array([40.3, 2.0, 70.5, -30.0])
    y = np.array([33.7, 5.2, 70.1, -30.0])
    local = LocalBackground(4.0, 9.5, MeanBackground(sigma_clip=None))
    values = local(image, x, y, mask=mask)
    yy, xx = np.mgrid[:80, :90]
    for k in range(2):
        r2 = (xx - x[k])**2 + (yy - y[k])**2
        sel = (r2 >= 16.0) & (r2 < 9.5**2) & ~mask & np.isfinite(image)
        assert_allclose(values[k], image[sel].mean(), rtol=1e-12)
    # a fully masked annulus and one off the image give NaN
    assert np.isnan(values[2]) and np.isnan(values[3])
    assert isinstance(local(image, 40.3, 33.7), float)
    quantity = local(image * u.Jy, x[:2], y[:2])
    assert quantity.unit == u.Jy
    # an estimator that takes no axis is called once per source
    per_source = LocalBackground(4.0, 9.5, lambda v: float(np.mean(v)))
    assert_allclose(per_source(image, x[:2], y[:2], mask=mask), values[:2],
                    rtol=1e-12)
    with pytest.raises(ValueError, match="outer_radius"):
        LocalBackground(5.0, 5.0)
    with pytest.raises(ValueError, match="inner_radius"):
        LocalBackground(-1.0, 5.0)
    assert repr(LocalBackground(5, 10)) == (
        "LocalBackground(inner_radius=5, outer_radius=10)")


def test_local_background_equals_photutils():
    bg = pytest.importorskip("photutils.background")
    rng = np.random.default_rng(19)
    image = rng.normal(10.0, 2.0, (120, 130))
    image[rng.uniform(size=image.shape) < 0.01] = np.nan
    x = rng.uniform(-3.0, 133.0, 60)
    y = rng.uniform(-3.0, 123.0, 60)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for ours, theirs in ((LocalBackground(3.0, 7.5),
                              bg.LocalBackground(3.0, 7.5)),
                             (LocalBackground(2, 6.2, MMMBackground()),
                              bg.LocalBackground(2, 6.2,
                                                 bkg_estimator=bg.MMMBackground()))):
            assert_allclose(ours(image, x, y), theirs(image, x, y),
                            rtol=1e-12, equal_nan=True)


def test_meshes_carry_the_data_unit():
    rng = np.random.default_rng(0)
    values = rng.normal(100.0, 5.0, (100, 100))
    plain = Background2D(values, 25)
    for data in (values * u.adu, NDData(values, unit="adu")):
        bkg = Background2D(data, 25)
        for name in ("background_mesh", "background_rms_mesh"):
            got = getattr(bkg, name)
            assert got.unit == u.adu
            assert_allclose(got.value, getattr(plain, name), rtol=0)
    assert not hasattr(plain.background_mesh, "unit")


def test_local_background_of_no_sources():
    # a finder that found nothing gives no positions: no backgrounds
    local = LocalBackground(5, 10)
    image = np.ones((50, 50))
    assert local(image, np.zeros(0), np.zeros(0)).shape == (0,)
    got = local(image * u.adu, np.zeros(0), np.zeros(0))
    assert got.shape == (0,) and got.unit == u.adu
