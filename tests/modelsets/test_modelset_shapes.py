"""Tests of the cube <-> model-set reshaping helpers."""

from astropy.modeling import models
import numpy as np
from numpy.testing import assert_allclose, assert_array_equal
import pytest

from psfkit.modelsets import (
    LinearModelSetFitter,
    cube_to_model_set,
    model_set_to_cube,
)


@pytest.mark.parametrize("axis", [0, 1, 2, -1])
@pytest.mark.parametrize("model_set_axis", [0, 1])
def test_round_trip(axis, model_set_axis):
    rng = np.random.default_rng(1)
    shape = [4, 5, 6]
    K = shape[axis]
    x = np.arange(K, dtype=float)
    slope = rng.normal(size=[s for i, s in enumerate(shape)
                             if i != axis % 3])
    pixel_axes = [i for i in range(3) if i != axis % 3]
    cube = np.expand_dims(slope, axis) * np.expand_dims(
        x, tuple(pixel_axes)) + 2.0
    y, orig = cube_to_model_set(cube, axis, model_set_axis=model_set_axis)
    assert orig == cube.shape
    N = slope.size
    assert y.shape == ((N, K) if model_set_axis == 0 else (K, N))
    assert np.shares_memory(y, cube) or axis % 3 != 0
    model = models.Polynomial1D(1, n_models=N, model_set_axis=model_set_axis)
    fitted = LinearModelSetFitter()(model, x, y)
    assert_allclose(np.ravel(fitted.c1.value), slope.ravel(), atol=1e-12)
    back = model_set_to_cube(fitted, x, orig, axis=axis)
    assert_allclose(back, cube, atol=1e-12)


def test_view_for_time_major_cube():
    cube = np.zeros((10, 7, 8), dtype=np.float32)
    y, _ = cube_to_model_set(cube)
    assert np.shares_memory(y, cube)
    assert_array_equal(y.shape, (56, 10))


def test_errors():
    with pytest.raises(ValueError, match="out of range"):
        cube_to_model_set(np.zeros((2, 3)), 2)
    with pytest.raises(ValueError, match="model_set_axis must be one of"):
        cube_to_model_set(np.zeros((2, 3)), model_set_axis=2)
    line = models.Polynomial1D(1, n_models=6)
    with pytest.raises(ValueError, match="x has 3 values"):
        model_set_to_cube(line, np.arange(3.0), (4, 2, 3))
    with pytest.raises(ValueError, match="6 models but the cube has 8"):
        model_set_to_cube(line, np.arange(4.0), (4, 2, 4))
    with pytest.raises(ValueError, match="needs a 1-D model"):
        model_set_to_cube(models.Polynomial2D(1, n_models=6), np.arange(4.0),
                          (4, 2, 3))
