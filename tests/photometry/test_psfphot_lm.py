"""
The shared Levenberg-Marquardt loop (psfkit._numerics.lm) and the fits at
extreme flux scales that once ended wrong without a flag.
"""

from astropy.table import QTable
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
import numpy as np
from numpy.testing import assert_allclose
import pytest

from psfkit._numerics.lm import (
    STALL_FACTOR,
    StackedProblem,
    levenberg_marquardt,
    solve_stacked,
)
from psfkit.photometry import (
    BasicPSFPhotometry,
    BatchedLMFitter,
    IntegratedGaussianPRF,
    PSFFlags,
    SparseLMFitter,
)

SIGMA = 2.0
YY, XX = np.mgrid[0:40, 0:40]


def one_star(flux, x, y):
    return IntegratedGaussianPRF(sigma=1.0).evaluate(XX, YY, flux, x, y, SIGMA)


def fit(image, x0, y0, fitter):
    phot = BasicPSFPhotometry(None, None, IntegratedGaussianPRF(sigma=SIGMA),
                              (9, 9), fitter=fitter)
    return phot(image, init_guesses=QTable({"x_0": [x0], "y_0": [y0]}))[0]


# ------------------------------------------------------------ the loop
def test_loop_fits_exponentials_and_respects_bounds():
    # y = a exp(-b t), two data sets; the second has b bounded below the
    # truth, so it ends on the bound
    t = np.linspace(0.0, 3.0, 20)
    truth = np.array([[2.0, 0.7], [5.0, 1.3]])
    data = truth[:, :1] * np.exp(-truth[:, 1:] * t)

    def residuals(u, rows):
        e = np.exp(-u[:, 1:] * t)
        model = u[:, :1] * e
        jac = np.stack([e, -u[:, :1] * t * e], axis=2)
        return data[rows] - model, jac

    out = solve_stacked(residuals, np.array([[1.0, 0.1], [1.0, 0.1]]),
                        tol=1e-14)
    assert out.converged.all()
    assert_allclose(out.u, truth, rtol=1e-8)
    lower = np.array([[0.0, 0.0], [0.0, 0.0]])
    upper = np.array([[10.0, 5.0], [10.0, 1.0]])
    out = solve_stacked(residuals, np.array([[1.0, 0.1], [1.0, 0.1]]),
                        lower=lower, upper=upper, tol=1e-14)
    assert_allclose(out.u[0], truth[0], rtol=1e-8)
    assert out.u[1, 1] == 1.0


def test_loop_reports_a_fit_stuck_away_from_its_minimum():
    # a Jacobian of the wrong sign: every step raises chi-square, so the
    # damping grows until the loop gives up; the fit is far from its
    # minimum and must not be reported as converged
    data = np.array([[1.0, 2.0, 3.0]])

    def wrong(u, rows):
        return data[rows] - u, -np.ones((len(rows), 3, 1))

    out = solve_stacked(wrong, np.zeros((1, 1)), maxiters=200)
    assert not out.converged[0]


def _exponentials(n, rng, *, sigma=0.02):
    """``n`` noisy decays ``a exp(-b t)`` and their residual callable."""
    t = np.linspace(0.0, 3.0, 25)
    truth = np.column_stack([rng.uniform(1, 5, n), rng.uniform(0.3, 2, n)])
    data = truth[:, :1] * np.exp(-truth[:, 1:] * t)
    data = data + rng.normal(0, sigma, data.shape)

    def residuals(u, rows):
        e = np.exp(-u[:, 1:] * t)
        jac = np.stack([e, -u[:, :1] * t * e], axis=2) / sigma
        return (data[rows] - u[:, :1] * e) / sigma, jac

    return residuals, truth


class _Counted(StackedProblem):
    """A stacked problem counting the normal equations it builds."""

    def __init__(self, *args, independent=True, **kwargs):
        super().__init__(*args, **kwargs)
        self.independent_systems = independent
        self.built = 0

    def normal(self):
        self.built += len(self.rows)
        super().normal()


def test_loop_finishes_a_system_that_lands_on_its_minimum():
    # after a step whose actual decrease matched the predicted one, the
    # loop need not build the normal equations once more to see that the
    # system converged: the same fits and iterations, fewer builds
    rng = np.random.default_rng(2)
    residuals, truth = _exponentials(200, rng)
    start = truth * rng.uniform(0.8, 1.2, truth.shape)
    runs = {}
    for independent in (True, False):
        problem = _Counted(residuals, start, independent=independent)
        conv, niter = levenberg_marquardt(problem, maxiters=100, tol=1e-6)
        runs[independent] = (problem, conv, niter)
    (fast, conv_f, it_f), (slow, conv_s, it_s) = runs[True], runs[False]
    assert conv_f.all() and conv_s.all()
    assert np.all(it_f <= it_s)
    assert fast.built < 0.9 * slow.built
    # both at the minimum: the parameters agree far inside their errors
    rw, jw = residuals(fast.out_u, np.arange(len(truth)))
    cov = np.linalg.inv(np.einsum("nki,nkj->nij", jw, jw))
    err = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
    assert np.max(np.abs(fast.out_u - slow.out_u) / err) < 0.01


