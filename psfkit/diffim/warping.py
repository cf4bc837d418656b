"""
Astrometric alignment: resample an image onto another image's pixel grid.

`warp_image` maps every pixel of the target grid through the two WCSs
(target pixel -> sky -> source pixel) and interpolates the source image
there with a Lanczos-3 kernel, separable in x and y, six taps per axis, the
weights normalised to unit sum so that a flat image stays flat.  The values
are multiplied by the Jacobian determinant of the pixel mapping, so that the
flux of a source is conserved when the pixel scales differ.  Masks and
variances are carried: an output pixel is masked when any source pixel it
draws on is masked or lies outside the source image, and the variance is
resampled with the same weights (see `warp_image` for why).

The engine (`lanczos_resample`) works on plain arrays and evaluates all
pixels at once, in chunks of rows to bound the memory.
"""

from dataclasses import dataclass

from astropy.nddata import NDData, VarianceUncertainty
import numpy as np

from ..utils import (
    SummaryReprMixin,
    as_pair,
    check_integer,
    coerce_data,
    copy_meta,
)
from ._images import variance_of
from ._select import sky_and_noise

__all__ = [
    "WarpResult",
    "align_template",
    "lanczos_kernel",
    "lanczos_resample",
    "pixel_mapping",
    "wcs_differ",
    "warp_image",
]

_ORDER = 3
_CHUNK = 262_144  # output pixels per vectorised batch


def lanczos_kernel(t, order=_ORDER):
    """
    The Lanczos kernel ``sinc(t) sinc(t / order)`` for ``|t| < order``.

    Parameters
    ----------
    t : array-like
        Offsets in pixels.
    order : int, optional
        The number of lobes (3 for Lanczos-3).

    Returns
    -------
    weights : `~numpy.ndarray`

    Examples
    --------
    >>> from psfkit.diffim import lanczos_kernel
    >>> lanczos_kernel([0.0, 1.0, 0.5]).round(4).tolist()
    [1.0, 0.0, 0.6079]
    """
    t = np.asarray(t, dtype=float)
    return np.where(np.abs(t) < order, np.sinc(t) * np.sinc(t / order), 0.0)


def _axis_weights(coord, order):
    """
    Lower tap index ``(n,)`` and normalised weights ``(n, 2 order)``.

    With ``t = f + m`` (``f`` the fractional part, ``m`` the integer tap
    offsets), ``sin(pi t) = (-1)**m sin(pi f)`` and ``sin(pi t / order)``
    follows from the angle-addition formula, so three trigonometric calls
    per position give all the weights.
    """
    base = np.floor(coord)
    f = coord - base
    m = (order - 1) - np.arange(2 * order)
    sign = np.where(m % 2 == 0, 1.0, -1.0) * order / np.pi ** 2
    # trigonometric functions dominate the cost: one sine and a square root
    # (theta = pi f / order lies in [0, pi / order), so its cosine is >= 0)
    sa = np.sin(np.pi / order * f)
    ca = np.sqrt(1.0 - sa * sa)
    s1 = sa * (3.0 - 4.0 * sa * sa) if order == 3 else np.sin(np.pi * f)
    a = (s1 * sa)[:, None]
    b = (s1 * ca)[:, None]
    t2 = (f[:, None] + m) ** 2
    on_pixel = f == 0
    with np.errstate(invalid="ignore", divide="ignore"):
        w = (a * (sign * np.cos(np.pi * m / order))
             + b * (sign * np.sin(np.pi * m / order))) / t2
    if on_pixel.any():
        w[on_pixel] = 0.0
        w[on_pixel, order - 1] = 1.0
    w /= w.sum(axis=1, keepdims=True)
    return base.astype(np.intp) - (order - 1), w


def _outside(base, coord_on_pixel, order, n):
    """Positions whose non-zero taps leave ``[0, n - 1]``."""
    lo = np.where(coord_on_pixel, base + (order - 1), base)
    hi = np.where(coord_on_pixel, base + (order - 1), base + 2 * order - 1)
    return (lo < 0) | (hi > n - 1)


