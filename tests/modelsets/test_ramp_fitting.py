"""Tests of fit_ramps and make_ramp_cube against simulated truth."""

import dataclasses
import warnings

from astropy.nddata import NDData
import astropy.units as u
import numpy as np
from numpy.testing import assert_allclose, assert_array_equal
import pytest
from scipy import stats

from psfkit.datasets import make_ramp_cube
from psfkit.modelsets import (
    JUMP_DET,
    NAN_INPUT,
    SATURATED,
    TOO_FEW_READS,
    fit_ramps,
)
from psfkit.utils import PsfkitDeprecationWarning

RN, GAIN, DT = 10.0, 2.0, 10.0


def assert_results_close(got, expect, tol):
    """Every field of two `RampFitResult` equal to ``tol`` (NaN == NaN)."""
    for field in dataclasses.fields(got):
        a, b = getattr(got, field.name), getattr(expect, field.name)
        if b is None:
            assert a is None, field.name
            continue
        assert_allclose(a, b, rtol=tol, atol=tol, equal_nan=True,
                        err_msg=field.name)


def simulate(rate, seed, shape=(40, 40), n_reads=10, **kwargs):
    return make_ramp_cube(shape, n_reads, rate=rate, read_noise=RN, gain=GAIN,
                          frame_time=DT, random_state=seed, **kwargs)


def test_make_ramp_cube_truth():
    cube, truth = simulate(50.0, 1, shape=(60, 50), bias=1000.0,
                           jump_fraction=0.2)
    assert cube.shape == (10, 60, 50)
    assert_allclose(truth.times, DT * np.arange(1, 11))
    # mean increments equal rate * dt (plus jumps)
    no_jump = truth.jump_read < 0
    inc = np.diff(cube, axis=0)[:, no_jump]
    assert abs(inc.mean() / (50.0 * DT) - 1) < 0.01
    # increment variance: Poisson plus two reads' noise, minus the
    # covariance of neighbours
    assert abs(inc.var() / (50.0 * DT / GAIN + 2 * RN**2) - 1) < 0.05
    assert abs(np.mean(cube[0, no_jump]) - 1000.0 - 50.0 * DT) < 1.0
    jumped = ~no_jump
    assert 0.15 < jumped.mean() < 0.25
    sigma_d = np.sqrt(2 * RN**2 + 50.0 * DT / GAIN)
    assert_allclose(truth.jump_amplitude[jumped], 5.0 * sigma_d)
    with pytest.raises(ValueError, match="jump_fraction"):
        make_ramp_cube((3, 3), 5, rate=1.0, read_noise=1.0, jump_fraction=2)
    with pytest.raises(ValueError, match="rate must be"):
        make_ramp_cube((3, 3), 5, rate=-1.0, read_noise=1.0)


def test_matches_direct_lstsq_with_nans():
    cube, truth = simulate(5.0, 2, shape=(12, 9))
    cube[3, 2, 4] = np.nan
    cube[:, 5, 5] = np.nan
    cube[1:, 7, 1] = np.nan
    res = fit_ramps(cube, truth.times)
    A = np.vander(truth.times, 2, increasing=True)
    for (iy, ix) in [(0, 0), (2, 4), (11, 8)]:
        good = np.isfinite(cube[:, iy, ix])
        p, rss = np.linalg.lstsq(A[good], cube[good, iy, ix], rcond=None)[:2]
        assert_allclose([res.intercept[iy, ix], res.slope[iy, ix]], p,
                        rtol=1e-10)
        var = np.linalg.inv(A[good].T @ A[good])[1, 1] * rss[0] / (good.sum() - 2)
        assert_allclose(res.slope_err[iy, ix], np.sqrt(var), rtol=1e-10)
    assert res.n_used[2, 4] == 9
    assert res.flags[2, 4] == NAN_INPUT
    assert res.flags[0, 0] == 0
    for pix in [(5, 5), (7, 1)]:
        assert np.isnan(res.slope[pix])
        assert res.flags[pix] == NAN_INPUT | TOO_FEW_READS
        assert res.n_used[pix] == 0


