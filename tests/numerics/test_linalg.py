"""The shared batched linear algebra against numpy.linalg, system by system."""

from hypothesis import given, settings
from hypothesis import strategies as st
import numpy as np
from numpy.testing import assert_allclose
import pytest

from psfkit._numerics.linalg import (
    DampedSystems,
    covariance,
    damped_solve,
    normal_equations,
    scaled_condition_number,
    solve,
)


def _problems(rng, n=20, npix=50, p=4):
    jac = rng.normal(size=(n, npix, p))
    resid = rng.normal(size=(n, npix))
    weights = rng.uniform(0.5, 2.0, size=(n, npix))
    return jac, resid, weights


def test_normal_equations_match_loop():
    rng = np.random.default_rng(1)
    jac, resid, weights = _problems(rng)
    a, g = normal_equations(jac, resid, weights)
    for i in range(len(jac)):
        jw = jac[i] * weights[i][:, None]
        assert_allclose(a[i], jw.T @ jac[i], rtol=1e-12)
        assert_allclose(g[i], jw.T @ resid[i], rtol=1e-12)
    assert np.array_equal(a, np.swapaxes(a, 1, 2))


def test_normal_equations_transposed_layout():
    rng = np.random.default_rng(2)
    design = rng.normal(size=(5, 3, 40))  # (n, p, npix), as diffim holds it
    target = rng.normal(size=(5, 40))
    a, g = normal_equations(np.swapaxes(design, 1, 2), target)
    assert_allclose(a, design @ np.swapaxes(design, 1, 2), rtol=1e-12)
    assert_allclose(g, (design @ target[:, :, None])[:, :, 0], rtol=1e-12)


def test_solve_matches_lstsq_and_reports_singular():
    rng = np.random.default_rng(3)
    jac, resid, weights = _problems(rng)
    a, g = normal_equations(jac, resid, weights)
    # make system 4 exactly singular (two equal columns) and system 7 have
    # an unused unknown (a zero column)
    a[4] = a[4][[0, 0, 2, 3]][:, [0, 0, 2, 3]]
    g[4] = g[4][[0, 0, 2, 3]]
    a[7][:, 1] = a[7][1, :] = 0.0
    g[7][1] = 0.0
    x, singular = solve(a, g)
    assert singular.tolist() == [i == 4 for i in range(len(a))]
    for i in range(len(a)):
        ref = np.linalg.lstsq(a[i], g[i], rcond=1e-12)[0]
        assert_allclose(a[i] @ x[i], a[i] @ ref, rtol=1e-8, atol=1e-10)
    assert x[7][1] == 0.0


def test_solve_scale_invariance():
    """Units of the unknowns do not change the answer (equilibration)."""
    rng = np.random.default_rng(4)
    jac, resid, _ = _problems(rng, n=5, p=3)
    scale = np.array([1e-9, 1.0, 1e12])
    a1, g1 = normal_equations(jac, resid)
    a2, g2 = normal_equations(jac * scale, resid)
    x1, s1 = solve(a1, g1)
    x2, s2 = solve(a2, g2)
    assert not s1.any() and not s2.any()
    assert_allclose(x2 * scale, x1, rtol=1e-9)


def test_solve_non_finite_system_does_not_stop_others():
    a = np.stack([np.eye(2), np.full((2, 2), np.nan)])
    x, singular = solve(a, np.ones((2, 2)))
    assert singular.tolist() == [False, True]
    assert_allclose(x[0], [1.0, 1.0])
    assert np.all(np.isnan(x[1]))


def test_solve_mixed_stack_each_system_on_its_own():
    # one stack: regular, non-finite matrix, non-finite right-hand side,
    # an unknown no data touch, and an exactly singular system
    rng = np.random.default_rng(3)
    m = rng.normal(size=(6, 3))
    regular = m.T @ m
    unused = regular.copy()
    unused[2, :] = unused[:, 2] = 0.0
    v = rng.normal(size=3)
    singular_a = np.outer(v, v) + np.outer(v[::-1], v[::-1])
    broken = regular.copy()
    broken[0, 1] = broken[1, 0] = np.nan
    a = np.stack([regular, broken, regular, unused, singular_a])
    b = rng.normal(size=(5, 3))
    b[2, 1] = np.nan
    b[4] = singular_a @ rng.normal(size=3)
    x, singular = solve(a, b)
    assert singular.tolist() == [False, True, True, False, True]
    assert_allclose(x[0], np.linalg.solve(regular, b[0]), rtol=1e-12)
    assert np.all(np.isnan(x[1])) and np.all(np.isnan(x[2]))
    # the untouched unknown gets a zero step, the others their solution
    assert x[3, 2] == 0.0
    assert_allclose(x[3, :2], np.linalg.solve(unused[:2, :2], b[3, :2]),
                    rtol=1e-12)
    # the singular system: the minimum-norm solution of the equilibrated
    # system, which solves it exactly (b lies in its range)
    assert_allclose(singular_a @ x[4], b[4], atol=1e-10 * np.abs(b[4]).max())
    s = 1.0 / np.sqrt(np.diag(singular_a))
    expect = s * (np.linalg.pinv(singular_a * np.outer(s, s)) @ (s * b[4]))
    assert_allclose(x[4], expect, rtol=1e-8, atol=1e-12)


def test_damped_solve_is_marquardt_step():
    rng = np.random.default_rng(5)
    jac, resid, _ = _problems(rng, n=6, p=3)
    a, g = normal_equations(jac, resid)
    lam = rng.uniform(0, 10, 6)
    step, singular = damped_solve(a, g, lam)
    for i in range(6):
        m = a[i] + lam[i] * np.diag(np.diag(a[i]))
        assert_allclose(step[i], np.linalg.solve(m, g[i]), rtol=1e-9)
    assert not singular.any()


