import warnings

from astropy.nddata import (
    CCDData,
    InverseVariance,
    NDData,
    StdDevUncertainty,
    VarianceUncertainty,
)
import astropy.units as u
from astropy.utils.exceptions import AstropyUserWarning
from astropy.wcs import WCS
import numpy as np
from numpy.testing import assert_allclose, assert_array_equal
import pytest

from psfkit.utils import (
    ArrayData,
    InputDataError,
    NonFiniteValueWarning,
    PsfkitWarning,
    coerce_data,
    copy_meta,
    uncertainty_to_error,
)


@pytest.fixture
def image():
    return np.arange(12.0).reshape(3, 4)


def test_plain_array(image):
    d = coerce_data(image)
    assert isinstance(d, ArrayData)
    assert d.data.dtype == np.float64
    assert_array_equal(d.data, image)
    assert not d.mask.any()
    assert d.error is None and d.unit is None and d.wcs is None
    assert d.n_valid == 12
    assert d.shape == (3, 4)


def test_list_and_integer_input():
    d = coerce_data([[1, 2], [3, 4]])
    assert d.data.dtype == np.float64
    assert_array_equal(d.data, [[1.0, 2.0], [3.0, 4.0]])


def test_big_endian_integer_input():
    raw = np.arange(6, dtype=">i2").reshape(2, 3)
    d = coerce_data(raw)
    assert d.data.dtype == np.dtype("float64")
    assert d.data.dtype.byteorder in ("=", "<", "|")
    assert_array_equal(d.data, raw.astype(float))


def test_dtype_none_keeps_float32():
    d = coerce_data(np.ones((2, 2), dtype=">f4"), dtype=None)
    assert d.data.dtype == np.dtype("float32")
    assert d.data.dtype.isnative


def test_nan_becomes_masked_without_warning(image):
    image[1, 2] = np.nan
    image[0, 0] = np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        d = coerce_data(image)
    assert d.mask[1, 2] and d.mask[0, 0]
    assert d.n_valid == 10
    assert_array_equal(d.filled(-1.0)[d.mask], [-1.0, -1.0])


def test_nan_outside_user_mask_warns(image):
    image[1, 2] = np.nan
    mask = np.zeros(image.shape, bool)
    mask[0, 0] = True
    with pytest.warns(NonFiniteValueWarning, match="1 non-finite"):
        d = coerce_data(image, mask=mask)
    assert d.mask[1, 2] and d.mask[0, 0]
    assert issubclass(NonFiniteValueWarning, PsfkitWarning)
    assert issubclass(PsfkitWarning, AstropyUserWarning)


def test_nan_inside_user_mask_silent(image):
    image[1, 2] = np.nan
    mask = np.zeros(image.shape, bool)
    mask[1, 2] = True
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        d = coerce_data(image, mask=mask)
    assert d.n_valid == 11


def test_masked_array(image):
    ma = np.ma.MaskedArray(image, mask=image > 9)
    d = coerce_data(ma)
    assert_array_equal(d.mask, image > 9)
    assert_array_equal(d.data, image)
    assert_array_equal(d.masked().mask, image > 9)


def test_masked_array_combined_with_mask(image):
    ma = np.ma.MaskedArray(image, mask=image > 9)
    extra = image < 1
    d = coerce_data(ma, mask=extra)
    assert_array_equal(d.mask, (image > 9) | (image < 1))


@pytest.mark.parametrize("unit", [None, u.DN])
def test_astropy_masked_and_masked_quantities(image, unit):
    # astropy's Masked arrays and quantities, and numpy masked arrays of a
    # Quantity, keep their masks and units
    from astropy.utils.masked import Masked

    mask = image > 9
    values = image if unit is None else image * unit
    inputs = [Masked(values, mask=mask)]
    if unit is not None:
        inputs.append(np.ma.MaskedArray(values, mask=mask))
    for data in inputs:
        d = coerce_data(data, mask=image < 1)
        assert_array_equal(d.mask, mask | (image < 1))
        assert_array_equal(d.data, image)
        assert type(d.data) is np.ndarray
        assert d.unit == unit


def test_quantity(image):
    d = coerce_data(image * u.Jy)
    assert d.unit == u.Jy
    assert_array_equal(d.data, image)
    q = d.with_unit(d.data[0])
    assert q.unit == u.Jy