@pytest.mark.parametrize("weighting", ["unweighted", "optimal"])
@pytest.mark.parametrize("rate", [0.3, 40.0, 3000.0])
def test_slope_pulls(rate, weighting):
    pulls, slopes = [], []
    for seed in range(6):
        cube, truth = simulate(rate, seed, shape=(30, 30))
        res = fit_ramps(cube, truth.times, read_noise=RN, gain=GAIN,
                        weighting=weighting)
        pulls.append((res.slope - rate) / res.slope_err)
        slopes.append(res.slope)
        assert_allclose(res.slope_err**2, res.var_poisson + res.var_readnoise)
    pull = np.concatenate(pulls).ravel()
    assert 0.95 < np.std(pull) < 1.05
    # unbiased: the mean slope agrees with the truth within 4 standard errors
    s = np.concatenate(slopes).ravel()
    assert abs(s.mean() - rate) < 4 * s.std() / np.sqrt(s.size)


def test_optimal_weighting_with_bad_pixels():
    cube, truth = simulate(500.0, 8, shape=(6, 7), n_reads=9)
    cube[:, 1, 1] = np.nan
    cube[2:, 2, 2] = np.nan
    cube[4, 3, 3] = np.nan
    res = fit_ramps(cube, truth.times, read_noise=RN, gain=GAIN,
                    weighting="optimal")
    assert res.flags[1, 1] == NAN_INPUT | TOO_FEW_READS
    assert np.isnan(res.slope[1, 1])
    assert res.n_used[2, 2] == 2 and np.isfinite(res.slope[2, 2])
    assert res.n_used[3, 3] == 8 and res.n_used[0, 0] == 9
    # with two reads every weighting is the same difference quotient
    assert_allclose(res.slope[2, 2], np.diff(cube[:2, 2, 2]) / DT)


def test_read_noise_variance_closed_form():
    cube, truth = simulate(0.0, 3, shape=(4, 4), n_reads=8)
    res = fit_ramps(cube, truth.times, read_noise=RN, gain=GAIN)
    n = 8
    expect = 12 * RN**2 / ((n**3 - n) * DT**2)
    assert_allclose(res.var_readnoise, expect, rtol=1e-12)


def test_optimal_weighting_beats_unweighted_at_high_snr():
    cube, truth = simulate(3000.0, 7, shape=(60, 60))
    plain = fit_ramps(cube, truth.times, read_noise=RN, gain=GAIN)
    opt = fit_ramps(cube, truth.times, read_noise=RN, gain=GAIN,
                    weighting="optimal")
    assert np.std(opt.slope) < 0.97 * np.std(plain.slope)
    assert np.median(opt.slope_err) < np.median(plain.slope_err)


def test_saturation():
    rate = np.linspace(10, 3000, 50 * 40).reshape(50, 40)
    cube, truth = make_ramp_cube((50, 40), 10, rate=rate, read_noise=RN,
                                 gain=GAIN, saturation=20000.0, random_state=1)
    res = fit_ramps(cube, truth.times, read_noise=RN, gain=GAIN,
                    saturation=20000.0)
    sat = truth.saturated_read >= 0
    assert 0.1 < sat.mean() < 0.9
    assert_array_equal((res.flags & SATURATED) > 0, sat)
    assert_array_equal(res.n_used[sat], truth.saturated_read[sat])
    assert_array_equal(res.n_used[~sat], 10)
    ok = np.isfinite(res.slope)
    assert np.all(ok == (res.n_used >= 2))
    pull = ((res.slope - rate) / res.slope_err)[ok]
    assert 0.9 < np.std(pull) < 1.1
    assert abs(np.mean(pull)) < 0.1
    # pixels saturated from the second read on have too few reads
    few = (truth.saturated_read >= 0) & (truth.saturated_read < 2)
    assert np.all((res.flags[few] & TOO_FEW_READS) > 0)
    # without the saturation level the saturated ramps are biased low
    naive = fit_ramps(cube, truth.times, read_noise=RN, gain=GAIN)
    assert np.mean((naive.slope - rate)[sat]) < -10 * np.mean(res.slope_err[sat])


