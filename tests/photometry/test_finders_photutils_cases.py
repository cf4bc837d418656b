"""
photutils' finder tests, re-expressed for psfkit's finders.

The cases below restate, in psfkit's own code, the inputs and expected
behaviour of tests in photutils 3.0's ``photutils/detection/tests``
(``test_daofinder.py``, ``test_irafstarfinder.py``, ``test_peakfinder.py``).
photutils is distributed under the BSD 3-Clause licence.  Each test names
the photutils test it mirrors; the adaptations (psfkit returns a zero-row
table where photutils returns `None`, accepts the seed's spellings without
a deprecation warning, and defaults DAOStarFinder's ``min_separation`` to
DAOFIND's footprint) are listed in docs/photometry/detection.rst.
"""

import warnings

import astropy.units as u
from astropy.wcs import WCS
import numpy as np
from numpy.testing import assert_array_equal, assert_equal
from photutils_fixtures import prf_field
import pytest
from scipy import ndimage

from psfkit.photometry import (
    CircularGaussianPRF,
    DAOStarFinder,
    IRAFStarFinder,
    find_peaks,
)
from psfkit.utils import NoDetectionsWarning


@pytest.fixture(scope="module")
def data():
    return prf_field()[0]


def _tables_equal(a, b):
    assert a.colnames == b.colnames
    for name in a.colnames:
        assert_array_equal(np.asarray(getattr(a[name], "value", a[name])),
                           np.asarray(getattr(b[name], "value", b[name])))


def _nothing_found(finder, image, **kwargs):
    with pytest.warns(NoDetectionsWarning):
        table = finder(image, **kwargs)
    assert len(table) == 0
    return table


def _centroid_com(data, mask=None, error=None):
    """An intensity-weighted centroid (what photutils' centroid_com does)."""
    values = np.where(mask, 0.0, data) if mask is not None else data
    yy, xx = np.indices(values.shape)
    total = values.sum()
    return (xx * values).sum() / total, (yy * values).sum() / total


# ------------------------------------------------------------ DAOStarFinder
def test_dao_find(data):
    # mirrors test_daofinder.py::TestDAOStarFinder::test_find
    tbl0 = DAOStarFinder(5.0, 1.0, min_separation=None)(data)
    tbl1 = DAOStarFinder(5.0 * u.Jy, 1.0, min_separation=None)(data << u.Jy)
    assert_array_equal(tbl0["x_centroid"], tbl1["x_centroid"])
    assert_array_equal(tbl0["flux"], tbl1["flux"].value)
    assert tbl1["flux"].unit == u.Jy
    # with threshold 0 every star is found
    assert len(DAOStarFinder(0, 1.0, min_separation=None)(data)) == 25


def test_dao_inputs():
    # mirrors test_daofinder.py::TestDAOStarFinder::test_inputs
    with pytest.raises(TypeError, match="fwhm must be a scalar"):
        DAOStarFinder(threshold=3.0, fwhm=np.ones((2, 2)))
    for fwhm in (-10, 0):
        with pytest.raises(ValueError, match="fwhm must be a positive"):
            DAOStarFinder(threshold=3.0, fwhm=fwhm)
    with pytest.raises(ValueError, match="ratio must be in"):
        DAOStarFinder(threshold=3.0, fwhm=2, ratio=-10)
    with pytest.raises(ValueError, match="sigma_radius must be a positive"):
        DAOStarFinder(threshold=3.0, fwhm=2, sigma_radius=-10)
    with pytest.raises(ValueError, match="n_brightest must be >= 1"):
        DAOStarFinder(threshold=10, fwhm=1.5, n_brightest=-1)
    with pytest.raises(ValueError, match="n_brightest must be an integer"):
        DAOStarFinder(threshold=10, fwhm=1.5, n_brightest=3.1)
    with pytest.raises(ValueError, match="xycoords must be a finite"):
        DAOStarFinder(threshold=10, fwhm=1.5,
                      xycoords=np.array([[1, 2, 3, 4], [5, 6, 7, 8]]))


@pytest.mark.parametrize(("theta", "expected"),
                         [(400.0, 40.0), (-30.0, 330.0), (360.0, 0.0),
                          (0.0, 0.0)])
