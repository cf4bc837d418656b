"""
Signal-to-noise of point sources in PSF-subtracted images, with the
small-sample statistics of Mawet et al. (2014).

At separation ``r`` the annulus holds ``n = floor(2 pi r / fwhm)``
non-overlapping apertures of diameter ``fwhm``.  With ``x1`` the sum in the
aperture of interest and ``x2`` the sums in the ``n2 = n - 1`` others,
``SNR = (x1 - mean(x2)) / (std(x2) * sqrt(1 + 1/n2))`` follows a Student-t
distribution with ``n2 - 1`` degrees of freedom under the null hypothesis.
`snr` measures one position, `snr_map` every pixel.
"""

from dataclasses import dataclass

import numpy as np
from scipy import ndimage, stats

from ..utils import SummaryReprMixin, check_integer, check_positive, coerce_data
from ._geometry import check_center

__all__ = ["aperture_sums", "SNRResult", "snr", "snr_map"]


def aperture_sums(image, xs, ys, radius, *, subsample=5, min_coverage=0.5):
    """
    Sums in circular apertures, with sub-pixel sampling of the edges.

    Masked pixels are replaced by the mean of the unmasked part of the
    aperture; apertures with less than ``min_coverage`` of their area
    unmasked (or inside the image) give NaN.

    Parameters
    ----------
    image : array-like or masked array
        The ``(ny, nx)`` image.
    xs, ys : array-like
        Aperture centres.
    radius : float
        Aperture radius in pixels.
    subsample : int, optional
        Each pixel is split into ``subsample**2`` parts to compute the
        overlap with the aperture.
    min_coverage : float, optional
        The minimum usable fraction of the aperture area.

    Returns
    -------
    sums : `~numpy.ndarray`

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.fitpsf import aperture_sums
    >>> s = aperture_sums(np.ones((30, 30)), [15.0], [15.0], 5.0, subsample=20)
    >>> bool(abs(s[0] - np.pi * 25) < 0.2)
    True
    """
    img = coerce_data(image, name="image", ndim=2, allow_all_masked=True)
    radius = check_positive("radius", radius)
    subsample = check_integer("subsample", subsample, minimum=1)
    xs = np.atleast_1d(np.asarray(xs, dtype=float))
    ys = np.atleast_1d(np.asarray(ys, dtype=float))
    if xs.shape != ys.shape:
        msg = (f"xs and ys must have the same shape (one x and one y per "
               f"aperture), got {xs.shape} and {ys.shape}")
        raise ValueError(msg)
    ny, nx = img.shape
    data = img.filled(0.0)
    good = ~img.mask
    sub = (np.arange(subsample) + 0.5) / subsample - 0.5
    half = int(np.ceil(radius)) + 1
    area = np.pi * radius ** 2
    out = np.full(xs.shape, np.nan)
    for k, (x, y) in enumerate(zip(xs, ys, strict=True)):
        ix, iy = int(round(x)), int(round(y))
        px = np.arange(ix - half, ix + half + 1)
        py = np.arange(iy - half, iy + half + 1)
        w = _pixel_weights(px - x, py - y, radius, sub)
        valid = (py[:, None] >= 0) & (py[:, None] < ny) & (px[None, :] >= 0) \
            & (px[None, :] < nx)
        cy = np.clip(py, 0, ny - 1)
        cx = np.clip(px, 0, nx - 1)
        usable = valid & good[np.ix_(cy, cx)]
        wu = w * usable
        total_w = w.sum()
        if total_w == 0 or wu.sum() < min_coverage * total_w:
            continue
        vals = data[np.ix_(cy, cx)]
        out[k] = (wu * vals).sum() * (total_w / wu.sum()) * (area / total_w)
    return out


def _pixel_weights(dx, dy, radius, sub):
    """
    The fraction of each pixel inside a circle, on a sub-pixel grid.

    ``dx`` and ``dy`` are the pixel-centre offsets from the circle's centre
    along x and y; the result has shape ``(dy.size, dx.size)``.
    """
    sx = (dx[:, None] + sub[None, :]) ** 2
    sy = (dy[:, None] + sub[None, :]) ** 2
    inside = (sy[:, None, :, None] + sx[None, :, None, :]) <= radius ** 2
    return inside.mean(axis=(2, 3))


