"""
Gaussian profiles: FWHM/sigma conversion and the Gaussian integrated over
square pixels.

The pixel-integrated Gaussian is what a detector records from a Gaussian
star: the profile integrated over each pixel, not sampled at its centre
(sampling overestimates the peak of a narrow star and biases fitted
fluxes by about 1% at sigma = 1.5 px).  One implementation serves the PSF
model `~psfkit.photometry.IntegratedGaussianPRF`, the simulators in
`psfkit.datasets` and the fake companions of `psfkit.fitpsf`.
"""

from astropy.stats import gaussian_fwhm_to_sigma, gaussian_sigma_to_fwhm
import numpy as np
from scipy.special import erfc

__all__ = ["FWHM_PER_SIGMA", "SIGMA_PER_FWHM", "pixel_integral_1d",
           "integrated_gaussian", "integrated_gaussian_grid",
           "integrated_gaussian_image"]

#: FWHM / sigma of a Gaussian, 2 sqrt(2 ln 2) (astropy's constant)
FWHM_PER_SIGMA = float(gaussian_sigma_to_fwhm)
#: sigma / FWHM of a Gaussian
SIGMA_PER_FWHM = float(gaussian_fwhm_to_sigma)

_SQRT2 = np.sqrt(2.0)
_TWO_OVER_SQRTPI = 2.0 / np.sqrt(np.pi)


def pixel_integral_1d(d, sigma, jacobian=False):
    """
    Twice the unit Gaussian integrated over the pixel ``[d - 1/2, d + 1/2]``.

    Returns ``erf(u+) - erf(u-)`` written with ``erfc`` of the absolute
    offset, so that the far wings keep full relative precision (the
    difference of two ``erf`` values close to one would cancel).  With
    ``jacobian`` also returns its derivatives with respect to the offset
    ``d`` and to ``sigma`` (else `None` for both).
    """
    # the profile depends on |sigma| (a fitter may step through zero); the
    # sigma derivative below holds for either sign
    scale = 1.0 / (_SQRT2 * np.abs(sigma))
    ad = np.abs(d)
    value = erfc((ad - 0.5) * scale) - erfc((ad + 0.5) * scale)
    if not jacobian:
        return value, None, None
    up = (d + 0.5) * scale
    um = (d - 0.5) * scale
    gp = np.exp(-up * up)
    gm = np.exp(-um * um)
    d_offset = _TWO_OVER_SQRTPI * scale * (gp - gm)
    d_sigma = -_TWO_OVER_SQRTPI * (gp * up - gm * um) / sigma
    return value, d_offset, d_sigma


def _grid_integral_1d(d, sigma, jacobian=False, width=True):
    """
    `pixel_integral_1d` of pixels one unit apart along the last axis of
    ``d``: each pixel edge is shared by two pixels, so the error function
    (the costly part) is evaluated once per edge, ``n + 1`` times for
    ``n`` pixels instead of ``2 n``.  Without ``width`` the derivative by
    sigma is `None`.

    With ``E`` the complementary error function of each edge's absolute
    offset, signed as the edge (``H = sign * E``), a pixel's integral is
    ``H[k] - H[k+1]``, plus 2 for the pixel whose edges straddle the
    centre: the same far-wing precision as `pixel_integral_1d`.
    """
    scale = 1.0 / (_SQRT2 * np.abs(sigma))
    n = d.shape[-1]
    edges = np.empty(d.shape[:-1] + (n + 1,))
    np.subtract(d, 0.5, out=edges[..., :n])
    np.add(d[..., -1:], 0.5, out=edges[..., n:])
    edges *= scale
    right = edges >= 0
    h = erfc(np.abs(edges))
    np.negative(h, out=h, where=~right)
    value = h[..., :-1] - h[..., 1:]
    # (the edges increase along the axis: one pixel straddles the centre)
    value += 2.0 * (right[..., 1:] > right[..., :-1])
    if not jacobian:
        return value, None, None
    g = np.exp(-edges * edges)
    d_offset = (_TWO_OVER_SQRTPI * scale) * (g[..., 1:] - g[..., :-1])
    if not width:
        return value, d_offset, None
    g *= edges
    d_sigma = (-_TWO_OVER_SQRTPI / sigma) * (g[..., 1:] - g[..., :-1])
    return value, d_offset, d_sigma


def unit_spaced(coords):
    """Whether consecutive coordinates along the last axis differ by 1."""
    return coords.shape[-1] < 2 or bool(
        np.all(coords[..., 1:] - coords[..., :-1] == 1.0))