def test_dao_theta_normalization(theta, expected):
    # mirrors test_daofinder.py::TestDAOStarFinder::test_theta_normalization
    assert DAOStarFinder(threshold=5.0, fwhm=3.0, theta=theta).theta == expected


def test_dao_nosources(data):
    # mirrors test_daofinder.py::TestDAOStarFinder::test_nosources
    # (photutils returns None; psfkit a zero-row table with every column)
    empty = _nothing_found(DAOStarFinder(threshold=100, fwhm=2), data)
    assert "x_centroid" in empty.colnames
    _nothing_found(DAOStarFinder(threshold=1, fwhm=2), -data)


def test_dao_exclude_border():
    # mirrors test_daofinder.py::TestDAOStarFinder::test_exclude_border
    image = np.zeros((9, 9))
    for k in (0, 2, 4, 6):
        image[k, k] = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoDetectionsWarning)
        tbl0 = DAOStarFinder(threshold=0.1, fwhm=0.5)(image)
        tbl1 = DAOStarFinder(threshold=0.1, fwhm=0.5, exclude_border=True)(image)
    assert len(tbl0) > len(tbl1)


@pytest.mark.parametrize("finder_cls", [DAOStarFinder, IRAFStarFinder])
def test_mask_and_integer_mask(data, finder_cls):
    # mirrors test_daofinder.py::TestDAOStarFinder::test_mask, ::test_mask_int
    # and test_irafstarfinder.py::TestIRAFStarFinder::test_mask, ::test_mask_int
    finder = finder_cls(threshold=1.0, fwhm=1.5)
    mask = np.zeros(data.shape, dtype=bool)
    mask[0:50, :] = True
    tbl0 = finder(data)
    tbl1 = finder(data, mask=mask)
    assert len(tbl0) > len(tbl1)
    _tables_equal(tbl1, finder(data, mask=mask.astype(int)))


@pytest.mark.parametrize("finder_cls", [DAOStarFinder, IRAFStarFinder])
def test_xycoords(data, finder_cls):
    # mirrors test_daofinder.py::TestDAOStarFinder::test_xycoords and
    # test_irafstarfinder.py::TestIRAFStarFinder::test_xycoords
    # (the peak pixels are found independently, with scipy, rather than by
    # rounding the centroids, which can be more than half a pixel away)
    finder = finder_cls(threshold=4.0, fwhm=2)
    tbl0 = finder(data)
    kernel = finder.kernel
    conv = ndimage.convolve(data, kernel.kernel, mode="constant")
    footprint = (kernel.footprint if finder.separation == 0 else
                 np.hypot(*np.mgrid[-9:10, -9:10]) <= finder.separation)
    thr = finder.threshold_eff if finder_cls is DAOStarFinder else 4.0
    peaks = (conv == ndimage.maximum_filter(conv, footprint=footprint,
                                            mode="constant")) & (conv > thr)
    ys, xs = np.nonzero(peaks)
    tbl1 = finder_cls(threshold=4.0, fwhm=2,
                      xycoords=np.column_stack([xs, ys]))(data)
    _tables_equal(tbl0, tbl1)


def test_dao_min_separation(data):
    # mirrors test_daofinder.py::TestDAOStarFinder::test_min_separation and
    # ::test_min_separation_default (psfkit's default is DAOFIND's
    # footprint; None is photutils 3.0's 2.5 * fwhm)
    finder1 = DAOStarFinder(1.0, 1.0, min_separation=None)
    assert finder1.separation == 2.5
    tbl1 = finder1(data)
    # (20 rather than 10 pixels: psfkit's simulated stars are 15-23 apart)
    tbl2 = DAOStarFinder(1.0, 1.0, min_separation=20.0)(data)
    assert len(tbl1) > len(tbl2)
    assert DAOStarFinder(1.0, 2.0).min_separation == 0
    with pytest.raises(ValueError, match="min_separation must be >= 0"):
        DAOStarFinder(threshold=10, fwhm=1.5, min_separation=-1.0)


