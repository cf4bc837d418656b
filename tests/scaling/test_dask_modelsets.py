"""fit_ramps and LinearModelSetFitter on dask arrays, against memory."""

from astropy.modeling import models
import astropy.units as u
import numpy as np
from numpy.testing import assert_allclose, assert_array_equal
import pytest

from psfkit.datasets import make_ramp_cube
from psfkit.modelsets import (
    LazyModelSetFit,
    LinearModelSetFitter,
    ModelSetFitWarning,
    fit_ramps,
)

da = pytest.importorskip("dask.array")

RN, GAIN = 6.0, 2.0


def counting(array, chunks, calls):
    """A dask array that records every real block it produces."""

    def load(block):
        calls.append(block.shape)
        return block

    meta = np.empty((0,) * array.ndim, dtype=array.dtype)
    return da.from_array(array, chunks=chunks).map_blocks(load, meta=meta)


@pytest.fixture(scope="module")
def ramps():
    cube, truth = make_ramp_cube((40, 36), 8, rate=40.0, read_noise=RN,
                                 gain=GAIN, jump_fraction=0.1,
                                 saturation=600.0, random_state=3)
    cube[3, 5, 7] = np.nan
    mask = np.zeros(cube.shape, bool)
    mask[2, 11, 4] = True
    return cube, truth.times, mask


@pytest.mark.parametrize("options", [
    {},
    {"read_noise": RN, "gain": GAIN, "weighting": "optimal",
     "saturation": 600.0, "detect_jumps": True},
])
def test_fit_ramps_distributed_matches_memory(client, ramps, options):
    cube, times, mask = ramps
    ref = fit_ramps(cube, times, mask=mask, **options)
    calls = []
    lazy = fit_ramps(counting(cube, (4, 20, 12), calls), times,
                     mask=da.from_array(mask, chunks=(8, 10, 36)), **options)
    assert isinstance(lazy.slope, da.Array)
    assert calls == []
    got = client.compute(vars(lazy)).result()
    for name, value in vars(ref).items():
        if value is None:
            assert got[name] is None
        elif value.dtype.kind == "f":
            assert_allclose(got[name], value, rtol=1e-12, atol=1e-12,
                            equal_nan=True, err_msg=name)
        else:
            assert_array_equal(got[name], value, err_msg=name)
    # the pixel chunks of the input are kept (only time is merged)
    assert lazy.slope.chunks == ((20, 20), (12, 12, 12))


@pytest.fixture(scope="module")
def model_sets():
    rng = np.random.default_rng(5)
    N, K = 1200, 14
    x = np.linspace(-1.0, 2.0, K)
    coef = rng.normal(size=(N, 3)) * [4.0, 2.0, 0.5]
    Y = coef @ np.vander(x, 3, increasing=True).T + rng.normal(size=(N, K))
    Y[rng.random((N, K)) < 0.05] = np.nan
    Y[7, 1:] = np.nan  # too few points: NaN parameters, status 1
    w = rng.uniform(0.5, 2.0, size=(N, K))
    return x, Y, w


def _compare(lazy_model, ref_model):
    assert_allclose(lazy_model.parameters, ref_model.parameters, rtol=1e-10,
                    atol=1e-12, equal_nan=True)
    for name in ref_model.fit_info.colnames:
        ref = np.asarray(ref_model.fit_info[name])
        got = np.asarray(lazy_model.fit_info[name])
        assert got.dtype == ref.dtype, name
        assert_allclose(got, ref, rtol=1e-10, atol=1e-12, equal_nan=True,
                        err_msg=name)


@pytest.mark.parametrize("case", ["plain", "shared_weights", "model_weights",
                                  "axis1", "fixed", "uncertainties"])
