"""Tests of the star finders against simulated stars with known truth."""

import warnings

from astropy.nddata import NDData
from astropy.table import QTable
import astropy.units as u
from astropy.wcs import WCS
import numpy as np
from numpy.testing import assert_allclose, assert_array_equal
import pytest
from scipy import ndimage
from scipy.spatial import cKDTree

from psfkit._numerics.gaussian import FWHM_PER_SIGMA
from psfkit.datasets import make_gaussian_sources, make_noise_image
from psfkit.photometry import DAOStarFinder, IRAFStarFinder, find_peaks
from psfkit.photometry.detection import SourceTable
from psfkit.photometry.detection._kernel import make_detection_kernel
from psfkit.utils import NoDetectionsWarning

SIGMA = 1.5
FWHM = SIGMA * FWHM_PER_SIGMA
NOISE = 1.0

DAO_COLUMNS = ["id", "x_centroid", "y_centroid", "sharpness", "roundness1",
               "roundness2", "n_pixels", "peak", "flux", "mag", "daofind_mag"]
IRAF_COLUMNS = ["id", "x_centroid", "y_centroid", "fwhm", "sharpness",
                "roundness", "orientation", "n_pixels", "peak", "flux", "mag"]


def _grid_stars(shape, spacing, amplitude, seed):
    """Isolated Gaussian stars on a grid, random sub-pixel offsets."""
    rng = np.random.default_rng(seed)
    gy, gx = np.mgrid[spacing // 2:shape[0] - spacing // 2 + 1:spacing,
                      spacing // 2:shape[1] - spacing // 2 + 1:spacing]
    x = gx.ravel() + rng.uniform(-0.5, 0.5, gx.size)
    y = gy.ravel() + rng.uniform(-0.5, 0.5, gy.size)
    amp = np.broadcast_to(np.asarray(amplitude, dtype=float), x.shape)
    return QTable({"amplitude": amp, "x_mean": x, "y_mean": y,
                   "x_stddev": np.full(x.size, SIGMA),
                   "y_stddev": np.full(x.size, SIGMA)})


def _match(table, truth, xcol="x_centroid", ycol="y_centroid"):
    """Distances and offsets from each true star to the nearest detection."""
    found = np.column_stack([np.asarray(table[xcol]), np.asarray(table[ycol])])
    dist, idx = cKDTree(found).query(
        np.column_stack([truth["x_mean"], truth["y_mean"]]))
    return dist, idx


@pytest.fixture(scope="module")
def sn50_field():
    """Peak S/N 50 stars on a sky of 10 with unit Gaussian noise."""
    shape = (300, 330)
    truth = _grid_stars(shape, 30, 50 * NOISE, seed=1)
    image = (make_gaussian_sources(shape, truth, oversample=1)
             + make_noise_image(shape, mean=10.0, stddev=NOISE, random_state=2))
    return image, truth


def test_kernel_properties():
    k = make_detection_kernel(3.0)
    assert k.shape == (5, 5)
    assert_allclose(k.kernel.sum(), 0.0, atol=1e-12)
    # convolving a unit Gaussian of the kernel's shape gives amplitude 1
    assert_allclose((k.kernel * k.gaussian).sum(), 1.0, rtol=1e-12)
    # noise of the convolved image is relerr times the pixel noise
    assert_allclose(np.sqrt((k.kernel**2).sum()), k.relerr, rtol=1e-12)
    e = make_detection_kernel(4.0, ratio=0.5, theta=30.0)
    assert e.shape[0] % 2 == 1 and e.shape[1] % 2 == 1
    assert_allclose(e.kernel, e.kernel[::-1, ::-1])


@pytest.mark.parametrize("centroid", ["daofind", "iterated"])
def test_dao_centroids_sn50(sn50_field, centroid):
    image, truth = sn50_field
    # DAOFIND pads with zeros: the image must be background subtracted
    table = DAOStarFinder(10 * NOISE, FWHM, centroid=centroid)(image - 10.0)
    assert table.colnames == DAO_COLUMNS
    assert len(table) == len(truth)
    dist, idx = _match(table, truth)
    assert len(np.unique(idx)) == len(truth)
    dx = np.asarray(table["x_centroid"])[idx] - truth["x_mean"]
    dy = np.asarray(table["y_centroid"])[idx] - truth["y_mean"]
    assert np.sqrt(np.mean(dx**2)) < 0.05
    assert np.sqrt(np.mean(dy**2)) < 0.05
    assert abs(np.mean(dx)) < 0.01 and abs(np.mean(dy)) < 0.01
    assert_array_equal(table["id"], np.arange(1, len(table) + 1))
    # round stars: statistics near the values for a matched kernel
    assert np.all(np.abs(table["roundness1"]) < 0.3)
    assert np.all(np.abs(table["roundness2"]) < 0.3)
    # peaks close to the true amplitude; the box holds most of the flux
    assert abs(np.median(table["peak"]) - 50.0) < 3.0
    box = make_detection_kernel(FWHM).shape
    assert_array_equal(table["n_pixels"], box[0] * box[1])
    total = 50.0 * 2 * np.pi * SIGMA**2
    assert 0.6 * total < np.median(table["flux"]) < total
    # the sky keyword (the seed's) is subtracted from peak and flux
    with_sky = DAOStarFinder(10 * NOISE, FWHM, centroid=centroid,
                             sky=1.0)(image - 10.0)
    assert_allclose(with_sky["peak"], table["peak"] - 1.0)
    assert_allclose(with_sky["flux"], table["flux"] - table["n_pixels"])


def test_dao_iterated_removes_the_single_step_bias():
    shape = (120, 150)
    truth = _grid_stars(shape, 30, 40.0, seed=3)
    image = make_gaussian_sources(shape, truth, oversample=1)
    classic = DAOStarFinder(5.0, FWHM)(image)
    dist, _ = _match(classic, truth)
    assert len(classic) == len(truth)
    # DAOFIND's single linearised step errs by a few hundredths of a pixel
    assert 0.01 < dist.max() < 0.1
    iterated = DAOStarFinder(5.0, FWHM, centroid="iterated")(image)
    dist, _ = _match(iterated, truth)
    assert dist.max() < 1e-4
    assert_array_equal(iterated["sharpness"], classic["sharpness"])


def test_iraf_centroids_sn50(sn50_field):
    image, truth = sn50_field
    image = image - 10.0
    table = IRAFStarFinder(10 * NOISE, FWHM)(image)
    assert table.colnames == IRAF_COLUMNS
    dist, idx = _match(table, truth)
    assert len(np.unique(idx)) == len(truth) == len(table)
    # moments over a peak-centred window are pulled towards the peak pixel
    assert np.sqrt(np.mean(dist**2)) < 0.1
    # the local sky of the box corners includes the stars' wings (50 *
    # exp(-8 / (2 * 1.5**2)) = 8.4 for a star centred on a pixel), so the
    # sky-subtracted peak is below the amplitude; a fixed sky corrects it
    fixed = IRAFStarFinder(10 * NOISE, FWHM, sky=0.0)(image)
    assert np.median(fixed["peak"]) > np.median(table["peak"])
    assert abs(np.median(fixed["peak"]) - 50.0) < 5.0
    # windowed centroids meet the DAOFIND accuracy
    windowed = IRAFStarFinder(10 * NOISE, FWHM, centroid="windowed")(image)
    dist, idx = _match(windowed, truth)
    assert len(windowed) == len(truth) == len(np.unique(idx))
    assert np.sqrt(np.mean(dist**2)) < 0.05
    assert_array_equal(windowed["fwhm"], table["fwhm"])


@pytest.mark.parametrize("sigma", [1.0, 1.5, 2.0])
def test_iraf_centroid_bias_on_noiseless_stars(sigma):
    # stars from pixel centre to pixel corner
    off = np.linspace(-0.45, 0.45, 10)
    truth = QTable({"amplitude": np.full(10, 100.0),
                    "x_mean": 20.0 + 30.0 * np.arange(10) + off,
                    "y_mean": 20.0 + off[::-1],
                    "x_stddev": np.full(10, sigma),
                    "y_stddev": np.full(10, sigma)})
    image = make_gaussian_sources((40, 320), truth, oversample=1)
    fwhm = sigma * FWHM_PER_SIGMA
    moments = IRAFStarFinder(5.0, fwhm, roundhi=1.0)(image)
    err = np.asarray(moments["x_centroid"]) - truth["x_mean"]
    # the moments are pulled towards the peak pixel's centre
    assert np.all(np.sign(err[off != 0]) == -np.sign(off[off != 0]))
    assert 0.03 < np.abs(err).max() < 0.15
    windowed = IRAFStarFinder(5.0, fwhm, roundhi=1.0,
                              centroid="windowed")(image)
    assert_allclose(windowed["x_centroid"], truth["x_mean"], atol=0.005)
    assert_allclose(windowed["y_centroid"], truth["y_mean"], atol=0.005)


def test_iraf_moments_of_centred_elliptical_star():
    truth = QTable({"amplitude": [100.0], "x_mean": [15.0], "y_mean": [12.0],
                    "x_stddev": [1.6], "y_stddev": [1.2], "theta": [0.0]})
    image = make_gaussian_sources((25, 31), truth, oversample=1)
    table = IRAFStarFinder(5.0, FWHM, roundhi=1.0)(image)
    assert len(table) == 1
    assert_allclose(table["x_centroid"], 15.0, atol=1e-12)
    assert_allclose(table["y_centroid"], 12.0, atol=1e-12)
    assert table["roundness"][0] > 0.05
    assert table["orientation"].unit == u.deg
    assert_allclose(table["orientation"].value, 0.0, atol=1e-9)
    rotated = IRAFStarFinder(5.0, FWHM, roundhi=1.0)(image.T)
    assert_allclose(rotated["orientation"].value, 90.0, atol=1e-9)
    # the psfkit 0.1 name of the column still reads it
    assert_allclose(rotated["pa"].value, 90.0, atol=1e-9)


def _gaussian_peak_density(nu, sigma_g):
    """Expected number of peaks above nu sigma per pixel of a smoothed field."""
    return nu * np.exp(-nu**2 / 2) / (2**2.5 * np.pi**1.5 * sigma_g**2)


@pytest.mark.parametrize("finder_cls", [DAOStarFinder, IRAFStarFinder])
def test_no_spurious_detections_on_noise(finder_cls):
    shape = (512, 512)
    image = make_noise_image(shape, mean=0.0, stddev=NOISE, random_state=5)
    kernel = make_detection_kernel(FWHM)
    if finder_cls is DAOStarFinder:
        finder = DAOStarFinder(5 * NOISE, FWHM)
    else:
        # IRAF thresholds the convolved image directly: 5 sigma of it
        finder = IRAFStarFinder(5 * NOISE * kernel.relerr, FWHM)
    expected = _gaussian_peak_density(5.0, SIGMA) * image.size
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoDetectionsWarning)
        table = finder(image)
    # Poisson upper bound at ~5 sigma of an expectation well below 1
    assert expected < 1.0
    assert len(table) <= 3