@dataclass(frozen=True, repr=False)
class SNRResult(SummaryReprMixin):
    """
    Signal-to-noise of a point source with small-sample statistics.

    Attributes
    ----------
    snr : float
        ``(x1 - mean(x2)) / (std(x2) * sqrt(1 + 1/n2))``.
    fpf : float
        False-positive fraction: the Student-t (``n2 - 1`` dof) tail
        probability of ``snr``.
    signal : float
        Aperture sum at the position minus the mean of the others.
    noise : float
        ``std(x2) * sqrt(1 + 1/n2)``.
    n_apertures : int
        The number ``n2`` of noise apertures used.
    """

    snr: float
    fpf: float
    signal: float
    noise: float
    n_apertures: int


def _ring_apertures(position, center, fwhm):
    dx, dy = position[0] - center[0], position[1] - center[1]
    r = float(np.hypot(dx, dy))
    n = int(np.floor(2 * np.pi * r / fwhm))
    theta0 = np.arctan2(dy, dx)
    theta = theta0 + 2 * np.pi * np.arange(n) / max(n, 1)
    return r, center[0] + r * np.cos(theta), center[1] + r * np.sin(theta)


def snr(image, position, fwhm, *, center=None, exclude_neighbors=False):
    """
    Signal-to-noise of a source with the statistics of Mawet et al. (2014).

    Parameters
    ----------
    image : array-like or masked array
        The PSF-subtracted ``(ny, nx)`` image.
    position : tuple of float
        ``(x, y)`` of the source.
    fwhm : float
        The FWHM in pixels (the aperture diameter).
    center : tuple of float, optional
        ``(x, y)`` of the star; default the image centre.
    exclude_neighbors : bool, optional
        Leave out the two apertures next to the source (which may hold the
        negative wings that ADI leaves around a companion).

    Returns
    -------
    result : `SNRResult`

    Raises
    ------
    ValueError
        If the source is too close to the star for at least three noise
        apertures, or too few noise apertures are usable.

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.fitpsf import inject_planet, snr
    >>> rng = np.random.default_rng(3)
    >>> img = inject_planet(rng.normal(size=(61, 61)), (45.0, 30.0), 60.0,
    ...                     fwhm=3.0)
    >>> res = snr(img, (45.0, 30.0), 3.0)
    >>> print(f"SNR {res.snr:.2f}, FPF {res.fpf:.1e}, {res.n_apertures} apertures")
    SNR 9.59, FPF 8.4e-11, 30 apertures
    """
    img = coerce_data(image, name="image", ndim=2)
    fwhm = check_positive("fwhm", fwhm)
    ctr = check_center("center", center, img.shape)
    pos = check_center("position", position, img.shape)
    r, xs, ys = _ring_apertures(pos, ctr, fwhm)
    sums = aperture_sums(img.masked(), xs, ys, fwhm / 2.0)
    if xs.size < 4:
        msg = (f"position is too close to the star (r = {r:.2f} pixels): "
               f"fewer than three noise apertures of diameter {fwhm} fit")
        raise ValueError(msg)
    if not np.isfinite(sums[0]):
        msg = "the aperture at position is mostly masked or outside the image"
        raise ValueError(msg)
    others = sums[2:-1] if exclude_neighbors else sums[1:]
    others = others[np.isfinite(others)]
    n2 = others.size
    if n2 < 3:
        msg = f"only {n2} usable noise apertures at r = {r:.2f}; need at least 3"
        raise ValueError(msg)
    signal = float(sums[0] - others.mean())
    noise = float(others.std(ddof=1) * np.sqrt(1.0 + 1.0 / n2))
    value = signal / noise if noise > 0 else np.inf * np.sign(signal)
    fpf = float(stats.t.sf(value, n2 - 1))
    return SNRResult(snr=float(value), fpf=fpf, signal=signal, noise=noise,
                     n_apertures=int(n2))


def _aperture_sum_grid(img, radius, oversample, subsample=5,
                       min_coverage=0.5):
    """
    Aperture sums, as `aperture_sums` gives them, on a grid ``oversample``
    times finer than the pixels: element ``[j * k + b, i * k + a]`` is the
    sum in the aperture centred on ``(x, y) = (i + a / k, j + b / k)``.
    Masked pixels are replaced by the aperture's unmasked mean; NaN where
    less than ``min_coverage`` of the aperture is usable.
    """
    k = oversample
    sub = (np.arange(subsample) + 0.5) / subsample - 0.5
    half = int(np.ceil(radius)) + 1
    offsets = np.arange(-half, half + 1, dtype=float)
    good = (~img.mask).astype(float)
    values = img.filled(0.0) * good
    ny, nx = img.shape
    grid = np.empty((ny * k, nx * k))
    for b in range(k):
        for a in range(k):
            kernel = _pixel_weights(offsets - a / k, offsets - b / k, radius,
                                    sub)
            weighted = ndimage.correlate(values, kernel, mode="constant")
            coverage = ndimage.correlate(good, kernel, mode="constant")
            ok = coverage >= min_coverage * kernel.sum()
            with np.errstate(invalid="ignore", divide="ignore"):
                grid[b::k, a::k] = np.where(
                    ok, weighted / coverage * np.pi * radius ** 2, np.nan)
    return grid


