"""Tests of the star finders against simulated stars with known truth."""

import warnings

from astropy.nddata import NDData
from astropy.table import QTable
import astropy.units as u
import numpy as np
from numpy.testing import assert_allclose, assert_array_equal
import pytest
from scipy.spatial import cKDTree

from psfkit.datasets import make_gaussian_sources, make_noise_image
from psfkit.photometry import DAOStarFinder, IRAFStarFinder, find_peaks
from psfkit.photometry.detection._kernel import (
    FWHM_PER_SIGMA,
    make_detection_kernel,
)
from psfkit.utils import NoDetectionsWarning

SIGMA = 1.5
FWHM = SIGMA * FWHM_PER_SIGMA
NOISE = 1.0

DAO_COLUMNS = ["id", "xcentroid", "ycentroid", "sharpness", "roundness1",
               "roundness2", "npix", "sky", "peak", "flux", "mag"]
IRAF_COLUMNS = ["id", "xcentroid", "ycentroid", "fwhm", "sharpness",
                "roundness", "pa", "npix", "sky", "peak", "flux", "mag"]


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


def _match(table, truth, xcol="xcentroid", ycol="ycentroid"):
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
    image = (make_gaussian_sources(shape, truth)
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


def test_dao_centroids_sn50(sn50_field):
    image, truth = sn50_field
    table = DAOStarFinder(10 * NOISE, FWHM, sky=10.0)(image)
    assert table.colnames == DAO_COLUMNS
    assert len(table) == len(truth)
    dist, idx = _match(table, truth)
    assert len(np.unique(idx)) == len(truth)
    dx = np.asarray(table["xcentroid"])[idx] - truth["x_mean"]
    dy = np.asarray(table["ycentroid"])[idx] - truth["y_mean"]
    assert np.sqrt(np.mean(dx**2)) < 0.05
    assert np.sqrt(np.mean(dy**2)) < 0.05
    assert abs(np.mean(dx)) < 0.01 and abs(np.mean(dy)) < 0.01
    assert_array_equal(table["id"], np.arange(1, len(table) + 1))
    # round stars: statistics near the values for a matched kernel
    assert np.all(np.abs(table["roundness1"]) < 0.3)
    assert np.all(np.abs(table["roundness2"]) < 0.3)
    # sky-subtracted peaks close to the true amplitude
    assert abs(np.median(table["peak"]) - 50.0) < 3.0


def test_dao_noiseless_is_exact():
    shape = (120, 150)
    truth = _grid_stars(shape, 30, 40.0, seed=3)
    image = make_gaussian_sources(shape, truth)
    table = DAOStarFinder(5.0, FWHM)(image)
    dist, _ = _match(table, truth)
    assert len(table) == len(truth)
    assert dist.max() < 1e-4


def test_iraf_centroids_sn50(sn50_field):
    image, truth = sn50_field
    table = IRAFStarFinder(10 * NOISE, FWHM)(image)
    assert table.colnames == IRAF_COLUMNS
    dist, idx = _match(table, truth)
    assert len(np.unique(idx)) == len(truth) == len(table)
    # moments over a peak-centred window are pulled towards the peak pixel
    assert np.sqrt(np.mean(dist**2)) < 0.1
    # the local sky of the box corners includes the stars' wings
    # (50 * exp(-8 / (2 * 1.5**2)) = 8.4 for a star centred on a pixel)
    assert 10.0 < np.median(table["sky"]) < 10.0 + 12.0
    fixed = IRAFStarFinder(10 * NOISE, FWHM, sky=10.0)(image)
    assert_allclose(fixed["sky"], 10.0)
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
    image = make_gaussian_sources((40, 320), truth)
    fwhm = sigma * FWHM_PER_SIGMA
    moments = IRAFStarFinder(5.0, fwhm, roundhi=1.0)(image)
    err = np.asarray(moments["xcentroid"]) - truth["x_mean"]
    # the moments are pulled towards the peak pixel's centre
    assert np.all(np.sign(err[off != 0]) == -np.sign(off[off != 0]))
    assert 0.03 < np.abs(err).max() < 0.15
    windowed = IRAFStarFinder(5.0, fwhm, roundhi=1.0,
                              centroid="windowed")(image)
    assert_allclose(windowed["xcentroid"], truth["x_mean"], atol=0.005)
    assert_allclose(windowed["ycentroid"], truth["y_mean"], atol=0.005)


def test_iraf_moments_of_centred_elliptical_star():
    truth = QTable({"amplitude": [100.0], "x_mean": [15.0], "y_mean": [12.0],
                    "x_stddev": [1.6], "y_stddev": [1.2], "theta": [0.0]})
    image = make_gaussian_sources((25, 31), truth)
    table = IRAFStarFinder(5.0, FWHM, roundhi=1.0)(image)
    assert len(table) == 1
    assert_allclose(table["xcentroid"], 15.0, atol=1e-12)
    assert_allclose(table["ycentroid"], 12.0, atol=1e-12)
    assert table["roundness"][0] > 0.05
    assert_allclose(table["pa"], 0.0, atol=1e-9)
    rotated = IRAFStarFinder(5.0, FWHM, roundhi=1.0)(image.T)
    assert_allclose(rotated["pa"], 90.0, atol=1e-9)


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


def test_border_stars_and_exclude_border():
    truth = QTable({"amplitude": [60.0, 60.0, 60.0],
                    "x_mean": [1.2, 30.0, 58.6], "y_mean": [20.0, 1.0, 38.7],
                    "x_stddev": [SIGMA] * 3, "y_stddev": [SIGMA] * 3})
    image = make_gaussian_sources((40, 60), truth) + 100.0
    kept = DAOStarFinder(5.0, FWHM)(image)
    assert len(kept) == 3
    dist, _ = _match(kept, truth)
    assert dist.max() < 0.3
    with pytest.warns(NoDetectionsWarning):
        excluded = DAOStarFinder(5.0, FWHM, exclude_border=True)(image)
    assert len(excluded) == 0
    assert len(IRAFStarFinder(5.0, FWHM, roundhi=1.0)(image)) == 3
    with pytest.warns(NoDetectionsWarning):
        IRAFStarFinder(5.0, FWHM, exclude_border=True)(image)


def test_flat_sky_edges_and_mask_edges_give_no_detections():
    image = np.full((64, 64), 1000.0)
    mask = np.zeros(image.shape, dtype=bool)
    mask[20:40, 10:30] = True
    for finder in (DAOStarFinder(1.0, FWHM), IRAFStarFinder(1.0, FWHM)):
        with pytest.warns(NoDetectionsWarning):
            assert len(finder(image, mask=mask)) == 0


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
    assert table["npix"].dtype.kind == "i"
    assert table["xcentroid"].dtype.kind == "f"
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
    image = make_gaussian_sources((40, 60), truth)
    mask = np.zeros(image.shape, dtype=bool)
    mask[14:27, 8:23] = True
    table = DAOStarFinder(5.0, FWHM)(image, mask=mask)
    assert len(table) == 1
    assert_allclose(table["xcentroid"], 45.0, atol=0.01)
    # one NaN pixel in the wing of a star: still found, nearly unbiased
    image[21, 44] = np.nan
    table = DAOStarFinder(5.0, FWHM)(image)
    assert len(table) == 2
    dist, _ = _match(table, truth)
    assert dist.max() < 0.1
    assert table["npix"][1] == table["npix"][0] - 1


def test_quantity_and_nddata_images():
    truth = QTable({"amplitude": [50.0], "x_mean": [12.2], "y_mean": [9.7],
                    "x_stddev": [SIGMA], "y_stddev": [SIGMA]})
    plain = make_gaussian_sources((21, 25), truth)
    image = plain * u.electron
    table = DAOStarFinder(5.0 * u.electron, FWHM)(image)
    ref = DAOStarFinder(5.0, FWHM)(plain)
    assert table["flux"].unit == u.electron
    assert table["peak"].unit == u.electron
    assert table["sky"].unit == u.electron
    assert_allclose(table["flux"].value, ref["flux"])
    assert_allclose(table["xcentroid"], ref["xcentroid"])
    # a plain-number threshold is taken to be in the data unit
    assert len(DAOStarFinder(5.0, FWHM)(image)) == 1
    jy = DAOStarFinder(5000.0 * u.mJy, FWHM)(plain * u.Jy)
    assert_allclose(jy["xcentroid"], ref["xcentroid"])
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
    image = make_gaussian_sources((30, 80), truth)
    table = DAOStarFinder(5.0, FWHM, brightest=2)(image)
    assert_allclose(table["xcentroid"], [70.0, 30.0], atol=1e-3)
    assert_array_equal(table["id"], [1, 2])
    table = DAOStarFinder(5.0, FWHM, peakmax=100.0)(image)
    assert_allclose(np.sort(table["xcentroid"]), [10.0, 30.0, 50.0], atol=1e-3)
    table = IRAFStarFinder(5.0, FWHM, brightest=1)(image)
    assert_allclose(table["xcentroid"], [70.0], atol=1e-3)


@pytest.mark.parametrize("theta", [0.0, 90.0])
def test_elongated_kernel_finds_elongated_stars(theta):
    truth = QTable({"amplitude": [60.0], "x_mean": [25.3], "y_mean": [24.6],
                    "x_stddev": [2.5], "y_stddev": [1.25],
                    "theta": [np.deg2rad(theta)]})
    image = make_gaussian_sources((50, 50), truth)
    table = DAOStarFinder(5.0, 2.5 * FWHM_PER_SIGMA, ratio=0.5,
                          theta=theta)(image)
    assert len(table) == 1
    assert_allclose([table["xcentroid"][0], table["ycentroid"][0]],
                    [25.3, 24.6], atol=1e-3)
    # extended along x: negative roundness; along y: positive
    sign = -1 if theta == 0.0 else 1
    assert sign * table["roundness1"][0] > 0.2
    assert sign * table["roundness2"][0] > 0.1


def test_threshold_array_and_validation():
    truth = QTable({"amplitude": [50.0, 50.0], "x_mean": [10.0, 30.0],
                    "y_mean": [10.0, 10.0], "x_stddev": [SIGMA] * 2,
                    "y_stddev": [SIGMA] * 2})
    image = make_gaussian_sources((20, 40), truth)
    thr = np.full(image.shape, 5.0)
    thr[:, 20:] = 500.0
    table = DAOStarFinder(thr, FWHM)(image)
    assert_allclose(table["xcentroid"], [10.0], atol=1e-3)
    with pytest.raises(ValueError, match="threshold"):
        DAOStarFinder(np.ones((3, 3)), FWHM)(image)
    with pytest.raises(ValueError, match="fwhm"):
        DAOStarFinder(5.0, -1.0)
    with pytest.raises(ValueError, match="ratio"):
        DAOStarFinder(5.0, 3.0, ratio=1.5)
    with pytest.raises(ValueError, match="sharplo"):
        DAOStarFinder(5.0, 3.0, sharplo=2.0, sharphi=1.0)
    with pytest.raises(ValueError, match="threshold"):
        IRAFStarFinder(np.nan, 3.0)
    with pytest.raises(ValueError, match="centroid"):
        IRAFStarFinder(5.0, 3.0, centroid="fit")
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
    assert sorted(table["peak_value"].tolist()) == [7.0, 9.0]
    footprint = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=bool)
    assert len(find_peaks(image, 1.0, footprint=footprint)) == 4
    # a plateau yields one peak
    flat = np.zeros((9, 9))
    flat[3:5, 3:6] = 2.0
    table = find_peaks(flat, 1.0)
    assert len(table) == 1 and (table["x_peak"][0], table["y_peak"][0]) == (3, 3)
    with pytest.warns(NoDetectionsWarning):
        empty = find_peaks(image * u.Jy, 100.0 * u.Jy)
    assert empty.colnames == ["id", "x_peak", "y_peak", "peak_value"]
    assert empty["peak_value"].unit == u.Jy
    with pytest.raises(ValueError, match="box_size"):
        find_peaks(image, 1.0, box_size=4)
    with pytest.raises(ValueError, match="footprint"):
        find_peaks(image, 1.0, footprint=np.ones((2, 2)))