def test_threshold_is_calibrated_in_pixel_noise():
    # the convolved noise has standard deviation relerr * sigma, so a peak
    # above threshold * relerr is an n-sigma excursion of a Gaussian: the
    # number of detections is bounded by the number of such pixels
    from scipy.special import ndtr

    shape = (400, 400)
    image = make_noise_image(shape, mean=0.0, stddev=NOISE, random_state=6)
    kernel = make_detection_kernel(FWHM)
    from psfkit._numerics.peaks import smooth_image

    smoothed = smooth_image(image, np.ones(shape, dtype=bool), kernel.kernel)
    inner = smoothed[10:-10, 10:-10]
    assert_allclose(inner.std(), kernel.relerr * NOISE, rtol=0.03)
    finder = DAOStarFinder(3 * NOISE, FWHM, sharplo=-np.inf, sharphi=np.inf,
                           roundlo=-np.inf, roundhi=np.inf)
    n = len(finder(image))
    pixels_above = image.size * (1.0 - ndtr(3.0))
    assert 0.1 * pixels_above < n < pixels_above


@pytest.mark.parametrize(("sky", "padding", "centroid", "tol"),
                         [(0.0, "zero", "daofind", 0.7),
                          (100.0, "median", "iterated", 0.3)])
def test_border_stars_and_exclude_border(sky, padding, centroid, tol):
    truth = QTable({"amplitude": [60.0, 60.0, 60.0],
                    "x_mean": [1.2, 30.0, 58.6], "y_mean": [20.0, 1.0, 38.7],
                    "x_stddev": [SIGMA] * 3, "y_stddev": [SIGMA] * 3})
    image = make_gaussian_sources((40, 60), truth, oversample=1) + sky
    kept = DAOStarFinder(5.0, FWHM, padding=padding, centroid=centroid)(image)
    assert len(kept) == 3
    dist, _ = _match(kept, truth)
    # DAOFIND's step on a half-missing star (zeros beyond the edge) errs
    # by up to 0.6 px; the iterated fit uses the pixels that exist
    assert dist.max() < tol
    with pytest.warns(NoDetectionsWarning):
        excluded = DAOStarFinder(5.0, FWHM, exclude_border=True,
                                 padding=padding)(image)
    assert len(excluded) == 0
    assert len(IRAFStarFinder(5.0, FWHM, roundhi=1.0,
                              padding=padding)(image)) == 3
    with pytest.warns(NoDetectionsWarning):
        IRAFStarFinder(5.0, FWHM, exclude_border=True, padding=padding)(image)


