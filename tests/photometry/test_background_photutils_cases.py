"""
photutils' background tests, re-expressed for psfkit's estimators,
`Background2D` and `LocalBackground`.

The cases below restate, in psfkit's own code, the inputs and expected
behaviour of tests in photutils 3.0's ``photutils/background/tests``
(``test_core.py``, ``test_background_2d.py``, ``test_local_background.py``).
photutils is distributed under the BSD 3-Clause licence.  Each test names
the photutils test it mirrors; the adaptations (psfkit's own error
messages, no warning for NaN pixels without a mask, the seed spelling
``bkgrms_estimator`` kept) are listed in docs/photometry/background.rst.
"""

from astropy.nddata import CCDData, NDData
from astropy.stats import SigmaClip
import astropy.units as u
import numpy as np
from numpy.testing import assert_allclose, assert_equal
import pytest

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
from psfkit.utils import InputDataError

BKG_CLASSES = [MeanBackground, MedianBackground, ModeEstimatorBackground,
               MMMBackground, SExtractorBackground, BiweightLocationBackground]
RMS_CLASSES = [StdBackgroundRMS, MADStdBackgroundRMS,
               BiweightScaleBackgroundRMS]


@pytest.fixture(scope="module")
def noise():
    """Gaussian noise of mean 12.4 and sigma 0.42 (test_core.py's data)."""
    return np.random.default_rng(0).normal(12.4, 0.42, (100, 100))


# ----------------------------------------------------------- estimators
@pytest.mark.parametrize("cls", BKG_CLASSES)
def test_constant_background(cls):
    # mirrors test_core.py::TestBackgroundEstimators::test_constant_background
    data = np.ones((100, 100))
    bkg = cls(sigma_clip=SigmaClip(sigma=3.0))
    assert_allclose(bkg.calc_background(data), 1.0)
    masked = np.ma.MaskedArray(data, mask=np.zeros(data.shape, dtype=bool))
    masked.mask[0, :10] = True
    value = bkg.calc_background(masked)
    assert not np.ma.isMaskedArray(value)
    assert_allclose(value, 1.0)


@pytest.mark.parametrize("cls", BKG_CLASSES)
@pytest.mark.parametrize("clip", [SigmaClip(sigma=3.0), None])
def test_background_with_and_without_clipping(noise, cls, clip):
    # mirrors test_core.py::TestBackgroundEstimators::test_background_with_sigma_clip
    # and ::test_background_without_sigma_clip
    bkg = cls(sigma_clip=clip)
    assert_allclose(bkg.calc_background(noise), 12.4, atol=0.017)
    assert_allclose(bkg(noise), bkg.calc_background(noise))


@pytest.mark.parametrize("cls", RMS_CLASSES)
@pytest.mark.parametrize("clip", [SigmaClip(sigma=3.0), None])
def test_rms_with_and_without_clipping(noise, cls, clip):
    # mirrors test_core.py::TestBackgroundRMSEstimators::
    # test_background_rms_with_sigma_clip and
    # ::test_background_rms_without_sigma_clip
    rms = cls(sigma_clip=clip)
    assert_allclose(rms.calc_background_rms(noise), 0.42, atol=0.02)


@pytest.mark.parametrize("cls", BKG_CLASSES + RMS_CLASSES)
def test_axis_masked_and_units(noise, cls):
    # mirrors test_core.py::TestBackgroundEstimators::test_axis_parameter,
    # ::test_axis_tuple, ::test_masked_arrays, ::test_units and the RMS
    # estimators' versions
    est = cls()
    rows = est(noise, axis=1)
    assert rows.shape == (100,)
    assert_allclose(rows[3], est(noise[3]), rtol=1e-12)
    assert np.ndim(est(noise, axis=(0, 1))) == 0
    masked = est(noise, axis=1, masked=True)
    assert np.ma.isMaskedArray(masked)
    quantity = est(noise << u.Jy)
    assert quantity.unit == u.Jy
    assert_allclose(quantity.value, est(noise))


