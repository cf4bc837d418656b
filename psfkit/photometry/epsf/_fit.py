"""
Batched Levenberg-Marquardt fit of many stars at once.

All stars share one PSF model; each has its own pixels, weights and
parameters.  The small normal equations of every star are built and solved
together, so the cost per iteration is a few vectorised passes over all
pixels.
"""

import numpy as np

__all__ = []


def fit_stars(model, x, y, data, weight, params, *, maxiter=40,
                        xtol=1e-7):
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
        Pixel weights (0 for ignored pixels), shape ``(n, n_pix)``.
    params : ndarray
        Starting parameters, shape ``(n, n_params)``.
    maxiter : int, optional
        The maximum number of iterations.
    xtol : float, optional
        Convergence: every step smaller than ``xtol`` times (1 + |param|).

    Returns
    -------
    params : ndarray
        The fitted parameters, shape ``(n, n_params)``.
    ok : ndarray of bool
        `True` where the fitted values are finite.
    """
    params = np.array(params, dtype=float)
    data = np.where(weight > 0, data, 0.0)
    n = len(params)
    lam = np.full(n, 1e-3)
    active = np.ones(n, dtype=bool)
    values, jac = model.evaluate_stack(x, y, params, jacobian=True)
    chi2 = np.sum(weight * (data - values) ** 2, axis=1)
    eye = np.eye(params.shape[1])
    for _ in range(maxiter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        w = weight[idx]
        j = jac[idx]
        r = data[idx] - values[idx]
        jw = j * w[..., None]
        normal = np.einsum("npi,npj->nij", jw, j)
        grad = np.einsum("npi,np->ni", jw, r)
        diag = np.einsum("nii->ni", normal)
        damped = normal + (lam[idx, None] * np.maximum(diag, 1e-300))[
            ..., None] * eye
        with np.errstate(all="ignore"):
            try:
                step = np.linalg.solve(damped, grad[..., None])[..., 0]
            except np.linalg.LinAlgError:
                # a singular star (e.g. all its pixels masked) must not
                # stop the others: the batched pseudo-inverse handles it
                step = (np.linalg.pinv(damped) @ grad[..., None])[..., 0]
        trial = params[idx] + step
        t_values, t_jac = model.evaluate_stack(x[idx], y[idx], trial,
                                               jacobian=True)
        t_chi2 = np.sum(w * (data[idx] - t_values) ** 2, axis=1)
        better = np.isfinite(t_chi2) & (t_chi2 <= chi2[idx])
        good = idx[better]
        params[good] = trial[better]
        values[good] = t_values[better]
        jac[good] = t_jac[better]
        chi2[good] = t_chi2[better]
        lam[good] = np.maximum(lam[good] * 0.3, 1e-9)
        lam[idx[~better]] *= 10.0
        small = np.all(np.abs(step) <= xtol * (1.0 + np.abs(params[idx])),
                       axis=1)
        # a star also stops when no step improves it any more
        active[idx[(better & small) | (lam[idx] > 1e10)]] = False
    return params, np.all(np.isfinite(params), axis=1)