def test_median_padding_gives_no_edge_detections_on_a_sky():
    image = np.full((64, 64), 1000.0)
    mask = np.zeros(image.shape, dtype=bool)
    mask[20:40, 10:30] = True
    for cls in (DAOStarFinder, IRAFStarFinder):
        with pytest.warns(NoDetectionsWarning):
            assert len(cls(1.0, FWHM, padding="median")(image, mask=mask)) == 0
    # DAOFIND's zero boundary sees the edge of a sky as a ridge of sources
    zero = DAOStarFinder(1.0, FWHM, sharpness_range=None,
                         roundness_range=None)(image)
    assert len(zero) > 0
    edge = np.minimum.reduce([zero["x_centroid"], zero["y_centroid"],
                              63 - zero["x_centroid"], 63 - zero["y_centroid"]])
    assert np.all(edge < 3)


@pytest.mark.parametrize("finder", [DAOStarFinder(5.0, FWHM),
                                    IRAFStarFinder(5.0, FWHM)])
def test_all_nan_and_fully_masked(finder):
    image = np.full((20, 20), np.nan)
    with pytest.warns(NoDetectionsWarning):
        table = finder(image)
    assert len(table) == 0
    assert table.colnames == (DAO_COLUMNS if isinstance(finder, DAOStarFinder)
                              else IRAF_COLUMNS)
    assert table["id"].dtype.kind == "i"
    assert table["n_pixels"].dtype.kind == "i"
    assert table["x_centroid"].dtype.kind == "f"
    with pytest.warns(NoDetectionsWarning):
        table = finder(np.ones((20, 20)), mask=np.ones((20, 20), dtype=bool))
    assert len(table) == 0
    # method alias
    with pytest.warns(NoDetectionsWarning):
        assert len(finder.find_stars(image)) == 0