def test_damped_systems_reuse_one_stack_for_any_damping():
    rng = np.random.default_rng(8)
    jac, resid, _ = _problems(rng, n=5, p=3)
    jac[:, :, 0] *= 1e6  # a flux next to positions
    a, g = normal_equations(jac, resid)
    a[1, 2, :] = a[1, :, 2] = 0.0  # an unknown held out (frozen)
    a[3] = np.nan  # an unusable system among good ones
    systems = DampedSystems(a)
    for lam in (np.full(5, 1e-5), rng.uniform(0, 10, 5)):
        step, singular = systems.solve(g, lam)
        assert singular.tolist() == [False, False, False, True, False]
        assert np.all(np.isnan(step[3]))
        for i in (0, 1, 2, 4):
            use = np.diag(a[i]) > 0
            m = a[i] + lam[i] * np.diag(np.diag(a[i]))
            expect = np.zeros(3)
            expect[use] = np.linalg.solve(m[np.ix_(use, use)], g[i, use])
            assert_allclose(step[i], expect, rtol=1e-8)
    # a damping per unknown (every unknown of a system alike, as the
    # cluster solver uses it) equals the per-system one
    per_unknown, _ = systems.solve(g, np.repeat(lam[:, None], 3, axis=1))
    assert_allclose(per_unknown, systems.solve(g, lam)[0], rtol=1e-12)
    # the stack is left as it was for the next damping
    again, _ = systems.solve(g, lam)
    assert_allclose(again, per_unknown, rtol=1e-12)


def test_covariance_inverse_and_undetermined():
    rng = np.random.default_rng(6)
    jac, resid, _ = _problems(rng, n=3, p=3)
    a, _ = normal_equations(jac, resid)
    a[2] = a[2][[0, 1, 1]][:, [0, 1, 1]]  # unknowns 1 and 2 degenerate
    cov, undetermined = covariance(a)
    for i in range(2):
        assert_allclose(cov[i], np.linalg.inv(a[i]), rtol=1e-9)
    assert undetermined.tolist() == [[False] * 3, [False] * 3,
                                     [False, True, True]]


def test_covariance_mixed_stack_equals_pseudo_inverse():
    # well-conditioned systems take the LU inverse, the others the
    # eigen-decomposition: every one must equal the pseudo-inverse built
    # system by system with numpy.linalg.pinv on the equilibrated matrix
    rng = np.random.default_rng(11)
    jac = rng.normal(size=(40, 30, 6)) * 10.0 ** rng.uniform(-4, 6, (40, 1, 6))
    a, _ = normal_equations(jac, np.zeros((40, 30)))
    a[3] = a[3][[0, 1, 2, 3, 4, 4]][:, [0, 1, 2, 3, 4, 4]]  # degenerate
    a[8, 2, :] = a[8, :, 2] = 0.0  # unused unknown
    j = jac[13].copy()
    j[:, 5] = j[:, 4] * (1 + 1e-9)  # nearly degenerate: rcond decides
    a[13] = j.T @ j
    a[21, 1, 2] = a[21, 2, 1] = np.inf  # not finite
    cov, undetermined = covariance(a)
    for i in range(40):
        if i == 21:
            assert undetermined[i].all()
            continue
        d = np.diagonal(a[i])
        s = np.where(d > 0, 1.0 / np.sqrt(np.where(d > 0, d, 1.0)), 0.0)
        scaled = a[i] * np.outer(s, s)
        scaled[np.diag_indices(6)] = np.where(d > 0, 1.0, 1.0)
        ref = np.linalg.pinv(scaled, rcond=1e-12, hermitian=True) * np.outer(s, s)
        scale = np.sqrt(np.outer(np.diagonal(ref), np.diagonal(ref))) + 1e-300
        assert np.max(np.abs(cov[i] - ref) / scale) < 1e-6, i
    assert undetermined[3].tolist() == [False] * 4 + [True, True]
    assert undetermined[13, 4:].all()
    assert not undetermined[[0, 8]].any()
    assert (cov[8, 2] == 0).all() and (cov[8, :, 2] == 0).all()
    assert_allclose(cov, np.swapaxes(cov, 1, 2), rtol=1e-12, atol=0)


def test_scaled_condition_number_ignores_units():
    m = np.diag([1e-10, 1.0, 1e10])
    assert_allclose(scaled_condition_number(m), 1.0)
    assert scaled_condition_number(np.ones((2, 2))) > 1e12


@settings(max_examples=60, deadline=None)
@given(p=st.integers(1, 6), log_scale=st.floats(-150, 150),
       seed=st.integers(0, 2**16))
def test_solve_property_extreme_scales(p, log_scale, seed):
    """Well-posed systems are solved to full precision at any value scale."""
    rng = np.random.default_rng(seed)
    jac = rng.normal(size=(3, 4 * p + 2, p))
    truth = rng.normal(size=(3, p))
    data = (jac @ truth[:, :, None])[:, :, 0] * 10.0 ** log_scale
    a, g = normal_equations(jac, data)
    x, singular = solve(a, g)
    assert not singular.any()
    assert_allclose(x / 10.0 ** log_scale, truth, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("n", [0, 1])
def test_solve_empty_and_single(n):
    x, singular = solve(np.tile(np.eye(2), (n, 1, 1)), np.ones((n, 2)))
    assert x.shape == (n, 2) and singular.shape == (n,)