def test_jump_detection_rate_and_false_positives():
    # read-noise dominated ramps; jumps of 5 sigma of a two-point difference
    cube, truth = simulate(1.0, 11, shape=(80, 80), jump_fraction=0.3)
    res = fit_ramps(cube, truth.times, read_noise=RN, gain=GAIN,
                    detect_jumps=True)
    has = truth.jump_read >= 0
    found = (res.flags & JUMP_DET) > 0
    assert found[has].mean() >= 0.95
    # pixels whose jump was found: split in two segments and unbiased
    both = has & found
    edge = (truth.jump_read == 1) | (truth.jump_read == 9)
    # a one-read segment at either end carries no slope and is dropped
    assert np.mean(res.n_segments[both & ~edge] == 2) > 0.98
    assert np.mean(res.n_used[both & edge] == 9) > 0.98
    pull = ((res.slope - 1.0) / res.slope_err)[both]
    assert 0.9 < np.std(pull) < 1.1
    assert abs(np.mean(pull)) < 0.1

    # false positives: the statistic is standard normal per difference
    thr = 3.0
    clean, truth0 = simulate(1.0, 12, shape=(100, 100))
    res0 = fit_ramps(clean, truth0.times, read_noise=RN, gain=GAIN,
                     detect_jumps=True, jump_threshold=thr)
    n_flag = np.sum(res0.n_segments - 1)
    expect = 2 * stats.norm.sf(thr) * clean[0].size * 9
    assert abs(n_flag - expect) < 4 * np.sqrt(expect) + 0.1 * expect


@pytest.mark.parametrize("how", ["nan_after", "masked_before"])
def test_jump_next_to_a_bad_read_is_found(how):
    # the differences run between consecutive valid reads: a NaN or masked
    # read on either side of a jump must not hide it
    # (8 sigma jumps: the missing read next to the jump leaves the test
    # about 0.8 of the sensitivity it has without the gap)
    cube, truth = simulate(1.0, 13, shape=(60, 60), jump_fraction=1.0,
                           jump_sigma=8.0)
    j = truth.jump_read
    inner = (j >= 3) & (j <= 7)     # segments of two reads at least
    ny, nx = np.indices(j.shape)
    mask = np.zeros(cube.shape, bool)
    if how == "nan_after":
        cube[j[inner], ny[inner], nx[inner]] = np.nan
    else:
        mask[j[inner] - 1, ny[inner], nx[inner]] = True
    res = fit_ramps(cube, truth.times, read_noise=RN, gain=GAIN, mask=mask,
                    detect_jumps=True)
    found = (res.flags & JUMP_DET) > 0
    assert found[inner].mean() >= 0.95
    both = inner & found
    # (a rare false positive elsewhere in the ramp cuts off a read more)
    assert np.mean(res.n_segments[both] == 2) > 0.98
    assert np.mean(res.n_used[both] == 9) > 0.98
    pull = ((res.slope - 1.0) / res.slope_err)[both]
    assert 0.85 < np.std(pull) < 1.15
    assert abs(np.mean(pull)) < 0.15

    # and no more false positives with gaps than without (the statistic
    # stays standard normal with the longer time steps across a gap)
    thr = 3.0
    clean, truth0 = simulate(1.0, 14, shape=(100, 100))
    gaps = np.random.default_rng(3).random(clean.shape) < 0.1
    clean[gaps] = np.nan
    res0 = fit_ramps(clean, truth0.times, read_noise=RN, gain=GAIN,
                     detect_jumps=True, jump_threshold=thr)
    n_flag = np.sum(res0.n_segments - 1)
    n_diff = np.sum(np.maximum(np.sum(~gaps, axis=0) - 1, 0))
    expect = 2 * stats.norm.sf(thr) * n_diff
    assert abs(n_flag - expect) < 4 * np.sqrt(expect) + 0.1 * expect