def test_masked_star_not_detected_and_nan_tolerated():
    truth = QTable({"amplitude": [80.0, 80.0], "x_mean": [15.3, 45.0],
                    "y_mean": [20.0, 20.6], "x_stddev": [SIGMA] * 2,
                    "y_stddev": [SIGMA] * 2})
    image = make_gaussian_sources((40, 60), truth, oversample=1)
    mask = np.zeros(image.shape, dtype=bool)
    mask[14:27, 8:23] = True
    table = DAOStarFinder(5.0, FWHM)(image, mask=mask)
    assert len(table) == 1
    assert_allclose(table["x_centroid"], 45.0, atol=0.02)
    # one NaN pixel in the wing of a star: still found, nearly unbiased
    image[21, 44] = np.nan
    # DAOFIND's step reads the missing pixel as 0; the iterated fit
    # leaves it out
    for centroid, tol in (("daofind", 0.3), ("iterated", 0.1)):
        table = DAOStarFinder(5.0, FWHM, centroid=centroid)(image)
        assert len(table) == 2
        dist, _ = _match(table, truth)
        assert dist.max() < tol


def test_quantity_and_nddata_images():
    truth = QTable({"amplitude": [50.0], "x_mean": [12.2], "y_mean": [9.7],
                    "x_stddev": [SIGMA], "y_stddev": [SIGMA]})
    plain = make_gaussian_sources((21, 25), truth, oversample=1)
    image = plain * u.electron
    table = DAOStarFinder(5.0 * u.electron, FWHM)(image)
    ref = DAOStarFinder(5.0, FWHM)(plain)
    assert table["flux"].unit == u.electron
    assert table["peak"].unit == u.electron
    assert_allclose(table["flux"].value, ref["flux"])
    assert_allclose(table["x_centroid"], ref["x_centroid"])
    # a plain-number threshold is taken to be in the data unit
    assert len(DAOStarFinder(5.0, FWHM)(image)) == 1
    jy = DAOStarFinder(5000.0 * u.mJy, FWHM)(plain * u.Jy)
    assert_allclose(jy["x_centroid"], ref["x_centroid"])
    iraf = IRAFStarFinder(5.0 * u.electron, FWHM)(NDData(plain, unit="electron"))
    assert iraf["flux"].unit == u.electron
    with pytest.raises(u.UnitsError, match="threshold"):
        DAOStarFinder(5.0 * u.electron, FWHM)(plain)
    with pytest.warns(NoDetectionsWarning):
        empty = DAOStarFinder(1e6 * u.electron, FWHM)(image)
    assert empty["flux"].unit == u.electron


def test_brightest_and_peakmax():
    truth = QTable({"amplitude": [20.0, 80.0, 40.0, 200.0],
                    "x_mean": [10.0, 30.0, 50.0, 70.0],
                    "y_mean": [10.0, 12.0, 14.0, 16.0],
                    "x_stddev": [SIGMA] * 4, "y_stddev": [SIGMA] * 4})
    image = make_gaussian_sources((30, 80), truth, oversample=1)
    table = DAOStarFinder(5.0, FWHM, brightest=2)(image)
    assert_allclose(table["x_centroid"], [70.0, 30.0], atol=1e-3)
    assert_array_equal(table["id"], [1, 2])
    table = DAOStarFinder(5.0, FWHM, peakmax=100.0)(image)
    assert_allclose(np.sort(table["x_centroid"]), [10.0, 30.0, 50.0],
                    atol=1e-3)
    table = IRAFStarFinder(5.0, FWHM, n_brightest=1)(image)
    assert_allclose(table["x_centroid"], [70.0], atol=1e-3)