def integrated_gaussian(x, y, flux, x_0, y_0, sigma, *, jacobian=False):
    """
    Circular Gaussian integrated over square unit pixels.

    ``flux / 4 * ex * ey`` with ``ex = erf((dx + 1/2) / (sqrt2 sigma)) -
    erf((dx - 1/2) / (sqrt2 sigma))``.  All arguments broadcast.

    Returns
    -------
    values : ndarray
    derivs : list of ndarray or None
        With ``jacobian``, the derivatives with respect to
        (flux, x_0, y_0, sigma).
    """
    ex, dex, sex = pixel_integral_1d(x - x_0, sigma, jacobian)
    ey, dey, sey = pixel_integral_1d(y - y_0, sigma, jacobian)
    unit = 0.25 * ex * ey
    value = flux * unit
    if not jacobian:
        return value, None
    quarter_flux = 0.25 * flux
    derivs = [
        unit,
        -quarter_flux * dex * ey,
        -quarter_flux * ex * dey,
        quarter_flux * (sex * ey + ex * sey),
    ]
    return value, derivs


def integrated_gaussian_grid(cols, rows, flux, x_0, y_0, sigma, wanted=(),
                             *, width_scale=1.0):
    """
    `integrated_gaussian` on row-major pixel grids, as outer products.

    The profile is the product of a function of the column and one of the
    row, so the values and each derivative are one outer product of 1-D
    factors per pixel: a few times cheaper than evaluating on the pixels,
    and only the derivatives ``wanted`` are formed.

    Parameters
    ----------
    cols, rows : ndarray, shape (n, B, nx) and (n, B, ny)
        Column and row coordinates of ``B`` grids per source.
    flux, x_0, y_0, sigma : ndarray, shape (n, 1, 1)
    wanted : sequence of int, optional
        The derivatives to return, as indices into (flux, x_0, y_0,
        width).
    width_scale : float, optional
        The width parameter is ``width_scale * sigma`` (the derivative by
        the width is that by sigma divided by it).

    Returns
    -------
    values : ndarray, shape (n, B * ny * nx)
    jac : ndarray, shape (n, B * ny * nx, len(wanted)), or None
        A view of an array of shape ``(n, len(wanted), B * ny * nx)``
        (each source's derivatives contiguous, one after the other).

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit._numerics.gaussian import (integrated_gaussian,
    ...     integrated_gaussian_grid)
    >>> cols = np.arange(5.0)[None, None, :]
    >>> rows = np.arange(3.0)[None, None, :]
    >>> par = [np.full((1, 1, 1), v) for v in (10.0, 2.2, 0.9, 1.1)]
    >>> v, jac = integrated_gaussian_grid(cols, rows, *par, wanted=(1,))
    >>> y, x = np.mgrid[0:3, 0:5]
    >>> ref, derivs = integrated_gaussian(x, y, 10.0, 2.2, 0.9, 1.1,
    ...                                   jacobian=True)
    >>> bool(np.allclose(v[0], ref.ravel()))
    True
    >>> bool(np.allclose(jac[0, :, 0], derivs[1].ravel()))
    True
    """
    need = len(wanted) > 0
    width = 3 in wanted
    # (pixel grids share their edges: the error function once per edge)
    ex, dex, sex = (_grid_integral_1d(cols - x_0, sigma, need, width)
                    if unit_spaced(cols) else
                    pixel_integral_1d(cols - x_0, sigma, need))
    ey, dey, sey = (_grid_integral_1d(rows - y_0, sigma, need, width)
                    if unit_spaced(rows) else
                    pixel_integral_1d(rows - y_0, sigma, need))
    n = ex.shape[0]
    grids = max(ex.shape[1], ey.shape[1])
    ny, nx = ey.shape[2], ex.shape[2]
    size = grids * ny * nx
    quarter = 0.25 * flux
    col = ex * quarter
    # every output is one outer product of a row and a column factor per
    # grid; einsum forms them all in one pass (numpy's broadcast multiply
    # loops over rows only nx long, and is 1.5-3 times slower here)
    values = _outer(ey, col, grids).reshape(n, size)
    if not need:
        return values, None
    row_f = np.empty((n, len(wanted), grids, ny))
    col_f = np.empty((n, len(wanted), grids, nx))
    for k, which in enumerate(wanted):
        if which == 2:
            np.negative(dey, out=row_f[:, k])
        else:
            row_f[:, k] = ey
        if which == 0:
            np.multiply(ex, 0.25, out=col_f[:, k])
        elif which == 1:
            np.multiply(dex, -quarter, out=col_f[:, k])
        elif which == 2:
            col_f[:, k] = col
        else:
            np.multiply(sex, quarter, out=col_f[:, k])
    # source-major: each source's derivatives one after the other, each
    # contiguous, so that the sources of a group stacked with their
    # derivatives are one reshape away (no copy)
    jac = np.einsum("nkbi,nkbj->nkbij", row_f, col_f)
    for k, which in enumerate(wanted):
        if which == 3:
            # the width derivative has a second term (the row factor's)
            jac[:, k] += _outer(sey, col, grids)
            if width_scale != 1.0:
                jac[:, k] /= width_scale
    return values, np.swapaxes(jac.reshape(n, len(wanted), size), 1, 2)


