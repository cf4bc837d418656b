"""
astropy's model-set and linear-fitter test cases, run on psfkit.

The cases below re-express, in psfkit's own code, the test cases of
astropy's ``astropy/modeling/tests/test_fitters.py``,
``test_model_sets.py`` and ``test_input.py`` that apply to linear models
and model sets (astropy is BSD-3-Clause licensed, Copyright (c) Astropy
Developers).  Each case uses the same inputs and checks the same expected
behaviour and values as the astropy test named in its comment, with
`~psfkit.modelsets.LinearModelSetFitter` as the fitter, and also runs
astropy's own ``LinearLSQFitter`` on the same data to compare the numbers.
The astropy cases that cannot pass by design are listed, with the reason,
in the model-sets guide (``docs/modelsets/index.rst``).
"""

import warnings

from astropy.modeling import fitting, models
from astropy.stats import sigma_clip
from astropy.utils.exceptions import AstropyUserWarning
import numpy as np
from numpy.testing import assert_allclose, assert_array_equal
import pytest

from psfkit.modelsets import (
    LinearModelSetFitter,
    ModelSetCovariances,
    ModelSetFitWarning,
    ModelSetStds,
)

ASTROPY_SEED = 0x1337          # the seed of astropy's fitting tests
X4 = np.arange(4)              # test_model_sets.py's module-level inputs
XX4 = np.array([X4, X4 + 10])


def fit_both(model, *args, **kwargs):
    """Fit with psfkit and with astropy; the two fitted models."""
    ours = LinearModelSetFitter()(model, *args, **kwargs)
    theirs = fitting.LinearLSQFitter()(model, *args, **kwargs)
    return ours, theirs


def same_numbers(ours, theirs, atol=1e-10):
    """psfkit's parameters are astropy's (to rounding)."""
    assert_allclose(ours.parameters, theirs.parameters, rtol=1e-9, atol=atol)


def noisy(values, sigma=0.01):
    """astropy's noise draw: the global generator seeded with its seed."""
    return values + np.random.RandomState(ASTROPY_SEED).normal(
        0, sigma, size=values.shape)


# --- test_fitters.py :: TestLinearLSQFitter -------------------------------

def test_compound_model_raises_error():
    # mirrors TestLinearLSQFitter.test_compound_model_raises_error
    pair = (models.Polynomial1D(2, c0=[1, 1], n_models=2)
            + models.Polynomial1D(2, c0=[1, 1], n_models=2))
    x = np.arange(10)
    with pytest.raises(ValueError, match="compound"):
        LinearModelSetFitter()(pair, x, pair(x, model_set_axis=False))


def test_chebyshev1d_on_iraf_identify_record():
    # mirrors TestLinearLSQFitter.test_chebyshev1D: the wavelength
    # solution of an IRAF identify database, read with astropy's reader
    irafutil = pytest.importorskip("astropy.modeling.tests.irafutil")
    from astropy.utils.data import get_pkg_data_filename

    path = get_pkg_data_filename("data/idcompspec.fits",
                                 package="astropy.modeling.tests")
    with open(path) as f:
        record = irafutil.IdentifyRecord(f.read().split("begin")[1])
    order = int(record.fields["order"])
    init = models.Chebyshev1D(order - 1, domain=record.get_range())
    ours, theirs = fit_both(init, record.x, record.z)
    assert_allclose(ours.parameters, record.coeff, rtol=0.1)
    same_numbers(ours, theirs, atol=1e-6)


def test_linear_fit_model_set():
    # mirrors TestLinearLSQFitter.test_linear_fit_model_set
    init = models.Polynomial1D(2, c0=[1, 1], n_models=2)
    x = np.arange(10)
    expect = init(x, model_set_axis=False)
    ours, theirs = fit_both(init, x, noisy(expect))
    assert_allclose(ours(x, model_set_axis=False), expect, rtol=0.1)
    same_numbers(ours, theirs)


def test_linear_fit_2d_model_set():
    # mirrors TestLinearLSQFitter.test_linear_fit_2d_model_set
    init = models.Polynomial2D(2, c0_0=[1, 1], n_models=2)
    x = y = np.arange(10)
    expect = init(x, y, model_set_axis=False)
    # x == y: the design is rank-deficient for both fitters
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelSetFitWarning)
        ours = LinearModelSetFitter()(init, x, y, noisy(expect))
    theirs = fitting.LinearLSQFitter()(init, x, y, noisy(expect))
    assert_allclose(ours(x, y, model_set_axis=False), expect, rtol=0.1)
    assert_allclose(ours(x, y, model_set_axis=False),
                    theirs(x, y, model_set_axis=False), rtol=1e-8)
    # the minimum-norm solution, like numpy.linalg.lstsq
    assert np.all(ours.fit_info["status"] == 2)