@pytest.mark.parametrize("finder_cls", [DAOStarFinder, IRAFStarFinder])
def test_n_brightest_and_peak_max(data, finder_cls):
    # mirrors test_daofinder.py::TestDAOStarFinder::test_brightest_filtering
    # and test_irafstarfinder.py::TestIRAFStarFinder::test_n_brightest_filtering
    loose = {"roundness_range": (-np.inf, np.inf),
             "sharpness_range": (-np.inf, np.inf)}
    everything = finder_cls(threshold=1.0, fwhm=1.5, **loose)(data)
    tbl = finder_cls(threshold=1.0, fwhm=1.5, n_brightest=10, **loose)(data)
    assert len(tbl) == 10
    assert_equal(np.sort(tbl["flux"])[::-1],
                 np.sort(everything["flux"])[::-1][:10])
    tbl = finder_cls(threshold=1.0, fwhm=1.5, n_brightest=10, peak_max=8,
                     **loose)(data)
    assert len(tbl) == min(10, int(np.sum(everything["peak"] <= 8)))


@pytest.mark.parametrize(("finder_cls", "name"),
                         [(DAOStarFinder, "sharpness_range"),
                          (DAOStarFinder, "roundness_range"),
                          (IRAFStarFinder, "sharpness_range"),
                          (IRAFStarFinder, "roundness_range")])
def test_ranges_none_strict_and_invalid(data, finder_cls, name):
    # mirrors test_daofinder.py::TestDAOStarFinder::test_sharpness,
    # ::test_invalid_sharpness_range, ::test_sharpness_range_none,
    # ::test_roundness, ::test_invalid_roundness_range,
    # ::test_roundness_range_none and the same tests of
    # test_irafstarfinder.py
    other = "roundness_range" if name == "sharpness_range" else "sharpness_range"
    kwargs = {"threshold": 1, "fwhm": 1.0, other: None}
    tbl_none = finder_cls(**kwargs, **{name: None})(data)
    assert len(tbl_none) >= 1
    _nothing_found(finder_cls(**kwargs, **{name: (1.0, 1.0)}), data)
    for bad in (0.5, (0.5,), (1, 2, 3)):
        with pytest.raises(ValueError, match=f"{name} must be a"):
            finder_cls(threshold=1, fwhm=1.0, **{name: bad})


@pytest.mark.parametrize("finder_cls", [DAOStarFinder, IRAFStarFinder])
def test_peak_max(data, finder_cls):
    # mirrors test_daofinder.py::TestDAOStarFinder::test_peak_max,
    # ::test_peak_max_filtering and the same tests of test_irafstarfinder.py
    _nothing_found(finder_cls(threshold=1, fwhm=1.0, peak_max=1.0), data)
    loose = {"roundness_range": (-np.inf, np.inf),
             "sharpness_range": (-np.inf, np.inf)}
    tbl0 = finder_cls(threshold=1.0, fwhm=1.5, **loose)(data)
    tbl1 = finder_cls(threshold=1.0, fwhm=1.5, peak_max=8, **loose)(data)
    assert len(tbl0) > len(tbl1)
    assert np.all(tbl1["peak"] <= 8)


@pytest.mark.parametrize("finder_cls", [DAOStarFinder, IRAFStarFinder])
def test_single_detected_source(data, finder_cls):
    # mirrors test_daofinder.py::TestDAOStarFinder::test_single_detected_source
    # (the catalogue-slicing part tests photutils' internal class)
    mask = np.zeros(data.shape, dtype=bool)
    mask[0:50] = True
    tbl = finder_cls(4.0, 2, n_brightest=1)(data, mask=mask)
    assert len(tbl) == 1


def test_dao_interval_ends_included():
    # mirrors test_daofinder.py::TestDAOStarFinder::test_interval_ends_included
    image = np.zeros((46, 64))
    image[20:23, 32:35] = [[1.0, 2.0, 1.0], [2.0, 1.0e20, 2.0],
                           [1.0, 2.0, 1.0]]
    finder = DAOStarFinder(threshold=0, fwhm=2.5, roundness_range=(0, 1.0),
                           sharpness_range=(0.2, 1.407913491884342),
                           peak_max=1.0e20)
    tbl = finder.find_stars(image)
    assert len(tbl) == 1
    assert tbl[0]["roundness1"] < 1e-15
    assert tbl[0]["roundness2"] == 0.0
    assert tbl[0]["peak"] == 1.0e20