@pytest.mark.parametrize("theta", [0.0, 90.0])
def test_elongated_kernel_finds_elongated_stars(theta):
    truth = QTable({"amplitude": [60.0], "x_mean": [25.3], "y_mean": [24.6],
                    "x_stddev": [2.5], "y_stddev": [1.25],
                    "theta": [np.deg2rad(theta)]})
    image = make_gaussian_sources((50, 50), truth, oversample=1)
    table = DAOStarFinder(5.0, 2.5 * FWHM_PER_SIGMA, ratio=0.5,
                          theta=theta, centroid="iterated")(image)
    assert len(table) == 1
    assert_allclose([table["x_centroid"][0], table["y_centroid"][0]],
                    [25.3, 24.6], atol=1e-3)
    # extended along x: negative roundness; along y: positive
    sign = -1 if theta == 0.0 else 1
    assert sign * table["roundness1"][0] > 0.2
    assert sign * table["roundness2"][0] > 0.1


def test_threshold_array_and_validation():
    truth = QTable({"amplitude": [50.0, 50.0], "x_mean": [10.0, 30.0],
                    "y_mean": [10.0, 10.0], "x_stddev": [SIGMA] * 2,
                    "y_stddev": [SIGMA] * 2})
    image = make_gaussian_sources((20, 40), truth, oversample=1)
    thr = np.full(image.shape, 5.0)
    thr[:, 20:] = 500.0
    table = DAOStarFinder(thr, FWHM)(image)
    assert_allclose(table["x_centroid"], [10.0], atol=1e-3)
    with pytest.raises(ValueError, match="threshold"):
        DAOStarFinder(np.ones((3, 3)), FWHM)(image)
    with pytest.raises(ValueError, match="fwhm"):
        DAOStarFinder(5.0, -1.0)
    with pytest.raises(ValueError, match="ratio"):
        DAOStarFinder(5.0, 3.0, ratio=1.5)
    with pytest.raises(ValueError, match="sharpness_range"):
        DAOStarFinder(5.0, 3.0, sharplo=2.0, sharphi=1.0)
    with pytest.raises(ValueError, match="threshold"):
        IRAFStarFinder(np.nan, 3.0)
    with pytest.raises(ValueError, match="centroid"):
        IRAFStarFinder(5.0, 3.0, centroid="fit")
    with pytest.raises(ValueError, match="padding"):
        DAOStarFinder(5.0, 3.0, padding="reflect")
    with pytest.raises(ValueError, match="brightest"):
        DAOStarFinder(5.0, 3.0, brightest=0)
    with pytest.raises(ValueError, match="data"):
        DAOStarFinder(5.0, 3.0)(np.ones(5))


def test_find_peaks_against_brute_force():
    rng = np.random.default_rng(7)
    image = rng.normal(size=(40, 50))
    image[5, 5] = np.nan
    table = find_peaks(image, 1.0, box_size=5)
    valid = np.isfinite(image)
    expect = []
    for yy in range(image.shape[0]):
        for xx in range(image.shape[1]):
            if not valid[yy, xx] or image[yy, xx] <= 1.0:
                continue
            win = image[max(yy - 2, 0):yy + 3, max(xx - 2, 0):xx + 3]
            if image[yy, xx] >= np.nanmax(win):
                expect.append((xx, yy))
    got = list(zip(table["x_peak"].tolist(), table["y_peak"].tolist(),
                   strict=True))
    assert got == expect
    assert_allclose(table["peak_value"], [image[y, x] for x, y in expect])