@pytest.mark.parametrize("cls", BKG_CLASSES + RMS_CLASSES)
def test_nan_masked_and_dtypes(cls):
    # mirrors test_core.py::TestBackgroundEstimators::test_all_nan_data,
    # ::test_completely_masked_array, ::test_various_dtypes,
    # ::test_1d_arrays and the input-mutation tests
    est = cls(sigma_clip=None)
    assert np.isnan(est(np.full((10, 10), np.nan)))
    assert np.isnan(est(np.ma.array(np.ones((10, 10)), mask=True)))
    for dtype in (np.float32, np.float64, np.int32, np.int64):
        assert np.isfinite(est(np.arange(100).astype(dtype)))
    data = np.arange(20.0)
    copy = data.copy()
    cls()(data)
    assert_equal(data, copy)


def test_sigma_clipping_effect():
    # mirrors test_core.py::TestBackgroundEstimators::test_sigma_clipping_effect
    data = np.ones((100, 100))
    data[:5, :5] = 1000.0
    plain = MeanBackground(sigma_clip=None)(data)
    clipped = MeanBackground(sigma_clip=SigmaClip(sigma=3.0))(data)
    assert plain > 1.0 and abs(clipped - 1.0) < 0.01


def test_sextractor_special_cases():
    # mirrors test_core.py::TestSpecificEstimators::test_sextractor_zero_std
    # and ::test_sextractor_skewed_data
    bkg = SExtractorBackground(sigma_clip=None)
    assert_allclose(bkg(np.ones((100, 100))), 1.0)
    data = np.arange(100.0)
    data[70:] = 1.0e7
    assert_allclose(bkg(data), np.median(data))


@pytest.mark.parametrize(("median_factor", "mean_factor"),
                         [(3.0, 2.0), (2.5, 1.5), (1.0, 0.0)])
def test_mode_estimator_parameters(median_factor, mean_factor):
    # mirrors test_core.py::TestSpecificEstimators::test_mode_estimator_parameters
    data = np.random.default_rng(0).standard_normal((100, 100)) + 10
    bkg = ModeEstimatorBackground(median_factor=median_factor,
                                  mean_factor=mean_factor, sigma_clip=None)
    assert_allclose(bkg(data), median_factor * np.median(data)
                    - mean_factor * np.mean(data))


@pytest.mark.parametrize("cls", [BiweightLocationBackground,
                                 BiweightScaleBackgroundRMS])
def test_biweight_constant_data(cls):
    # mirrors test_core.py::TestSpecificEstimators::test_biweight_location_constant_data
    # and ::test_biweight_scale_constant_data
    est = cls(sigma_clip=None)
    assert est(np.full((5, 1, 10), 7.5), axis=-1).shape == (5, 1)
    assert est(np.full((5, 1, 4, 10), 1.4), axis=-1).shape == (5, 1, 4)
    data = np.full((5, 1, 10), 1.4)
    assert est(data) == est(data, axis=(0, 1, 2))


@pytest.mark.parametrize("cls", BKG_CLASSES + RMS_CLASSES)
def test_repr_and_invalid_sigma_clip(cls):
    # mirrors test_core.py::TestBackgroundEstimators::test_repr and
    # ::test_invalid_sigma_clip
    assert repr(cls()).startswith(cls.__name__)
    with pytest.raises(TypeError, match="sigma_clip"):
        cls(sigma_clip=3)


# --------------------------------------------------------- Background2D
@pytest.mark.parametrize("filter_size", [(1, 1), (3, 3)])
def test_background_of_constant_data(filter_size):
    # mirrors test_background_2d.py::TestBackground2D::test_background
    data = np.ones((100, 100))
    bkg = Background2D(data, (25, 25), filter_size=filter_size)
    assert_allclose(bkg.background, data)
    assert_allclose(bkg.background_rms, 0.0)
    assert_allclose(bkg.background_mesh, np.ones((4, 4)))
    assert_allclose(bkg.background_rms_mesh, np.zeros((4, 4)))
    assert bkg.background_median == 1.0 and bkg.background_rms_median == 0.0
    assert bkg.n_pixels_mesh.shape == (4, 4)
    assert bkg.n_pixels_map.shape == data.shape


@pytest.mark.parametrize("box_size", [(25, 25), (23, 22)])
@pytest.mark.parametrize("dtype", ["int", "int32", "float32"])
def test_background_dtype(box_size, dtype):
    # mirrors test_background_2d.py::TestBackground2D::test_background_dtype
    data = np.ones((100, 100)).astype(dtype)
    bkg = Background2D(data, box_size, filter_size=3)
    expected = data.dtype if data.dtype.kind == "f" else np.float32
    for name in ("background", "background_rms", "background_mesh",
                 "background_rms_mesh"):
        assert getattr(bkg, name).dtype == expected
    assert bkg.n_pixels_mesh.dtype.kind == "i"
    assert_allclose(bkg.background, data)