def _outer(rows, cols, grids):
    """Outer products ``(n, B, ny, nx)`` of row and column factors."""
    n = rows.shape[0]
    if rows.shape[1] != grids or cols.shape[1] != grids:
        rows = np.broadcast_to(rows, (n, grids, rows.shape[2]))
        cols = np.broadcast_to(cols, (n, grids, cols.shape[2]))
    return np.einsum("nbi,nbj->nbij", rows, cols)


def integrated_gaussian_image(shape, x, y, flux, sigma_x, sigma_y=None, *,
                              extent=6.0):
    """
    The sum of pixel-integrated, axis-aligned Gaussians on an image.

    Each source is drawn in its own box reaching ``extent`` sigma from
    its centre (outside it the profile is below 1e-9 of the peak), as the
    outer product of its two 1-D pixel integrals; the boxes are
    accumulated into the image in chunks of sources, so the cost grows
    with the number of sources times the box area, not the image area.

    Parameters
    ----------
    shape : tuple of 2 int
        ``(ny, nx)``.
    x, y, flux : array-like
        Positions (pixel centres at integers) and total fluxes.
    sigma_x, sigma_y : float or array-like
        Widths in pixels (``sigma_y`` defaults to ``sigma_x``).
    extent : float, optional
        Half-size of each source's box in units of its sigma.

    Returns
    -------
    image : ndarray, shape ``shape``

    Examples
    --------
    >>> from psfkit._numerics.gaussian import integrated_gaussian_image
    >>> image = integrated_gaussian_image((41, 41), 20.0, 20.0, 100.0, 2.0)
    >>> round(float(image.sum()), 6)
    100.0
    """
    x, y, flux = (np.atleast_1d(np.asarray(v, dtype=float)) for v in (x, y, flux))
    x, y, flux = np.broadcast_arrays(x, y, flux)
    sx = np.broadcast_to(np.asarray(sigma_x, dtype=float), x.shape)
    sy = sx if sigma_y is None else np.broadcast_to(
        np.asarray(sigma_y, dtype=float), x.shape)
    ny, nx = shape
    image = np.zeros(ny * nx)
    if x.size == 0:
        return image.reshape(shape)
    hx = int(np.ceil(extent * np.max(np.abs(sx)))) + 1
    hy = int(np.ceil(extent * np.max(np.abs(sy)))) + 1
    offx = np.arange(-hx, hx + 1)
    offy = np.arange(-hy, hy + 1)
    chunk = max(1, 2_000_000 // (offx.size * offy.size))
    for start in range(0, x.size, chunk):
        sl = slice(start, start + chunk)
        cx = np.rint(x[sl]).astype(np.int64)
        cy = np.rint(y[sl]).astype(np.int64)
        cols = cx[:, None] + offx
        rows = cy[:, None] + offy
        gx = 0.5 * _grid_integral_1d(cols - x[sl, None], sx[sl, None])[0]
        gy = 0.5 * _grid_integral_1d(rows - y[sl, None], sy[sl, None])[0]
        gx *= (cols >= 0) & (cols < nx)
        gy *= (rows >= 0) & (rows < ny)
        stamps = (gy * flux[sl, None])[:, :, None] * gx[:, None, :]
        flat = (np.clip(rows, 0, ny - 1)[:, :, None] * nx
                + np.clip(cols, 0, nx - 1)[:, None, :])
        image += np.bincount(flat.ravel(), weights=stamps.ravel(),
                             minlength=ny * nx)
    return image.reshape(shape)