def test_iraf_interval_ends_included():
    # mirrors test_irafstarfinder.py::TestIRAFStarFinder::test_interval_ends_included
    image = np.zeros((46, 64))
    image[20:23, 32:35] = [[0.1, 0.6, 0.1], [0.6, 0.8, 0.6],
                           [0.1, 0.6, 0.1]]
    loose = IRAFStarFinder(threshold=0, fwhm=0.2, roundness_range=(0, 1),
                           sharpness_range=None)
    tbl = loose(image)
    assert len(tbl) == 1
    sharp = float(tbl[0]["sharpness"])
    exact = IRAFStarFinder(threshold=0, fwhm=0.2, roundness_range=(0, 1),
                           sharpness_range=(sharp, sharp))
    assert len(exact(image)) == 1


@pytest.mark.parametrize("finder_cls", [DAOStarFinder, IRAFStarFinder])
def test_data_not_mutated(data, finder_cls):
    # mirrors test_daofinder.py::TestDAOStarFinder::test_data_not_mutated,
    # ::test_data_not_mutated_with_mask and the same tests of
    # test_irafstarfinder.py
    copy = data.copy()
    mask = np.zeros(data.shape, dtype=bool)
    mask[0:50] = True
    finder = finder_cls(threshold=1.0, fwhm=1.5)
    finder(data)
    finder(data, mask=mask)
    assert_array_equal(data, copy)


def test_reprs():
    # mirrors test_daofinder.py::TestDAOStarFinder::test_repr,
    # ::test_repr_with_xycoords, ::test_threshold_2d_repr,
    # ::test_scale_threshold_in_repr (psfkit's repr lists the settings
    # that differ from the defaults; the HTML repr lists them all)
    text = repr(DAOStarFinder(threshold=5.0, fwhm=3.0))
    assert text == "DAOStarFinder(threshold=5, fwhm=3)"
    assert "ratio" in DAOStarFinder(threshold=5.0, fwhm=3.0)._repr_html_()
    text = repr(DAOStarFinder(5.0, 3.0, xycoords=np.array([[5, 5], [10, 10]])))
    assert "xycoords=<float64 array (2, 2)>" in text
    assert "threshold=<float64 array (10, 10)>" in repr(
        DAOStarFinder(threshold=np.ones((10, 10)), fwhm=3.0))
    assert "scale_threshold=False" in repr(
        DAOStarFinder(threshold=5.0, fwhm=3.0, scale_threshold=False))
    assert repr(IRAFStarFinder(5.0, 3.0)) == "IRAFStarFinder(threshold=5, fwhm=3)"


@pytest.mark.parametrize("finder_cls", [DAOStarFinder, IRAFStarFinder])
def test_threshold_2d(data, finder_cls):
    # mirrors test_daofinder.py::TestDAOStarFinder::test_threshold_2d_uniform,
    # ::test_threshold_2d_varying, ::test_threshold_2d_with_units and the
    # same tests of test_irafstarfinder.py
    scalar = finder_cls(5.0, 1.0)(data)
    _tables_equal(scalar, finder_cls(np.full(data.shape, 5.0), 1.0)(data))
    varying = np.full(data.shape, 5.0)
    varying[:50] = 1e10
    tbl = finder_cls(varying, 1.0)(data)
    assert np.all(tbl["y_centroid"] >= 50)
    tbl = finder_cls(np.full(data.shape, 5.0) * u.Jy, 1.0)(data << u.Jy)
    assert len(tbl) > 0


def test_dao_scale_threshold(data):
    # mirrors test_daofinder.py::TestDAOStarFinder::test_scale_threshold_default,
    # ::test_scale_threshold_false, ::test_scale_threshold_false_different_results
    # and ::test_scale_threshold_false_with_2d
    default = DAOStarFinder(5.0, 1.5)
    _tables_equal(default(data),
                  DAOStarFinder(5.0, 1.5, scale_threshold=True)(data))
    assert default.threshold_eff != 5.0
    unscaled = DAOStarFinder(5.0, 1.5, scale_threshold=False)
    assert unscaled.threshold_eff == 5.0
    assert len(unscaled(data)) > 0
    assert len(unscaled(data)) != len(default(data))
    assert len(DAOStarFinder(np.full(data.shape, 5.0), 1.5,
                             scale_threshold=False)(data)) > 0


