"""
How well a PSF subtraction works: fake companions, signal-to-noise with the
small-sample statistics of Mawet et al. (2014), throughput and contrast
curves.

At separation ``r`` the annulus holds ``n = floor(2 pi r / fwhm)``
non-overlapping apertures of diameter ``fwhm``.  With ``x1`` the sum in the
aperture of interest and ``x2`` the sums in the ``n2 = n - 1`` others,
``SNR = (x1 - mean(x2)) / (std(x2) * sqrt(1 + 1/n2))`` follows a Student-t
distribution with ``n2 - 1`` degrees of freedom under the null hypothesis.
"""

from dataclasses import dataclass

from astropy.table import QTable
import numpy as np
from scipy import stats

from .._numerics.gaussian import SIGMA_PER_FWHM, integrated_gaussian_image
from ..utils import check_integer, check_positive, coerce_data
from ._geometry import check_center, rotate_offsets
from .adi import adi_subtract

__all__ = ["inject_planet", "aperture_sums", "SNRResult", "snr", "contrast_curve"]

def _gaussian_image(shape, x, y, flux, fwhm):
    """A pixel-integrated circular Gaussian of the given FWHM."""
    return integrated_gaussian_image(shape, x, y, flux, fwhm * SIGMA_PER_FWHM)


def inject_planet(data, position, flux, *, fwhm, parangs=None, center=None):
    """
    Add a Gaussian companion to an image or an ADI sequence.

    Parameters
    ----------
    data : array-like or masked array
        A ``(ny, nx)`` image or an ``(n_frames, ny, nx)`` cube.  Its mask is
        kept.
    position : tuple of float
        ``(x, y)`` of the companion in the derotated (sky) frame.
    flux : float
        Total flux of the companion.
    fwhm : float
        FWHM of the Gaussian PSF in pixels.
    parangs : array-like, optional
        Parallactic angles (degrees) of the frames of a cube: in frame ``i``
        the companion is rotated counter-clockwise by ``parangs[i]`` about
        ``center``.  Required for a cube.
    center : tuple of float, optional
        ``(x, y)`` of the star; default the image centre.

    Returns
    -------
    out : `~numpy.ndarray` or `~numpy.ma.MaskedArray`
        A copy of ``data`` with the companion added (masked if the input
        had masked values).

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.fitpsf import inject_planet
    >>> img = inject_planet(np.zeros((21, 21)), (11.0, 10.0), 100.0, fwhm=3.0)
    >>> round(float(img.sum()), 6)
    100.0
    """
    arr = coerce_data(data, name="data", ndim=(2, 3), allow_all_masked=True)
    flux = float(flux)
    if not np.isfinite(flux):
        msg = f"flux must be finite, got {flux}"
        raise ValueError(msg)
    fwhm = check_positive("fwhm", fwhm)
    pos = check_center("position", position, arr.shape[-2:])
    ctr = check_center("center", center, arr.shape[-2:])
    out = np.array(arr.data, dtype=float, copy=True)
    dx, dy = pos[0] - ctr[0], pos[1] - ctr[1]
    if out.ndim == 2:
        out += _gaussian_image(out.shape, pos[0], pos[1], flux, fwhm)
    else:
        if parangs is None:
            msg = "parangs must be given to inject a companion into a cube"
            raise ValueError(msg)
        angles = np.asarray(parangs, dtype=float).ravel()
        if angles.size != out.shape[0]:
            msg = (f"parangs must have one angle per frame ({out.shape[0]}), "
                   f"got {angles.size}")
            raise ValueError(msg)
        for i, ang in enumerate(angles):
            rx, ry = rotate_offsets(dx, dy, ang)
            out[i] += _gaussian_image(out.shape[1:], ctr[0] + rx, ctr[1] + ry,
                                      flux, fwhm)
    if arr.mask.any():
        return np.ma.MaskedArray(out, mask=arr.mask.copy())
    return out


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
        sx = (px[:, None] + sub[None, :] - x) ** 2
        sy = (py[:, None] + sub[None, :] - y) ** 2
        inside = (sy[:, None, :, None] + sx[None, :, None, :]) <= radius ** 2
        w = inside.mean(axis=(2, 3))
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


@dataclass
class SNRResult:
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
    >>> bool(res.snr > 5), res.n_apertures
    (True, 30)
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


def _annulus_noise(image, sep, fwhm, center):
    r, xs, ys = _ring_apertures((center[0] + sep, center[1]), center, fwhm)
    sums = aperture_sums(image, xs, ys, fwhm / 2.0)
    sums = sums[np.isfinite(sums)]
    if sums.size < 3:
        return np.nan, sums.size
    return float(sums.std(ddof=1) * np.sqrt(1.0 + 1.0 / sums.size)), sums.size