def lanczos_resample(image, x, y, *, mask=None, variance=None, order=_ORDER):
    """
    Interpolate an image at arbitrary positions with a Lanczos kernel.

    Parameters
    ----------
    image : `~numpy.ndarray`
        2-D image (masked pixels may hold any value).
    x, y : `~numpy.ndarray`
        Positions (column, row; pixel centres at integers), any shape.
        Positions within ``1e-6`` pixel of an integer are taken as that
        integer: there the kernel reduces to the pixel itself.
    mask : `~numpy.ndarray` of bool, optional
        Bad pixels of ``image``.
    variance : `~numpy.ndarray`, optional
        Variance of ``image``, resampled with the same weights.
    order : int, optional
        Lanczos order; ``2 order`` taps per axis.

    Returns
    -------
    values : `~numpy.ndarray`
        Interpolated values, the shape of ``x`` (0 where masked).
    out_mask : `~numpy.ndarray` of bool
        `True` where a tap of non-zero weight falls on a masked pixel or
        outside the image (the value there is not usable).
    out_variance : `~numpy.ndarray` or None
        The resampled variance.

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.diffim import lanczos_resample
    >>> yy, xx = np.mgrid[0:20, 0:20].astype(float)
    >>> plane = 2.0 * xx + 3.0 * yy
    >>> v, bad, _ = lanczos_resample(plane, np.array([7.3]), np.array([9.6]))
    >>> round(float(v[0]), 2), bool(bad[0])
    (43.4, False)
    """
    image = np.asarray(image, dtype=float)
    if image.ndim != 2:
        msg = f"image must be a 2-D array, got shape {image.shape}"
        raise ValueError(msg)
    order = check_integer("order", order, minimum=1)
    ny, nx = image.shape
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.shape != y.shape:
        msg = f"x and y must have the same shape, got {x.shape} and {y.shape}"
        raise ValueError(msg)
    shape = x.shape
    x = x.ravel()
    y = y.ravel()
    bad_in = (np.zeros(image.shape, dtype=bool) if mask is None
              else np.asarray(mask, dtype=bool))
    any_bad = bool(bad_in.any())
    img = np.where(bad_in, 0.0, image).ravel() if any_bad else image.ravel()
    var = None
    if variance is not None:
        var = np.asarray(variance, dtype=float)
        var = (np.where(bad_in, 0.0, var) if any_bad else var).ravel()
    bad_flat = bad_in.ravel()
    finite = np.isfinite(x) & np.isfinite(y)
    x = np.where(finite, x, -10.0 * order)
    y = np.where(finite, y, -10.0 * order)
    # snap to integers what WCS round-off moved off them
    for c in (x, y):
        r = np.round(c)
        near = np.abs(c - r) < 1e-6
        c[near] = r[near]
    values = np.empty(x.size)
    out_bad = np.empty(x.size, dtype=bool)
    out_var = None if var is None else np.empty(x.size)
    taps = np.arange(2 * order)
    for lo in range(0, x.size, _CHUNK):
        sl = slice(lo, min(x.size, lo + _CHUNK))
        bx, wx = _axis_weights(x[sl], order)
        by, wy = _axis_weights(y[sl], order)
        bad = (_outside(bx, x[sl] == np.floor(x[sl]), order, nx)
               | _outside(by, y[sl] == np.floor(y[sl]), order, ny))
        cols = np.clip(bx[:, None] + taps, 0, nx - 1)
        rows = np.clip(by[:, None] + taps, 0, ny - 1) * nx
        acc = np.zeros(len(bx))
        acc_var = None if var is None else np.zeros(len(bx))
        for a in range(2 * order):
            idx = rows[:, a, None] + cols
            acc += wy[:, a] * np.einsum("nb,nb->n", wx, np.take(img, idx))
            if var is not None:
                acc_var += wy[:, a] * np.einsum("nb,nb->n", wx,
                                                np.take(var, idx))
            if any_bad:
                # a tap of zero weight carries no information
                hit = (np.take(bad_flat, idx) & (wx != 0)).any(axis=1)
                bad |= hit & (wy[:, a] != 0)
        values[sl] = acc
        out_bad[sl] = bad
        if out_var is not None:
            out_var[sl] = np.maximum(acc_var, 0.0)
    out_bad |= ~finite
    values[out_bad] = 0.0
    if out_var is not None:
        out_var[out_bad] = 0.0
        out_var = out_var.reshape(shape)
    return values.reshape(shape), out_bad.reshape(shape), out_var


