"""Tests of LinearModelSetFitter against numpy.linalg.lstsq and astropy."""

from concurrent.futures import ProcessPoolExecutor
import warnings

from astropy.modeling import fitting, models
import astropy.units as u
import numpy as np
from numpy.testing import assert_allclose, assert_array_equal
import pytest

from psfkit.modelsets import LinearModelSetFitter, ModelSetFitWarning
from psfkit.utils import PsfkitDeprecationWarning


def lstsq_rows(A, Y, valid=None, w=None):
    """Reference: one numpy.linalg.lstsq per model (w = 1/sigma)."""
    N, K = Y.shape
    out = np.full((N, A.shape[1]), np.nan)
    for n in range(N):
        good = np.ones(K, bool) if valid is None else valid[n].copy()
        good &= np.isfinite(Y[n])
        wn = np.ones(K) if w is None else (w if w.ndim == 1 else w[n])
        out[n] = np.linalg.lstsq(A[good] * wn[good, None], Y[n, good]
                                 * wn[good], rcond=None)[0]
    return out


def rel_err(a, b):
    return np.max(np.linalg.norm(a - b, axis=1) / np.linalg.norm(b, axis=1))


@pytest.fixture
def data():
    rng = np.random.default_rng(11)
    N, K = 300, 15
    x = np.linspace(-2.0, 3.0, K)
    A = np.vander(x, 3, increasing=True)
    coef = rng.normal(size=(N, 3)) * [5.0, 2.0, 0.5]
    Y = coef @ A.T + rng.normal(size=(N, K))
    return x, A, Y, rng


@pytest.mark.parametrize("model_set_axis", [0, 1])
@pytest.mark.parametrize("case", ["plain", "nan", "masked", "astropy_masked",
                                  "wshared", "wmodel", "wmodel_nan",
                                  "many_patterns"])
def test_matches_lstsq(data, case, model_set_axis):
    x, A, Y, rng = data
    N, K = Y.shape
    Yin = Y.copy()
    valid = None
    w = None
    if case in ("nan", "wmodel_nan"):
        valid = rng.random((N, K)) > 0.05
        Yin[~valid] = np.nan
    elif case == "masked":
        valid = np.ones((N, K), bool)
        valid[::7, 3] = False
        valid[::11, 9] = False
        Yin = np.ma.MaskedArray(Yin, mask=~valid)
    elif case == "astropy_masked":
        from astropy.utils.masked import Masked

        valid = rng.random((N, K)) > 0.1
        Yin[~valid] = 1e3           # bad values that only the mask hides
        Yin = Masked(Yin, mask=~valid)
    elif case == "many_patterns":
        valid = rng.random((N, K)) > 0.3
        Yin[~valid] = np.nan
    if case == "wshared":
        w = rng.uniform(0.5, 2.0, K)
    elif case.startswith("wmodel"):
        w = rng.uniform(0.5, 2.0, (N, K))
    ref = lstsq_rows(A, Y, valid, w)
    if model_set_axis == 1:
        Yin = Yin.T
        w = w.T if w is not None and w.ndim == 2 else w
    model = models.Polynomial1D(2, n_models=N, model_set_axis=model_set_axis)
    fitted = LinearModelSetFitter()(model, x, Yin, weights=w)
    got = np.asarray(fitted.param_sets).reshape(3, N).T
    assert rel_err(got, ref) < 1e-10
    n_used = K if valid is None else valid.sum(axis=1)
    assert_allclose(fitted.fit_info["n_points"], n_used)
    assert np.all(fitted.fit_info["status"] == 0)


def _model_zoo(N):
    z = np.zeros(N)
    return [
        models.Polynomial1D(3, n_models=N),
        models.Chebyshev1D(3, n_models=N),
        models.Chebyshev1D(2, n_models=N, domain=(-5, 10)),
        models.Legendre1D(2, n_models=N),
        models.Hermite1D(3, n_models=N),
        models.Linear1D(z, z, n_models=N),
        models.Polynomial2D(2, n_models=N),
        models.Chebyshev2D(2, 1, n_models=N),
        models.Legendre2D(1, 2, n_models=N),
        models.Hermite2D(1, 1, n_models=N),
        models.Planar2D(z, z, z, n_models=N),
    ]