@pytest.mark.parametrize("wrap", [lambda d: d << u.ct,
                                  lambda d: NDData(d, unit=u.ct),
                                  lambda d: CCDData(d, unit=u.ct)])
def test_background_nddata(wrap):
    # mirrors test_background_2d.py::TestBackground2D::test_background_nddata
    bkg = Background2D(wrap(np.ones((100, 100))), (25, 25), filter_size=3)
    for name in ("background", "background_rms", "background_median",
                 "background_rms_median"):
        assert isinstance(getattr(bkg, name), u.Quantity)
    plain = Background2D(NDData(np.ones((100, 100))), (25, 25))
    assert_allclose(plain.background, 1.0)


def test_background_rect_and_box_of_one():
    # mirrors test_background_2d.py::TestBackground2D::test_background_rect
    # and ::test_background_box_size_one
    data = np.arange(12.0).reshape(3, 4)
    bkg = Background2D(data, (1, 1), filter_size=1)
    assert_allclose(bkg.background, data, atol=0.005)
    assert_allclose(bkg.background_mesh, data)
    assert bkg.background_median == 5.5


def test_background_nonconstant_and_resizing():
    # mirrors test_background_2d.py::TestBackground2D::test_background_nonconstant_data
    # and ::test_resizing
    data = np.ones((100, 100))
    data[25:50, 50:75] = 10.0
    mesh = np.ones((4, 4))
    mesh[1, 2] = 10.0
    assert_allclose(Background2D(data, (25, 25), filter_size=1).background_mesh,
                    mesh)
    rng = np.random.default_rng(0)
    noisy = rng.normal(1.0, 0.1, (121, 289))
    mask = np.zeros(noisy.shape, dtype=bool)
    mask[50:100, 50:100] = True
    bkg = Background2D(noisy, (25, 25), mask=mask)
    assert bkg.n_pixels_mesh.shape == (5, 12)
    assert bkg.background_rms_median < 0.1
    assert Background2D(np.ones((129, 256)), 16).background_mesh.shape == (9, 16)


def test_estimators_untouched_and_functions():
    # mirrors test_background_2d.py::TestBackground2D::test_bkg_estimator_not_mutated,
    # ::test_no_sigma_clipping, ::test_function_estimators and
    # ::test_integer_input_background_not_truncated
    clip = SigmaClip(sigma=3.0)
    est = MeanBackground(sigma_clip=clip)
    Background2D(np.ones((100, 100)), 25, bkg_estimator=est)
    assert est.sigma_clip is clip
    data = np.ones((100, 100))
    data[10, 10] = 100.0
    clipped = Background2D(data, 25, filter_size=1,
                           bkg_estimator=MeanBackground())
    plain = Background2D(data, 25, filter_size=1, sigma_clip=None,
                         bkg_estimator=MeanBackground())
    assert plain.background_mesh[0, 0] > clipped.background_mesh[0, 0]
    bkg = Background2D(np.ones((100, 100)), 25, filter_size=1,
                       sigma_clip=None,
                       bkg_estimator=lambda d, axis=None: np.nanmean(d, axis=axis),
                       bkg_rms_estimator=lambda d, axis=None: np.nanstd(d, axis=axis))
    assert_allclose(bkg.background, 1.0)
    ints = Background2D(np.array([[1, 2], [1, 2]]), 2, filter_size=1,
                        sigma_clip=None, bkg_estimator=MeanBackground())
    assert_allclose(ints.background, 1.5)


@pytest.mark.parametrize("box_size", [(25, 25), (23, 22)])
def test_mask(box_size):
    # mirrors test_background_2d.py::TestBackground2D::test_background_mask
    # and ::test_mask
    data = np.ones((100, 100))
    data[25:50, 25:50] = 100.0
    mask = np.zeros(data.shape, dtype=bool)
    mask[25:50, 25:50] = True
    bkg = Background2D(data, box_size, filter_size=1, mask=mask,
                       bkg_estimator=MeanBackground())
    assert_allclose(bkg.background, 1.0, rtol=2e-5)
    if box_size == (25, 25):
        unmasked = Background2D(data, 25, filter_size=1,
                                bkg_estimator=MeanBackground())
        assert np.all(unmasked.n_pixels_mesh == 625)
        assert_allclose(unmasked.background_mesh[1, 1], 100.0)
        assert np.count_nonzero(bkg.n_pixels_mesh == 625) == 15