def test_jump_in_poisson_regime_and_without_detection():
    cube, truth = simulate(300.0, 5, shape=(50, 50), jump_fraction=0.3,
                           jump_sigma=8.0)
    res = fit_ramps(cube, truth.times, read_noise=RN, gain=GAIN,
                    detect_jumps=True)
    has = truth.jump_read >= 0
    assert ((res.flags & JUMP_DET) > 0)[has].mean() > 0.95
    plain = fit_ramps(cube, truth.times, read_noise=RN, gain=GAIN)
    bias_plain = np.mean(plain.slope[has] - 300.0)
    bias_jump = np.mean(res.slope[has] - 300.0)
    assert bias_plain > 5 * abs(bias_jump)


def test_dask_matches_memory():
    da = pytest.importorskip("dask.array")
    cube, truth = simulate(3.0, 4, shape=(48, 40), jump_fraction=0.2)
    cube[4, 10, 10] = np.nan
    mask = np.zeros(cube.shape, bool)
    mask[2, 3, 3] = True
    kw = dict(read_noise=RN, gain=GAIN, detect_jumps=True, mask=mask)
    ref = fit_ramps(cube, truth.times, **kw)
    kw["mask"] = da.from_array(mask, chunks=(10, 16, 20))
    lazy = fit_ramps(da.from_array(cube, chunks=(5, 16, 20)), truth.times,
                     **kw)
    assert isinstance(lazy.slope, da.Array)
    for name in ("slope", "intercept", "slope_err", "var_poisson",
                 "var_readnoise"):
        assert_allclose(getattr(lazy, name).compute(), getattr(ref, name),
                        rtol=1e-10, atol=1e-12)
    for name in ("n_used", "n_segments", "flags"):
        assert_array_equal(getattr(lazy, name).compute(), getattr(ref, name))


def test_input_forms_and_axis():
    cube, truth = simulate(20.0, 6, shape=(10, 12), bias=500.0)
    ints = np.round(cube).astype(">i2")
    ref = fit_ramps(np.round(cube), truth.times)
    got = fit_ramps(ints, truth.times)
    assert_allclose(got.slope, ref.slope, rtol=1e-12)
    moved = fit_ramps(np.moveaxis(np.round(cube), 0, -1), truth.times, axis=-1)
    assert_allclose(moved.slope, ref.slope, rtol=1e-12)
    f32 = fit_ramps(np.round(cube).astype(np.float32), truth.times,
                    chunk_pixels=7)
    assert_allclose(f32.slope, ref.slope, rtol=1e-9)

    mask = np.zeros(cube.shape, bool)
    mask[5, 1, 1] = True
    nd = fit_ramps(NDData(cube, mask=mask, unit=u.adu), truth.times * u.s)
    assert nd.slope.unit == u.adu / u.s
    assert nd.intercept.unit == u.adu
    ma = fit_ramps(np.ma.MaskedArray(cube, mask=mask), truth.times)
    arr = fit_ramps(cube, truth.times, mask=mask)
    assert_allclose(nd.slope.value, arr.slope)
    assert_allclose(ma.slope, arr.slope)
    assert arr.n_used[1, 1] == 9
    assert arr.flags[1, 1] == NAN_INPUT


def test_degree_two():
    t = np.arange(12.0)
    rng = np.random.default_rng(0)
    cube = (3.0 + 2.0 * t - 0.05 * t**2)[:, None, None] + rng.normal(
        0, 0.01, (12, 5, 6))
    res = fit_ramps(cube, t, degree=2)
    assert_allclose(res.slope, 2.0, atol=0.01)
    A = np.vander(t, 3, increasing=True)
    p = np.linalg.lstsq(A, cube[:, 2, 3], rcond=None)[0]
    assert_allclose(res.slope[2, 3], p[1], rtol=1e-10)