@pytest.mark.parametrize("index", range(11))
def test_matches_astropy_unmasked(index):
    N = 40
    model = _model_zoo(N)[index]
    rng = np.random.default_rng(index)
    if model.n_inputs == 1:
        x = np.linspace(-3.0, 7.0, 17)
        args = (x, rng.normal(size=(N, x.size)) + x)
    else:
        X, Yc = np.meshgrid(np.linspace(0, 4, 6), np.linspace(1, 3, 5))
        X, Yc = X.ravel(), Yc.ravel()
        args = (X, Yc, rng.normal(size=(N, X.size)) + X * Yc)
    ref = fitting.LinearLSQFitter()(model, *args)
    got = LinearModelSetFitter()(model, *args)
    assert_allclose(got.param_sets, ref.param_sets, rtol=1e-9, atol=1e-12)
    for attr in ("domain", "window", "x_domain", "y_domain"):
        if hasattr(ref, attr):
            assert_allclose(getattr(got, attr), getattr(ref, attr))
    # the input model is not modified
    assert np.all(model.param_sets == 0)


@pytest.mark.parametrize("model_cls", [models.Const1D, models.Const2D])
def test_constant_models(model_cls):
    # astropy's linear fitter cannot fit these as model sets; the weighted
    # mean of each data set is the answer
    rng = np.random.default_rng(3)
    N, K = 25, 12
    data = rng.normal(5.0, 1.0, (N, K))
    data[2, :4] = np.nan
    model = model_cls(np.zeros(N), n_models=N)
    x = np.arange(K, dtype=float)
    args = (x, data) if model.n_inputs == 1 else (x, x[::-1], data)
    fitted = LinearModelSetFitter()(model, *args)
    assert_allclose(fitted.amplitude.value, np.nanmean(data, axis=1),
                    rtol=1e-12)


def test_fixed_parameters():
    rng = np.random.default_rng(5)
    N = 50
    x = np.linspace(0, 4, 9)
    c0 = rng.normal(size=N)
    Y = c0[:, None] + 3.0 * x - 0.5 * x**2 + rng.normal(0, 0.1, (N, x.size))
    model = models.Polynomial1D(2, n_models=N, c0=c0)
    model.c0.fixed = True
    got = LinearModelSetFitter()(model, x, Y)
    ref = fitting.LinearLSQFitter()(model, x, Y)
    assert_allclose(got.param_sets, ref.param_sets, rtol=1e-10)
    assert_allclose(got.c0.value, c0)
    # independent check: fit the free terms to data minus the fixed term
    A = np.vander(x, 3, increasing=True)[:, 1:]
    expect = lstsq_rows(A, Y - c0[:, None])
    assert_allclose(np.c_[got.c1.value, got.c2.value], expect, rtol=1e-10)
    assert got.fit_info.meta["free_params"] == ["c1", "c2"]


def test_2d_model_set_axis1_and_masks():
    rng = np.random.default_rng(8)
    N = 30
    X, Yc = np.meshgrid(np.arange(7.0), np.arange(6.0))
    A = np.stack([np.ones(X.size), X.ravel(), Yc.ravel()], axis=1)
    coef = rng.normal(size=(N, 3))
    Z = (coef @ A.T).reshape(N, 6, 7) + rng.normal(0, 0.01, (N, 6, 7))
    Z[4, 2, 3] = np.nan
    ref = lstsq_rows(A, Z.reshape(N, -1))
    model = models.Polynomial2D(1, n_models=N, model_set_axis=1)
    fitted = LinearModelSetFitter()(model, X, Yc, np.moveaxis(Z, 0, 1))
    got = np.asarray(fitted.param_sets).reshape(3, N).T
    assert rel_err(got, ref) < 1e-10