@pytest.mark.parametrize("finder_cls", [DAOStarFinder, IRAFStarFinder])
def test_seed_spellings(finder_cls):
    # mirrors test_daofinder.py::TestDAOStarFinder::test_deprecated_sharplo_sharphi,
    # ::test_deprecated_roundlo_roundhi, ::test_deprecated_brightest,
    # ::test_deprecated_peakmax and those of test_irafstarfinder.py: the
    # seed's spellings keep working (without a deprecation warning, as the
    # seed's API is psfkit's own) and set the photutils 3.x settings
    finder = finder_cls(1.0, 2.0, sharplo=0.3, sharphi=0.9, roundlo=-0.5,
                        roundhi=0.5, brightest=5, peakmax=100.0)
    assert finder.sharpness_range == (0.3, 0.9)
    assert finder.roundness_range == (-0.5, 0.5)
    assert finder.n_brightest == 5 and finder.brightest == 5
    assert finder.peak_max == 100.0 and finder.peakmax == 100.0
    with pytest.raises(TypeError, match="give only one"):
        finder_cls(1.0, 2.0, brightest=5, n_brightest=6)


def test_iraf_minsep_fwhm(data):
    # mirrors test_irafstarfinder.py::TestIRAFStarFinder::test_deprecated_minsep_fwhm
    # and ::test_min_separation_default (psfkit's default is IRAF's rounded
    # separation; photutils 3.0's is 2.5 * fwhm unrounded)
    finder = IRAFStarFinder(threshold=1.0, fwhm=2.0, minsep_fwhm=2.5)
    assert finder.separation == max(2, int(2.0 * 2.5 + 0.5))
    assert IRAFStarFinder(1.0, 2.0, min_separation=7.0).separation == 7.0
    tbl0 = IRAFStarFinder(1.0, 1.0, min_separation=1.0)(data)
    tbl1 = IRAFStarFinder(1.0, 1.0, min_separation=10.0)(data)
    assert len(tbl0) >= len(tbl1)


# ----------------------------------------------------------- IRAFStarFinder
def test_iraf_find(data):
    # mirrors test_irafstarfinder.py::TestIRAFStarFinder::test_find
    tbl0 = IRAFStarFinder(5.0, 1.0)(data)
    tbl1 = IRAFStarFinder(5.0 * u.Jy, 1.0)(data << u.Jy)
    assert_array_equal(tbl0["flux"], tbl1["flux"].value)
    assert tbl1["peak"].unit == u.Jy
    assert tbl0["orientation"].unit == u.deg


def test_iraf_inputs():
    # mirrors test_irafstarfinder.py::TestIRAFStarFinder::test_inputs
    with pytest.raises(TypeError, match="fwhm must be a scalar"):
        IRAFStarFinder(threshold=3.0, fwhm=np.ones((2, 2)))
    with pytest.raises(ValueError, match="fwhm must be a positive"):
        IRAFStarFinder(threshold=3.0, fwhm=-10)
    with pytest.raises(ValueError, match="sigma_radius must be a positive"):
        IRAFStarFinder(threshold=3.0, fwhm=2, sigma_radius=-10)
    with pytest.raises(ValueError, match="minsep_fwhm must be >= 0"):
        IRAFStarFinder(threshold=3.0, fwhm=2, minsep_fwhm=-1)
    with pytest.raises(ValueError, match="n_brightest must be >= 1"):
        IRAFStarFinder(threshold=10, fwhm=1.5, n_brightest=-1)


def test_iraf_nosources():
    # mirrors test_irafstarfinder.py::TestIRAFStarFinder::test_nosources;
    # psfkit refuses a kernel larger than the image (5x5 on 3x3) instead
    with pytest.raises(ValueError, match="larger than the 3x3 image"):
        IRAFStarFinder(threshold=10, fwhm=1)(np.ones((3, 3)))
    _nothing_found(IRAFStarFinder(threshold=10, fwhm=1), np.ones((5, 5)))
    image = np.ones((5, 5))
    image[2, 2] = 10.0
    _nothing_found(IRAFStarFinder(threshold=0.1, fwhm=0.1, min_separation=0),
                   -image)


