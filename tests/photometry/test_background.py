"""Tests of the background estimators against closed forms and truth."""

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
    MADStdBackgroundRMS,
    MeanBackground,
    MedianBackground,
    MMMBackground,
    SExtractorBackground,
    StdBackgroundRMS,
)
from psfkit.utils import InputDataError, NonFiniteValueWarning

ALL = [MeanBackground, MedianBackground, MMMBackground, SExtractorBackground,
       BiweightLocationBackground, StdBackgroundRMS, MADStdBackgroundRMS,
       BiweightScaleBackgroundRMS]


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
                 "BiweightScaleBackgroundRMS"):
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


def test_background2d_recovers_gradient_sky_with_stars():
    image, sky = _sky_field((240, 300), 7)
    bkg = Background2D(image, 30)
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


def test_background2d_mesh_is_the_estimate_of_each_box():
    image, _ = _sky_field((240, 300), 11)
    bkg = Background2D(image, (40, 30), filter_size=1)
    clip = SigmaClip(sigma=3.0, maxiters=10)
    for j in range(6):
        for i in range(10):
            box = image[40 * j:40 * (j + 1), 30 * i:30 * (i + 1)].ravel()
            kept = clip(box, masked=False)
            assert_allclose(bkg.background_mesh[j, i],
                            SExtractorBackground(sigma_clip=None)(kept))
            assert_allclose(bkg.background_rms_mesh[j, i], kept.std())
    assert_allclose(bkg.mesh_x, 14.5 + 30 * np.arange(10))
    assert_allclose(bkg.mesh_y, 19.5 + 40 * np.arange(6))


def test_background2d_plane_is_exact_without_noise():
    y, x = np.mgrid[:97, :131]
    sky = 10.0 + 0.3 * x - 0.2 * y
    for box, filt in ((16, 3), ((20, 25), (1, 3)), (40, 5)):
        bkg = Background2D(sky, box, filter_size=filt, sigma_clip=None)
        assert_allclose(bkg.background, sky, atol=1e-9)
    assert_allclose(bkg.background_at([0.0, 130.0], [0.0, 96.0]),
                    [10.0, 10.0 + 39.0 - 19.2], atol=1e-9)


def test_background2d_rejected_boxes_are_filled():
    image, sky = _sky_field((240, 300), 8, nstars=20)
    mask = np.zeros(image.shape, dtype=bool)
    mask[60:140, 90:200] = True      # several boxes mostly masked
    image[mask] = 1e5                # garbage under the mask
    image[0:5, 0:5] = np.nan         # a few NaN pixels outside the mask
    with pytest.warns(NonFiniteValueWarning):
        bkg = Background2D(image, 30, mask=mask)
    assert np.count_nonzero(bkg.mesh_rejected) >= 6
    rel = np.abs(bkg.background - sky) / sky
    assert rel.max() < 0.01


def test_background2d_units_and_errors():
    image, sky = _sky_field((90, 120), 9, nstars=5)
    bkg = Background2D(image * u.adu, 30,
                       bkg_estimator=MedianBackground(sigma_clip=None),
                       bkgrms_estimator=MADStdBackgroundRMS(sigma_clip=None))
    assert bkg.background.unit == u.adu
    assert bkg.background_rms.unit == u.adu
    assert bkg.background_median.unit == u.adu
    assert np.max(np.abs(bkg.background.value - sky) / sky) < 0.01
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


def test_background2d_closer_to_truth_than_photutils():
    bg = pytest.importorskip("photutils.background")
    image, sky = _sky_field((240, 300), 10)
    ours = Background2D(image, 30).background
    theirs = bg.Background2D(image, 30).background
    err_ours = np.abs(ours - sky)
    err_theirs = np.abs(np.asarray(theirs) - sky)
    assert err_ours.max() < err_theirs.max()
    assert np.sqrt(np.mean(err_ours**2)) < np.sqrt(np.mean(err_theirs**2))


def test_background2d_single_box_and_nddata():
    y, x = np.mgrid[:40, :50]
    data = 5.0 + 0.0 * x + 0.0 * y
    bkg = Background2D(NDData(data, unit="adu"), 100)
    assert bkg.background_mesh.shape == (1, 1)
    assert_allclose(bkg.background.value, 5.0)
    assert bkg.background.unit == u.adu
    assert_allclose(bkg.background_at(3.0, 4.0).value, 5.0)