def test_too_few_points_and_singular():
    x = np.array([0.0, 0.0, 1.0, 2.0, 3.0])
    Y = np.tile(2.0 * x + 1.0, (4, 1))
    Y[1, 1:] = np.nan            # one point left: too few
    Y[2, 2:] = np.nan            # two points at the same x: singular
    Y[3, :] = np.nan             # nothing left
    with pytest.warns(ModelSetFitWarning, match="3 of 4 models"):
        fitted = LinearModelSetFitter()(models.Polynomial1D(1, n_models=4),
                                        x, Y)
    info = fitted.fit_info
    assert info["status"].tolist() == [0, 1, 2, 1]
    assert info["n_points"].tolist() == [5, 1, 2, 0]
    assert info["rank"][2] == 1
    assert_allclose(fitted.param_sets[:, 0], [1.0, 2.0])
    assert np.all(np.isnan(fitted.param_sets[:, [1, 3]]))
    # the singular model gets lstsq's minimum-norm solution
    A = np.vander(x[:2], 2, increasing=True)
    expect = np.linalg.lstsq(A, Y[2, :2], rcond=None)[0]
    assert_allclose(fitted.param_sets[:, 2], expect, rtol=1e-12)


def test_uncertainties_closed_form():
    rng = np.random.default_rng(2)
    N, K = 40, 10
    x = np.linspace(0, 9, K)
    A = np.vander(x, 2, increasing=True)
    Y = rng.normal(size=(N, K)) + x
    Y[3, 4] = np.nan
    w = rng.uniform(0.5, 2, (N, K))
    fitted = LinearModelSetFitter(calc_uncertainties=True)(
        models.Polynomial1D(1, n_models=N), x, Y, weights=w)
    cov = fitted.fit_info["cov"]
    for n in (0, 3, 17):
        good = np.isfinite(Y[n])
        aw = A[good] * w[n, good, None]
        p, rss = np.linalg.lstsq(aw, Y[n, good] * w[n, good], rcond=None)[:2]
        expect = np.linalg.inv(aw.T @ aw) * rss[0] / (good.sum() - 2)
        assert_allclose(cov[n], expect, rtol=1e-10)
        assert_allclose(fitted.fit_info["rss"][n], rss[0], rtol=1e-10)
    assert_allclose(fitted.fit_info["std"], np.sqrt(np.einsum("nii->ni", cov)))


@pytest.mark.parametrize("absolute_sigma", [False, True])
def test_uncertainty_pulls(absolute_sigma):
    # one fit of many models is many noise realisations
    rng = np.random.default_rng(4)
    N, K = 20000, 8
    x = np.linspace(0, 7, K)
    sigma = rng.uniform(0.5, 3.0, (N, K))
    Y = 1.5 + 0.7 * x + rng.normal(size=(N, K)) * sigma
    Y[rng.random((N, K)) < 0.05] = np.nan
    fitter = LinearModelSetFitter(calc_uncertainties=True,
                                  absolute_sigma=absolute_sigma)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelSetFitWarning)
        fitted = fitter(models.Polynomial1D(1, n_models=N), x, Y,
                        weights=1.0 / sigma)
    ok = fitted.fit_info["n_points"] >= 4
    pull = (fitted.c1.value[ok] - 0.7) / fitted.fit_info["std"][ok, 1]
    if not absolute_sigma:
        # with the scale estimated from the residuals the pull follows
        # Student's t with n_points - 2 dof: map it to a standard normal
        from scipy import stats

        dof = fitted.fit_info["n_points"][ok] - 2
        pull = stats.norm.ppf(stats.t.cdf(pull, dof))
    assert 0.95 < np.std(pull) < 1.05
    assert abs(np.mean(pull)) < 0.05