def _blends(rng, n=40, noise=2.0, sigma=1.5):
    """``n`` noisy pairs of Gaussian stars 0.1-0.3 pixels apart."""
    x = np.arange(-10, 11, 1.0)
    xx, yy = (v.ravel() for v in np.meshgrid(x, x))

    def model(u):
        f1, x1, y1, f2, x2, y2 = (u[:, i:i + 1] for i in range(6))
        g1 = np.exp(-((xx - x1) ** 2 + (yy - y1) ** 2) / (2 * sigma ** 2))
        g2 = np.exp(-((xx - x2) ** 2 + (yy - y2) ** 2) / (2 * sigma ** 2))
        jac = np.stack([g1, f1 * g1 * (xx - x1) / sigma ** 2,
                        f1 * g1 * (yy - y1) / sigma ** 2, g2,
                        f2 * g2 * (xx - x2) / sigma ** 2,
                        f2 * g2 * (yy - y2) / sigma ** 2], axis=2)
        return f1 * g1 + f2 * g2, jac

    truth = np.column_stack([
        np.full(n, 100.0), rng.uniform(-0.1, 0.1, n), rng.uniform(-0.1, 0.1, n),
        np.full(n, 60.0), rng.uniform(0.1, 0.3, n), rng.uniform(-0.1, 0.1, n)])
    data = model(truth)[0] + rng.normal(0, noise, (n, xx.size))

    def residuals(u, rows):
        m, jac = model(u)
        return (data[rows] - m) / noise, jac / noise

    # the error of a blend's total flux: that of one star with all of it
    g = np.exp(-(xx ** 2 + yy ** 2) / (2 * sigma ** 2))
    return residuals, truth, noise / np.sqrt(np.sum(g ** 2))


def test_loop_stops_sliding_blends_without_losing_their_flux(monkeypatch):
    # two stars at nearly one place trade flux along a valley where
    # chi-square falls a little at every iteration (or one of them drifts
    # off onto noise): the loop stops once five iterations gain less than
    # STALL_FACTOR * tol in reduced chi-square.  That saves iterations and
    # measures the blends' total flux, which the data determine, as well
    # as iterating on does
    rng = np.random.default_rng(3)
    residuals, truth, err = _blends(rng)
    start = truth + rng.normal(0, 0.3, truth.shape) * [20, 1, 1, 20, 1, 1]
    runs = {}
    for factor in (STALL_FACTOR, 0.0):
        monkeypatch.setattr("psfkit._numerics.lm.STALL_FACTOR", factor)
        runs[factor] = solve_stacked(residuals, start, maxiters=300,
                                     tol=1e-6)
    stop, go_on = runs[STALL_FACTOR], runs[0.0]
    assert stop.converged.all() and go_on.converged.all()
    assert stop.niter.sum() < 0.95 * go_on.niter.sum()
    assert np.any(stop.niter < go_on.niter)
    total = truth[:, 0] + truth[:, 3]
    pulls = [np.std((o.u[:, 0] + o.u[:, 3] - total) / err)
             for o in (stop, go_on)]
    assert pulls[0] <= 1.05 * pulls[1]


# --------------------------------------------- extreme scales (issue 20)
@pytest.mark.parametrize("fitter", [BatchedLMFitter(), SparseLMFitter()])
@pytest.mark.parametrize("flux", [1e18, 1e20, 1e25])
def test_extreme_fluxes_from_integer_starts(fitter, flux):
    # with the normal equations not scaled per column, 3 to 10 fits in 20
    # stayed at their integer starting positions with flags = 0
    rng = np.random.default_rng(int(np.log10(flux)))
    for _ in range(10):
        x, y = rng.uniform(15, 25, 2)
        row = fit(one_star(flux, x, y), np.round(x), np.round(y), fitter)
        assert row["flags"] == 0
        assert_allclose([row["x_fit"], row["y_fit"]], [x, y], atol=1e-6)
        assert_allclose(row["flux_fit"], flux, rtol=1e-6)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(log_flux=st.floats(-12.0, 30.0),
       dx=st.floats(-0.5, 0.5), dy=st.floats(-0.5, 0.5),
       start=st.sampled_from(["integer", "offset"]),
       dense=st.booleans())
def test_fits_at_any_flux_scale_are_right_or_flagged(log_flux, dx, dy, start,
                                                     dense):
    # noise-free stars from 1e-12 to 1e30: the fit finds the star, or says
    # it did not converge; it never ends elsewhere with flags = 0
    flux = 10.0 ** log_flux
    x, y = 20.0 + dx, 19.0 + dy
    x0, y0 = (np.round(x), np.round(y)) if start == "integer" else (
        x + 0.4, y - 0.3)
    fitter = BatchedLMFitter() if dense else SparseLMFitter()
    row = fit(one_star(flux, x, y), x0, y0, fitter)
    if row["flags"] & PSFFlags.NOT_CONVERGED:
        return
    assert row["flags"] == 0
    assert_allclose([row["x_fit"], row["y_fit"]], [x, y], atol=1e-5)
    assert_allclose(row["flux_fit"], flux, rtol=1e-5)
