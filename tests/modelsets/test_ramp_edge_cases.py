"""
fit_ramps at its edges: two-read ramps, read counts beyond int16, units,
reprs, progress bars; the same answer for every dtype, mask and path.
"""

import dataclasses
import warnings

from astropy.nddata import CCDData
import astropy.units as u
import numpy as np
from numpy.testing import assert_allclose, assert_array_equal
import pytest

from psfkit.datasets import make_ramp_cube
from psfkit.modelsets import (
    NAN_INPUT,
    RAMP_FLAGS,
    SATURATED,
    TOO_FEW_READS,
    UNDETERMINED_ERR,
    RampFitResult,
    fit_ramps,
)

DTYPES = [np.int16, np.uint16, np.int32, np.float32, np.float64]


def two_read_cube(dtype):
    """Two reads of 3 x 4 pixels with known slopes (integers fit every dtype)."""
    first = np.arange(12).reshape(3, 4) + 100
    rate = np.arange(12).reshape(3, 4) % 5 + 1
    return np.stack([first, first + 3 * rate]).astype(dtype), rate


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("how", ["plain", "mask", "masked_array",
                                 "saturation", "ccddata"])
def test_two_reads_without_read_noise_one_rule(dtype, how):
    # issue 20 item 6: float cubes gave slope_err=inf with flags 0, integer
    # or masked cubes NaN slopes with TOO_FEW_READS; every route now keeps
    # the slope, reports its error as undetermined and flags it
    cube, rate = two_read_cube(dtype)
    times = [0.0, 3.0]
    kwargs = {}
    if how == "mask":
        kwargs["mask"] = np.zeros(cube.shape, bool)
    elif how == "masked_array":
        cube = np.ma.MaskedArray(cube, mask=np.zeros(cube.shape, bool))
    elif how == "saturation":
        kwargs["saturation"] = 1e4
    elif how == "ccddata":
        cube = CCDData(cube, unit="adu")
    res = fit_ramps(cube, times, **kwargs)
    slope = u.Quantity(res.slope).value
    assert_allclose(slope, rate, rtol=1e-12)
    assert np.all(np.isnan(u.Quantity(res.slope_err).value))
    assert_array_equal(res.flags, UNDETERMINED_ERR)
    assert_array_equal(res.n_used, 2)
    assert_array_equal(res.n_segments, 1)


def test_undetermined_error_only_where_no_read_is_spare():
    # a third read gives a scatter; masking it brings the pixel back to two
    # reads; masking two leaves one read: no slope at all
    cube, truth = make_ramp_cube((5, 6), 3, rate=4.0, read_noise=2.0,
                                 random_state=2)
    mask = np.zeros(cube.shape, bool)
    mask[2, 1, 1] = True
    mask[1:, 3, 3] = True
    res = fit_ramps(cube, truth.times, mask=mask)
    assert np.isfinite(res.slope_err[0, 0]) and res.flags[0, 0] == 0
    assert np.isfinite(res.slope[1, 1]) and np.isnan(res.slope_err[1, 1])
    assert res.flags[1, 1] == NAN_INPUT | UNDETERMINED_ERR
    assert np.isnan(res.slope[3, 3])
    assert res.flags[3, 3] == NAN_INPUT | TOO_FEW_READS
    # with a read noise the error of a two-read slope is known exactly
    rn = fit_ramps(cube[:2], truth.times[:2], read_noise=2.0, gain=1.0)
    assert not np.any(rn.flags & UNDETERMINED_ERR)
    expect = np.sqrt(2 * 2.0**2 + np.maximum(rn.slope, 0) * 1.0) / 1.0
    assert_allclose(rn.slope_err, expect, rtol=1e-12)


def test_degree_two_with_three_reads():
    t = np.array([0.0, 1.0, 3.0])
    cube = (2.0 + 5.0 * t + 0.5 * t**2)[:, None, None] * np.ones((1, 2, 2))
    res = fit_ramps(cube, t, degree=2)
    assert_allclose(res.slope, 5.0, rtol=1e-12)
    assert_array_equal(res.flags, UNDETERMINED_ERR)
    res = fit_ramps(cube.astype(np.int32), t, degree=2)
    assert_array_equal(res.flags, UNDETERMINED_ERR)


