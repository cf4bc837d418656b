import astropy.units as u
import numpy as np
import pytest

from psfkit.utils import (
    PsfkitDeprecationWarning,
    as_pair,
    check_in,
    check_integer,
    check_odd,
    check_positive,
    get_rng,
)


def test_as_pair_scalar_and_tuple():
    assert as_pair("fitshape", 5) == (5, 5)
    assert as_pair("fitshape", (3, 7), check_odd=True) == (3, 7)
    assert as_pair("box", np.array([4, 6])) == (4, 6)
    assert as_pair("size", 2.5, integer=False) == (2.5, 2.5)


@pytest.mark.parametrize(("value", "kwargs", "match"), [
    ((4, 5), {"check_odd": True}, "fitshape must have odd values"),
    (0, {"check_odd": True}, "fitshape must have odd values"),
    (-3, {"check_odd": True}, "fitshape must have odd values"),
    ((1, 2, 3), {}, "scalar or a pair"),
    (2.5, {}, "integer values"),
    (np.nan, {}, "finite"),
    ((0, 3), {"lower_bound": (0, False)}, "values > 0"),
])
def test_as_pair_errors(value, kwargs, match):
    with pytest.raises(ValueError, match=match):
        as_pair("fitshape", value, **kwargs)


def test_as_pair_type_error():
    with pytest.raises(TypeError, match="numeric"):
        as_pair("fitshape", "ab")


def test_check_positive():
    assert check_positive("fwhm", 2) == 2.0
    assert check_positive("fwhm", 3 * u.pix) == 3.0
    assert check_positive("x", 0, strict=False) == 0.0
    assert check_positive("x", None, allow_none=True) is None
    for bad in (0, -1.0, np.nan, np.inf):
        with pytest.raises(ValueError, match="fwhm must be a positive number"):
            check_positive("fwhm", bad)
    with pytest.raises(TypeError, match="fwhm must be"):
        check_positive("fwhm", "3")
    with pytest.raises(TypeError):
        check_positive("fwhm", True)
    # a unit is never dropped silently: pixels and dimensionless convert,
    # anything else is an error naming the argument
    assert check_positive("fwhm", 300 * u.percent) == 3.0
    with pytest.raises(u.UnitsError, match="fwhm must be a plain number "
                       r"\(or in pixels\), got a Quantity in arcsec"):
        check_positive("fwhm", 3 * u.arcsec)


def test_check_integer_and_odd():
    assert check_integer("n", 3.0) == 3
    with pytest.raises(ValueError, match="n must be >= 1"):
        check_integer("n", 0, minimum=1)
    with pytest.raises(ValueError, match="must be an integer"):
        check_integer("n", 2.5)
    with pytest.raises(TypeError, match="must be an integer"):
        check_integer("n", "2")
    assert check_odd("k", 21) == 21
    assert check_odd("k", (3, 5)) == (3, 5)
    with pytest.raises(ValueError, match="k must be odd"):
        check_odd("k", (3, 4))


def test_check_in():
    assert check_in("type", "poisson", ("gaussian", "poisson")) == "poisson"
    with pytest.raises(ValueError, match="type must be one of 'gaussian', 'poisson'"):
        check_in("type", "uniform", ("gaussian", "poisson"))


def test_get_rng():
    a = get_rng(5).normal(size=3)
    with pytest.warns(PsfkitDeprecationWarning, match="seed= is deprecated"):
        b = get_rng(seed=5).normal(size=3)
    np.testing.assert_array_equal(a, b)
    gen = np.random.default_rng(1)
    assert get_rng(gen) is gen
    legacy = get_rng(np.random.RandomState(3)).normal()
    assert np.isfinite(legacy)
    with pytest.raises(TypeError, match="not both"):
        get_rng(1, seed=2)
    with pytest.raises(TypeError, match="random_state must be"):
        get_rng("seven")
