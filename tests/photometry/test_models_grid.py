"""evaluate_grid is evaluate_stack on row-major grids, given by rows/columns."""

import numpy as np
from numpy.testing import assert_allclose
import pytest

from psfkit.photometry import (
    CircularGaussianPRF,
    CircularGaussianSigmaPRF,
    GaussianPSF,
    IntegratedGaussianPRF,
    MoffatPSF,
)


@pytest.mark.parametrize("model", [
    IntegratedGaussianPRF(sigma=1.7),
    GaussianPSF(x_fwhm=3.0, y_fwhm=4.0, theta=30.0),
    MoffatPSF(alpha=2.5, beta=3.0),
])
def test_evaluate_grid_equals_evaluate_stack(model):
    rng = np.random.default_rng(0)
    n, n_grids, ny, nx = 7, 3, 5, 9
    x0 = rng.uniform(10, 90, (n, n_grids))
    y0 = rng.uniform(10, 90, (n, n_grids))
    x_cols = np.floor(x0)[:, :, None] + np.arange(nx) - nx // 2
    y_rows = np.floor(y0)[:, :, None] + np.arange(ny) - ny // 2
    # the same pixels, flattened the way the photometry engine lays out boxes
    x = np.broadcast_to(x_cols[:, :, None, :], (n, n_grids, ny, nx)).reshape(n, -1)
    y = np.broadcast_to(y_rows[:, :, :, None], (n, n_grids, ny, nx)).reshape(n, -1)
    params = np.tile(model.parameters, (n, 1))
    params[:, 0] = rng.uniform(100, 1000, n)  # flux
    params[:, 1] = x0[:, 0] + rng.uniform(-0.5, 0.5, n)  # x_0
    params[:, 2] = y0[:, 0] + rng.uniform(-0.5, 0.5, n)  # y_0
    assert model.param_names[:3] == ("flux", "x_0", "y_0")
    v_stack, j_stack = model.evaluate_stack(x, y, params, jacobian=True)
    v_grid, j_grid = model.evaluate_grid(x_cols, y_rows, params, jacobian=True)
    assert v_grid.shape == v_stack.shape and j_grid.shape == j_stack.shape
    assert_allclose(v_grid, v_stack, rtol=1e-13, atol=1e-15 * np.abs(v_stack).max())
    assert_allclose(j_grid, j_stack, rtol=1e-12, atol=1e-14 * np.abs(j_stack).max())
    assert_allclose(model.evaluate_grid(x_cols, y_rows, params), v_stack,
                    rtol=1e-13, atol=1e-15 * np.abs(v_stack).max())


def test_evaluate_grid_shape_errors():
    model = IntegratedGaussianPRF()
    with pytest.raises(ValueError, match="do not describe the same sources"):
        model.evaluate_grid(np.zeros((2, 1, 3)), np.zeros((2, 1, 3)),
                            np.zeros((3, 4)))


@pytest.mark.parametrize("model", [
    IntegratedGaussianPRF(sigma=1.7),
    CircularGaussianPRF(fwhm=3.1),
    CircularGaussianSigmaPRF(sigma=0.9),
    MoffatPSF(alpha=2.5, beta=3.0),
])
@pytest.mark.parametrize("free", [None, [0, 1, 2], [3, 1], [2]])
def test_grid_free_equals_evaluate_grid(model, free):
    # the engines' evaluation with only some derivatives: the same numbers
    # as the full evaluate_grid, columns selected
    rng = np.random.default_rng(1)
    n, n_grids, ny, nx = 6, 2, 7, 5
    x_cols = rng.integers(10, 90, (n, n_grids))[:, :, None] + np.arange(nx) - 2.0
    y_rows = rng.integers(10, 90, (n, n_grids))[:, :, None] + np.arange(ny) - 3.0
    params = np.tile(model.parameters, (n, 1))
    params[:, 0] = rng.uniform(-10, 1000, n)
    params[:, 1] = x_cols[:, 0, 2] + rng.uniform(-0.7, 0.7, n)
    params[:, 2] = y_rows[:, 0, 3] + rng.uniform(-0.7, 0.7, n)
    values, jac = model._grid_free(x_cols, y_rows, params, free)
    v_ref, j_ref = model.evaluate_grid(x_cols, y_rows, params, jacobian=True)
    assert_allclose(values, v_ref, rtol=1e-13, atol=1e-15 * np.abs(v_ref).max())
    if free is None:
        assert jac is None
    else:
        assert_allclose(jac, j_ref[..., free], rtol=1e-12,
                        atol=1e-14 * np.abs(j_ref).max())


def test_grid_free_without_sources():
    values, jac = IntegratedGaussianPRF(sigma=1.5)._grid_free(
        np.zeros((0, 1, 5)), np.zeros((0, 1, 3)), np.zeros((0, 4)), [0, 1])
    assert values.shape == (0, 15) and jac.shape == (0, 15, 2)