def test_bad_arguments():
    cube = np.ones((5, 3, 3)) * np.arange(5.0)[:, None, None]
    with pytest.raises(ValueError, match="optimal weighting needs read_noise"):
        fit_ramps(cube, weighting="optimal")
    with pytest.raises(ValueError, match="jump detection needs read_noise"):
        fit_ramps(cube, detect_jumps=True)
    with pytest.raises(ValueError, match="strictly increasing"):
        fit_ramps(cube, [0, 1, 1, 2, 3])
    with pytest.raises(ValueError, match="times has 4 values"):
        fit_ramps(cube, [0, 1, 2, 3])
    with pytest.raises(ValueError, match="weighting must be one of"):
        fit_ramps(cube, weighting="best")
    with pytest.raises(ValueError, match="mask must have the shape"):
        fit_ramps(cube, mask=np.zeros((3, 3), bool))
    with pytest.raises(ValueError, match="needs at least 4"):
        fit_ramps(cube[:3], degree=3)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        fit_ramps(np.arange(5.0))
    with pytest.raises(ValueError, match="executor must be a positive"):
        fit_ramps(cube, executor=0)
    # the former name alone warns and is used; the current one alone is
    # silent; both are refused, also with executor at its default (None)
    with pytest.warns(PsfkitDeprecationWarning, match="n_threads= is dep"):
        old = fit_ramps(cube, n_threads=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        new = fit_ramps(cube, executor=2)
    assert_allclose(old.slope, new.slope)
    for executor in (None, 2):
        with pytest.raises(TypeError, match=r"fit_ramps\(\) got both "
                           "executor= and n_threads="):
            fit_ramps(cube, executor=executor, n_threads=2)
    res = fit_ramps(cube)
    assert_allclose(res.slope, 1.0)
    assert_allclose(res.slope_err, 0.0, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, ">f8"])
@pytest.mark.parametrize("read_noise", [None, RN])
def test_input_cube_is_never_modified(dtype, read_noise):
    cube, truth = simulate(5.0, 4, shape=(6, 7))
    cube = cube.astype(dtype)
    cube[2, 1, 1] = np.nan
    before = cube.copy()
    fit_ramps(cube, truth.times, read_noise=read_noise)
    np.testing.assert_array_equal(cube, before)