def test_integer_and_big_endian_input():
    rng = np.random.default_rng(6)
    x = np.arange(10.0)
    data = (rng.integers(0, 1000, (20, 10)) + 30 * x).astype(">i2")
    model = models.Polynomial1D(1, n_models=20)
    a = LinearModelSetFitter()(model, x, data)
    b = LinearModelSetFitter()(model, x, data.astype(float))
    assert_allclose(a.param_sets, b.param_sets, rtol=1e-12)
    c = LinearModelSetFitter()(model, x.astype(np.int32), data.astype("<f4"))
    assert_allclose(c.param_sets, b.param_sets, rtol=1e-5)


def test_seed_example_matches_astropy():
    # the model-set example of astropy's documentation, on a smaller cube
    from psfkit.modelsets import cube_to_model_set, model_set_to_cube

    rng = np.random.default_rng(0)
    depth, width, height = 10, 21, 22
    t = np.arange(depth, dtype=np.float64) * 10.0
    fluxes = np.arange(1.0 * width * height).reshape(height, width)
    image = np.stack([fluxes * dt for dt in t], axis=0)
    image += rng.normal(0.0, image * 0.05 + 1e-12)
    y, shape = cube_to_model_set(image)
    line = models.Polynomial1D(degree=1, n_models=width * height)
    ours = LinearModelSetFitter()(line, x=t, y=y)
    ref = fitting.LinearLSQFitter()(line, x=t, y=y)
    assert_allclose(ours.param_sets, ref.param_sets, rtol=1e-9, atol=1e-8)
    best = model_set_to_cube(ours, t, shape)
    expect = ref(t, model_set_axis=False).T.reshape((depth, height, width))
    assert_allclose(best, expect, rtol=1e-9, atol=1e-7)


def test_bad_input():
    x = np.arange(5.0)
    y = np.ones((3, 5))
    fitter = LinearModelSetFitter()
    with pytest.raises(ValueError, match="Gaussian1D is not linear"):
        fitter(models.Gaussian1D(), x, y[0])
    with pytest.raises(ValueError, match="must match the coordinates"):
        fitter(models.Polynomial1D(1, n_models=3), x[:4], y)
    with pytest.raises(ValueError, match="model set has 4 models"):
        fitter(models.Polynomial1D(1, n_models=4), x, y)
    with pytest.raises(ValueError, match="x must be finite"):
        fitter(models.Polynomial1D(1, n_models=3), [0, 1, np.nan, 3, 4], y)
    with pytest.raises(ValueError, match="cannot determine the 6 free"):
        fitter(models.Polynomial1D(5, n_models=3), x, y)
    with pytest.raises(ValueError, match="weights must be finite"):
        fitter(models.Polynomial1D(1, n_models=3), x, y, weights=-x)
    with pytest.raises(ValueError, match="weights must have the shape"):
        fitter(models.Polynomial1D(1, n_models=3), x, y, weights=x[:3])
    with pytest.raises(TypeError, match="Quantity"):
        fitter(models.Polynomial1D(1, n_models=3), x, y * u.m)
    # the unit of an NDData or of a masked Quantity is not dropped silently
    from astropy.nddata import NDData

    for united in (NDData(y, unit="m"), np.ma.MaskedArray(y * u.m)):
        with pytest.raises(TypeError, match=r"has a unit \(m\)"):
            fitter(models.Polynomial1D(1, n_models=3), x, united)
    with pytest.raises(ValueError, match="give x, y and z"):
        fitter(models.Polynomial2D(1, n_models=3), x, y)
    tied = models.Polynomial1D(1, n_models=3)
    tied.c1.tied = lambda m: m.c0
    with pytest.raises(ValueError, match="tied"):
        fitter(tied, x, y)
    with pytest.raises(ValueError, match="compound"):
        fitter(models.Polynomial1D(1) + models.Polynomial1D(1), x, y[0])