def test_linear_fit_fixed_parameter():
    # mirrors TestLinearLSQFitter.test_linear_fit_fixed_parameter
    init = models.Polynomial1D(2, c1=1)
    init.c1.fixed = True
    x = np.arange(10)
    ours, theirs = fit_both(init, x, 2 + x + 0.5 * x * x)
    assert_allclose(ours.parameters, [2.0, 1.0, 0.5], atol=1e-14)
    same_numbers(ours, theirs)


def test_linear_fit_model_set_fixed_parameter():
    # mirrors TestLinearLSQFitter.test_linear_fit_model_set_fixed_parameter
    init = models.Polynomial1D(2, c1=[1, -2], n_models=2)
    init.c1.fixed = True
    x = np.arange(10)
    ours, theirs = fit_both(init, x, np.array([2 + x + 0.5 * x * x, -2 * x]))
    assert_allclose(ours.c0, [2.0, 0.0], atol=1e-14)
    assert_allclose(ours.c1, [1.0, -2.0], atol=1e-14)
    assert_allclose(ours.c2, [0.5, 0.0], atol=1e-14)
    same_numbers(ours, theirs)


def two_planes_with_fixed_terms():
    """The fixed-parameter 2-D model set of astropy's tests, and its data."""
    init = models.Polynomial2D(2, c1_0=[1, 2], c0_1=[-0.5, 1], n_models=2,
                               fixed={"c1_0": True, "c0_1": True})
    x, y = np.mgrid[0:5, 0:5]
    z = np.array([1 + x - 0.5 * y + 0.1 * x * x, 2 * x + y - 0.2 * y * y])
    return init, x, y, z


@pytest.mark.parametrize("flat", [False, True])
@pytest.mark.parametrize("weights", [None, "common", "per_model"])
def test_linear_fit_2d_model_set_fixed_parameters(flat, weights):
    # mirrors TestLinearLSQFitter.test_linear_fit_2d_model_set_fixed_parameters
    # and test_model_sets.py's test_linear_fit_2d_model_set_common_weight,
    # test_linear_fit_flat_2d_model_set_common_weight,
    # test_linear_fit_2d_model_set_weights and
    # test_linear_fit_flat_2d_model_set_weights
    init, x, y, z = two_planes_with_fixed_terms()
    if flat:
        x, y, z = x.ravel(), y.ravel(), z.reshape(2, -1)
    w = {None: None, "common": np.ones(x.shape),
         "per_model": np.ones((2,) + x.shape)}[weights]
    ours, theirs = fit_both(init, x, y, z, weights=w)
    assert_allclose(ours(x, y, model_set_axis=False), z, atol=1e-14)
    same_numbers(ours, theirs)


def test_linear_fit_model_set_masked_values():
    # mirrors TestLinearLSQFitter.test_linear_fit_model_set_masked_values
    x = np.arange(10)
    y = np.ma.masked_array([2 * x + 1, x - 2], mask=np.zeros((2, 10), bool))
    y[0, 7] = 100.0
    y.mask[0, 7] = True
    y[1, 1:3] = -100.0
    y.mask[1, 1:3] = True
    ours, theirs = fit_both(models.Polynomial1D(1, n_models=2), x, y)
    assert_allclose(ours.c0, [1.0, -2.0], atol=1e-14)
    assert_allclose(ours.c1, [2.0, 1.0], atol=1e-14)
    same_numbers(ours, theirs)
    assert ours.fit_info["n_points"].tolist() == [9, 8]


def test_linear_fit_2d_model_set_masked_values():
    # mirrors TestLinearLSQFitter.test_linear_fit_2d_model_set_masked_values
    x, y = np.mgrid[0:5, 0:5]
    z = np.ma.masked_array([2 * x + 3 * y + 1, x - 0.5 * y - 2],
                           mask=np.zeros((2, 5, 5), bool))
    z[0, 3, 1] = -1000.0
    z.mask[0, 3, 1] = True
    ours, theirs = fit_both(models.Polynomial2D(1, n_models=2), x, y, z)
    assert_allclose(ours.c0_0, [1.0, -2.0], atol=1e-14)
    assert_allclose(ours.c1_0, [2.0, 1.0], atol=1e-14)
    assert_allclose(ours.c0_1, [3.0, -0.5], atol=1e-14)
    same_numbers(ours, theirs)


# --- test_fitters.py :: outlier removal (FittingWithOutlierRemoval) --------

def clipping(fitter, **kwargs):
    kwargs.setdefault("niter", 3)
    kwargs.setdefault("sigma", 3.0)
    return fitting.FittingWithOutlierRemoval(fitter, sigma_clip, **kwargs)


def test_fitter_accepts_masked_model_sets():
    # the flag astropy's FittingWithOutlierRemoval checks for model sets
    assert LinearModelSetFitter.supports_masked_input is True
    assert LinearModelSetFitter().supported_constraints == ["fixed"]


