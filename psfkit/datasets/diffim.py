"""Simulated template/science image pairs for image differencing."""

from dataclasses import dataclass, field

from astropy.nddata import NDData, VarianceUncertainty
from astropy.table import QTable
import astropy.units as u
import numpy as np

from .._numerics.gaussian import FWHM_PER_SIGMA, integrated_gaussian_image
from ..utils import (
    SummaryReprMixin,
    as_pair,
    check_integer,
    get_rng,
    renamed_keyword,
)
from ._inputs import plain_values, positive, value_range

# a star's footprint: the pixels within this many sigma of its centre (where
# its own profile exceeds 1.1% of its peak)
_FOOTPRINT_SIGMA = 3.0

__all__ = ["DiffimTruth", "make_diffim_pair"]



@dataclass(frozen=True, repr=False)
class DiffimTruth(SummaryReprMixin):
    """
    The known inputs of a simulated pair made by `make_diffim_pair`.

    Attributes
    ----------
    flux_scale : float
        Science flux divided by template flux (the true kernel sum when the
        template is convolved).
    background : `~numpy.ndarray`
        The true differential background ``science_sky - flux_scale *
        template_sky`` on every pixel.
    template_sky, science_sky : `~numpy.ndarray`
        The sky of each image.
    stars : `~astropy.table.QTable`
        ``x``, ``y``, ``flux`` (template), ``science_flux``, ``saturated``
        and ``masked``.  ``saturated`` is `True` if a pixel of the star's
        footprint holds the clipped value ``saturation_level`` in the
        science image; the footprint is the pixels whose centres lie
        within 3 sigma of the star's centre (the ellipse where its own
        profile exceeds about 1% of its peak), so a faint star close to a
        saturated one is flagged too.  ``masked`` is `True` for the stars
        covered by an injected bad-pixel region (whose pixels are zero,
        not clipped).
    transients : `~astropy.table.QTable`
        Point sources present only in the science image: ``x``, ``y``,
        ``flux`` and ``snr`` (optimal signal-to-noise ratio against the
        science sky noise).
    template_fwhm, science_fwhm : float
        The FWHM at the image centre.
    fwhm_variation : float
        Fractional change of the PSF widths from the centre to an edge.
    shape : tuple of int
        The image shape.
    """

    flux_scale: float
    background: np.ndarray
    template_sky: np.ndarray
    science_sky: np.ndarray
    stars: QTable
    transients: QTable
    template_fwhm: float
    science_fwhm: float
    fwhm_variation: float
    shape: tuple = field(default=(0, 0))

    def psf_sigma(self, which, x, y):
        """
        The Gaussian PSF widths ``(sigma_x, sigma_y)`` at ``(x, y)``.

        Parameters
        ----------
        which : {'template', 'science'}
            The image.
        x, y : float or array-like
            Pixel positions.

        Returns
        -------
        sigma_x, sigma_y : `~numpy.ndarray`
        """
        return _psf_sigma(which, np.asarray(x, float), np.asarray(y, float),
                          self.shape, self.template_fwhm, self.science_fwhm,
                          self.fwhm_variation)


def _psf_sigma(which, x, y, shape, template_fwhm, science_fwhm, variation):
    ny, nx = shape
    u = 2.0 * x / max(nx - 1, 1) - 1.0
    v = 2.0 * y / max(ny - 1, 1) - 1.0
    if which == "template":
        s0 = template_fwhm / FWHM_PER_SIGMA
        grow = 1.0 + 0.5 * variation * (u + v) / 2.0
        return s0 * grow, s0 * grow
    s0 = science_fwhm / FWHM_PER_SIGMA
    return s0 * (1.0 + variation * u), s0 * (1.0 + variation * v * v)


def _touches(pixels, x, y, sigma_x, sigma_y):
    """Whether any of ``pixels`` lies in each star's footprint."""
    hit = np.zeros(len(x), dtype=bool)
    if not pixels.any():
        return hit
    ny, nx = pixels.shape
    for k in range(len(x)):
        rx = _FOOTPRINT_SIGMA * sigma_x[k]
        ry = _FOOTPRINT_SIGMA * sigma_y[k]
        c0, c1 = max(int(np.ceil(x[k] - rx)), 0), min(int(x[k] + rx) + 1, nx)
        r0, r1 = max(int(np.ceil(y[k] - ry)), 0), min(int(y[k] + ry) + 1, ny)
        if c0 >= c1 or r0 >= r1:
            continue
        dy = (np.arange(r0, r1) - y[k])[:, None]
        dx = (np.arange(c0, c1) - x[k])[None, :]
        inside = (dx / rx) ** 2 + (dy / ry) ** 2 <= 1.0
        hit[k] = bool(np.any(pixels[r0:r1, c0:c1] & inside))
    return hit