def _wcs_of(name, wcs):
    if wcs is None:
        msg = f"{name} has no WCS: give an NDData with a wcs to warp"
        raise ValueError(msg)
    for attr in ("pixel_to_world_values", "world_to_pixel_values"):
        if not hasattr(wcs, attr):
            msg = (f"{name} WCS must provide {attr} (the astropy APE 14 "
                   f"interface), got {type(wcs).__name__}")
            raise TypeError(msg)
    return wcs


def _exact_mapping(source_wcs, target_wcs, x, y):
    world = target_wcs.pixel_to_world_values(x, y)
    sx, sy = source_wcs.world_to_pixel_values(*world)
    return np.asarray(sx, dtype=float), np.asarray(sy, dtype=float)


def pixel_mapping(source_wcs, target_wcs, target_shape, *, step=16,
                  tolerance=1e-3):
    """
    Source pixel coordinates of every pixel of a target grid.

    The WCS transformations are evaluated exactly on every ``step``-th
    row and column (and the last ones) and interpolated in between with a
    bicubic spline, which is much faster for large images than
    transforming every pixel; the interpolation is checked against the
    exact mapping at 256 random pixels and the exact mapping is used
    everywhere when it errs by more than ``tolerance`` pixels (a mapping
    with sharp features).

    Parameters
    ----------
    source_wcs, target_wcs : WCS
        Any object with ``pixel_to_world_values`` and
        ``world_to_pixel_values`` (astropy's APE 14 interface), such as
        ``astropy.wcs.WCS``.
    target_shape : tuple of int
        ``(ny, nx)`` of the target grid.
    step : int, optional
        Spacing of the exactly transformed grid; 1 transforms every pixel.
    tolerance : float, optional
        Largest accepted interpolation error, in pixels.

    Returns
    -------
    x, y : `~numpy.ndarray`
        Source pixel positions, shape ``target_shape``.

    Examples
    --------
    >>> from astropy.wcs import WCS
    >>> from psfkit.diffim import pixel_mapping
    >>> w = WCS(naxis=2)
    >>> w.wcs.ctype = ['RA---TAN', 'DEC--TAN']
    >>> w.wcs.cdelt = [-1e-4, 1e-4]
    >>> w2 = w.deepcopy()
    >>> w2.wcs.crpix = [3.0, -1.0]  # target grid offset by (3, -1) pixels
    >>> x, y = pixel_mapping(w, w2, (100, 120))
    >>> round(float(x[10, 20]), 6), round(float(y[10, 20]), 6)
    (17.0, 11.0)
    """
    ny, nx = as_pair("target_shape", target_shape, lower_bound=(1, True))
    step = check_integer("step", step, minimum=1)
    if step == 1 or ny < 4 * step or nx < 4 * step:
        yy, xx = np.mgrid[0:ny, 0:nx].astype(float)
        return _exact_mapping(source_wcs, target_wcs, xx, yy)
    from scipy.interpolate import RectBivariateSpline

    gy = np.unique(np.append(np.arange(0, ny, step), ny - 1)).astype(float)
    gx = np.unique(np.append(np.arange(0, nx, step), nx - 1)).astype(float)
    mx, my = np.meshgrid(gx, gy)
    sx, sy = _exact_mapping(source_wcs, target_wcs, mx, my)
    if not (np.all(np.isfinite(sx)) and np.all(np.isfinite(sy))):
        yy, xx = np.mgrid[0:ny, 0:nx].astype(float)
        return _exact_mapping(source_wcs, target_wcs, xx, yy)
    fx = RectBivariateSpline(gy, gx, sx, kx=3, ky=3, s=0)
    fy = RectBivariateSpline(gy, gx, sy, kx=3, ky=3, s=0)
    rng = np.random.default_rng(12345)
    ty = rng.uniform(0, ny - 1, 256)
    tx = rng.uniform(0, nx - 1, 256)
    ex, ey = _exact_mapping(source_wcs, target_wcs, tx, ty)
    err = np.hypot(fx(ty, tx, grid=False) - ex, fy(ty, tx, grid=False) - ey)
    if not np.all(err <= tolerance):
        yy, xx = np.mgrid[0:ny, 0:nx].astype(float)
        return _exact_mapping(source_wcs, target_wcs, xx, yy)
    rows = np.arange(ny, dtype=float)
    cols = np.arange(nx, dtype=float)
    return fx(rows, cols), fy(rows, cols)