def test_find_peaks_options():
    image = np.zeros((20, 20))
    image[1, 10] = 9.0
    image[10, 10] = 5.0
    image[10, 12] = 4.0
    image[15, 3] = 7.0
    assert len(find_peaks(image, 1.0)) == 4
    assert len(find_peaks(image, 1.0, box_size=5)) == 3
    table = find_peaks(image, 1.0, border_width=2)
    assert (1, 10) not in zip(table["y_peak"].tolist(), table["x_peak"].tolist(),
                              strict=True)
    table = find_peaks(image, 1.0, npeaks=2)
    assert table["peak_value"].tolist() == [9.0, 7.0]
    # no peak asked for: an empty table with every column, as photutils
    none = find_peaks(image, 1.0, n_peaks=0)
    assert len(none) == 0 and none.colnames == table.colnames
    with pytest.raises(ValueError, match="n_peaks must be >= 0, got -1"):
        find_peaks(image, 1.0, n_peaks=-1)
    footprint = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=bool)
    assert len(find_peaks(image, 1.0, footprint=footprint)) == 4
    # every pixel of a plateau is a peak, or only the first one
    flat = np.zeros((9, 9))
    flat[3:5, 3:6] = 2.0
    assert len(find_peaks(flat, 1.0)) == 6
    table = find_peaks(flat, 1.0, ties="first")
    assert len(table) == 1 and (table["x_peak"][0], table["y_peak"][0]) == (3, 3)
    with pytest.warns(NoDetectionsWarning):
        empty = find_peaks(image * u.Jy, 100.0 * u.Jy)
    assert empty.colnames == ["id", "x_peak", "y_peak", "peak_value"]
    assert empty["peak_value"].unit == u.Jy
    # even neighbourhoods are centred at index size // 2, as in scipy
    assert len(find_peaks(image, 1.0, box_size=4)) == 3
    with pytest.raises(ValueError, match="box_size"):
        find_peaks(image, 1.0, box_size=0)
    with pytest.raises(ValueError, match="footprint"):
        find_peaks(image, 1.0, footprint=np.ones(3))


def _same_columns(ours, theirs, rtol=1e-9, atol=1e-9):
    assert len(ours) == len(theirs)
    for name in theirs.colnames:
        a = np.asarray(getattr(ours[name], "value", ours[name]), dtype=float)
        b = np.asarray(getattr(theirs[name], "value", theirs[name]),
                       dtype=float)
        assert_array_equal(np.isnan(a), np.isnan(b), err_msg=name)
        ok = ~np.isnan(a)
        assert_allclose(a[ok], b[ok], rtol=rtol, atol=atol, err_msg=name)


@pytest.fixture(scope="module")
def crowded_field():
    """300 stars of S/N 3-100 on a 256x256 background-subtracted image."""
    rng = np.random.default_rng(16)
    n = 300
    truth = QTable({"amplitude": rng.uniform(3, 100, n),
                    "x_mean": rng.uniform(0, 255, n),
                    "y_mean": rng.uniform(0, 255, n),
                    "x_stddev": np.full(n, 2.0), "y_stddev": np.full(n, 2.0)})
    return (make_gaussian_sources((256, 256), truth, oversample=1)
            + make_noise_image((256, 256), mean=0.0, stddev=1.0,
                               random_state=17))


@pytest.mark.parametrize("kwargs", [
    {}, {"min_separation": None}, {"min_separation": 7.5},
    {"exclude_border": True}, {"ratio": 0.6, "theta": 35.0},
    {"n_brightest": 40, "peak_max": 60.0}, {"scale_threshold": False},
    {"sharpness_range": None, "roundness_range": (-0.5, 0.5)}])
def test_dao_equals_photutils(crowded_field, kwargs):
    detection = pytest.importorskip("photutils.detection")
    ours = DAOStarFinder(10.0, 4.7, **kwargs)(crowded_field)
    theirs = detection.DAOStarFinder(10.0, 4.7,
                                     **{"min_separation": 0, **kwargs})(
        crowded_field)
    assert ours.colnames == theirs.colnames
    _same_columns(ours, theirs)


def test_dao_default_separation_differs_from_photutils_3(crowded_field):
    # psfkit keeps DAOFIND's footprint maxima; photutils 3.0 also demands
    # 2.5 FWHM between peaks by default (the documented difference), and
    # min_separation=None gives photutils 3.0's catalogue
    detection = pytest.importorskip("photutils.detection")
    theirs = detection.DAOStarFinder(10.0, 4.7)(crowded_field)
    ours = DAOStarFinder(10.0, 4.7)(crowded_field)
    assert len(ours) > len(theirs)
    _same_columns(DAOStarFinder(10.0, 4.7, min_separation=None)(crowded_field),
                  theirs)


@pytest.mark.parametrize("kwargs", [
    {}, {"min_separation": 5.0}, {"exclude_border": True},
    {"n_brightest": 30}, {"sharpness_range": None, "roundness_range": None}])
def test_iraf_equals_photutils(crowded_field, kwargs):
    detection = pytest.importorskip("photutils.detection")
    ours = IRAFStarFinder(10.0, 3.5, **kwargs)(crowded_field)
    theirs = detection.IRAFStarFinder(
        10.0, 3.5, **{"min_separation": max(2, int(3.5 * 2.5 + 0.5)),
                      **kwargs})(crowded_field)
    assert ours.colnames == theirs.colnames
    _same_columns(ours, theirs)