def test_nddata_stddev(image):
    nd = NDData(image, uncertainty=StdDevUncertainty(np.full(image.shape, 2.0)),
                mask=image == 5, unit="adu", meta={"a": 1})
    d = coerce_data(nd)
    assert_allclose(d.error, 2.0)
    assert d.mask[1, 1] and d.mask.sum() == 1
    assert d.unit == u.adu
    assert d.meta == {"a": 1}


@pytest.mark.parametrize(("unc", "expected"), [
    (VarianceUncertainty(np.full((3, 4), 9.0)), 3.0),
    (InverseVariance(np.full((3, 4), 0.25)), 2.0),
])
def test_nddata_other_uncertainties(image, unc, expected):
    d = coerce_data(NDData(image, uncertainty=unc))
    assert_allclose(d.error, expected)


def test_inverse_variance_zero_masks_pixel(image):
    ivar = np.full(image.shape, 4.0)
    ivar[2, 3] = 0.0
    d = coerce_data(NDData(image, uncertainty=InverseVariance(ivar)))
    assert d.mask[2, 3]
    assert d.mask.sum() == 1


def test_ccddata_with_wcs(image):
    wcs = WCS(naxis=2)
    ccd = CCDData(image, unit="electron", wcs=wcs,
                  uncertainty=StdDevUncertainty(np.ones(image.shape)))
    d = coerce_data(ccd)
    assert d.unit == u.electron
    assert d.wcs is not None
    assert_allclose(d.error, 1.0)


def test_uncertainty_unit_conversion():
    unc = StdDevUncertainty(np.array([1000.0]), unit=u.mJy)
    assert_allclose(uncertainty_to_error(unc, unit=u.Jy), [1.0])


def test_bad_uncertainty_type():
    class Odd:
        array = np.ones(2)
        unit = None

    with pytest.raises(TypeError, match="StdDevUncertainty"):
        uncertainty_to_error(Odd())


def test_explicit_error(image):
    d = coerce_data(image, error=0.5)
    assert d.error.shape == image.shape
    assert_allclose(d.error, 0.5)


def test_error_nan_masks(image):
    err = np.ones(image.shape)
    err[0, 1] = np.nan
    d = coerce_data(image, error=err)
    assert d.mask[0, 1]


def test_error_quantity_converted():
    d = coerce_data(np.ones((2, 2)) * u.Jy, error=np.ones((2, 2)) * u.mJy)
    assert_allclose(d.error, 1e-3)


def test_error_quantity_without_data_unit():
    with pytest.raises(u.UnitsError, match="error has a unit"):
        coerce_data(np.ones((2, 2)), error=np.ones((2, 2)) * u.Jy)


def test_to_data_unit_names_the_argument():
    from psfkit.utils import to_data_unit

    assert to_data_unit("gain", 2 * u.electron / u.DN, u.electron / u.DN) == 2
    with pytest.raises(u.UnitsError, match="read_noise is in m, which does "
                       "not convert to DN"):
        to_data_unit("read_noise", 1 * u.m, u.DN)
    with pytest.raises(u.UnitsError, match="a dimensionless number"):
        to_data_unit("gain", 1 * u.m, u.dimensionless_unscaled)


def test_negative_errors_only_matter_outside_the_mask(image):
    from psfkit.utils import uncertainty_to_error

    masked = np.zeros(image.shape, bool)
    masked[0] = True
    sentinel = np.where(masked, -1.0, 2.0)
    d = coerce_data(image, mask=masked, error=sentinel)
    assert_array_equal(d.mask, masked)
    assert np.all(d.error[~masked] == 2.0)
    nd = coerce_data(NDData(image, mask=masked,
                            uncertainty=VarianceUncertainty(sentinel)))
    assert_array_equal(nd.mask, masked)
    assert_allclose(nd.error[~masked], np.sqrt(2.0))
    err = uncertainty_to_error(StdDevUncertainty(sentinel), mask=masked)
    assert np.all(np.isnan(err[masked])) and np.all(err[~masked] == 2.0)
    with pytest.raises(ValueError, match="error holds 4 negative"):
        coerce_data(image, mask=masked[::-1], error=sentinel)
    with pytest.raises(ValueError, match=r"data.uncertainty \(VarianceUnc"):
        coerce_data(NDData(image, uncertainty=VarianceUncertainty(sentinel)))