def test_1d_set_fitting_with_outlier_removal():
    # mirrors test_1d_set_fitting_with_outlier_removal
    x = np.arange(10)
    y = np.array([2.5 * x - 4, 2 * x * x + x + 10])
    y[1, 5] = -1000
    results = []
    for base in (LinearModelSetFitter(), fitting.LinearLSQFitter()):
        fitter = clipping(base, sigma=2.5, cenfunc=np.ma.mean,
                          stdfunc=np.ma.std)
        results.append(fitter(models.Polynomial1D(2, n_models=2), x, y))
    (ours, mask), (theirs, their_mask) = results
    assert_allclose(ours.c0, [-4.0, 10.0], atol=1e-14)
    assert_allclose(ours.c1, [2.5, 1.0], atol=1e-14)
    assert_allclose(ours.c2, [0.0, 2.0], atol=1e-14)
    same_numbers(ours, theirs)
    assert_array_equal(np.ma.getmaskarray(mask),
                       np.ma.getmaskarray(their_mask))


def test_2d_set_axis_2_fitting_with_outlier_removal():
    # mirrors test_2d_set_axis_2_fitting_with_outlier_removal
    y, x = np.mgrid[0:5, 0:5]
    z = np.moveaxis(np.array([x + y, 1 - 0.1 * x + 0.2 * y]), 0, 2)
    z[3, 3:5, 0] = 100.0
    results = []
    for base in (LinearModelSetFitter(), fitting.LinearLSQFitter()):
        fitter = clipping(base, sigma=2.5, cenfunc=np.ma.mean,
                          stdfunc=np.ma.std)
        results.append(fitter(models.Polynomial2D(1, n_models=2,
                                                  model_set_axis=2), x, y, z))
    (ours, _), (theirs, _) = results
    assert_allclose(ours.c0_0, [[[0.0, 1.0]]], atol=1e-14)
    assert_allclose(ours.c1_0, [[[1.0, -0.1]]], atol=1e-14)
    assert_allclose(ours.c0_1, [[[1.0, 0.2]]], atol=1e-14)
    same_numbers(ours, theirs)


@pytest.fixture
def chessboard():
    """TestWeightedFittingWithOutlierRemoval's data: a +-1 chessboard with
    weights 1 and 3 and two outliers."""
    y, x = np.mgrid[0:20, 0:20]
    z = (np.mod(x + y, 2) * 2 - 1).astype(float)
    weights = np.mod(x + y, 2) * 2 + 1
    z[0, 0] = z[0, 1] = 1000.0
    return x, y, z, weights


@pytest.mark.parametrize("dims", [1, 2])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("clip", [False, True])
def test_weighted_fitting_with_outlier_removal(chessboard, dims, weighted,
                                               clip):
    # mirrors TestWeightedFittingWithOutlierRemoval:
    # test_{1d,2d}_without_weights_{without,with}_sigma_clip,
    # test_1d_with_weights_{without,with}_sigma_clip and
    # test_2d_linear_with_weights_{without,with}_sigma_clip
    x, y, z, w = chessboard
    if dims == 1:
        model, coords = models.Polynomial1D(0), (x.ravel(), z.ravel())
        w = w.ravel()
    else:
        model, coords = models.Polynomial2D(0), (x, y, z)
    kwargs = {"weights": w} if weighted else {}
    fits = []
    for base in (LinearModelSetFitter(), fitting.LinearLSQFitter()):
        fitter = clipping(base) if clip else base
        fits.append(fitter(model, *coords, **kwargs))
    ours, theirs = fits
    if clip:
        (ours, mask), (theirs, _) = ours, theirs
        if not weighted:
            assert np.count_nonzero(~mask) == z.size - 2
            assert mask.ravel()[0] and mask.ravel()[1]
            assert_allclose(ours.parameters[0], 0.0, atol=1e-2)
        else:
            # the weights pull it above 0; the outliers were removed
            assert 1e-2 < ours.parameters[0] < 1.0
    elif weighted:
        assert ours.parameters[0] > 1.0  # the outliers pull it high
    else:
        assert_allclose(ours.parameters[0], z.mean(), atol=1e-2)
    same_numbers(ours, theirs)


@pytest.mark.parametrize("per_model", [False, True])
def test_1d_set_with_weights_with_sigma_clip(chessboard, per_model):
    # mirrors TestWeightedFittingWithOutlierRemoval.
    # test_1d_set_with_common_weights_with_sigma_clip and
    # test_1d_set_with_weights_with_sigma_clip
    _, _, z, w = chessboard
    x1, z1, w1 = np.arange(z.size) % 20, z.ravel(), w.ravel()
    weights = np.array([w1, w1]) if per_model else w1
    fits = [clipping(base)(models.Polynomial1D(0, n_models=2), x1,
                           np.array([z1, z1]), weights=weights)[0]
            for base in (LinearModelSetFitter(), fitting.LinearLSQFitter())]
    assert_allclose(fits[0].parameters, [0.8, 0.8], atol=1e-14)
    same_numbers(*fits)