def test_iraf_sky_without_sky_pixels():
    # fwhm 4.5: the footprint fills the 5x5 box, so IRAF (and photutils
    # 1.x) take the sky as max(data) - max(convolved) over the box;
    # photutils 3.0 divides by zero sky pixels and finds nothing
    truth = QTable({"amplitude": [300.0, 40.0, 90.0],
                    "x_mean": [9.0, 24.7, 16.2], "y_mean": [9.0, 11.1, 25.6],
                    "x_stddev": [2.0] * 3, "y_stddev": [2.0] * 3})
    image = make_gaussian_sources((32, 32), truth, oversample=1)
    finder = IRAFStarFinder(5.0, 4.5, roundness_range=None,
                            sharpness_range=None)
    assert np.all(finder.kernel.footprint)
    assert len(finder(image)) == 3
    conv = ndimage.convolve(image, finder.kernel.kernel, mode="constant")
    peaks = [np.unravel_index(np.argmax(np.where(
        np.hypot(*np.mgrid[-y:32 - y, -x:32 - x]) < 3, conv, -np.inf)),
        conv.shape) for x, y in zip(np.rint(truth["x_mean"]).astype(int),
                                    np.rint(truth["y_mean"]).astype(int),
                                    strict=True)]
    xy = np.array([(px, py) for py, px in peaks])
    table = IRAFStarFinder(5.0, 4.5, xycoords=xy, roundness_range=None,
                           sharpness_range=None)(image)
    for (px, py), flux, peak in zip(xy, table["flux"], table["peak"],
                                    strict=True):
        # the same star recomputed by hand from its box
        box = image[py - 2:py + 3, px - 2:px + 3]
        sky = box.max() - conv[py - 2:py + 3, px - 2:px + 3].max()
        star = np.clip(box - sky, 0.0, None)
        assert_allclose(flux, star.sum(), rtol=1e-12)
        assert_allclose(peak, star.max(), rtol=1e-12)
    detection = pytest.importorskip("photutils.detection")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert detection.IRAFStarFinder(5.0, 4.5)(image) is None


def test_find_peaks_equals_photutils():
    detection = pytest.importorskip("photutils.detection")
    rng = np.random.default_rng(11)
    image = rng.normal(size=(60, 70))
    image[20:23, 30:33] = 5.0  # a plateau of tied pixels
    # (n_peaks=11 keeps all nine tied plateau pixels: photutils and psfkit
    # would keep different ones of them if the cut fell among them)
    for kwargs in ({"box_size": 5}, {"box_size": 3, "n_peaks": 11},
                   {"min_separation": 4.5}, {"border_width": (3, 6)},
                   {"footprint": np.ones((4, 2), dtype=bool)}):
        ours = find_peaks(image, 1.5, **kwargs)
        theirs = detection.find_peaks(image, 1.5, **kwargs)
        # ties are listed in another order
        ours = ours[np.lexsort((ours["x_peak"], ours["y_peak"]))]
        theirs = theirs[np.lexsort((theirs["x_peak"], theirs["y_peak"]))]
        _same_columns(ours["x_peak", "y_peak", "peak_value"],
                      theirs["x_peak", "y_peak", "peak_value"], rtol=0,
                      atol=0)


def test_demo_detection_quick(tmp_path):
    from psfkit.demo.detection import demo

    section = demo(tmp_path, quick=True)
    assert (tmp_path / "photometry_detections.png").exists()
    assert section.metrics["isolated stars > 10 sigma recovered"] == "100.0%"
    assert float(section.metrics["centroid rms error (px)"]) < 0.05


def test_find_peaks_all_nan_and_tiny_images():
    with pytest.warns(NoDetectionsWarning):
        table = find_peaks(np.full((5, 5), np.nan), 0.0)
    assert len(table) == 0 and table["x_peak"].dtype.kind == "i"
    # an image as small as the kernel still works
    tiny = np.zeros((5, 6))
    tiny[2, 3] = 10.0
    table = DAOStarFinder(1.0, FWHM, sharphi=2.0)(tiny)
    assert len(table) == 1
    assert_allclose([table["x_centroid"][0], table["y_centroid"][0]],
                    [3.0, 2.0], atol=0.2)


# ----------------------------------------------- settings, errors, tables
def test_kernel_larger_than_the_image_is_refused_quickly():
    # a 1275x1275 kernel on a 64x64 image used to take 1 GB
    finder = DAOStarFinder(5.0, 1000.0)
    with pytest.raises(ValueError, match="fwhm=1000 .* larger than the "
                       "64x64 image"):
        finder(np.zeros((64, 64)))
    with pytest.raises(ValueError, match="larger than the 64x10 image"):
        IRAFStarFinder(5.0, 10.0)(np.zeros((10, 64)))
    # a kernel too large to build at all fails at construction, naming fwhm
    with pytest.raises(ValueError, match="fwhm=1e\\+06"):
        DAOStarFinder(5.0, 1e6)