def test_fitter_dask_matches_memory(model_sets, case):
    x, Y, w = model_sets
    N = Y.shape[0]
    model = models.Polynomial1D(2, n_models=N)
    fitter = LinearModelSetFitter(calc_uncertainties=case == "uncertainties")
    data, chunks, kw, dkw = Y, (300, 7), {}, {}
    if case == "shared_weights":
        kw = dkw = {"weights": w[0]}
    elif case == "model_weights":
        kw = {"weights": w}
        dkw = {"weights": da.from_array(w, chunks=(400, 14))}
    elif case == "axis1":
        model = models.Polynomial1D(2, n_models=N, model_set_axis=1)
        data, chunks = Y.T, (7, 300)
    elif case == "fixed":
        model.c2.fixed = True
        model.c2 = np.linspace(-0.2, 0.2, N)
    with pytest.warns(ModelSetFitWarning, match="1 too few points"):
        ref = fitter(model, x, data, **kw)
    calls = []
    lazy = fitter.fit_lazy(model, x, counting(data, chunks, calls), **dkw)
    assert isinstance(lazy, LazyModelSetFit)
    assert calls == []
    assert lazy.params.chunks[0] == (300,) * 4
    with pytest.warns(ModelSetFitWarning, match="1 too few points"):
        got = lazy.compute(scheduler="threads")
    assert len(calls) == 4 * 2  # every block read once
    _compare(got, ref)
    # the free parameters are fitted, the fixed one untouched
    if case == "fixed":
        assert_array_equal(got.c2.value, model.c2.value)
        assert lazy.free_params == ["c0", "c1"]
    if case == "uncertainties":
        # the astropy-style uncertainties come back from the lazy fit too
        assert_allclose(got.cov_matrix.cov_matrix, ref.cov_matrix.cov_matrix,
                        rtol=1e-10, equal_nan=True)
        assert_allclose(got.c1.std, ref.c1.std, rtol=1e-10, equal_nan=True)


def test_fitter_dask_2d_models_on_cluster(client):
    from distributed import get_task_stream

    rng = np.random.default_rng(8)
    N = 600
    yy, xx = np.mgrid[0:5, 0:6].astype(float)
    truth = rng.normal(size=(N, 3))
    z = (truth[:, 0, None, None] + truth[:, 1, None, None] * xx
         + truth[:, 2, None, None] * yy + 0.01 * rng.normal(size=(N, 5, 6)))
    z[3, 2, 2] = np.nan
    model = models.Polynomial2D(1, n_models=N)
    fitter = LinearModelSetFitter(calc_uncertainties=True)
    ref = fitter(model, xx, yy, z)
    # a dask input given to the fitter is computed on the active client
    dz = da.from_array(z, chunks=(150, 5, 3))
    with get_task_stream(client) as stream:
        got = fitter(model, xx, yy, dz)
    assert {task["worker"] for task in stream.data} <= set(
        client.scheduler_info()["workers"])
    assert len(stream.data) >= 4  # one fit per chunk of models
    _compare(got, ref)
    assert_allclose(np.c_[got.c0_0.value, got.c1_0.value, got.c0_1.value],
                    truth, atol=0.05)
    # in place, like the in-memory path
    target = model.copy()
    assert fitter(target, xx, yy, dz, inplace=True) is target
    assert_allclose(target.parameters, ref.parameters, rtol=1e-10)


def test_fitter_dask_errors(model_sets):
    x, Y, w = model_sets
    model = models.Polynomial1D(2, n_models=Y.shape[0])
    fitter = LinearModelSetFitter()
    with pytest.raises(ValueError, match="model set has"):
        fitter.fit_lazy(model, x, da.from_array(Y[:10], chunks=5))
    with pytest.raises(ValueError, match="coordinates' shape"):
        fitter.fit_lazy(model, x[:5], da.from_array(Y, chunks=100))
    with pytest.raises(TypeError, match="Quantity"):
        fitter.fit_lazy(model, x, Y * u.m)
    bad = w.copy()
    bad[900, 2] = -1.0
    lazy = fitter.fit_lazy(model, x, da.from_array(Y, chunks=300),
                           weights=da.from_array(bad, chunks=300))
    with pytest.raises(ValueError, match="finite and non-negative"):
        lazy.compute(scheduler="synchronous")


def test_fit_lazy_of_in_memory_masked_data(model_sets):
    x, Y, _ = model_sets
    valid = np.isfinite(Y)
    masked = np.ma.MaskedArray(np.where(valid, Y, 1e30), mask=~valid)
    model = models.Polynomial1D(2, n_models=Y.shape[0])
    fitter = LinearModelSetFitter()
    with pytest.warns(ModelSetFitWarning):
        ref = fitter(model, x, masked)
    with pytest.warns(ModelSetFitWarning):
        got = fitter.fit_lazy(model, x, masked).compute(scheduler="sync")
    _compare(got, ref)