def snr_map(image, fwhm, *, center=None, exclude_neighbors=False):
    """
    The signal-to-noise of a point source at every pixel (Mawet et al. 2014).

    Each pixel is treated as `snr` treats a position: its aperture (diameter
    ``fwhm``) against the other apertures on its ring around the star.
    The aperture sums are computed once on a grid four times finer than
    the pixels (correlations of the image with the aperture) and read at
    the ring positions by bilinear interpolation, so a whole map costs
    about as much as a few thousand calls of `snr`; the value at a pixel
    agrees with `snr` there to a few hundredths (in units of the noise).
    Pixels whose ring has fewer than half of its apertures usable (mostly
    outside the image, or masked) are masked: a noise from a few apertures
    on one side of the field is not worth a map.

    Parameters
    ----------
    image : array-like or masked array
        The PSF-subtracted ``(ny, nx)`` image.
    fwhm : float
        The FWHM in pixels (the aperture diameter).
    center : tuple of float, optional
        ``(x, y)`` of the star; default the image centre.
    exclude_neighbors : bool, optional
        Leave out the two apertures next to each position (see `snr`).

    Returns
    -------
    snr : `~numpy.ma.MaskedArray`
        The SNR of every pixel; masked where it is undefined (closer to the
        star than four apertures fit, fewer than three or than half of the
        ring's noise apertures usable, or a mostly masked aperture).

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.fitpsf import inject_planet, snr, snr_map
    >>> rng = np.random.default_rng(3)
    >>> img = inject_planet(rng.normal(size=(61, 61)), (45.0, 30.0), 60.0,
    ...                     fwhm=3.0)
    >>> smap = snr_map(img, 3.0)
    >>> print(f"map {smap[30, 45]:.2f}, snr() {snr(img, (45, 30), 3.0).snr:.2f}")
    map 9.58, snr() 9.59
    >>> [int(i) for i in np.unravel_index(np.argmax(smap), smap.shape)]
    [30, 45]
    """
    img = coerce_data(image, name="image", ndim=2)
    fwhm = check_positive("fwhm", fwhm)
    ctr = check_center("center", center, img.shape)
    k = 4
    grid = _aperture_sum_grid(img, fwhm / 2.0, k)
    sums = grid[::k, ::k]
    ny, nx = img.shape
    yy, xx = np.mgrid[0:ny, 0:nx]
    dx, dy = xx - ctr[0], yy - ctr[1]
    r = np.hypot(dx, dy)
    theta0 = np.arctan2(dy, dx)
    n_ring = np.floor(2 * np.pi * r / fwhm).astype(int)
    out = np.full(img.shape, np.nan)
    for n in np.unique(n_ring[n_ring >= 4]):
        rows, cols = np.nonzero(n_ring == n)
        theta = theta0[rows, cols][:, None] + 2 * np.pi * np.arange(1, n) / n
        rad = r[rows, cols][:, None]
        coords = [k * (ctr[1] + rad * np.sin(theta)),
                  k * (ctr[0] + rad * np.cos(theta))]
        others = ndimage.map_coordinates(grid, coords, order=1,
                                         mode="constant", cval=np.nan)
        if exclude_neighbors:
            others = others[:, 1:-1]
        finite = np.isfinite(others)
        n2 = finite.sum(axis=1)
        filled = np.where(finite, others, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = filled.sum(axis=1) / n2
            var = (np.where(finite, others - mean[:, None], 0.0) ** 2).sum(
                axis=1) / (n2 - 1)
            noise = np.sqrt(var * (1.0 + 1.0 / n2))
            value = (sums[rows, cols] - mean) / noise
        value[(n2 < 3) | (n2 < 0.5 * others.shape[1])] = np.nan
        out[rows, cols] = value
    return np.ma.masked_invalid(out)