@pytest.mark.parametrize("fill_value", [0.0, np.nan, -1.0])
def test_coverage_mask(fill_value):
    # mirrors test_background_2d.py::TestBackground2D::test_coverage_mask
    data = np.ones((100, 100))
    data[:50, :50] = np.nan
    cover = np.isnan(data)
    bkg = Background2D(data, 25, filter_size=1, coverage_mask=cover,
                       fill_value=fill_value, bkg_estimator=MeanBackground())
    assert_equal(bkg.background[:50, :50], fill_value)
    assert_equal(bkg.background_rms[:50, :50], fill_value)
    assert_allclose(bkg.background[50:, 50:], 1.0)


def test_nonfinite_and_masked_arrays():
    # mirrors test_background_2d.py::TestBackground2D::test_mask_nonfinite,
    # ::test_mask_with_already_masked_nans, ::test_masked_array and
    # ::test_masks (NaN marks bad pixels; psfkit warns only when a mask
    # was given and NaN lie outside it)
    data = np.ones((100, 100))
    data[0, :50] = np.nan
    assert_allclose(Background2D(data, 25, filter_size=1).background, 1.0,
                    rtol=1e-5)
    mask = np.zeros(data.shape, dtype=bool)
    mask[0, :50] = True
    ma = Background2D(np.ma.MaskedArray(np.ones((100, 100)), mask=mask), 25)
    assert_allclose(ma.background, 1.0)
    arr = np.arange(25.0).reshape(5, 5)
    corners = np.zeros(arr.shape, dtype=bool)
    corners[[0, -1, -1, 0], [0, 0, -1, -1]] = True
    one = Background2D(arr, 2, mask=corners, exclude_percentile=100,
                       filter_size=1, bkg_estimator=MeanBackground())
    two = Background2D(np.where(corners, np.nan, arr), 2,
                       exclude_percentile=100, filter_size=1,
                       bkg_estimator=MeanBackground())
    assert_allclose(one.background, two.background)


def test_completely_masked():
    # mirrors test_background_2d.py::TestBackground2D::test_completely_masked
    data = np.ones((100, 100))
    full = np.ones(data.shape, dtype=bool)
    for kwargs in ({"mask": full}, {"coverage_mask": full}):
        with pytest.raises(InputDataError, match="masked"):
            Background2D(data, 25, **kwargs)
    with pytest.raises(InputDataError):
        Background2D(np.full((100, 100), np.nan), 25)


def test_zero_padding_and_exclude_percentile():
    # mirrors test_background_2d.py::TestBackground2D::test_zero_padding and
    # ::test_exclude_percentile
    data = np.ones((100, 100))
    for box in ((25, 22), (22, 25)):
        bkg = Background2D(data, box, filter_size=1)
        assert_allclose(bkg.background, 1.0, rtol=1e-5)
        assert bkg.background_median == 1.0
    holed = data.copy()
    holed[:50, :50] = np.nan
    bkg = Background2D(holed, 25, filter_size=1, exclude_percentile=100.0)
    assert_equal(bkg.n_pixels_mesh[:2, :2], 0)
    assert bkg.n_pixels_mesh[-1, -1] == 625
    bkg = Background2D(np.ones((111, 121)), 10, exclude_percentile=100)
    assert_allclose(bkg.background_mesh, np.ones((12, 13)))
    lone = np.full((111, 121), np.nan)
    lone[0, 0] = 1.0
    with pytest.raises(InputDataError, match="exclude_percentile"):
        Background2D(lone, 10)


def test_filter_threshold():
    # mirrors test_background_2d.py::TestBackground2D::test_filter_threshold,
    # ::test_filter_threshold_high, ::test_filter_threshold_nofilter and
    # ::test_filter_threshold_rms_mesh_before_mesh
    data = np.ones((100, 100))
    data[25:50, 50:75] = 10.0
    ref = np.ones((4, 4))
    ref[1, 2] = 10.0
    bkg = Background2D(data, 25, filter_size=3, filter_threshold=9.0)
    assert_allclose(bkg.background_mesh, 1.0)
    assert_allclose(bkg.background, 1.0)
    assert_allclose(Background2D(data, 25, filter_size=3,
                                 filter_threshold=100.0).background_mesh, ref)
    assert_allclose(Background2D(data, 25, filter_size=1,
                                 filter_threshold=1.0).background_mesh, ref)