def test_ill_conditioned_and_rank_deficient_rows():
    # per-model weights that leave two nearly (or exactly) coincident
    # points: the normal equations are too ill-conditioned, the SVD
    # fallback must give lstsq's answer and rank
    x = np.array([1.0, 1.0 + 1e-6, 2.0, 3.0, 4.0])
    N = 6
    rng = np.random.default_rng(9)
    Y = rng.normal(size=(N, 5)) + x
    w = np.ones((N, 5))
    w[:3, 2:] = 1e-7                     # nearly two points 1e-6 apart
    Y[3:, 1:] = np.nan                   # one point: too few
    Y[5, :] = np.array([1.0, np.nan, np.nan, np.nan, np.nan])
    A = np.vander(x, 2, increasing=True)
    with pytest.warns(ModelSetFitWarning):
        fitted = LinearModelSetFitter()(models.Polynomial1D(1, n_models=N),
                                        x, Y, weights=w)
    ref = lstsq_rows(A, Y[:3], w=w[:3])
    got = np.asarray(fitted.param_sets).T[:3]
    assert rel_err(got, ref) < 1e-7
    assert np.all(fitted.fit_info["status"][:3] == 0)
    assert np.all(fitted.fit_info["status"][3:] == 1)

    x2 = np.array([0.0, 0.0, 1.0, 2.0])
    Y2 = np.array([[1.0, 3.0, 5.0, 7.0]] * 3)
    w2 = np.ones((3, 4))
    w2[0, 2:] = 0.0                      # both remaining points at x = 0
    with pytest.warns(ModelSetFitWarning, match="1 singular"):
        fitted = LinearModelSetFitter()(models.Polynomial1D(1, n_models=3),
                                        x2, Y2, weights=w2)
    assert fitted.fit_info["status"].tolist() == [2, 0, 0]
    assert fitted.fit_info["rank"].tolist() == [1, 2, 2]
    expect = np.linalg.lstsq(np.vander(x2[:2], 2, increasing=True), Y2[0, :2],
                             rcond=None)[0]
    assert_allclose(fitted.param_sets[:, 0], expect, rtol=1e-12)


def test_fixed_parameters_with_masks_and_weights():
    rng = np.random.default_rng(12)
    N = 60
    x = np.linspace(-1, 1, 11)
    c1 = rng.normal(size=N)
    Y = 2.0 + c1[:, None] * x + 0.3 * x**2 + rng.normal(0, 0.05, (N, 11))
    Y[rng.random((N, 11)) < 0.1] = np.nan
    w = rng.uniform(0.5, 2.0, (N, 11))
    model = models.Legendre1D(2, n_models=N, c1=c1, domain=(-1, 1))
    model.c1.fixed = True
    fitted = LinearModelSetFitter()(model, x, Y, weights=w)
    L = np.polynomial.legendre.legvander(x, 2)
    expect = lstsq_rows(L[:, [0, 2]], Y - c1[:, None] * L[:, 1], w=w)
    got = np.c_[fitted.c0.value, fitted.c2.value]
    assert rel_err(got, expect) < 1e-10
    assert_allclose(fitted.c1.value, c1)