def wcs_differ(source_wcs, target_wcs, target_shape, *, tolerance=1e-3):
    """
    Whether two WCSs map a grid differently by more than ``tolerance`` pixels.

    The check maps a coarse grid of target pixels (the corners, the centre
    and the edge midpoints) to the source grid and compares them with
    themselves.

    Parameters
    ----------
    source_wcs, target_wcs : WCS
        APE 14 WCS objects, or `None` (then they are taken as equal).
    target_shape : tuple of int
        ``(ny, nx)`` of the target grid.
    tolerance : float, optional
        Largest offset, in pixels, still counted as equal.

    Returns
    -------
    differ : bool

    Examples
    --------
    >>> from astropy.wcs import WCS
    >>> from psfkit.diffim import wcs_differ
    >>> w = WCS(naxis=2)
    >>> w.wcs.ctype = ['RA---TAN', 'DEC--TAN']
    >>> w.wcs.cdelt = [-1e-4, 1e-4]
    >>> w2 = w.deepcopy()
    >>> w2.wcs.crpix = [1.5, 1.0]
    >>> wcs_differ(w, w.deepcopy(), (64, 64)), wcs_differ(w, w2, (64, 64))
    (False, True)
    """
    if source_wcs is None or target_wcs is None:
        return False
    ny, nx = target_shape
    gx, gy = np.meshgrid([0.0, (nx - 1) / 2, nx - 1.0],
                         [0.0, (ny - 1) / 2, ny - 1.0])
    world = target_wcs.pixel_to_world_values(gx, gy)
    sx, sy = source_wcs.world_to_pixel_values(*world)
    offset = np.hypot(np.asarray(sx) - gx, np.asarray(sy) - gy)
    return bool(not np.all(offset <= tolerance))


@dataclass(frozen=True, repr=False)
class WarpResult(SummaryReprMixin):
    """
    The outcome of `warp_image`.

    Attributes
    ----------
    image : `~astropy.nddata.NDData`
        The resampled image on the target grid, with a
        ``VarianceUncertainty``, the mask, the unit, and the target WCS.
    x, y : `~numpy.ndarray`
        The source pixel position of every target pixel.
    jacobian : `~numpy.ndarray`
        ``|det d(source pixel) / d(target pixel)|``, the factor applied to
        conserve flux.
    """

    image: NDData
    x: np.ndarray
    y: np.ndarray
    jacobian: np.ndarray


def _jacobian(x, y):
    if min(x.shape) < 2:
        return np.ones(x.shape)
    dxdr, dxdc = np.gradient(x)
    dydr, dydc = np.gradient(y)
    return np.abs(dxdc * dydr - dxdr * dydc)