def contrast_curve(cube, parangs, fitter_class, *, fwhm, star_flux,
                   separations=None, n_delta=1.0, sigma=5.0, n_angles=3,
                   fake_snr=10.0, center=None, combine="median",
                   settings=None, executor=None):
    """
    Detection limit versus separation, corrected for the algorithm
    throughput measured with injected fake companions.

    The sequence is reduced with `~psfkit.fitpsf.adi_subtract`.  At each
    separation the noise is the small-sample standard deviation of the
    aperture sums in the annulus; the detection threshold for a
    false-positive fraction equal to that of ``sigma`` Gaussian sigma uses
    the Student-t quantile (Mawet et al. 2014).  Fake companions
    (``fake_snr`` times the noise) are then injected at ``n_angles``
    position angles per separation, the sequence is reduced again, and the
    throughput is the recovered over the injected aperture flux.

    Parameters
    ----------
    cube : array-like or masked array
        ``(n_frames, ny, nx)`` sequence.
    parangs : array-like
        Parallactic angles (degrees).
    fitter_class : type
        The fitter, for example `~psfkit.fitpsf.LOCI`.
    fwhm : float
        PSF FWHM in pixels.
    star_flux : float
        Total flux of the star, for contrast = companion / star flux.
    separations : array-like, optional
        Separations in pixels; default every ``2 fwhm`` from ``2 fwhm`` to
        ``fwhm`` inside the image edge.
    n_delta : float, optional
        Passed to `~psfkit.fitpsf.adi_subtract`.
    sigma : float, optional
        The detection level in Gaussian-equivalent sigma.
    n_angles : int, optional
        Fake companions per separation (one reduction per angle).
    fake_snr : float, optional
        Fake companion brightness in units of the local noise.
    center : tuple of float, optional
        ``(x, y)`` of the star; default the image centre.
    combine : {'median', 'mean'}, optional
        Passed to `~psfkit.fitpsf.adi_subtract`.
    settings : dict, optional
        Passed to `~psfkit.fitpsf.adi_subtract`.
    executor : optional
        Passed to `~psfkit.fitpsf.adi_subtract`.

    Returns
    -------
    curve : `~astropy.table.QTable`
        Columns ``separation``, ``n_apertures``, ``noise``, ``threshold``,
        ``throughput`` and ``contrast`` (the ``sigma`` detection limit as a
        flux ratio to the star).
    """
    fwhm = check_positive("fwhm", fwhm)
    star_flux = check_positive("star_flux", star_flux)
    sigma = check_positive("sigma", sigma)
    fake_snr = check_positive("fake_snr", fake_snr)
    n_angles = check_integer("n_angles", n_angles, minimum=1)
    data = coerce_data(cube, name="cube", ndim=3)
    shape = data.shape[1:]
    ctr = check_center("center", center, shape)
    if separations is None:
        edge = min(ctr[0], ctr[1], shape[1] - 1 - ctr[0], shape[0] - 1 - ctr[1])
        separations = np.arange(2 * fwhm, edge - fwhm + 1e-9, 2 * fwhm)
    seps = np.atleast_1d(np.asarray(separations, dtype=float))
    if seps.size == 0 or np.any(seps <= 0) or not np.all(np.isfinite(seps)):
        msg = f"separations must be positive and finite, got {separations!r}"
        raise ValueError(msg)
    kwargs = dict(n_delta=n_delta, fwhm=fwhm, combine=combine, center=ctr,
                  settings=settings, executor=executor)
    masked = data.masked()
    base = adi_subtract(masked, parangs, fitter_class, **kwargs).image
    unit_ap = aperture_sums(_gaussian_image((41, 41), 20.0, 20.0, 1.0, fwhm),
                            [20.0], [20.0], fwhm / 2.0)[0]
    noise = np.empty(seps.size)
    n_ap = np.empty(seps.size, dtype=int)
    for j, sep in enumerate(seps):
        noise[j], n_ap[j] = _annulus_noise(base, sep, fwhm, ctr)
    fpf = stats.norm.sf(sigma)
    with np.errstate(invalid="ignore"):
        tau = stats.t.isf(fpf, np.maximum(n_ap - 1, 1))
    threshold = tau * noise
    fake_flux = np.where(np.isfinite(noise), fake_snr * noise / unit_ap, 0.0)
    recovered = np.zeros((n_angles, seps.size))
    for a in range(n_angles):
        # spread the fakes of one reduction over position angle
        angles = 2 * np.pi * (a / n_angles + np.arange(seps.size) * 0.382)
        xs = ctr[0] + seps * np.cos(angles)
        ys = ctr[1] + seps * np.sin(angles)
        faked = masked
        for x, y, f in zip(xs, ys, fake_flux, strict=True):
            faked = inject_planet(faked, (x, y), f, fwhm=fwhm, parangs=parangs,
                                  center=ctr)
        img = adi_subtract(faked, parangs, fitter_class, **kwargs).image
        diff = np.ma.MaskedArray(img - base)
        recovered[a] = aperture_sums(diff, xs, ys, fwhm / 2.0)
    good = np.isfinite(recovered)
    count = good.sum(axis=0)
    mean_rec = np.where(good, recovered, 0.0).sum(axis=0) / np.maximum(count, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        throughput = np.where(count > 0, mean_rec / (fake_flux * unit_ap), np.nan)
        contrast = threshold / (np.clip(throughput, 1e-3, None) * star_flux
                                * unit_ap)
    table = QTable()
    table["separation"] = seps
    table["n_apertures"] = n_ap
    table["noise"] = noise
    table["threshold"] = threshold
    table["throughput"] = throughput
    table["contrast"] = contrast
    table.meta["sigma"] = sigma
    table.meta["fpf"] = float(fpf)
    table.meta["fwhm"] = fwhm
    return table
