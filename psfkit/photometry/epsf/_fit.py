"""
Batched Levenberg-Marquardt fit of many stars at once.

All stars share one PSF model; each has its own pixels, weights and
parameters.  The stars are independent systems of the shared loop of
`psfkit._numerics.lm`, so the small normal equations of every star are
built and solved together and the cost per iteration is a few vectorised
passes over all pixels.
"""

import numpy as np

from ..._numerics.lm import solve_stacked

__all__ = []


def fit_stars(model, x, y, data, weight, params, *, maxiter=40, tol=1e-8):
    """
    Fit the parameters of many stars with a shared model.

    Parameters
    ----------
    model : PSF model
        A model with ``evaluate_stack``; every parameter is fitted.
    x, y : ndarray
        Pixel coordinates, shape ``(n, n_pix)``.
    data : ndarray
        Pixel values, shape ``(n, n_pix)``.
    weight : ndarray
        Pixel weights multiplying the squared residuals (0 for ignored
        pixels), shape ``(n, n_pix)``.
    params : ndarray
        Starting parameters, shape ``(n, n_params)``.
    maxiter : int, optional
        The maximum number of iterations.
    tol : float, optional
        Convergence: the chi-square decrease a further Gauss-Newton step
        would bring, in units of the reduced chi-square.

    Returns
    -------
    params : ndarray
        The fitted parameters, shape ``(n, n_params)``.
    ok : ndarray of bool
        `True` where the fitted values are finite.
    """
    root_w = np.sqrt(np.clip(weight, 0.0, None))
    data = np.where(root_w > 0, data, 0.0)
    npix = np.count_nonzero(root_w > 0, axis=1)

    def residuals(u, rows):
        values, jac = model.evaluate_stack(x[rows], y[rows], u, jacobian=True)
        w = root_w[rows]
        # a star whose model is not finite (e.g. a width through zero) is
        # rejected by the loop, not allowed to spoil the others
        return (data[rows] - values) * w, jac * w[:, :, None]

    params = np.asarray(params, dtype=float)
    with np.errstate(all="ignore"):
        out = solve_stacked(residuals, params,
                            dof=np.maximum(npix - params.shape[1], 1),
                            maxiters=maxiter, tol=tol)
    return out.u, np.all(np.isfinite(out.u), axis=1)