def test_iraf_all_border_sources():
    # mirrors test_irafstarfinder.py::TestIRAFStarFinder::test_all_border_sources
    yy, xx = np.mgrid[:51, :51]
    finder = IRAFStarFinder(threshold=1, fwhm=2.0, roundness_range=(-0.1, 0.2),
                            exclude_border=True)
    image = CircularGaussianPRF(flux=100, x_0=1, y_0=1, fwhm=2)(xx, yy)
    _nothing_found(finder, image)
    image = image + CircularGaussianPRF(flux=100, x_0=50, y_0=50, fwhm=2)(xx, yy)
    _nothing_found(finder, image)
    image = image + CircularGaussianPRF(flux=100, x_0=30, y_0=30, fwhm=2)(xx, yy)
    assert len(finder(image)) == 1


# --------------------------------------------------------------- find_peaks
def test_find_peaks_box_size_and_units(data):
    # mirrors test_peakfinder.py::TestFindPeaks::test_box_size
    tbl = find_peaks(data, 0.1, box_size=3)
    assert tbl["id"][0] == 1 and len(tbl) == 25
    assert tbl.colnames == ["id", "x_peak", "y_peak", "peak_value"]
    assert tbl["x_peak"].min() > 0 and tbl["x_peak"].max() < 101
    assert tbl["peak_value"].max() < 13.2
    tbl2 = find_peaks(data << u.Jy, 0.1 << u.Jy, box_size=3)
    assert_equal(tbl["x_peak"], tbl2["x_peak"])
    assert tbl2["peak_value"].unit == u.Jy
    assert_equal(tbl["peak_value"], tbl2["peak_value"].value)


def test_find_peaks_footprint_and_masks(data):
    # mirrors test_peakfinder.py::TestFindPeaks::test_footprint,
    # ::test_mask, ::test_mask_int, ::test_maskshape, ::test_thresholdshape
    _tables_equal(find_peaks(data, 0.1, box_size=3),
                  find_peaks(data, 0.1, footprint=np.ones((3, 3))))
    mask = np.zeros(data.shape, dtype=bool)
    mask[0:50, :] = True
    masked = find_peaks(data, 0.1, box_size=3, mask=mask)
    assert len(masked) < 25
    _tables_equal(masked, find_peaks(data, 0.1, box_size=3,
                                     mask=mask.astype(int)))
    with pytest.raises(ValueError, match="mask must have the same shape"):
        find_peaks(data, 0.1, mask=np.ones((5, 5)))
    with pytest.raises(ValueError, match="threshold must be a scalar or have "
                       "the shape of the data"):
        find_peaks(data, np.ones((2, 2)))


def test_find_peaks_n_peaks_and_border(data):
    # mirrors test_peakfinder.py::TestFindPeaks::test_n_peaks,
    # ::test_border_width, ::test_border_width_excludes_all
    assert len(find_peaks(data, 0.1, box_size=3, n_peaks=1)) == 1
    n0 = len(find_peaks(data, 0.1, box_size=3))
    assert len(find_peaks(data, 0.1, box_size=3, border_width=0)) == n0
    assert len(find_peaks(data, 0.1, box_size=3, border_width=(0, 0))) == n0
    n3 = len(find_peaks(data, 0.1, box_size=3, border_width=25))
    assert n3 == len(find_peaks(data, 0.1, box_size=3,
                                border_width=(25, 25)))
    assert n3 < n0
    assert find_peaks(data, 0.1, border_width=(34, 0))["y_peak"].min() >= 34
    assert find_peaks(data, 0.1, border_width=(0, 36))["x_peak"].min() >= 36
    with pytest.raises(ValueError, match="border_width must have values >= 0"):
        find_peaks(data, 0.1, border_width=-1)
    with pytest.raises(ValueError, match="border_width must have integer"):
        find_peaks(data, 0.1, border_width=3.1)
    with pytest.warns(NoDetectionsWarning):
        assert len(find_peaks(data, 0.1, border_width=100)) == 0