def test_fitting_with_outlier_removal_niter():
    # mirrors test_fitting_with_outlier_removal_niter
    x = np.arange(25)
    y = np.random.RandomState(ASTROPY_SEED).normal(10.0, 1.0, size=(2, 25))
    y[0, 14] = 100.0
    fitter = fitting.FittingWithOutlierRemoval(
        LinearModelSetFitter(), sigma_clip, niter=5, sigma_lower=3.0,
        sigma_upper=3.0, maxiters=1)
    _, mask = fitter(models.Chebyshev1D(2, n_models=2), x, y)
    assert_array_equal(np.where(mask), [[0], [14]])
    assert fitter.fit_info["niter"] == 2
    fitter = fitting.FittingWithOutlierRemoval(
        LinearModelSetFitter(), sigma_clip, niter=0, sigma_lower=3.0,
        sigma_upper=3.0, maxiters=1)
    _, mask = fitter(models.Chebyshev1D(2), x, y[0])
    assert mask.sum() == 0
    assert fitter.fit_info["niter"] == 0


# --- test_fitters.py :: weights, conditioning, in-place ---------------------

@pytest.mark.parametrize("flat", [False, True])
def test_linear_fitter_with_weights(flat):
    # mirrors test_linear_fitter_with_weights and
    # test_linear_fitter_with_weights_flat
    x, y = np.mgrid[0:21, 0:21]
    if flat:
        x, y = x.ravel(), y.ravel()
    zsig = np.random.RandomState(ASTROPY_SEED).normal(0, 0.01, size=x.shape)
    truth = models.Polynomial2D(3)
    truth.parameters = np.arange(10) / 1.2
    ours, theirs = fit_both(models.Polynomial2D(3), x, y,
                            truth(x, y) + zsig, weights=zsig ** (-2))
    assert_allclose(ours.parameters, truth.parameters, atol=1e-2)
    same_numbers(ours, theirs, atol=1e-8)


@pytest.mark.parametrize(("fixed", "singular"), [
    ({}, True), ({"c1_0": True}, True), ({"c0_1": True}, False)])
def test_polynomial_poorly_conditioned(fixed, singular):
    # mirrors test_polynomial_poorly_conditioned: astropy warns "The fit may
    # be poorly conditioned"; psfkit reports the rank-deficient model in
    # fit_info (status 2) with a ModelSetFitWarning
    init = models.Polynomial2D(1, c0_0=3, c1_0=5, c0_1=0, fixed=fixed)
    x, y = [1, 2, 3, 4, 5], [1, 1, 1, 1, 1]
    z = init(x, y)
    if singular:
        with pytest.warns(ModelSetFitWarning, match="1 singular"):
            ours = LinearModelSetFitter()(init, x, y, z)
        with pytest.warns(AstropyUserWarning, match="poorly conditioned"):
            theirs = fitting.LinearLSQFitter()(init, x, y, z)
        assert ours.fit_info["status"][0] == 2
        assert_allclose(ours(x, y), z, atol=1e-12)
        same_numbers(ours, theirs)
    else:
        ours, theirs = fit_both(init, x, y, z)
        assert_allclose(ours.parameters, init.parameters, rtol=0, atol=1e-14)
        same_numbers(ours, theirs)


def test_inplace_fitting():
    # mirrors test_inplace_fitting (for the linear fitter)
    init = models.Const1D()
    x, y = [1, 2, 3], [1.5, 2.0, 2.5]
    fitter = LinearModelSetFitter()
    for kwargs in ({}, {"inplace": False}):
        fitted = fitter(init, x, y, **kwargs)
        assert fitted is not init
        assert_allclose(init.amplitude, 1.0)
        assert_allclose(fitted.amplitude, 2.0)
    fitted = fitter(init, x, y, inplace=True)
    assert fitted is init
    assert_allclose(init.amplitude, 2.0)


# --- test_fitters.py :: TestFittingUncertanties ------------------------------

@pytest.fixture(scope="module")
def uncertainty_data():
    """TestFittingUncertanties.setup_class's inputs (seed 619)."""
    rs = np.random.RandomState(619)
    x_grid = rs.randint(0, 100, size=100).reshape(10, 10)
    y_grid = rs.randint(0, 100, size=100).reshape(10, 10)
    rand_grid = rs.random_sample(100).reshape(10, 10)
    return np.arange(10), x_grid, y_grid, rand_grid


NONLINEAR = ["LevMarLSQFitter", "TRFLSQFitter", "LMLSQFitter",
             "DogBoxLSQFitter"]