def warp_image(image, target_wcs, target_shape, *, source_wcs=None,
               variance=None, mask=None, order=_ORDER):
    """
    Resample an image onto the pixel grid of another WCS (Lanczos kernel).

    Parameters
    ----------
    image : array-like or `~astropy.nddata.NDData`
        The image to warp; an ``NDData`` brings its WCS, mask, uncertainty
        and unit.
    target_wcs : WCS
        The WCS of the output grid (APE 14 interface).
    target_shape : tuple of int
        ``(ny, nx)`` of the output grid.
    source_wcs : WCS, optional
        The WCS of ``image``; required unless ``image`` carries one.
    variance : array-like, optional
        The variance of ``image`` (takes precedence over its uncertainty);
        without either the output has no uncertainty.
    mask : array-like of bool, optional
        Extra bad pixels of ``image``.
    order : int, optional
        The Lanczos order (3: six taps per axis).

    Returns
    -------
    result : `WarpResult`

    Notes
    -----
    Values are interpolated at the mapped positions and multiplied by the
    Jacobian determinant of the mapping, which conserves the flux of sources
    (the sum over a source is the same before and after) when the pixel
    scales differ.  Resampling correlates neighbouring output pixels.  The
    variance is resampled with the same weights (times the squared
    Jacobian), which keeps the variance of a sum over several pixels, such as
    a convolution with a matching kernel, right; the variance of a single
    output pixel is lower by the factor ``sum(w**2)`` (between ~0.4 and 1
    depending on the sub-pixel offset), which that choice does not show.

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.nddata import NDData
    >>> from astropy.wcs import WCS
    >>> from psfkit.diffim import warp_image
    >>> w = WCS(naxis=2)
    >>> w.wcs.ctype = ['RA---TAN', 'DEC--TAN']
    >>> w.wcs.cdelt = [-1e-4, 1e-4]
    >>> w.wcs.crpix = [32, 32]
    >>> yy, xx = np.mgrid[0:64, 0:64]
    >>> star = 100 * np.exp(-((xx - 30.2)**2 + (yy - 33.7)**2) / 8)
    >>> shifted = w.deepcopy()
    >>> shifted.wcs.crpix = [34.5, 31]  # the target grid is offset
    >>> out = warp_image(NDData(star, wcs=w), shifted, (64, 64))
    >>> y0, x0 = np.unravel_index(np.argmax(out.image.data), (64, 64))
    >>> int(x0), int(y0)  # the star at (30.2, 33.7) moves by (+2.5, -1)
    (33, 33)
    >>> bool(abs(out.image.data.sum() / star.sum() - 1) < 1e-4)
    True
    """
    arr = coerce_data(image, name="image", mask=mask)
    if source_wcs is None:
        source_wcs = arr.wcs
    source_wcs = _wcs_of("image", source_wcs)
    target_wcs = _wcs_of("target", target_wcs)
    target_shape = as_pair("target_shape", target_shape, lower_bound=(1, True))
    var = variance_of(arr, variance)
    bad = arr.mask if var is None else arr.mask | ~np.isfinite(var)
    x, y = pixel_mapping(source_wcs, target_wcs, target_shape)
    values, out_bad, out_var = lanczos_resample(arr.data, x, y, mask=bad,
                                                variance=var, order=order)
    jac = _jacobian(x, y)
    values = values * jac
    uncertainty = None
    if out_var is not None:
        uncertainty = VarianceUncertainty(out_var * jac ** 2, copy=False)
    out = NDData(values, uncertainty=uncertainty, mask=out_bad, unit=arr.unit,
                 wcs=target_wcs, meta=copy_meta(arr.meta))
    return WarpResult(image=out, x=x, y=y, jacobian=jac)


def align_template(template, science, warp=None, *, order=_ORDER):
    """
    Bring a template onto the science pixel grid when their WCSs differ.

    Parameters
    ----------
    template, science : array-like or `~astropy.nddata.NDData`
        The images; their WCSs come from ``NDData.wcs``.
    warp : bool or None, optional
        `None`: warp only when both images carry a WCS and the WCSs (or
        the shapes) differ.  `True`: always warp (both WCSs required).
        `False`: never warp.
    order : int, optional
        The Lanczos order.

    Returns
    -------
    template : array-like or `~astropy.nddata.NDData`
        ``template`` itself, or its warped version (an ``NDData`` on the
        science grid with variance and mask).  A template without an
        uncertainty gets the variance of its noise measured before the
        warp (after it, the correlation the resampling brings in would
        hide part of it).
    warped : bool
        Whether it was warped.

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.diffim import align_template
    >>> image = np.ones((32, 32))
    >>> align_template(image, image)[1]
    False
    """
    if warp not in (None, True, False):
        msg = f"warp must be None, True or False, got {warp!r}"
        raise ValueError(msg)
    if warp is False:
        return template, False
    t_wcs = getattr(template, "wcs", None) if isinstance(template, NDData) else None
    s_wcs = getattr(science, "wcs", None) if isinstance(science, NDData) else None
    if warp is None and (t_wcs is None or s_wcs is None):
        return template, False
    if warp:
        _wcs_of("template", t_wcs)
        _wcs_of("science", s_wcs)
    s_shape = np.shape(science.data if isinstance(science, NDData) else science)
    t_shape = np.shape(template.data if isinstance(template, NDData)
                       else template)
    if (warp is None and tuple(s_shape) == tuple(t_shape)
            and not wcs_differ(t_wcs, s_wcs, s_shape)):
        return template, False
    result = warp_image(template, s_wcs, s_shape, order=order)
    out = result.image
    if out.uncertainty is None:
        # resampling correlates neighbouring pixels, which hides part of
        # the noise from an estimate on the warped image (from differences
        # of adjacent pixels): the noise is measured before, and carried
        # through the warp as a resampled variance would be (the weights
        # sum to 1, times the squared Jacobian)
        arr = coerce_data(template, name="template")
        noise = sky_and_noise(arr.data, arr.mask, "template",
                              require_noise=False)[1]
        if noise > 0:
            out.uncertainty = VarianceUncertainty(
                noise ** 2 * result.jacobian ** 2, copy=False)
    return out, True