def test_agreement_with_photutils_dao(sn50_field):
    detection = pytest.importorskip("photutils.detection")
    image, truth = sn50_field
    # photutils pads with zeros: give both a zero sky so edges are comparable
    image = image - 10.0
    ours = DAOStarFinder(10.0, FWHM)(image)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = detection.DAOStarFinder(10.0, FWHM)(image)
    xcol = "x_centroid" if "x_centroid" in theirs.colnames else "xcentroid"
    ycol = "y_centroid" if "y_centroid" in theirs.colnames else "ycentroid"
    assert len(ours) == len(theirs)
    dist, idx = _match(ours, QTable({"x_mean": theirs[xcol],
                                     "y_mean": theirs[ycol]}))
    assert dist.max() < 0.1
    # identical definitions away from the edges
    assert_allclose(np.asarray(ours["sharpness"])[idx], theirs["sharpness"],
                    rtol=1e-9)
    assert_allclose(np.asarray(ours["roundness1"])[idx], theirs["roundness1"],
                    rtol=1e-9, atol=1e-12)
    # our iterated fit is at least as close to the truth
    d_ours, _ = _match(ours, truth)
    d_theirs, _ = _match(theirs, truth, xcol, ycol)
    assert np.sqrt(np.mean(d_ours**2)) <= np.sqrt(np.mean(d_theirs**2)) + 0.005