def nonlinear_fit(name, model, *args):
    fitter = getattr(fitting, name)(calc_uncertainties=True)
    with pytest.warns(AstropyUserWarning, match="linear in parameters"):
        return fitter(model, *args)


@pytest.mark.parametrize("fitter_name", NONLINEAR)
@pytest.mark.parametrize("pair", ["polynomial", "linear"])
def test_uncertainties_1d(uncertainty_data, fitter_name, pair):
    # mirrors TestFittingUncertanties.test_1d_models
    x, _, _, rand_grid = uncertainty_data
    rand = rand_grid[0]
    single, model_set = {
        "polynomial": (models.Polynomial1D(2),
                       models.Polynomial1D(2, n_models=2,
                                           model_set_axis=False)),
        "linear": (models.Linear1D(),
                   models.Linear1D(n_models=2, slope=[1.0, 1.0],
                                   intercept=[0, 0]))}[pair]
    ours = LinearModelSetFitter(calc_uncertainties=True)
    y = single(x) + rand
    reference = nonlinear_fit(fitter_name, single, x, y).cov_matrix.cov_matrix
    fitted = ours(single, x, y)
    assert_allclose(fitted.cov_matrix.cov_matrix, reference)
    assert_allclose(np.sqrt(np.diag(fitted.cov_matrix.cov_matrix)),
                    fitted.stds.stds)
    # the model set: the first model's covariance is the single fit's
    y = model_set(x, model_set_axis=False) + np.array([rand, rand])
    fitted = ours(model_set, x, y)
    assert isinstance(fitted.cov_matrix, ModelSetCovariances)
    covs = [c.cov_matrix for c in fitted.cov_matrix]
    assert_allclose(covs[0], reference)
    assert_allclose(np.sqrt(np.diag(covs[0])), fitted.stds[0].stds)
    # and astropy's linear fitter gives the same matrices
    theirs = fitting.LinearLSQFitter(calc_uncertainties=True)(model_set, x, y)
    for mine, its in zip(fitted.cov_matrix, theirs.cov_matrix, strict=True):
        assert_allclose(mine.cov_matrix, its.cov_matrix, rtol=1e-10)


@pytest.mark.parametrize("fitter_name", NONLINEAR)
def test_uncertainties_2d(uncertainty_data, fitter_name):
    # mirrors TestFittingUncertanties.test_2d_models.  astropy's fitters
    # scale the covariance of a fit on a 2-D coordinate grid by
    # rss / (len(grid) - n_params), counting the 10 rows of the 10 x 10
    # grid instead of its 100 points; psfkit uses the number of points, so
    # its matrices are astropy's times (10 - 6) / (100 - 6) (listed in the
    # docs).  The exact covariance is checked with numpy.
    _, x_grid, y_grid, rand_grid = uncertainty_data
    single = models.Polynomial2D(2, c0_0=2)
    model_set = models.Polynomial2D(2, n_models=2, c0_0=[2, 3],
                                    model_set_axis=False)
    n_params = len(single.param_names)
    rows_dof = x_grid.shape[0] - n_params
    points_dof = x_grid.size - n_params
    ours = LinearModelSetFitter(calc_uncertainties=True)
    z = single(x_grid, y_grid) + rand_grid
    reference = nonlinear_fit(fitter_name, single, x_grid, y_grid,
                              z).cov_matrix.cov_matrix
    fitted = ours(single, x_grid, y_grid, z)
    assert_allclose(fitted.cov_matrix.cov_matrix,
                    reference * rows_dof / points_dof, rtol=1e-6)
    # the design: one column x**i * y**j per parameter ci_j
    powers = [tuple(int(v) for v in name[1:].split("_"))
              for name in single.param_names]
    xf, yf = x_grid.ravel().astype(float), y_grid.ravel().astype(float)
    design = np.stack([xf**i * yf**j for i, j in powers], axis=1)
    rss = np.sum((z - fitted(x_grid, y_grid)) ** 2)
    exact = np.linalg.inv(design.T @ design) * rss / points_dof
    assert_allclose(fitted.cov_matrix.cov_matrix, exact, rtol=1e-8)
    assert_allclose(np.sqrt(np.diag(fitted.cov_matrix.cov_matrix)),
                    fitted.stds.stds)
    z = model_set(x_grid, y_grid) + np.array((rand_grid, rand_grid))
    fitted = ours(model_set, x_grid, y_grid, z)
    covs = [c.cov_matrix for c in fitted.cov_matrix]
    assert_allclose(covs[0], reference * rows_dof / points_dof, rtol=1e-6)
    assert_allclose(np.sqrt(np.diag(covs[0])), fitted.stds[0].stds)
    theirs = fitting.LinearLSQFitter(calc_uncertainties=True)(
        model_set, x_grid, y_grid, z)
    for mine, its in zip(fitted.cov_matrix, theirs.cov_matrix, strict=True):
        assert_allclose(mine.cov_matrix,
                        its.cov_matrix * rows_dof / points_dof, rtol=1e-8)