def test_find_peaks_centroid_func(data):
    # mirrors test_peakfinder.py::TestFindPeaks::test_centroid_func_callable,
    # ::test_centroid_func_with_error, ::test_centroid_func_with_footprint,
    # ::test_error_without_centroid_func, ::test_min_separation_with_centroid_func
    with pytest.raises(TypeError, match="centroid_func must be a callable"):
        find_peaks(data, 0.1, box_size=2, centroid_func=True)
    error = np.full(data.shape, 0.1)
    for kwargs in ({"box_size": 3, "error": error},
                   {"footprint": np.ones((4, 4), dtype=bool)},
                   {"min_separation": 10}):
        tbl = find_peaks(data, 0.1, centroid_func=_centroid_com, **kwargs)
        assert {"x_centroid", "y_centroid"} <= set(tbl.colnames)
        assert np.all(np.abs(tbl["x_centroid"] - tbl["x_peak"]) < 1.0)
    _tables_equal(find_peaks(data, 0.1, box_size=3),
                  find_peaks(data, 0.1, box_size=3, error=error))


def test_find_peaks_wcs(data):
    # mirrors test_peakfinder.py::TestFindPeaks::test_wcs
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [197.9, -1.36]
    wcs.wcs.crpix = [50.0, 50.0]
    wcs.wcs.cdelt = [-1.5e-5, 1.5e-5]
    tbl = find_peaks(data, 1, wcs=wcs, centroid_func=_centroid_com)
    assert tbl.colnames == ["id", "x_peak", "y_peak", "skycoord_peak",
                            "peak_value", "x_centroid", "y_centroid",
                            "skycoord_centroid"]
    sky = wcs.pixel_to_world(tbl["x_peak"], tbl["y_peak"])
    assert np.all(sky.separation(tbl["skycoord_peak"]).arcsec < 1e-9)


def test_find_peaks_constant_and_no_peaks(data):
    # mirrors test_peakfinder.py::TestFindPeaks::test_constant_array and
    # ::test_no_peaks
    with pytest.warns(NoDetectionsWarning, match="constant"):
        assert len(find_peaks(np.ones((10, 10)), 0.0)) == 0
    for kwargs in ({}, {"centroid_func": _centroid_com}):
        with pytest.warns(NoDetectionsWarning):
            assert len(find_peaks(data, 10000, **kwargs)) == 0


def test_find_peaks_nans_and_inputs_kept(data):
    # mirrors test_peakfinder.py::TestFindPeaks::test_data_nans,
    # ::test_data_not_mutated, ::test_data_not_mutated_with_mask,
    # ::test_nan_no_false_peaks, ::test_nan_adjacent_to_peak
    image = data.copy()
    image[50:, :] = np.nan
    find_peaks(image, 0.1)  # no RuntimeWarning (warnings are errors here)
    copy = data.copy()
    find_peaks(data, 0.1, box_size=3, mask=data > 5)
    assert_array_equal(data, copy)
    flat = np.full((50, 50), 5.0)
    flat[25, 25] = 10.0
    flat[10, 10:12] = np.nan
    tbl = find_peaks(flat, 6.0, box_size=3)
    assert (len(tbl), tbl["x_peak"][0], tbl["y_peak"][0]) == (1, 25, 25)
    img = np.zeros((50, 50))
    img[25, 25] = 10.0
    img[25, 26] = img[24, 25] = np.nan
    tbl = find_peaks(img, 1.0, box_size=3)
    assert (len(tbl), tbl["x_peak"][0], tbl["y_peak"][0]) == (1, 25, 25)


