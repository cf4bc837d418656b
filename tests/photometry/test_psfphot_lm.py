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

from psfkit._numerics.lm import solve_stacked
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