def test_covariance_std_printing_indexing(uncertainty_data, capsys):
    # mirrors TestFittingUncertanties.test_covariance_std_printing_indexing
    x, _, _, rand_grid = uncertainty_data
    mod = models.Linear1D()
    fitted = LinearModelSetFitter(calc_uncertainties=True)(
        mod, x, mod(x) + rand_grid[0])
    print(fitted.cov_matrix)
    out = capsys.readouterr().out
    assert "slope    | 0.001" in out
    assert "intercept| -0.005,  0.03" in out
    print(fitted.stds)
    out = capsys.readouterr().out
    assert "slope    | 0.032" in out
    assert "intercept| 0.173" in out
    print(fitted.cov_matrix.pprint(round_val=5, max_lines=1))
    out = capsys.readouterr().out
    assert "slope    | 0.00105" in out and "intercept" not in out
    print(fitted.stds.pprint(max_lines=1, round_val=5))
    out = capsys.readouterr().out
    assert "slope    | 0.03241" in out and "intercept" not in out
    assert fitted.cov_matrix[0, 0] == fitted.cov_matrix["slope", "slope"]
    assert fitted.stds[1] == fitted.stds["intercept"]
    # the parameters carry their std, as after astropy's fitters
    assert fitted.slope.std == fitted.stds["slope"]


def test_model_set_parameter_stds_are_arrays(uncertainty_data):
    # astropy gives each parameter of a model set a list of stds; psfkit an
    # array over the models with the same values
    x, _, _, rand_grid = uncertainty_data
    model_set = models.Polynomial1D(2, n_models=2, model_set_axis=False)
    y = model_set(x, model_set_axis=False) + rand_grid[:2]
    ours = LinearModelSetFitter(calc_uncertainties=True)(model_set, x, y)
    theirs = fitting.LinearLSQFitter(calc_uncertainties=True)(model_set, x, y)
    for name in model_set.param_names:
        assert_allclose(getattr(ours, name).std,
                        getattr(theirs, name).std, rtol=1e-10)
    assert isinstance(ours.stds, ModelSetStds)
    assert_allclose(ours.stds.stds[1], theirs.stds[1].stds, rtol=1e-10)
    assert len(ours.cov_matrix) == 2 and len(ours.cov_matrix[:1]) == 1
    with pytest.raises(IndexError, match="out of range"):
        ours.cov_matrix[2]


# --- test_model_sets.py ------------------------------------------------------

@pytest.mark.parametrize("model_class", [models.Polynomial1D,
                                         models.Chebyshev1D,
                                         models.Legendre1D,
                                         models.Hermite1D])
def test_linearlsqfitter_model_set_axis_1(model_class):
    # mirrors test_model_sets.py::test_linearlsqfitter (issue #7159)
    init = model_class(1, n_models=2, model_set_axis=1)
    y = np.array([2 * X4 + 1, X4 + 4]).T
    ours, theirs = fit_both(init, X4, y)
    values = ours(X4, model_set_axis=False)
    for n in range(2):
        single = model_class(1, c0=ours.c0[0][n], c1=ours.c1[0][n],
                             domain=ours.domain)
        assert_allclose(values[:, n], single(X4))
    assert_allclose(values, y, atol=1e-12)
    same_numbers(ours, theirs)
    # the same data with the models along the first axis
    ours = LinearModelSetFitter()(model_class(1, n_models=2), X4, y.T)
    assert_allclose(ours(X4, model_set_axis=False), y.T, atol=1e-12)


def test_model_set_axis_outputs():
    # mirrors test_model_sets.py::test_model_set_axis_outputs (fitting part)
    y2, x2 = np.mgrid[:5, :5]
    z = np.moveaxis(np.array([x2 + y2, 1 - 0.1 * x2 + 0.2 * y2]), 0, 2)
    ours, theirs = fit_both(models.Polynomial2D(1, n_models=2,
                                                model_set_axis=2), x2, y2, z)
    assert ours(x2, y2, model_set_axis=False).shape == z.shape
    assert_allclose(ours(x2, y2, model_set_axis=False), z, atol=1e-12)
    same_numbers(ours, theirs)


def test_fitting_shapes():
    # mirrors test_model_sets.py::test_fitting_shapes
    line = models.Linear1D(slope=[1, 2], intercept=[3, 4], n_models=2)
    y = line(XX4)
    ours, theirs = fit_both(line, X4, y)
    same_numbers(ours, theirs)
    line1 = models.Linear1D(slope=[[1, 2]], intercept=[[3, 4]], n_models=2,
                            model_set_axis=1)
    ours, theirs = fit_both(line1, X4, y.T)
    same_numbers(ours, theirs)
    plane = models.Planar2D(slope_x=[1, 2], slope_y=[1, 2],
                            intercept=[3, 4], n_models=2)
    z = plane(XX4, XX4)
    # x == y: both fitters find the minimum-norm plane
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ModelSetFitWarning)
        ours = LinearModelSetFitter()(plane, X4, X4, z)
    theirs = fitting.LinearLSQFitter()(plane, X4, X4, z)
    same_numbers(ours, theirs)


