"""
How well a PSF subtraction works: fake companions, their throughput, and
contrast curves (detection limits versus separation).

The signal-to-noise tools (`snr`, `snr_map`, `aperture_sums`) live in
`psfkit.fitpsf.significance` and are importable from here too.
"""


from astropy.table import QTable
import numpy as np
from scipy import stats

from .._numerics.gaussian import SIGMA_PER_FWHM, integrated_gaussian_image
from ..utils import (
    check_integer,
    check_positive,
    coerce_data,
    renamed_keyword,
    resolve_executor,
    to_data_unit,
)
from ..utils import progress_bar as make_progress_bar
from ._geometry import angle_values, check_center, frame_angles, rotate_offsets
from .adi import adi_subtract
from .significance import (  # noqa: F401 - the former home of these names
    SNRResult,
    _ring_apertures,
    aperture_sums,
    snr,
    snr_map,
)
from .utils import united

__all__ = ["inject_planet", "contrast_curve"]

def _gaussian_image(shape, x, y, flux, fwhm):
    """A pixel-integrated circular Gaussian of the given FWHM."""
    return integrated_gaussian_image(shape, x, y, flux, fwhm * SIGMA_PER_FWHM)


def inject_planet(data, position, flux, *, fwhm, parangs=None, center=None):
    """
    Add a Gaussian companion to an image or an ADI sequence.

    Parameters
    ----------
    data : array-like, masked array, Quantity or NDData
        A ``(ny, nx)`` image or an ``(n_frames, ny, nx)`` cube.  Its mask is
        kept.
    position : tuple of float
        ``(x, y)`` of the companion in the derotated (sky) frame.
    flux : float or `~astropy.units.Quantity`
        Total flux of the companion, in the unit of ``data`` (a Quantity is
        converted to it).
    fwhm : float
        FWHM of the Gaussian PSF in pixels.
    parangs : array-like or `~astropy.units.Quantity`, optional
        Parallactic angles of the frames of a cube (degrees, or an angle
        Quantity): in frame ``i`` the companion is rotated
        counter-clockwise by ``parangs[i]`` about ``center``.  Required for
        a cube.
    center : tuple of float, optional
        ``(x, y)`` of the star; default the image centre.

    Returns
    -------
    out : `~numpy.ndarray`, `~numpy.ma.MaskedArray` or `~astropy.units.Quantity`
        A copy of ``data`` with the companion added (masked if the input
        had masked values).  For data with a unit, a Quantity in that unit
        with NaN where masked.

    Raises
    ------
    astropy.units.UnitsError
        If ``flux`` has a unit that does not convert to that of ``data``,
        or ``data`` has none.

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.fitpsf import inject_planet
    >>> img = inject_planet(np.zeros((21, 21)), (11.0, 10.0), 100.0, fwhm=3.0)
    >>> round(float(img.sum()), 6)
    100.0
    """
    arr = coerce_data(data, name="data", ndim=(2, 3), allow_all_masked=True)
    flux = float(to_data_unit("flux", flux, arr.unit))
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
        for i, ang in enumerate(frame_angles(parangs, out.shape[0])):
            rx, ry = rotate_offsets(dx, dy, ang)
            out[i] += _gaussian_image(out.shape[1:], ctr[0] + rx, ctr[1] + ry,
                                      flux, fwhm)
    if arr.unit is not None or arr.mask.any():
        return united(out, arr.mask.copy(), arr.unit)
    return out

def _annulus_noise(image, sep, fwhm, center):
    r, xs, ys = _ring_apertures((center[0] + sep, center[1]), center, fwhm)
    sums = aperture_sums(image, xs, ys, fwhm / 2.0)
    sums = sums[np.isfinite(sums)]
    if sums.size < 3:
        return np.nan, sums.size
    return float(sums.std(ddof=1) * np.sqrt(1.0 + 1.0 / sums.size)), sums.size


@renamed_keyword(n_threads="executor", client="executor")
def contrast_curve(cube, parangs, fitter_class, *, fwhm, star_flux,
                   separations=None, n_delta=1.0, sigma=5.0, n_angles=3,
                   fake_snr=10.0, center=None, combine="median",
                   settings=None, executor=None, progress_bar=False):
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
    parangs : array-like or `~astropy.units.Quantity`
        Parallactic angles (degrees, or an angle Quantity).
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
    progress_bar : bool, optional
        Show a progress bar over the ``n_angles + 1`` reductions.
    n_threads, client : optional
        Deprecated spellings of ``executor``.

    Returns
    -------
    curve : `~astropy.table.QTable`
        Columns ``separation``, ``n_apertures``, ``noise``, ``threshold``,
        ``throughput`` and ``contrast`` (the ``sigma`` detection limit as a
        flux ratio to the star).
    """
    executor = resolve_executor(executor)
    fwhm = check_positive("fwhm", fwhm)
    star_flux = check_positive("star_flux", star_flux)
    sigma = check_positive("sigma", sigma)
    fake_snr = check_positive("fake_snr", fake_snr)
    n_angles = check_integer("n_angles", n_angles, minimum=1)
    data = coerce_data(cube, name="cube", ndim=3)
    parangs = angle_values("parangs", parangs).ravel()
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
    with make_progress_bar(total=n_angles + 1, enabled=progress_bar,
                           desc="contrast curve", unit="reduction") as bar:
        base = adi_subtract(masked, parangs, fitter_class, **kwargs).image
        bar.update()
        table = _throughput_table(masked, base, parangs, fitter_class, seps,
                                  fwhm=fwhm, star_flux=star_flux, sigma=sigma,
                                  fake_snr=fake_snr, n_angles=n_angles,
                                  center=ctr, kwargs=kwargs, bar=bar)
    return table


def _throughput_table(masked, base, parangs, fitter_class, seps, *, fwhm,
                      star_flux, sigma, fake_snr, n_angles, center, kwargs,
                      bar):
    """The noise, fake-companion throughput and contrast of `contrast_curve`."""
    ctr = center
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
        bar.update()
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
    for name, fmt, text in (
            ("separation", ".4g", "distance from the star (pixels)"),
            ("n_apertures", "d", "noise apertures on the ring"),
            ("noise", ".4g", "small-sample noise of an aperture sum"),
            ("threshold", ".4g", f"{sigma:g}-sigma-equivalent detection limit "
             "of an aperture sum"),
            ("throughput", ".3f", "recovered / injected fake-companion flux"),
            ("contrast", ".3e", f"{sigma:g}-sigma contrast limit (flux ratio "
             "to the star)")):
        table[name].info.format = fmt
        table[name].info.description = text
    table.meta["sigma"] = sigma
    table.meta["fpf"] = float(fpf)
    table.meta["fwhm"] = fwhm
    return table