def test_error_negative(image):
    with pytest.raises(ValueError, match="error must be non-negative"):
        coerce_data(image, error=-np.ones(image.shape))


@pytest.mark.parametrize("kind", [StdDevUncertainty, VarianceUncertainty,
                                  InverseVariance])
def test_negative_uncertainty_names_argument(image, kind):
    # a negative variance used to become a NaN error that masked its pixel
    values = np.ones(image.shape)
    values[1, 2] = -4.0
    values[2, 0] = np.nan   # NaN only marks a pixel without an uncertainty
    with pytest.raises(ValueError, match=rf"science.uncertainty \({kind.__name__}"
                       r"\) holds 1 negative value\(s\)"):
        coerce_data(NDData(image, uncertainty=kind(values)), name="science")
    with pytest.raises(ValueError, match="uncertainty .* holds 1 negative"):
        uncertainty_to_error(kind(values))
    values[1, 2] = 4.0
    d = coerce_data(NDData(image, uncertainty=kind(values)))
    assert not d.mask[1, 2] and d.mask[2, 0]


def test_error_shape_mismatch(image):
    with pytest.raises(ValueError, match="error must have the same shape"):
        coerce_data(image, error=np.ones((2, 2)))


def test_wrong_ndim_names_argument():
    with pytest.raises(ValueError, match="image must be a 2-D array, got a 3-D"):
        coerce_data(np.ones((2, 2, 2)), name="image")
    d = coerce_data(np.ones((2, 2, 2)), ndim=(2, 3))
    assert d.shape == (2, 2, 2)
    d = coerce_data(np.ones(5), ndim=None)
    assert d.shape == (5,)


def test_empty():
    with pytest.raises(ValueError, match="data is empty"):
        coerce_data(np.ones((0, 3)))


def test_not_numeric():
    with pytest.raises(TypeError, match="real numbers"):
        coerce_data(np.array([["a", "b"]]))
    with pytest.raises(TypeError, match="real numbers"):
        coerce_data(np.ones((2, 2), dtype=complex))
    with pytest.raises(TypeError, match="must be an array"):
        coerce_data(None)


def test_mask_shape_mismatch(image):
    with pytest.raises(ValueError, match="mask must have the same shape"):
        coerce_data(image, mask=np.zeros((2, 2), bool))


def test_all_masked():
    with pytest.raises(InputDataError, match="no usable values"):
        coerce_data(np.full((3, 3), np.nan))
    with pytest.raises(ValueError, match="no usable values"):
        coerce_data(np.ones((3, 3)), mask=np.ones((3, 3), bool))
    d = coerce_data(np.full((3, 3), np.nan), allow_all_masked=True)
    assert d.n_valid == 0


def test_copy_semantics(image):
    d = coerce_data(image)
    assert np.shares_memory(d.data, image)
    d = coerce_data(image, copy=True)
    assert not np.shares_memory(d.data, image)
    # the input is never modified, even when NaN are masked
    image[0, 0] = np.nan
    coerce_data(image)
    assert np.isnan(image[0, 0])


def test_non_contiguous_made_contiguous():
    base = np.arange(20.0).reshape(4, 5)
    d = coerce_data(base[:, ::2])
    assert d.data.flags.c_contiguous
    assert_array_equal(d.data, base[:, ::2])


def test_copy_meta_keeps_a_header_a_header():
    from astropy.io import fits

    header = fits.Header([("EXPTIME", 30.0, "seconds")])
    header.add_history("one")
    header.add_history("two")
    out = copy_meta(header)
    assert isinstance(out, fits.Header) and out is not header
    assert out.comments["EXPTIME"] == "seconds"
    assert list(out["HISTORY"]) == ["one", "two"]
    out.add_history("three")
    assert len(header["HISTORY"]) == 2
    source = {"A": 1}
    copied = copy_meta(source)
    assert type(copied) is dict and copied == source and copied is not source
    assert copy_meta(None) == {}
    # coerce_data hands the same kind of copy on
    arr = coerce_data(NDData(np.ones((2, 2)), meta=header))
    assert isinstance(arr.meta, fits.Header) and arr.meta is not header
