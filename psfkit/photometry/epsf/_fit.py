"""
Batched Levenberg-Marquardt fit of many stars at once.

All stars share one PSF model; each has its own pixels, weights and
parameters.  The stars are independent systems of the shared loop of
`psfkit._numerics.lm`, so the small normal equations of every star are
built and solved together and the cost per iteration is a few vectorised
passes over all pixels.  An astropy fitter, when one is asked for, fits
the same problem one star at a time (`fit_stars_astropy`).
"""

import copy
import warnings

import numpy as np

from ..._numerics.lm import solve_stacked
from ..models.base import evaluate_stack

__all__ = []


def fit_stars(model, x, y, data, weight, params, *, maxiter=40, tol=1e-8):
    """
    Fit the parameters of many stars with a shared model.

    Parameters
    ----------
    model : PSF model
        A PSF model (any 2-D model, through
        `~psfkit.photometry.evaluate_stack`); every parameter is fitted.
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
        values, jac = evaluate_stack(model, x[rows], y[rows], u,
                                     jacobian=True)
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


def star_pixels(stars):
    """
    All the pixels of the star cutouts as flat arrays (cutout coordinates).

    Returns
    -------
    pixels : dict of ndarray
        ``x``, ``y``, ``value`` (masked pixels 0), ``good`` (not masked),
        ``weight`` (the star's pixel weight squared: the weight of the
        squared residual) and ``star`` (the index of its star) of every
        pixel.
    offsets : ndarray of int
        Where each star's pixels start.
    shapes : ndarray of int, shape (n, 2)
        The cutout shapes ``(ny, nx)``.
    """
    xs, ys, values, good, weight, index, offsets = [], [], [], [], [], [], []
    start = 0
    for i, star in enumerate(stars):
        ny, nx = star.shape
        yy, xx = np.mgrid[0:ny, 0:nx]
        xs.append(xx.ravel())
        ys.append(yy.ravel())
        values.append(np.where(star.mask, 0.0, star.data).ravel())
        good.append(~star.mask.ravel())
        weight.append(np.asarray(star.weights, dtype=float).ravel() ** 2)
        index.append(np.full(ny * nx, i, dtype=np.intp))
        offsets.append(start)
        start += ny * nx
    pixels = {"x": np.concatenate(xs).astype(float),
              "y": np.concatenate(ys).astype(float),
              "value": np.concatenate(values),
              "good": np.concatenate(good),
              "weight": np.concatenate(weight),
              "star": np.concatenate(index)}
    shapes = np.array([s.shape for s in stars], dtype=np.intp).reshape(-1, 2)
    return pixels, np.array(offsets, dtype=np.intp), shapes


def fit_boxes(pixels, offsets, shapes, centers, half):
    """
    The pixels of each star's fit box around its current centre.

    ``half`` is the box's half size ``(hy, hx)`` (or one int for both);
    box pixels off the cutout or masked get weight 0, the others their
    star's (squared) pixel weight.

    Returns
    -------
    x, y, data, weight : ndarray, shape (n, n_box)
    """
    hy, hx = (half, half) if np.isscalar(half) else half
    grid_y, grid_x = np.meshgrid(np.arange(-hy, hy + 1),
                                 np.arange(-hx, hx + 1), indexing="ij")
    cols = np.rint(centers[:, :1]).astype(np.intp) + grid_x.ravel()
    rows = np.rint(centers[:, 1:]).astype(np.intp) + grid_y.ravel()
    ny = shapes[:, :1]
    nx = shapes[:, 1:]
    inside = (cols >= 0) & (cols < nx) & (rows >= 0) & (rows < ny)
    flat = (offsets[:, None] + np.clip(rows, 0, ny - 1) * nx
            + np.clip(cols, 0, nx - 1))
    weight = np.where(inside & pixels["good"][flat], pixels["weight"][flat],
                      0.0)
    return cols.astype(float), rows.astype(float), pixels["value"][flat], weight


def fit_stars_astropy(model, x, y, data, weight, params, *, fitter,
                      options=None):
    """
    Fit the parameters of many stars one by one with an astropy fitter.

    The same problem as `fit_stars` (with its ``weight`` on the squared
    residuals, given to the fitter as ``weights=sqrt(weight)``), for
    fitters that bring something of their own (bounds, robust losses).

    Parameters
    ----------
    model : `~astropy.modeling.Fittable2DModel`
        The shared model; a copy with each star's parameters is fitted.
    x, y, data, weight, params : ndarray
        As for `fit_stars`.
    fitter : astropy fitter instance
        Called as ``fitter(model, x, y, z, weights=w, **options)`` on the
        star's pixels of positive weight.
    options : dict, optional
        More keyword arguments of the fitter (``maxiter``...).

    Returns
    -------
    params : ndarray
        The fitted parameters, shape ``(n, n_params)``.
    ok : ndarray of bool
        `True` where the fit succeeded and its values are finite.
    """
    options = dict(options or {})
    # a copy of its own: the fitter keeps its last fit's information
    fitter = copy.deepcopy(fitter)
    params = np.array(params, dtype=float)
    ok = np.zeros(len(params), dtype=bool)
    for i in range(len(params)):
        use = weight[i] > 0
        if np.count_nonzero(use) <= params.shape[1]:
            continue
        star = model.copy()
        star.parameters = params[i]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                fitted = fitter(star, x[i, use], y[i, use], data[i, use],
                                weights=np.sqrt(weight[i, use]), **options)
            except (ValueError, np.linalg.LinAlgError):
                continue
        # a fit stopped at its iteration limit (the fitter's warning) has
        # moved towards the minimum: its values are kept, as photutils
        # keeps them; only a fit that raised or left non-finite values fails
        params[i] = fitted.parameters
        ok[i] = bool(np.all(np.isfinite(params[i])))
    return params, ok


def refit_stars(model, pixels, offsets, shapes, centers, fluxes, half, *,
                fitter=None, options=None):
    """
    Fit the flux and centre of each star with ``model`` on its fit box.

    Parameters
    ----------
    model : `~psfkit.photometry.ImagePSF`
        The ePSF (parameters ``flux, x_0, y_0``).
    pixels, offsets, shapes : as returned by `star_pixels`
        Of the stars to fit.
    centers : ndarray, shape (n, 2)
        The current ``(x, y)`` centres in cutout pixels, around which the
        fit boxes are cut.
    fluxes : ndarray, shape (n,)
        The current fluxes.
    half : int or tuple of two int
        Half the fit box size, ``(hy, hx)``.
    fitter : astropy fitter, optional
        `None` fits all stars at once (`fit_stars`); a fitter fits them
        one by one (`fit_stars_astropy`).
    options : dict, optional
        Keyword arguments of the fit (``maxiter``...).

    Returns
    -------
    fitted : ndarray, shape (n, 3)
        The fitted ``flux, x, y``.
    ok : ndarray of bool
        `False` for stars whose fit failed, had too few pixels, gave no
        positive flux or left its cutout.
    """
    x, y, data, weight = fit_boxes(pixels, offsets, shapes, centers, half)
    start = np.column_stack([fluxes, centers])
    options = dict(options or {})
    if fitter is None:
        fitted, ok = fit_stars(model, x, y, data, weight, start, **options)
    else:
        fitted, ok = fit_stars_astropy(model, x, y, data, weight, start,
                                       fitter=fitter, options=options)
    ok &= np.count_nonzero(weight, axis=1) > start.shape[1]
    with np.errstate(invalid="ignore"):
        ok &= ((fitted[:, 0] > 0) & (fitted[:, 1] >= -0.5)
               & (fitted[:, 1] <= shapes[:, 1] - 0.5)
               & (fitted[:, 2] >= -0.5)
               & (fitted[:, 2] <= shapes[:, 0] - 0.5))
    return fitted, ok