@pytest.mark.parametrize("dims", [1, 2])
def test_linear_fit_model_set_errors(dims):
    # mirrors test_model_sets.py::test_linear_fit_model_set_errors and
    # test_linear_fit_2d_model_set_errors: astropy says "x and y should
    # have the same shape", psfkit names the shapes
    x = np.arange(10)
    if dims == 1:
        init = models.Polynomial1D(2, c0=[1, 1], n_models=2)
        y = init(x, model_set_axis=False)
        bad = [(x[:5], y), (x, y[:, :5])]
    else:
        init = models.Polynomial2D(2, c0_0=[1, 1], n_models=2)
        z = init(x, x, model_set_axis=False)
        bad = [(x[:5], x, z), (x, x, z[:, :5])]
    fitter = LinearModelSetFitter()
    for args in bad:
        with pytest.raises(ValueError, match="shape"):
            fitter(init, *args)


def test_linear_fit_model_set_common_weight():
    # mirrors test_model_sets.py::test_linear_fit_model_set_common_weight
    init = models.Polynomial1D(2, c0=[1, 1], n_models=2)
    x = np.arange(10)
    expect = init(x, model_set_axis=False)
    assert expect.shape == (2, 10)
    y = noisy(expect)
    weights = np.ones(10)
    weights[[0, -1]] = 0
    ours, theirs = fit_both(init, x, y, weights=weights)
    assert_allclose(ours(x, model_set_axis=False), expect, rtol=0.1)
    same_numbers(ours, theirs)
    # all-zero weights: astropy raises "Found NaNs in the coefficient
    # matrix"; psfkit flags every model as having too few points
    with pytest.warns(ModelSetFitWarning, match="2 too few points"):
        fitted = LinearModelSetFitter()(init, x, y, weights=np.zeros(10))
    assert np.all(np.isnan(fitted.parameters))
    assert fitted.fit_info["status"].tolist() == [1, 1]


def test_linear_fit_model_set_weights():
    # mirrors test_model_sets.py::test_linear_fit_model_set_weights
    init = models.Polynomial1D(2, c0=[1, 1], n_models=2)
    x = np.arange(10)
    expect = init(x, model_set_axis=False)
    y = noisy(expect)
    weights = np.ones_like(y)
    weights[[0, 1], weights.argmin(axis=1)] = 0
    weights[[0, 1], weights.argmax(axis=1)] = 0
    ours, theirs = fit_both(init, x, y, weights=weights)
    assert_allclose(ours(x, model_set_axis=False), expect, rtol=0.1)
    same_numbers(ours, theirs)
    # the first model with no weight at all: astropy raises, psfkit gives
    # that model NaN parameters and status 1, and fits the other
    weights[0] = 0
    with pytest.warns(ModelSetFitWarning, match="1 too few points"):
        fitted = LinearModelSetFitter()(init, x, y, weights=weights)
    assert np.all(np.isnan(fitted.param_sets[:, 0]))
    assert_allclose(fitted(x, model_set_axis=False)[1], expect[1], rtol=0.1)
    # the same points masked as well: astropy's result, NaN model first
    masked = np.ma.array(y, mask=np.isclose(weights, 0))
    with pytest.warns(ModelSetFitWarning):
        fitted = LinearModelSetFitter()(init, x, masked, weights=weights)
    with pytest.warns(RuntimeWarning, match="invalid value"):
        theirs = fitting.LinearLSQFitter()(init, x, masked, weights=weights)
    assert np.all(np.isnan(fitted.param_sets[:, 0]))
    assert np.all(np.isnan(fitted(x, model_set_axis=False)[0]))
    assert_allclose(fitted(x, model_set_axis=False)[1], expect[1], rtol=0.1)
    assert_allclose(fitted.param_sets[:, 1], theirs.param_sets[:, 1],
                    rtol=1e-9)