def test_lazy_fit_leaves_the_input_model_alone(model_sets):
    x, Y, _ = model_sets
    Y = np.nan_to_num(Y)
    model = models.Polynomial1D(1, n_models=Y.shape[0])
    before = model.parameters.copy()
    lazy = LinearModelSetFitter().fit_lazy(model, x, da.from_array(Y, chunks=250))
    fitted = lazy.compute(scheduler="synchronous")
    again = lazy.compute(scheduler="synchronous")
    assert_array_equal(model.parameters, before)
    assert not np.shares_memory(fitted.c1.value, model.c1.value)
    assert not np.shares_memory(fitted.c1.value, again.c1.value)
    assert_array_equal(fitted.parameters, again.parameters)
    ref = LinearModelSetFitter()(model, x, Y)
    assert_allclose(fitted.parameters, ref.parameters, rtol=1e-12)
    # computing into the fitted model updates it in place
    out = lazy.compute(model=model, scheduler="synchronous")
    assert out is model
    assert_allclose(model.parameters, ref.parameters, rtol=1e-12)


def test_fit_ramps_dask_bad_input_is_named_before_any_work(ramps):
    # issue 20 item 10: a wrong-shaped mask and a bad axis gave raw
    # dask/numpy errors, and only when computed
    cube, times, mask = ramps
    lazy_cube = da.from_array(cube, chunks=(4, 20, 12))
    with pytest.raises(ValueError, match=r"mask must have the shape of cube "
                       r"\(8, 40, 36\), got \(8, 40, 35\)"):
        fit_ramps(lazy_cube, times, mask=da.from_array(mask[..., :35]))
    with pytest.raises(ValueError, match=r"mask must have the shape"):
        fit_ramps(lazy_cube, times, mask=mask[:, :, :35])
    with pytest.raises(ValueError, match=r"axis=3 is out of range for a "
                       r"3-D cube"):
        fit_ramps(lazy_cube, times, axis=3)
    with pytest.raises(TypeError, match="axis must be an integer"):
        fit_ramps(lazy_cube, times, axis=0.5)
    with pytest.raises(ValueError, match="times has 7 values"):
        fit_ramps(lazy_cube, times[:7])
    with pytest.raises(ValueError, match="needs at least 3"):
        fit_ramps(lazy_cube[:2], times[:2], degree=2)
    # the same messages as for the cube in memory
    with pytest.raises(ValueError, match=r"axis=3 is out of range"):
        fit_ramps(cube, times, axis=3)


def test_fit_ramps_dask_keeps_units(client, ramps):
    # issue 20 item 10: a Quantity ``times`` lost its unit on the dask path
    cube, times, mask = ramps
    ref = fit_ramps(cube * u.DN, times * u.s, mask=mask, read_noise=RN,
                    gain=GAIN)
    rate = u.DN / u.s
    # a dask array of Quantity blocks carries the data unit
    lazy = fit_ramps(da.from_array(cube * u.DN, chunks=(8, 20, 18)),
                     times * u.s, mask=mask, read_noise=RN, gain=GAIN)
    assert "unit DN / s" in repr(lazy)
    assert lazy.units == ref.units == {
        "slope": rate, "slope_err": rate, "intercept": u.DN,
        "var_poisson": rate**2, "var_readnoise": rate**2}
    # computed on the cluster: the in-memory result, units included
    got = lazy.compute()
    for name in ("slope", "slope_err", "intercept", "var_poisson",
                 "var_readnoise", "n_used", "n_segments", "flags"):
        a, b = getattr(got, name), getattr(ref, name)
        assert type(a) is type(b), name
        assert getattr(a, "unit", None) == getattr(b, "unit", None), name
        assert_allclose(a, b, rtol=1e-12, equal_nan=True, err_msg=name)
    plain_cube = fit_ramps(da.from_array(cube, chunks=(8, 20, 18)),
                           times * u.min).compute(scheduler="synchronous")
    assert plain_cube.slope.unit == 1 / u.min
    no_units = fit_ramps(da.from_array(cube, chunks=(8, 20, 18)), times)
    assert no_units.units == {}
    assert type(no_units.compute().slope) is np.ndarray