def test_agreement_with_photutils_iraf(sn50_field):
    detection = pytest.importorskip("photutils.detection")
    image, _ = sn50_field
    image = image - 10.0
    ours = IRAFStarFinder(10.0, FWHM)(image)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = detection.IRAFStarFinder(10.0, FWHM, minsep_fwhm=2.5)(image)
    xcol = "x_centroid" if "x_centroid" in theirs.colnames else "xcentroid"
    ycol = "y_centroid" if "y_centroid" in theirs.colnames else "ycentroid"
    assert len(ours) == len(theirs)
    dist, idx = _match(ours, QTable({"x_mean": theirs[xcol],
                                     "y_mean": theirs[ycol]}))
    assert dist.max() < 1e-9
    for name in ("sharpness", "roundness", "fwhm"):
        assert_allclose(np.asarray(ours[name])[idx], theirs[name], rtol=1e-9)
    assert_allclose(np.asarray(ours["flux"])[idx],
                    np.asarray(getattr(theirs["flux"], "value", theirs["flux"])),
                    rtol=1e-9)


def test_find_peaks_agrees_with_photutils():
    detection = pytest.importorskip("photutils.detection")
    rng = np.random.default_rng(11)
    image = rng.normal(size=(60, 70))
    ours = find_peaks(image, 1.5, box_size=5)
    theirs = detection.find_peaks(image, 1.5, box_size=5)
    a = set(zip(ours["x_peak"].tolist(), ours["y_peak"].tolist(), strict=True))
    b = set(zip(np.asarray(theirs["x_peak"]).tolist(),
                np.asarray(theirs["y_peak"]).tolist(), strict=True))
    assert a == b


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
    # an image smaller than the kernel still works
    tiny = np.zeros((3, 4))
    tiny[1, 2] = 10.0
    table = DAOStarFinder(1.0, FWHM, sharphi=2.0)(tiny)
    assert len(table) == 1
    assert_allclose([table["xcentroid"][0], table["ycentroid"][0]], [2.0, 1.0],
                    atol=0.2)