def test_engine_property_against_lstsq():
    hyp = pytest.importorskip("hypothesis")
    st = pytest.importorskip("hypothesis.strategies")
    from psfkit.modelsets._solve import solve_batch

    @hyp.settings(max_examples=40, deadline=None)
    @hyp.given(n_models=st.integers(1, 40), n_points=st.integers(1, 12),
               n_params=st.integers(1, 4), frac=st.floats(0.0, 0.6),
               mode=st.sampled_from(["none", "shared", "model"]),
               chunk=st.integers(1, 50), seed=st.integers(0, 2**16),
               threads=st.integers(1, 3), points_major=st.booleans())
    def check(n_models, n_points, n_params, frac, mode, chunk, seed,
              threads, points_major):
        rng = np.random.default_rng(seed)
        x = np.sort(rng.uniform(-1, 1, n_points))
        A = np.polynomial.legendre.legvander(x, n_params - 1)
        Y = rng.normal(size=(n_models, n_points))
        valid = rng.random(Y.shape) >= frac
        Y[~valid] = np.nan
        # the layout of a transposed cube (points along the first axis)
        Yin = np.asfortranarray(Y) if points_major else Y
        w = {"none": None, "shared": rng.uniform(0.5, 2, n_points),
             "model": rng.uniform(0.5, 2, Y.shape)}[mode]
        sol = solve_batch(A, Yin, weights=None if w is None else w * w,
                          chunk=chunk, want_hinv=True, n_threads=threads)
        n_ok = valid.sum(axis=1)
        assert_array_equal(sol.n_points, n_ok)
        enough = n_ok >= n_params
        assert np.all(np.isnan(sol.params[~enough]))
        assert np.all(sol.status[~enough] == 1)
        if enough.any():
            ref = lstsq_rows(A, Y[enough], valid[enough],
                             None if w is None else
                             (w if w.ndim == 1 else w[enough]))
            scale = np.linalg.norm(ref, axis=1) + 1.0
            err = np.linalg.norm(sol.params[enough] - ref, axis=1) / scale
            assert np.all(err < 1e-10)
            assert np.all(sol.status[enough] == 0)
            # the weighted residual sums of squares of the same solutions
            wk = (np.ones(Y.shape) if w is None
                  else np.broadcast_to(w, Y.shape))[enough]
            ok = valid[enough]
            res = np.where(ok, (Y[enough] - ref @ A.T) * wk, 0.0)
            rss = np.sum(res * res, axis=1)
            size = np.sum(np.where(ok, Y[enough] * wk, 0.0) ** 2, axis=1)
            assert np.all(np.abs(sol.rss[enough] - rss)
                          <= 1e-8 * rss + 1e-12 * (1.0 + size))
        assert np.all(np.isnan(sol.rss[~enough]))

    check()