@pytest.mark.parametrize("options", [
    {},
    {"read_noise": RN, "gain": 2.0},
    {"read_noise": RN, "gain": 2.0, "weighting": "optimal",
     "detect_jumps": True, "saturation": 3000.0},
])
def test_threads_give_the_serial_result(options):
    # many small chunks shared by three threads, with NaN reads, jumps and
    # saturated pixels spread over them
    rng = np.random.default_rng(8)
    cube, truth = make_ramp_cube((40, 50), 8, rate=rng.uniform(0, 300, (40, 50)),
                                 read_noise=RN, gain=2.0, jump_fraction=0.02,
                                 random_state=4)
    cube[rng.random(cube.shape) < 0.01] = np.nan
    serial = fit_ramps(cube, truth.times, executor=1, **options)
    threaded = fit_ramps(cube, truth.times, executor=3, chunk_pixels=37,
                         **options)
    assert_results_close(threaded, serial, tol=1e-12)
    assert np.count_nonzero(serial.flags & NAN_INPUT) > 100


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("read_noise", [None, RN])
def test_mask_patterns_solved_once_per_call(monkeypatch, masked, read_noise):
    # three mask patterns spread over every chunk of pixels: each pattern's
    # solution is built once for the whole cube, not once per chunk
    from psfkit.modelsets import _solve

    calls = []
    real = _solve._pattern_solver

    def counting(A, W, pattern, rcond):
        calls.append(pattern.tobytes())
        return real(A, W, pattern, rcond)

    monkeypatch.setattr(_solve, "_pattern_solver", counting)
    cube, truth = simulate(50.0, 3, shape=(30, 40), n_reads=8)
    drop = np.zeros(cube.shape, dtype=bool)
    flat = drop.reshape(8, -1)
    for i, reads in enumerate([[2], [5], [2, 6]]):
        flat[np.ix_(reads, np.arange(i, flat.shape[1], 7))] = True
    if masked:
        kwargs = {"mask": drop}
    else:
        cube = np.where(drop, np.nan, cube)
        kwargs = {}
    res = fit_ramps(cube, truth.times, read_noise=read_noise, gain=GAIN,
                    chunk_pixels=50, executor=1, **kwargs)
    n_chunks = -(-cube[0].size // 50)
    assert n_chunks == 24
    assert len(calls) == len(set(calls)) == 3
    # the cached solutions give the per-pixel least-squares answer
    A = np.vander(truth.times, 2, increasing=True)
    for iy, ix in [(0, 0), (0, 1), (0, 2), (7, 3), (29, 39)]:
        good = ~drop[:, iy, ix]
        p = np.linalg.lstsq(A[good], cube[good, iy, ix], rcond=None)[0]
        assert_allclose([res.intercept[iy, ix], res.slope[iy, ix]], p,
                        rtol=1e-10)
    # threads share the cache: at most one solve per pattern and thread
    calls.clear()
    threaded = fit_ramps(cube, truth.times, read_noise=read_noise, gain=GAIN,
                         chunk_pixels=50, executor=3, **kwargs)
    assert len(set(calls)) == 3 and len(calls) <= 9
    assert_results_close(threaded, res, tol=1e-12)


@pytest.mark.parametrize("n_reads", [3, 6, 11])
@pytest.mark.parametrize("noise,weighting", [(None, "unweighted"),
                                             (RN, "unweighted"),
                                             (RN, "optimal")])
def test_fast_path_matches_general_engine(n_reads, noise, weighting):
    # complete straight-line ramps take a one-pass route; a mask of no
    # points sends the same data through the general engine.  The rates
    # span every signal-to-noise class of the optimal weights.
    rng = np.random.default_rng(9)
    rate = 10.0 ** rng.uniform(-1.0, 3.5, (30, 30))
    cube, truth = make_ramp_cube((30, 30), n_reads, rate=rate,
                                 read_noise=RN, gain=2.0, random_state=5,
                                 dtype=np.float32)
    cube[n_reads // 2, 4, 5] = np.nan
    nomask = np.zeros(cube.shape, bool)
    kwargs = dict(read_noise=noise, gain=2.0, weighting=weighting)
    fast = fit_ramps(cube, truth.times, **kwargs)
    ref = fit_ramps(cube, truth.times, mask=nomask, **kwargs)
    assert_results_close(fast, ref, tol=1e-10)
    assert fast.flags[4, 5] & NAN_INPUT


@pytest.mark.parametrize("weighting", ["unweighted", "optimal"])
def test_nan_flag_only_where_a_read_was_nan(weighting):
    # optimal weights are per pixel, so no pixel shares the design in the
    # weighted solve; that must not be mistaken for non-finite reads
    cube, truth = simulate(50.0, 11, shape=(12, 13))
    res = fit_ramps(cube, truth.times, read_noise=RN, gain=GAIN,
                    weighting=weighting)
    assert_array_equal(res.flags, 0)
    cube[4, 2, 3] = np.nan
    res = fit_ramps(cube, truth.times, read_noise=RN, gain=GAIN,
                    weighting=weighting)
    expect = np.zeros((12, 13), int)
    expect[2, 3] = NAN_INPUT
    assert_array_equal(res.flags, expect)
    assert res.n_used[2, 3] == 9


@pytest.mark.parametrize("n_diff", [3, 4, 9, 25])
def test_jump_statistic_matches_dense_gls(n_diff):
    # the tridiagonal factorisation must give the statistic of the dense
    # generalised least-squares formula: z_j = (P d)_j / sqrt(P_jj) with
    # P = C^-1 - C^-1 dt (dt^T C^-1 dt)^-1 dt^T C^-1
    from psfkit.modelsets._jumps import _z_scores

    rng = np.random.default_rng(n_diff)
    n, rn, gain = 300, 8.0, 1.5
    # time steps of every pixel's own (pixels with gaps have longer ones)
    dt = rng.uniform(1.0, 5.0, (n, n_diff))
    rate = rng.uniform(0.0, 100.0, n)
    d = rate[:, None] * dt + rng.normal(0.0, 12.0, (n, n_diff))
    d[rng.random(d.shape) < 0.03] += 200.0
    dvalid = rng.random(d.shape) > 0.1
    dvalid[:, :3] = True            # at least three valid differences
    z = _z_scores(d, dvalid, dt, rate, rn, gain)
    for i in range(n):
        ok = dvalid[i]
        m = ok.sum()
        C = np.diag(2 * rn**2 + rate[i] * dt[i, ok] / gain)
        # neighbours are anti-correlated only when both are valid
        pairs = ok[1:] & ok[:-1]
        pos = np.cumsum(ok) - 1
        for j in np.flatnonzero(pairs):
            a, b = pos[j], pos[j + 1]
            C[a, b] = C[b, a] = -rn**2
        Ci = np.linalg.inv(C)
        x = dt[i, ok]
        P = Ci - np.outer(Ci @ x, Ci @ x) / (x @ Ci @ x)
        expect = (P @ d[i, ok]) / np.sqrt(np.diag(P))
        assert_allclose(z[i, ok], expect, rtol=1e-9, atol=1e-9)
        assert np.all(z[i, ~ok] == 0.0)
        assert m >= 3


def test_optimal_weighting_matches_jwst_stcal():
    # the peer: stcal's OLS_C ramp fitting (JWST pipeline) implements the
    # same Fixsen et al. weights; slopes must agree except for pixels whose
    # signal-to-noise sits on a class edge (computed in float32 there)
    pytest.importorskip("stcal")
    import logging

    from stcal.ramp_fitting.ramp_fit import ramp_fit_data
    from stcal.ramp_fitting.ramp_fit_class import RampData

    logging.getLogger("stcal").setLevel(logging.ERROR)
    rng = np.random.default_rng(21)
    shape = (64, 64)
    cube, truth = simulate(rng.uniform(0, 300, shape), 21, shape=shape,
                           dtype=np.float32)
    ramp = RampData()
    ramp.set_arrays(cube[None].copy(), np.zeros((1,) + cube.shape, np.uint8),
                    np.zeros(shape, np.uint32), np.zeros(shape, np.float32))
    ramp.set_meta(name="NIRCAM", frame_time=DT, group_time=DT, groupgap=0,
                  nframes=1, drop_frames1=None)
    ramp.set_dqflags({"DO_NOT_USE": 1, "SATURATED": 2, "JUMP_DET": 4,
                      "NO_GAIN_VALUE": 8, "UNRELIABLE_SLOPE": 16,
                      "PERSISTENCE": 32, "CHARGELOSS": 64})
    ramp.algorithm = "OLS_C"
    # stcal takes the read noise of a two-read difference
    image, _, _ = ramp_fit_data(
        ramp, False, np.full(shape, RN * np.sqrt(2.0), np.float32),
        np.full(shape, GAIN, np.float32), "OLS_C", "optimal", "none")
    res = fit_ramps(cube, truth.times, read_noise=RN, gain=GAIN,
                    weighting="optimal")
    diff = np.abs(image["slope"] - res.slope) / res.slope_err
    assert np.mean(diff < 1e-4) > 0.99