@pytest.mark.parametrize("box_size", [3, 5, 7, 11])
def test_find_peaks_box_separation(box_size):
    # mirrors test_peakfinder.py::TestFindPeaks::test_box_size_min_separation
    # and ::test_box_size_below_min_separation
    min_sep = box_size // 2 + 1
    size = 10 * box_size
    img = np.zeros((size, size))
    img[size // 2, size // 2] = 10.0
    img[size // 2, size // 2 + min_sep] = 10.0
    assert len(find_peaks(img, 1.0, box_size=box_size)) == 2
    img = np.zeros((size, size))
    img[size // 2, size // 2] = 10.0
    img[size // 2, size // 2 + min_sep - 1] = 8.0
    tbl = find_peaks(img, 1.0, box_size=box_size)
    assert len(tbl) == 1 and tbl["peak_value"][0] == 10.0


def test_find_peaks_min_separation(data):
    # mirrors test_peakfinder.py::TestFindPeaks::test_min_separation,
    # ::test_min_separation_two_peaks, ::test_min_separation_with_units,
    # ::test_min_separation_with_npeaks, ::test_min_separation_negative,
    # ::test_min_separation_zero, ::test_min_separation_with_footprint
    tbl = find_peaks(data, 0.1, footprint=np.ones((3, 3)), min_separation=10)
    xy = np.column_stack([tbl["x_peak"], tbl["y_peak"]]).astype(float)
    dist = np.hypot(*(xy[:, None, :] - xy[None, :, :]).T)
    assert np.all(dist[np.triu_indices(len(xy), 1)] > 10)
    two = np.zeros((100, 100))
    two[50, 30] = 10.0
    two[50, 50] = 8.0
    assert len(find_peaks(two, 1.0, min_separation=15)) == 2
    one = find_peaks(two << u.Jy, 1.0 << u.Jy, min_separation=25)
    assert len(one) == 1 and one["peak_value"][0] == 10.0 * u.Jy
    four = np.zeros((100, 100))
    for (yy, xx), v in zip([(20, 20), (20, 60), (60, 20), (60, 60)],
                           [10.0, 8.0, 6.0, 4.0], strict=True):
        four[yy, xx] = v
    tbl = find_peaks(four, 1.0, min_separation=5, n_peaks=2)
    assert tbl["peak_value"].tolist() == [10.0, 8.0]
    with pytest.raises(ValueError, match="min_separation must be >= 0"):
        find_peaks(data, 0.1, min_separation=-1)
    _tables_equal(find_peaks(data, 0.1, box_size=3),
                  find_peaks(data, 0.1, box_size=3, min_separation=0))


@pytest.mark.parametrize("radius", [5, 10, 12.5, 25])
def test_find_peaks_min_separation_is_a_circular_footprint(radius):
    # mirrors test_peakfinder.py::TestFindPeaks::
    # test_min_separation_matches_circular_footprint,
    # ::test_min_separation_plateau and
    # ::test_min_separation_keeps_nearby_true_maxima
    rng = np.random.default_rng(42)
    image = rng.standard_normal((200, 200))
    image[50, 50], image[120, 130], image[30, 170] = 20.0, 18.0, 15.0
    image[100:110, 100:110] = 10.0  # a plateau: every pixel is tied
    image[150, 40] = image[150, 51] = 12.0  # two equal peaks 11 px apart
    offsets = np.arange(-radius, radius + 1)
    footprint = offsets[None, :]**2 + offsets[:, None]**2 <= radius**2
    ref = find_peaks(image, 3.0, footprint=footprint)
    fast = find_peaks(image, 3.0, min_separation=radius)
    _tables_equal(ref, fast)


def test_find_peaks_rejects_non_maxima():
    # mirrors test_peakfinder.py::TestFindPeaks::test_min_separation_rejects_non_maxima
    image = np.zeros((100, 100))
    image[50, 50] = 100.0
    image[50, 51:80] = 100.0 - 2 * np.arange(1, 30)
    image[50, 85] = 45.0
    tbl = find_peaks(image, 1.0, min_separation=20)
    assert (len(tbl), tbl["x_peak"][0], tbl["y_peak"][0]) == (1, 50, 50)


def test_find_peaks_negative_data():
    # mirrors test_peakfinder.py::TestFindPeaks::test_all_negative_data and
    # ::test_all_negative_border_suppression (pixels beyond the edges
    # count as 0)
    image = np.full((50, 50), -10.0)
    image[25, 25] = -1.0
    tbl = find_peaks(image, -5.0, box_size=3)
    assert (len(tbl), tbl["x_peak"][0], tbl["y_peak"][0]) == (1, 25, 25)
    image[0, 0] = -1.0
    tbl = find_peaks(image, -5.0, box_size=3)
    assert not np.any((tbl["x_peak"] == 0) & (tbl["y_peak"] == 0))
    assert np.any((tbl["x_peak"] == 25) & (tbl["y_peak"] == 25))