def test_sizes_and_invalid_arguments():
    # mirrors test_background_2d.py::TestBackground2D::test_scalar_sizes,
    # ::test_invalid_box_size, ::test_invalid_filter_size,
    # ::test_invalid_exclude_percentile, ::test_invalid_mask,
    # ::test_invalid_coverage_mask
    data = np.ones((100, 100))
    assert_allclose(Background2D(data, 25, filter_size=3).background,
                    Background2D(data, (25, 25),
                                 filter_size=(3, 3)).background)
    with pytest.raises(ValueError, match="box_size"):
        Background2D(data, (5, 5, 3))
    with pytest.raises(ValueError, match="filter_size"):
        Background2D(data, (5, 5), filter_size=(3, 3, 3))
    for pct in (-1, 101):
        with pytest.raises(ValueError, match="exclude_percentile"):
            Background2D(data, 5, exclude_percentile=pct)
    with pytest.raises(ValueError, match="mask must have the same shape"):
        Background2D(data, 25, mask=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="mask must have the same shape"):
        Background2D(data, 25, coverage_mask=np.zeros((2, 2)))


def test_plot_repr_and_large_boxes():
    # mirrors test_background_2d.py::TestBackground2D::test_plot_meshes,
    # ::test_repr, ::test_large_boxsize, ::test_background_prime_dimensions,
    # ::test_background_box_size_larger_than_image and
    # ::test_background_mesh_properties
    import matplotlib.pyplot as plt

    bkg = Background2D(np.ones((100, 100)), 25)
    bkg.plot_meshes(outlines=True)
    plt.close("all")
    mask = np.zeros((300, 500), dtype=bool)
    mask[:10, :10] = True
    assert "mask" in repr(Background2D(np.ones((300, 500)), (74, 99),
                                       mask=mask))
    assert "coverage_mask" in repr(Background2D(np.ones((300, 500)), (74, 99),
                                                coverage_mask=mask))
    data = np.ones((103, 107))
    data[50:55, 50:55] = data[20:25, 20:25] = 1000.0
    copy = data.copy()
    assert Background2D(data, data.shape).background.shape == data.shape
    assert_equal(data, copy)
    assert_allclose(Background2D(np.ones((97, 101)), 10).background, 1.0)
    small = np.ones((50, 60))
    assert Background2D(small, (100, 100)).background_mesh.shape == (1, 1)
    assert Background2D(small, (100, 30)).background_mesh.shape == (1, 2)
    assert Background2D(small, (25, 100)).background_mesh.shape == (2, 1)
    assert_allclose(bkg.background_median, np.median(bkg.background_mesh))


# ------------------------------------------------------ LocalBackground
def test_local_background_invalid_radii():
    # mirrors test_local_background.py::test_local_background_invalid_radii
    for inner, outer, name in ((-5, 10, "inner_radius"), (0, 10, "inner_radius"),
                               (5, -10, "outer_radius"), (5, 0, "outer_radius"),
                               (10, 5, "outer_radius must be greater"),
                               (10, 10, "outer_radius must be greater")):
        with pytest.raises(ValueError, match=name):
            LocalBackground(inner, outer)


def test_local_background():
    # mirrors test_local_background.py::test_local_background and
    # ::test_local_background_estimator_1d
    data = np.ones((101, 101))
    local = LocalBackground(5, 10, bkg_estimator=MedianBackground())
    x = y = np.arange(1, 7) * 10
    bkg = local(data, x, y)
    assert_allclose(bkg, np.ones(6))
    assert not isinstance(local(data, x[2], y[2]), np.ndarray)
    assert np.isnan(local(data, -100, -100))
    with pytest.raises(ValueError, match="finite"):
        local(data, x[2], np.inf)
    assert repr(local).startswith("LocalBackground")
    assert_allclose(LocalBackground(5, 10)(data, x, y), bkg)

    def estimator(values):
        assert values.ndim == 1
        return np.nanmedian(values)

    assert_allclose(LocalBackground(3, 6, bkg_estimator=estimator)(
        np.ones((51, 51)), [10, 20], [10, 20]), np.ones(2))