@pytest.mark.parametrize("layout", ["points_major", "models_major"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("threads", [1, 2])
def test_engine_complete_rows_every_chunk(layout, dtype, threads):
    # complete rows go through the shared-design path chunk by chunk,
    # including a short last chunk; parameters and residual sums must
    # match lstsq on the same (converted) values
    from psfkit.modelsets._solve import solve_batch

    rng = np.random.default_rng(5)
    K, N = 9, 1000
    x = np.linspace(0.0, 80.0, K)
    A = np.vander(x, 3, increasing=True)
    Y = (1000.0 + rng.uniform(0, 50, (N, 1)) * x
         + rng.normal(0, 10, (N, K))).astype(dtype)
    if layout == "points_major":
        Y = np.ascontiguousarray(Y.T).T
    Y[5, 3] = np.nan          # one row with a non-finite point
    sol = solve_batch(A, Y, chunk=64, n_threads=threads, want_hinv=True)
    Y64 = Y.astype(np.float64)
    ref = lstsq_rows(A, Y64)
    assert rel_err(sol.params, ref) < 1e-10
    res = np.where(np.isfinite(Y64), Y64 - ref @ A.T, 0.0)
    assert_allclose(sol.rss, np.sum(res * res, axis=1), rtol=1e-9)
    assert sol.n_points[5] == K - 1 and np.all(np.delete(sol.n_points, 5) == K)
    assert_allclose(sol.hinv[0], np.linalg.inv(A.T @ A), rtol=1e-10)


@pytest.mark.parametrize("axis", [0, 1])
def test_fitted_copy_is_independent_and_consistent(axis):
    # the fitted model is built without copying the parameters it
    # replaces: check it behaves exactly like a normal astropy copy
    import pickle

    rng = np.random.default_rng(2)
    N, K = 50, 8
    x = np.linspace(-1.0, 1.0, K)
    coef = rng.normal(size=(N, 3))
    Y = coef @ np.vander(x, 3, increasing=True).T
    data = Y if axis == 0 else Y.T
    c1 = np.full(N, 3.0) if axis == 0 else np.full((1, N), 3.0)
    model = models.Polynomial1D(2, n_models=N, model_set_axis=axis,
                                c1=c1, fixed={"c1": True})
    before = model.parameters.copy()
    fitted = LinearModelSetFitter()(model, x, data)
    # the input model is untouched and shares no memory with the fit
    assert_array_equal(model.parameters, before)
    for name in model.param_names:
        assert not np.shares_memory(getattr(model, name).value,
                                    getattr(fitted, name).value)
    # the fixed parameter keeps its value; the free ones are the fit
    assert_array_equal(fitted.c1.value.ravel(), 3.0)
    A = np.vander(x, 3, increasing=True)
    ref = lstsq_rows(A[:, [0, 2]], Y - 3.0 * x)
    assert_allclose(fitted.c0.value.ravel(), ref[:, 0], atol=1e-12)
    assert_allclose(fitted.c2.value.ravel(), ref[:, 1], atol=1e-12)
    # astropy's flat parameter array and param_sets agree with the values
    flat = np.concatenate([getattr(fitted, n).value.ravel()
                           for n in fitted.param_names])
    assert_array_equal(fitted.parameters, flat)
    assert_array_equal(np.asarray(fitted.param_sets).reshape(3, N),
                       flat.reshape(3, N))
    # evaluation, later changes and a pickle round trip behave normally
    expect = ref[:, :1] + 3.0 * x + ref[:, 1:] * x**2
    got = fitted(x, model_set_axis=False)
    assert_allclose(got if axis == 0 else got.T, expect, atol=1e-10)
    fitted.c0 = np.zeros(N) if axis == 0 else np.zeros((1, N))
    assert_array_equal(model.parameters, before)
    assert_array_equal(fitted.parameters[:N], 0.0)
    again = pickle.loads(pickle.dumps(fitted))
    assert_array_equal(again.parameters, fitted.parameters)


def test_refit_of_a_fitted_model():
    rng = np.random.default_rng(3)
    x = np.arange(6.0)
    Y = rng.normal(size=(20, 6))
    fitter = LinearModelSetFitter()
    first = fitter(models.Polynomial1D(1, n_models=20), x, Y)
    second = fitter(first, x, 2.0 * Y)
    assert_allclose(second.parameters, 2.0 * first.parameters, rtol=1e-12)
    assert second.fit_info is not first.fit_info
    assert_allclose(first.fit_info["rss"] * 4.0, second.fit_info["rss"],
                    rtol=1e-10)
    # fitting in place writes into the model's own arrays
    same = fitter(first, x, 3.0 * Y, inplace=True)
    assert same is first
    assert_allclose(first.parameters, 1.5 * second.parameters, rtol=1e-12)


def test_threads_give_the_serial_fit():
    # enough models for several chunks, with NaN, masked points and
    # per-model weights, fitted on one and on three threads
    rng = np.random.default_rng(12)
    N, K = 70_000, 4
    x = np.linspace(0.0, 3.0, K)
    Y = rng.normal(size=(N, K)) + 2.0 * x
    Y[rng.random(Y.shape) < 0.05] = np.nan
    w = rng.uniform(0.5, 2.0, Y.shape)
    model = models.Polynomial1D(1, n_models=N)
    for weights in (None, w):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ModelSetFitWarning)
            one = LinearModelSetFitter(executor=1)(model, x, Y,
                                                   weights=weights)
            three = LinearModelSetFitter(executor=3)(model, x, Y,
                                                     weights=weights)
        assert_allclose(three.parameters, one.parameters, rtol=1e-12,
                        equal_nan=True)
        for name in ("n_points", "rank", "status", "rss"):
            assert_allclose(three.fit_info[name], one.fit_info[name],
                            rtol=1e-12, equal_nan=True)
    with pytest.raises(ValueError, match="executor must be a positive"):
        LinearModelSetFitter(executor=-1)
    # the former keyword still works, with a deprecation warning
    with pytest.warns(PsfkitDeprecationWarning, match="n_threads= is dep"):
        old = LinearModelSetFitter(n_threads=2)
    assert old.executor == 2 and old.n_threads == 2
    with pytest.raises(TypeError, match="threads of one process"):
        LinearModelSetFitter(executor=ProcessPoolExecutor(1))
