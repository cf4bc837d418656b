"""Simulated template/science image pairs for image differencing."""

from dataclasses import dataclass, field

from astropy.nddata import NDData, VarianceUncertainty
from astropy.table import QTable
import numpy as np

from .._numerics.gaussian import FWHM_PER_SIGMA, integrated_gaussian_image
from ..utils import (
    SummaryReprMixin,
    as_pair,
    check_integer,
    check_positive,
    get_rng,
)

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
        (any pixel saturated in the science image) and ``masked``
        (covered by an injected bad-pixel region).
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


def make_diffim_pair(shape=(256, 256), *, n_stars=300, template_fwhm=2.5,
                     science_fwhm=3.5, fwhm_variation=0.1, flux_scale=1.2,
                     flux_range=(300.0, 3.0e5), template_sky=200.0,
                     science_sky=300.0, sky_gradient=(20.0, -10.0),
                     template_gain=4.0, science_gain=1.0, read_noise=5.0,
                     saturation_level=8.0e4, n_masked=3, n_transients=20,
                     transient_snr=(10.0, 30.0), random_state=None,
                     seed=None):
    """
    Simulate an aligned template/science pair with known differences.

    Both images show the same stars, with Gaussian PSFs whose widths vary
    across the image differently in each (so the matching kernel varies),
    a flux scale between them, different skies (the science sky has a
    linear gradient) and Gaussian noise of variance ``signal / gain +
    read_noise**2`` (the template is deeper through its larger gain).  The
    science image also has saturated stars (pixels above
    ``saturation_level`` are clipped and masked), a few masked bad regions
    on stars, a bad column in the template, and point-source transients.

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
    flux_range : tuple of float, optional
        Template fluxes are drawn from ``dN/dF ~ F**-2`` in this range.
    template_sky, science_sky : float, optional
        Sky levels at the image centre.
    sky_gradient : tuple of float, optional
        Change of the science sky from the centre to the right and top
        edges.
    template_gain, science_gain : float, optional
        Signal divided by variance (electrons per count).
    read_noise : float, optional
        Read noise (counts) of each image.
    saturation_level : float, optional
        Science pixels above this value are clipped and masked.
    n_masked : int, optional
        Number of bright stars covered by a masked bad region in the
        science image.
    n_transients : int, optional
        Number of transients in the science image.
    transient_snr : tuple of float, optional
        Range of their optimal signal-to-noise ratio (uniform).
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
    for name, value in (("template_fwhm", template_fwhm),
                        ("science_fwhm", science_fwhm),
                        ("flux_scale", flux_scale),
                        ("template_gain", template_gain),
                        ("science_gain", science_gain),
                        ("saturation_level", saturation_level)):
        check_positive(name, value)
    fmin, fmax = (check_positive("flux_range", f) for f in flux_range)
    if not 0 <= fwhm_variation < 0.5:
        msg = f"fwhm_variation must be in [0, 0.5), got {fwhm_variation}"
        raise ValueError(msg)
    rng = get_rng(random_state, seed=seed)
    ny, nx = shape
    yy, xx = np.mgrid[0:ny, 0:nx].astype(float)
    u = 2.0 * xx / max(nx - 1, 1) - 1.0
    v = 2.0 * yy / max(ny - 1, 1) - 1.0
    sky_t = np.full(shape, float(template_sky))
    sky_s = science_sky + sky_gradient[0] * u + sky_gradient[1] * v

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
        if free_idx.size < n_transients:
            msg = "the image is too crowded to place the transients"
            raise ValueError(msg)
        # at least 12 pixels apart, so that each is detected on its own
        chosen = []
        for idx in rng.permutation(free_idx):
            r, c = divmod(int(idx), nx)
            if all((r - r2) ** 2 + (c - c2) ** 2 >= 144 for r2, c2 in chosen):
                chosen.append((r, c))
                if len(chosen) == n_transients:
                    break
        if len(chosen) < n_transients:
            msg = "the image is too small to place the transients apart"
            raise ValueError(msg)
        pick = np.array(chosen)
        ty = pick[:, 0] + rng.uniform(-0.5, 0.5, n_transients)
        tx = pick[:, 1] + rng.uniform(-0.5, 0.5, n_transients)
    snr = rng.uniform(transient_snr[0], transient_snr[1], n_transients)
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

    rows = np.clip(np.round(y).astype(int), 0, ny - 1)
    cols = np.clip(np.round(x).astype(int), 0, nx - 1)
    stars = QTable({"x": x, "y": y, "flux": flux,
                    "science_flux": flux * flux_scale,
                    "saturated": (model_s[rows, cols] + 3 * np.sqrt(var_s[rows, cols])
                                  > saturation_level),
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