def test_read_counts_beyond_int16():
    # issue 20 item 7: n_used was int16 (OverflowError above 32,767 reads,
    # negative counts with a mask)
    n_reads = 40_000
    t = np.arange(n_reads, dtype=float)
    cube = (3.0 * t)[:, None, None] + np.zeros((1, 1, 3))
    mask = np.zeros(cube.shape, bool)
    mask[::2, 0, 1] = True
    for kwargs in ({}, {"mask": mask}):
        res = fit_ramps(cube, t, **kwargs)
        assert res.n_used.dtype == np.int32
        expect = [n_reads, n_reads // 2, n_reads] if kwargs else n_reads
        assert_array_equal(res.n_used[0], expect)
        assert_allclose(res.slope, 3.0, rtol=1e-10)


def hypothesis_two_read_cases():
    hyp = pytest.importorskip("hypothesis")
    st = pytest.importorskip("hypothesis.strategies")
    return hyp, st


def test_two_read_property_every_dtype_mask_and_path():
    hyp, st = hypothesis_two_read_cases()
    da = pytest.importorskip("dask.array")

    @hyp.settings(max_examples=60, deadline=None)
    @hyp.given(dtype=st.sampled_from(DTYPES), seed=st.integers(0, 2**16),
               ny=st.integers(1, 5), nx=st.integers(1, 6),
               masked=st.floats(0.0, 0.5), dt=st.floats(0.1, 100.0),
               read_noise=st.sampled_from([None, 3.0]),
               form=st.sampled_from(["mask", "masked_array", "nan"]),
               chunks=st.integers(1, 6))
    def check(dtype, seed, ny, nx, masked, dt, read_noise, form, chunks):
        rng = np.random.default_rng(seed)
        info = np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else None
        lo, hi = (0, 1000) if info is None else (max(info.min, -1000),
                                                  min(info.max, 1000))
        cube = rng.integers(lo, hi, (2, ny, nx)).astype(dtype)
        bad = rng.random(cube.shape) < masked
        times = np.array([0.0, dt])
        kwargs = {"read_noise": read_noise}
        if form == "nan" and cube.dtype.kind == "f":
            data = cube.copy()
            data[bad] = np.nan
        elif form == "masked_array":
            data = np.ma.MaskedArray(cube, mask=bad)
        else:
            data = cube
            kwargs["mask"] = bad
        res = fit_ramps(data, times, **kwargs)
        # the truth: a two-read difference, where both reads are usable
        both = ~bad.any(axis=0)
        y = cube.astype(float)
        expect = (y[1] - y[0]) / dt
        assert_allclose(res.slope[both], expect[both], rtol=1e-12,
                        atol=1e-12)
        assert np.all(np.isnan(res.slope[~both]))
        assert np.all(res.flags[~both] & TOO_FEW_READS)
        assert_array_equal(res.n_used, np.where(both, 2, 0))
        if read_noise is None:
            assert np.all(np.isnan(res.slope_err))
            assert np.all(res.flags[both] & UNDETERMINED_ERR)
        else:
            assert np.all(np.isfinite(res.slope_err[both]))
            assert not np.any(res.flags & UNDETERMINED_ERR)
        # the dask path gives the same answer block by block
        dmask = kwargs.pop("mask", None)
        lazy = fit_ramps(da.from_array(np.ma.filled(
            data.astype(float) if np.ma.isMaskedArray(data) else data,
            np.nan) if form == "masked_array" else data,
            chunks=(2, chunks, chunks)), times,
            mask=None if dmask is None else da.from_array(dmask),
            **kwargs)
        rounding = (1.0 + np.abs(y).max()) * (1.0 + 1.0 / dt) ** 2
        for field in dataclasses.fields(res):
            a = getattr(res, field.name)
            b = getattr(lazy, field.name)
            if a is None:
                assert b is None
                continue
            b = b.compute()
            assert b.dtype == a.dtype, field.name
            if field.name == "flags" and form == "masked_array":
                # a masked read becomes NaN in the dask copy: the same bits
                assert_array_equal(b, a)
                continue
            # blocks of another size round differently: a slope of zero
            # (two equal reads) comes out as +-1e-14, so the tolerance is
            # set by the rounding of the reads' values, not the result's
            assert_allclose(b, a, rtol=1e-13, atol=1e-13 * rounding,
                            equal_nan=True, err_msg=field.name)

    check()


def test_units_follow_the_data():
    cube, truth = make_ramp_cube((4, 5), 6, rate=3.0, read_noise=2.0,
                                 frame_time=10.0, random_state=5)
    plain = fit_ramps(cube, truth.times, read_noise=2.0)
    cases = [
        (cube * u.DN, truth.times * u.s, u.DN / u.s),
        (cube * u.electron, truth.times * u.s, u.electron / u.s),
        (CCDData(cube, unit="adu"), truth.times * u.min, u.adu / u.min),
        # plain times are seconds when the data have a unit
        (cube * u.DN, truth.times, u.DN / u.s),
        (cube, truth.times * u.s, 1 / u.s),
    ]
    for data, times, rate in cases:
        res = fit_ramps(data, times, read_noise=2.0)
        assert res.slope.unit == rate
        assert res.slope_err.unit == rate
        assert res.var_poisson.unit == rate**2
        time_unit = getattr(times, "unit", u.s)
        assert res.intercept.unit == rate * time_unit
        assert_allclose(res.slope.value, plain.slope, rtol=1e-12)
        # the unit's string (as a BUNIT would hold it) reads back: never
        # a "DN/frame" that astropy cannot parse
        assert u.Unit(res.slope.unit.to_string()) == rate


def test_option_quantities_convert_to_the_data_unit():
    cube, truth = make_ramp_cube((6, 7), 8, rate=30.0, read_noise=10.0,
                                 gain=2.0, frame_time=10.0, random_state=3)
    level = np.percentile(cube, 60)
    plain = fit_ramps(cube * u.electron, truth.times * u.s, read_noise=10.0,
                      gain=1.0, saturation=level, weighting="optimal")
    kilo = u.Unit(1000 * u.electron)
    given = fit_ramps(cube * u.electron, truth.times * u.s,
                      read_noise=u.Quantity(0.01, kilo), gain=1.0 * u.one,
                      saturation=u.Quantity(level / 1000, kilo),
                      weighting="optimal")
    assert_array_equal(given.n_used, plain.n_used)
    assert_allclose(given.slope_err.value, plain.slope_err.value, rtol=1e-12)
    # a gain in electrons per DN, for a cube in DN
    dn = fit_ramps(cube * u.DN, truth.times, read_noise=10.0, gain=2.0)
    per = fit_ramps(cube * u.DN, truth.times, read_noise=10.0,
                    gain=2.0 * u.electron / u.DN)
    assert_allclose(per.var_poisson.value, dn.var_poisson.value, rtol=1e-12)
    with pytest.raises(u.UnitsError, match="read_noise is in m"):
        fit_ramps(cube * u.DN, truth.times, read_noise=10 * u.m)
    with pytest.raises(u.UnitsError, match="gain is in m"):
        fit_ramps(cube * u.DN, truth.times, read_noise=10.0, gain=2 * u.m)
    with pytest.raises(u.UnitsError, match="saturation has a unit"):
        fit_ramps(cube, truth.times, saturation=1e4 * u.DN)


def test_masks_of_every_container_are_honoured():
    from astropy.utils.masked import Masked

    cube, truth = make_ramp_cube((10, 12), 8, rate=30.0, read_noise=10.0,
                                 random_state=4)
    cube[2, 3, 3] += 500.0           # a bad read, masked below
    mask = np.zeros(cube.shape, bool)
    mask[2, 3, 3] = True
    ref = fit_ramps(cube, truth.times, read_noise=10.0, mask=mask)
    assert ref.n_used[3, 3] == 7
    cases = [np.ma.MaskedArray(cube, mask=mask),
             Masked(cube, mask=mask),
             Masked(cube * u.DN, mask=mask),
             np.ma.MaskedArray(cube * u.DN, mask=mask)]
    for data in cases:
        res = fit_ramps(data, truth.times, read_noise=10.0)
        slope = getattr(res.slope, "value", res.slope)
        assert_array_equal(slope, ref.slope)
        united = isinstance(data, u.Quantity) or isinstance(
            getattr(data, "data", None), u.Quantity)
        assert (res.slope.unit == u.DN / u.s) if united else not res.units
    da = pytest.importorskip("dask.array")
    lazy = da.ma.masked_array(da.from_array(cube, chunks=(8, 5, 6)),
                              mask=mask)
    res = fit_ramps(lazy, truth.times, read_noise=10.0).compute()
    # (blocks of another size round differently)
    assert_allclose(res.slope, ref.slope, rtol=1e-13)
    assert_array_equal(res.n_used, ref.n_used)


def test_infinite_reads_are_flagged_without_numpy_warnings():
    cube = np.arange(5.0)[:, None, None] * np.ones((5, 2, 2))
    cube[:, 0, 0] = np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for weighting in ("unweighted", "optimal"):
            res = fit_ramps(cube, read_noise=1.0, weighting=weighting)
            assert np.isnan(res.slope[0, 0])
            assert res.flags[0, 0] == NAN_INPUT | TOO_FEW_READS
            assert_allclose(res.slope.ravel()[1:], 1.0)
        res = fit_ramps(cube, degree=2)
        assert np.isnan(res.slope[0, 0])


def test_repr_is_a_short_summary():
    cube, truth = make_ramp_cube((300, 300), 5, rate=200.0, read_noise=2.0,
                                 saturation=700.0, random_state=1)
    res = fit_ramps(cube * u.DN, truth.times * u.s, read_noise=2.0,
                    saturation=700.0)
    text = repr(res)
    assert len(text) < 900
    assert "(300, 300)" in text and "unit DN / s" in text
    n_sat = int(np.count_nonzero(res.flags & SATURATED))
    assert n_sat > 0 and f"SATURATED {n_sat}" in text
    assert "<table>" in res._repr_html_()
    assert res.flag_counts() == {
        name: int(np.count_nonzero(res.flags & bit))
        for name, bit in RAMP_FLAGS.items()}
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.slope = None
    assert isinstance(res, RampFitResult)


def test_progress_bar(capsys):
    pytest.importorskip("tqdm")
    cube, truth = make_ramp_cube((50, 40), 4, rate=3.0, read_noise=2.0,
                                 random_state=5)
    quiet = fit_ramps(cube, truth.times, chunk_pixels=100)
    assert capsys.readouterr().err == ""
    shown = fit_ramps(cube, truth.times, chunk_pixels=100, progress_bar=True)
    err = capsys.readouterr().err
    assert "fit_ramps" in err and "2000/2000" in err
    assert_array_equal(shown.slope, quiet.slope)