@pytest.mark.parametrize("cls", [DAOStarFinder, IRAFStarFinder])
def test_settings_are_checked_when_assigned(cls):
    finder = cls(5.0, 3.0)
    for name, bad, match in (("fwhm", -1.0, "fwhm"), ("fwhm", 1e7, "fwhm"),
                             ("sigma_radius", 0.0, "sigma_radius"),
                             ("threshold", np.nan, "threshold"),
                             ("threshold", np.ones(3), "threshold"),
                             ("n_brightest", 0, "n_brightest"),
                             ("sharpness_range", (2.0, 1.0),
                              "sharpness_range"),
                             ("min_separation", -2.0, "min_separation"),
                             ("exclude_border", "yes", "exclude_border"),
                             ("padding", "nearest", "padding"),
                             ("xycoords", np.ones(4), "xycoords")):
        before = getattr(finder, name)
        with pytest.raises((ValueError, TypeError), match=match):
            setattr(finder, name, bad)
        assert np.all(getattr(finder, name) == before)
    with pytest.raises(ValueError, match="sharpness_range"):
        finder.sharplo = 50.0
    # a changed kernel parameter gives the results of a new finder
    truth = _grid_stars((60, 60), 30, 50.0, seed=4)
    image = make_gaussian_sources((60, 60), truth, oversample=1)
    finder.fwhm = 4.0
    finder.sharphi = 3.0
    fresh = cls(5.0, 4.0, sharpness_range=(finder.sharplo, 3.0))
    assert_array_equal(finder.kernel.kernel, fresh.kernel.kernel)
    assert_array_equal(finder(image)["x_centroid"], fresh(image)["x_centroid"])


def test_dao_ratio_and_theta_setters_rebuild_the_kernel():
    finder = DAOStarFinder(5.0, 4.0)
    finder.ratio = 0.5
    finder.theta = 390.0
    assert finder.theta == 30.0
    assert_array_equal(finder.kernel.kernel,
                       make_detection_kernel(4.0, ratio=0.5,
                                             theta=30.0).kernel)
    with pytest.raises(ValueError, match="ratio"):
        finder.ratio = 2.0
    assert finder.ratio == 0.5


def test_reprs_are_short_and_html_lists_everything():
    finder = DAOStarFinder(5.0, 3.0, ratio=0.5, sharplo=0.1)
    assert repr(finder) == ("DAOStarFinder(threshold=5, fwhm=3, ratio=0.5, "
                            "sharpness_range=(0.1, 1))")
    html = finder._repr_html_()
    for name in ("padding", "centroid", "min_separation", "exclude_border"):
        assert name in html
    assert repr(IRAFStarFinder(np.ones((30, 30)), 2.0)) == (
        "IRAFStarFinder(threshold=<float64 array (30, 30)>, fwhm=2)")


def test_source_table_names_and_formats(sn50_field):
    image, _ = sn50_field
    table = DAOStarFinder(10.0, FWHM)(image - 10.0)
    assert isinstance(table, SourceTable) and isinstance(table, QTable)
    # photutils 3.x names, the former ones readable
    assert "xcentroid" not in table.colnames
    assert_array_equal(table["xcentroid"], table["x_centroid"])
    assert_array_equal(table["ycentroid"], table["y_centroid"])
    assert_array_equal(table["npix"], table["n_pixels"])
    assert_array_equal(table[:3]["xcentroid"], table["x_centroid"][:3])
    # short display formats; the values keep full precision
    text = str(table[:5])
    widest = max(len(word) for line in text.splitlines()[2:]
                 for word in line.split())
    assert widest <= 10
    assert table["x_centroid"][0] != round(float(table["x_centroid"][0]), 4)


def test_sky_centroid_from_a_celestial_wcs():
    truth = QTable({"amplitude": [80.0], "x_mean": [20.3], "y_mean": [14.8],
                    "x_stddev": [SIGMA], "y_stddev": [SIGMA]})
    image = make_gaussian_sources((30, 40), truth, oversample=1)
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [150.0, 2.0]
    wcs.wcs.crpix = [20.0, 15.0]
    wcs.wcs.cdelt = [-1e-4, 1e-4]
    for cls in (DAOStarFinder, IRAFStarFinder):
        table = cls(5.0, FWHM)(NDData(image, wcs=wcs))
        assert table.colnames[3] == "sky_centroid"
        expect = wcs.pixel_to_world(table["x_centroid"], table["y_centroid"])
        assert expect.separation(table["sky_centroid"]).max().arcsec < 1e-9
        assert "sky_centroid" not in cls(5.0, FWHM)(image).colnames