class TestOneModelSet:
    """
    Mirrors test_model_sets.py::Test1ModelSet: a single model given data
    with a model axis of length one (common or separate weights).
    """

    x1 = np.arange(0, 10)
    y1 = np.array([0.5 + 2.5 * np.arange(0, 10)])
    w1 = np.ones(10)
    y1[0, 8] = 100.0
    w1[8] = 0.0
    y2, x2 = np.mgrid[0:10, 0:10]
    z2 = np.array([1 - 0.1 * x2 + 0.2 * y2])
    w2 = np.ones((10, 10))
    z2[0, 1, 2] = 100.0
    w2[1, 2] = 0.0

    @pytest.mark.parametrize("layout", ["common", "separate", "axis_1"])
    def test_linear_1d(self, layout):
        # test_linear_1d_common_weights, _separate_weights,
        # _separate_weights_axis_1
        if layout == "axis_1":
            model = models.Polynomial1D(1, model_set_axis=1)
            y, w = self.y1.T, self.w1[:, None]
        else:
            model = models.Polynomial1D(1)
            y = self.y1
            w = self.w1 if layout == "common" else self.w1[None]
        ours, theirs = fit_both(model, self.x1, y, weights=w)
        assert_allclose(ours.c0, 0.5, atol=1e-12)
        assert_allclose(ours.c1, 2.5, atol=1e-12)
        same_numbers(ours, theirs)

    @pytest.mark.parametrize("layout", ["common", "separate", "axis_2"])
    def test_linear_2d(self, layout):
        # test_linear_2d_common_weights, _separate_weights,
        # _separate_weights_axis_2
        if layout == "axis_2":
            model = models.Polynomial2D(1, model_set_axis=2)
            z, w = np.moveaxis(self.z2, 0, 2), self.w2[..., None]
        else:
            model = models.Polynomial2D(1)
            z = self.z2
            w = self.w2 if layout == "common" else self.w2[None]
        ours, theirs = fit_both(model, self.x2, self.y2, z, weights=w)
        assert_allclose(ours.c0_0, 1.0, atol=1e-12)
        assert_allclose(ours.c1_0, -0.1, atol=1e-12)
        assert_allclose(ours.c0_1, 0.2, atol=1e-12)
        same_numbers(ours, theirs)


# --- test_input.py :: TestFitting (linear fitter) ----------------------------

def test_linear_fitter_1set():
    # mirrors test_input.py::TestFitting.test_linear_fitter_1set
    x = np.arange(10)
    init = models.Polynomial1D(3)
    init.parameters = [0, 1, 1, 1]
    ours, theirs = fit_both(init, x, init(x))
    assert_allclose(ours.parameters, [0, 1, 1, 1], atol=1e-7)
    same_numbers(ours, theirs)


@pytest.mark.parametrize("values", [lambda i: [i, i], lambda i: [1, i]])
def test_linear_fitter_nset(values):
    # mirrors test_input.py::TestFitting.test_linear_fitter_Nset and
    # test_wrong_pset (one x, two data sets, two parameter sets)
    x = np.arange(10)
    degree = 3 if values(2)[0] == 2 else 5
    params = {f"c{i}": values(i) for i in range(degree + 1)}
    init = models.Polynomial1D(degree, model_set_axis=0, **params)
    ours, theirs = fit_both(init, x, init(x, model_set_axis=False))
    expect = np.array([values(i) for i in range(degree + 1)], float)
    assert_allclose(ours.param_sets, expect, atol=1e-7)
    same_numbers(ours, theirs, atol=1e-7)


@pytest.mark.parametrize(("model_class", "params", "expect", "atol"), [
    (models.Chebyshev1D, [0, 1, 2, 3],
     [2817.2499999999995, 4226.6249999999991, 1680.7500000000009,
      273.37499999999926], 1e-2),
    (models.Legendre1D, [1, 2, 3, 4],
     [1925.5000000000011, 3444.7500000000005, 1883.2500000000014,
      364.4999999999996], 1e-12),
])
def test_linear_fitter_orthogonal_polynomials(model_class, params, expect,
                                              atol):
    # mirrors test_input.py::TestFitting.test_linear_fitter_1dcheb and
    # test_linear_fitter_1dlegend (the domain is set from x by the fit)
    x = np.arange(10)
    init = model_class(3)
    init.parameters = params
    ours, theirs = fit_both(init, x, init(x))
    assert_allclose(ours.param_sets, np.array([expect]).T, atol=atol)
    same_numbers(ours, theirs, atol=1e-8)


def test_linear_fitter_1set2d():
    # mirrors test_input.py::TestFitting.test_linear_fitter_1set2d
    y, x = np.mgrid[:10, :10]
    init = models.Polynomial2D(2)
    init.parameters = [0, 1, 2, 3, 4, 5]
    z = init(x, y)
    ours, theirs = fit_both(init, x, y, z)
    assert_allclose(ours.parameters, [0, 1, 2, 3, 4, 5], atol=1e-12)
    assert_allclose(ours(x, y), z, atol=1e-12)
    same_numbers(ours, theirs)


def test_wrong_numpset():
    # mirrors test_input.py::TestFitting.test_wrong_numpset: one data set
    # for a set of two models is an error
    x = np.arange(10)
    y = models.Polynomial1D(5)(x)
    with pytest.raises(ValueError, match="model set has 2 models"):
        LinearModelSetFitter()(models.Polynomial1D(5, n_models=2), x, y)
