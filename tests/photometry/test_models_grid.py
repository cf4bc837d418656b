"""evaluate_grid is evaluate_stack on row-major grids, given by rows/columns."""

import numpy as np
from numpy.testing import assert_allclose
import pytest

from psfkit.photometry import (
    CircularGaussianPRF,
    CircularGaussianSigmaPRF,
    GaussianPSF,
    GriddedPSFModel,
    ImagePSF,
    IntegratedGaussianPRF,
    MoffatPSF,
)
from psfkit.photometry.models._interpolation import (
    spline_coefficients,
    spline_evaluate,
    spline_evaluate_grid,
)


def _psf_image(over, half=12, width=1.6, ring=0.01):
    """A non-Gaussian PSF image, oversampled ``over`` times."""
    n = half * over
    yy, xx = np.mgrid[-n:n + 1, -n:n + 1] / over
    r = np.hypot(xx, yy)
    return np.exp(-r ** 2 / (2 * width ** 2)) + ring * np.exp(-(r - 5) ** 2)


def _image_models():
    # photutils' fill value, the smooth fall to zero, several oversamplings
    # and a grid of PSFs blended between its nodes
    stack = np.array([_psf_image(2, width=w) for w in (1.4, 1.7, 2.0, 2.3)])
    return [
        ImagePSF(_psf_image(1), normalize=True),
        ImagePSF(_psf_image(2), oversampling=2, normalize=True,
                 fill_value=None),
        ImagePSF(_psf_image(4), oversampling=(3, 4), normalize=True,
                 fill_value=0.3),
        ImagePSF(_psf_image(2), oversampling=2, fill_value=np.nan),
        GriddedPSFModel(stack, grid_xypos=[(0, 0), (100, 0), (0, 100),
                                           (100, 100)],
                        oversampling=2, normalize=True),
    ]


@pytest.mark.parametrize("model", [
    IntegratedGaussianPRF(sigma=1.7),
    GaussianPSF(x_fwhm=3.0, y_fwhm=4.0, theta=30.0),
    MoffatPSF(alpha=2.5, beta=3.0),
    *_image_models(),
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
    assert_allclose(v_grid, v_stack, rtol=1e-13,
                    atol=1e-15 * np.nanmax(np.abs(v_stack)))
    assert_allclose(j_grid, j_stack, rtol=1e-12,
                    atol=1e-14 * np.nanmax(np.abs(j_stack)))
    assert_allclose(model.evaluate_grid(x_cols, y_rows, params), v_stack,
                    rtol=1e-13, atol=1e-15 * np.nanmax(np.abs(v_stack)))


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
    *_image_models(),
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
    if free is not None:
        free = [f for f in free if f < len(model.param_names)]
    values, jac = model._grid_free(x_cols, y_rows, params, free)
    v_ref, j_ref = model.evaluate_grid(x_cols, y_rows, params, jacobian=True)
    assert_allclose(values, v_ref, rtol=1e-13, atol=1e-15 * np.nanmax(np.abs(v_ref)))
    if free is None:
        assert jac is None
    else:
        assert_allclose(jac, j_ref[..., free], rtol=1e-12,
                        atol=1e-14 * np.nanmax(np.abs(j_ref)))


def test_grid_free_without_sources():
    values, jac = IntegratedGaussianPRF(sigma=1.5)._grid_free(
        np.zeros((0, 1, 5)), np.zeros((0, 1, 3)), np.zeros((0, 4)), [0, 1])
    assert values.shape == (0, 15) and jac.shape == (0, 15, 2)


@pytest.mark.parametrize("model", _image_models())
def test_image_models_grid_free_without_sources(model):
    values, jac = model._grid_free(np.zeros((0, 1, 5)), np.zeros((0, 1, 3)),
                                   np.zeros((0, 3)), [0, 1])
    assert values.shape == (0, 15) and jac.shape == (0, 15, 2)


@pytest.mark.parametrize("step", [(1, 1), (2, 2), (3, 1), (4, 4), (5, 2)])
def test_spline_grid_equals_points(step):
    """The grid evaluation is the point evaluation at the grid's points."""
    rng = np.random.default_rng(sum(step))
    stack = np.array([_psf_image(2, half=6, width=w) for w in (1.2, 1.9)])
    coef = spline_coefficients(stack)
    ny, nx = 6, 9
    n = 40
    big_y, big_x = stack.shape[1:]
    # grids inside the image, across its edges and far beyond it
    x0 = rng.uniform(-2.0 * step[1] * nx, big_x + 5, n)
    y0 = rng.uniform(-2.0 * step[0] * ny, big_y + 5, n)
    x0[:3] = [-1e4, 0.0, 7.5]
    y0[:3] = [3.0, 1e5, 7.5]
    plane = rng.integers(0, 2, n)
    value, dx, dy = spline_evaluate_grid(coef, x0, y0, (ny, nx), step,
                                         plane=plane, derivatives=True)
    x = x0[:, None, None] + step[1] * np.arange(nx)[None, None, :]
    y = y0[:, None, None] + step[0] * np.arange(ny)[None, :, None]
    want = spline_evaluate(coef, x, y, plane=plane[:, None, None],
                           derivatives=True)
    for got, ref in zip((value, dx, dy), want, strict=True):
        assert got.shape == (n, ny, nx)
        assert_allclose(got, ref, rtol=1e-12,
                        atol=1e-14 * np.abs(ref).max())
    assert np.any(value != 0) and np.all(value[0] == 0)
    # the first image of the stack by default; non-finite grids are zero
    x0[5] = np.nan
    only = spline_evaluate_grid(coef, x0, y0, (ny, nx), step)
    first = spline_evaluate(coef, x, y)
    assert_allclose(only[6:], first[6:], rtol=1e-12,
                    atol=1e-14 * np.abs(first).max())
    assert np.all(only[5] == 0)


def test_image_grid_other_spacings_take_the_general_path():
    # columns two pixels apart: not one phase per grid
    model = ImagePSF(_psf_image(2), oversampling=2, normalize=True)
    x_cols = np.array([[[3.0, 5.0, 7.0]], [[10.0, 12.0, 14.0]]])
    y_rows = np.array([[[4.0, 5.0]], [[9.0, 10.0]]])
    params = np.array([[100.0, 5.2, 4.6], [50.0, 11.7, 9.1]])
    values, jac = model.evaluate_grid(x_cols, y_rows, params, jacobian=True)
    x = np.repeat(x_cols[:, 0, None, :], 2, axis=1).reshape(2, -1)
    y = np.repeat(y_rows[:, 0, :, None], 3, axis=2).reshape(2, -1)
    v_ref, j_ref = model.evaluate_stack(x, y, params, jacobian=True)
    assert_allclose(values, v_ref, rtol=1e-14)
    assert_allclose(jac, j_ref, rtol=1e-13)