@renamed_keyword(seed="random_state")
def make_diffim_pair(shape=(256, 256), *, n_stars=300, template_fwhm=2.5,
                     science_fwhm=3.5, fwhm_variation=0.1, flux_scale=1.2,
                     flux_range=(300.0, 3.0e5), template_sky=200.0,
                     science_sky=300.0, sky_gradient=(20.0, -10.0),
                     template_gain=4.0, science_gain=1.0, read_noise=5.0,
                     saturation_level=8.0e4, n_masked=3, n_transients=20,
                     transient_snr=(10.0, 30.0), random_state=None):
    """
    Simulate an aligned template/science pair with known differences.

    Both images show the same stars, with Gaussian PSFs whose widths vary
    across the image differently in each (so the matching kernel varies),
    a flux scale between them, different skies (the science sky has a
    linear gradient) and Gaussian noise of variance ``signal / gain +
    read_noise**2`` (the template is deeper through its larger gain).  The
    science image also has a few masked bad regions on stars, a bad column
    in the template, point-source transients, and saturated stars if
    ``saturation_level`` is lowered (pixels above it are clipped and
    masked; by default no star reaches it).

    Parameters
    ----------
    shape : int or tuple of 2 int, optional
        ``(ny, nx)`` of the images.
    n_stars : int, optional
        Number of stars (positions uniform over the image).
    template_fwhm, science_fwhm : float, optional
        FWHM (pixels) at the image centre.
    fwhm_variation : float, optional
        Fractional change of the PSF widths from the centre to an edge.
    flux_scale : float, optional
        Science flux / template flux.
    flux_range : tuple of 2 float, optional
        Template fluxes are drawn from ``dN/dF ~ F**-2`` in this
        ``(low, high)`` range.
    template_sky, science_sky : float, optional
        Sky levels at the image centre.
    sky_gradient : float or tuple of 2 float, optional
        Change of the science sky from the centre to the right and top
        edges (a scalar for both); the sky must stay non-negative.
    template_gain, science_gain : float, optional
        Signal divided by variance (electrons per count).
    read_noise : float, optional
        Read noise (counts) of each image.
    saturation_level : float, optional
        Science pixels above this value are clipped to it and masked.  The
        default is above every star (the brightest peak below about 3e4
        counts): lower it, to 3000 say, to saturate the cores of the few
        brightest stars.
    n_masked : int, optional
        Number of bright stars covered by a masked bad region in the
        science image.
    n_transients : int, optional
        Number of transients in the science image, at least 12 pixels
        apart and from the edges, off the stars (a small image holds few:
        lower it for images smaller than about 128 x 128).
    transient_snr : tuple of 2 float, optional
        The ``(low, high)`` range of their optimal signal-to-noise ratio
        (uniform; positive).
    random_state : int or `numpy.random.Generator`, optional
        Seed or generator (see `~psfkit.utils.get_rng`); the same seed
        gives the same output.
    seed : int, optional
        Deprecated spelling of ``random_state``.

    Returns
    -------
    template, science : `~astropy.nddata.NDData`
        Data with a ``VarianceUncertainty`` (the expected variance) and a
        boolean mask (`True` = bad).
    truth : `DiffimTruth`
        What was put in.

    Examples
    --------
    >>> from psfkit.datasets import make_diffim_pair
    >>> template, science, truth = make_diffim_pair((128, 128), n_stars=50,
    ...                                             random_state=1)
    >>> template.data.shape, truth.flux_scale, len(truth.transients)
    ((128, 128), 1.2, 20)
    """
    shape = as_pair("shape", shape, lower_bound=(16, True))
    n_stars = check_integer("n_stars", n_stars, minimum=0)
    n_masked = check_integer("n_masked", n_masked, minimum=0)
    n_transients = check_integer("n_transients", n_transients, minimum=0)
    template_fwhm = positive("template_fwhm", template_fwhm, u.pix)
    science_fwhm = positive("science_fwhm", science_fwhm, u.pix)
    flux_scale = positive("flux_scale", flux_scale)
    template_gain = positive("template_gain", template_gain)
    science_gain = positive("science_gain", science_gain)
    saturation_level = positive("saturation_level", saturation_level)
    template_sky = positive("template_sky", template_sky, strict=False)
    science_sky = positive("science_sky", science_sky, strict=False)
    read_noise = positive("read_noise", read_noise, strict=False)
    fmin, fmax = value_range("flux_range", flux_range)
    snr_low, snr_high = value_range("transient_snr", transient_snr)
    gradient = as_pair("sky_gradient", plain_values("sky_gradient",
                                                    sky_gradient),
                       integer=False)
    fwhm_variation = plain_values("fwhm_variation", fwhm_variation)
    if not 0 <= fwhm_variation < 0.5:
        msg = f"fwhm_variation must be in [0, 0.5), got {fwhm_variation}"
        raise ValueError(msg)
    if science_sky < abs(gradient[0]) + abs(gradient[1]):
        msg = (f"science_sky={science_sky:g} with sky_gradient={gradient} "
               "makes the sky negative at a corner; raise science_sky or "
               "lower sky_gradient")
        raise ValueError(msg)
    rng = get_rng(random_state)
    ny, nx = shape
    yy, xx = np.mgrid[0:ny, 0:nx].astype(float)
    frac_x = 2.0 * xx / max(nx - 1, 1) - 1.0
    frac_y = 2.0 * yy / max(ny - 1, 1) - 1.0
    sky_t = np.full(shape, float(template_sky))
    sky_s = science_sky + gradient[0] * frac_x + gradient[1] * frac_y

    x = rng.uniform(-0.5, nx - 0.5, n_stars)
    y = rng.uniform(-0.5, ny - 0.5, n_stars)
    flux = fmin / (1.0 - rng.uniform(0, 1, n_stars) * (1.0 - fmin / fmax))
    args = (shape, template_fwhm, science_fwhm, fwhm_variation)
    stars_t = integrated_gaussian_image(shape, x, y, flux,
                                        *_psf_sigma("template", x, y, *args))
    stars_s = integrated_gaussian_image(shape, x, y, flux * flux_scale,
                                        *_psf_sigma("science", x, y, *args))

    # transients: in the science image only, away from the edges and from
    # stars (so that their signal-to-noise ratio is the sky-limited one)
    sky_sigma = np.sqrt(sky_s / science_gain + read_noise ** 2)
    star_level = np.maximum.reduce([np.roll(stars_s, (dy, dx), (0, 1))
                                    for dy in (-3, 0, 3) for dx in (-3, 0, 3)])
    margin = 12
    free = (star_level < 0.5 * sky_sigma)
    free[:margin] = free[-margin:] = False
    free[:, :margin] = free[:, -margin:] = False
    free_idx = np.flatnonzero(free)
    tx = np.empty(0)
    ty = np.empty(0)
    if n_transients:
        # at least 12 pixels apart, so that each is detected on its own
        chosen = []
        for idx in rng.permutation(free_idx):
            r, c = divmod(int(idx), nx)
            if all((r - r2) ** 2 + (c - c2) ** 2 >= 144 for r2, c2 in chosen):
                chosen.append((r, c))
                if len(chosen) == n_transients:
                    break
        if len(chosen) < n_transients:
            msg = (f"cannot place n_transients={n_transients} transients at "
                   f"least 12 pixels apart, {margin} pixels from the edges "
                   f"and off the stars of a {ny} x {nx} image (found room "
                   f"for {len(chosen)}); lower n_transients (or n_stars) or "
                   "enlarge shape")
            raise ValueError(msg)
        pick = np.array(chosen)
        ty = pick[:, 0] + rng.uniform(-0.5, 0.5, n_transients)
        tx = pick[:, 1] + rng.uniform(-0.5, 0.5, n_transients)
    snr = rng.uniform(snr_low, snr_high, n_transients)
    tsx, tsy = _psf_sigma("science", tx, ty, *args)
    tvar = (sky_sigma ** 2).ravel()[np.round(ty).astype(int) * nx
                                    + np.round(tx).astype(int)]
    tflux = snr * np.sqrt(4.0 * np.pi * tsx * tsy * tvar)
    stars_s = stars_s + integrated_gaussian_image(shape, tx, ty, tflux, tsx, tsy)

    model_t = sky_t + stars_t
    model_s = sky_s + stars_s
    var_t = model_t / template_gain + read_noise ** 2
    var_s = model_s / science_gain + read_noise ** 2
    data_t = model_t + rng.normal(size=shape) * np.sqrt(var_t)
    data_s = model_s + rng.normal(size=shape) * np.sqrt(var_s)

    mask_s = data_s > saturation_level
    data_s = np.minimum(data_s, saturation_level)
    mask_t = np.zeros(shape, dtype=bool)
    bad_col = int(rng.integers(nx // 4, 3 * nx // 4))
    mask_t[:, bad_col] = True
    data_t[:, bad_col] += 5000.0
    order = np.argsort(flux)[::-1]
    inside = order[(x[order] > 5) & (x[order] < nx - 6) & (y[order] > 5)
                   & (y[order] < ny - 6)]
    masked = np.zeros(n_stars, dtype=bool)
    for k in inside[1:1 + n_masked]:
        r0, c0 = int(round(y[k])), int(round(x[k]))
        mask_s[r0 - 2:r0 + 3, c0 - 2:c0 + 3] = True
        data_s[r0 - 2:r0 + 3, c0 - 2:c0 + 3] = 0.0
        masked[k] = True

    stars = QTable({"x": x, "y": y, "flux": flux,
                    "science_flux": flux * flux_scale,
                    "saturated": _touches(data_s >= saturation_level, x, y,
                                          *_psf_sigma("science", x, y, *args)),
                    "masked": masked})
    transients = QTable({"x": tx, "y": ty, "flux": tflux, "snr": snr})
    truth = DiffimTruth(flux_scale=float(flux_scale),
                        background=sky_s - flux_scale * sky_t,
                        template_sky=sky_t, science_sky=sky_s, stars=stars,
                        transients=transients,
                        template_fwhm=float(template_fwhm),
                        science_fwhm=float(science_fwhm),
                        fwhm_variation=float(fwhm_variation), shape=shape)
    template = NDData(data_t, uncertainty=VarianceUncertainty(var_t),
                      mask=mask_t)
    science = NDData(data_s, uncertainty=VarianceUncertainty(var_s),
                     mask=mask_s)
    return template, science, truth
