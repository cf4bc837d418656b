"""Simulated angular-differential-imaging sequences."""

from astropy.table import QTable, Table
import astropy.units as u
import numpy as np

from .._numerics.gaussian import SIGMA_PER_FWHM, integrated_gaussian_image
from ..utils import as_pair, check_integer, get_rng, renamed_keyword
from ._inputs import finite, plain_values, positive

# the columns of a companion, with the unit of their plain values
_PLANET_COLUMNS = (("separation", u.pix), ("angle", u.deg), ("contrast", None))

__all__ = ["make_adi_sequence"]



def _planet_rows(planets):
    if planets is None:
        return [(12.0, 30.0, 2e-3)]
    if isinstance(planets, Table):
        for col, _ in _PLANET_COLUMNS:
            if col not in planets.colnames:
                msg = f"planets must have a {col!r} column"
                raise ValueError(msg)
        columns = [np.asarray(plain_values(f"planets column {col!r}",
                                           planets[col], unit), dtype=float)
                   for col, unit in _PLANET_COLUMNS]
        planets = list(zip(*columns, strict=True))
    rows = []
    for i, p in enumerate(planets):
        if isinstance(p, str) or not hasattr(p, "__len__") or len(p) != 3:
            msg = (f"planets[{i}] must be (separation, angle, contrast), got "
                   f"{p!r}")
            raise ValueError(msg)
        sep, angle, contrast = p
        rows.append((
            positive(f"planets[{i}] separation", sep, u.pix, strict=False),
            finite(f"planets[{i}] angle", angle, u.deg),
            positive(f"planets[{i}] contrast", contrast, strict=False)))
    return rows


@renamed_keyword(seed="random_state")
def make_adi_sequence(n_frames=20, shape=(64, 64), *, fwhm=4.0,
                      parang_range=(-40.0, 40.0), star_flux=1e5,
                      halo_fraction=0.2, n_speckles=80, speckle_fraction=1.0,
                      speckle_drift=1.0, strehl_variation=0.3, noise_std=1.0,
                      planets=None, mask_radius=None, random_state=None):
    """
    Simulate an ADI sequence: a star with a quasi-static speckle halo, field
    rotation, noise and companions with known positions and fluxes.

    Each frame holds, centred on the star (the image centre):

    - a Gaussian core and a smooth halo ``(1 + (r / 2 fwhm)**2)**-1.5``
      carrying ``halo_fraction`` of the stellar flux;
    - ``n_speckles`` speckles (Gaussians of the PSF width) fixed in the
      instrument frame, whose total is ``speckle_fraction`` of the halo
      flux; each speckle's brightness drifts linearly over the sequence by
      up to ``+-speckle_drift`` of its mean (quasi-static speckles);
    - all of the above scaled by a per-frame factor
      ``1 + strehl_variation * w`` (``w`` a smooth random sequence of unit
      standard deviation);
    - Gaussian noise of standard deviation ``noise_std``;
    - companions rotating with the field: in frame ``i`` a companion at
      sky offset ``(dx, dy)`` appears rotated counter-clockwise by
      ``parangs[i]``.

    Parameters
    ----------
    n_frames : int, optional
        Number of frames.
    shape : int or tuple of 2 int, optional
        The ``(ny, nx)`` frame shape.
    fwhm : float, optional
        FWHM of the core, speckles and companions (pixels).
    parang_range : tuple of 2 float, optional
        First and last parallactic angle (degrees, or an angle Quantity),
        evenly spaced.
    star_flux : float, optional
        Total flux of the star's core.
    halo_fraction, speckle_fraction : float, optional
        See above.
    n_speckles : int, optional
        Number of speckles, placed between ``fwhm`` from the star and the
        nearest frame edge (which must be farther than ``fwhm``).
    speckle_drift : float, optional
        Maximum relative linear drift of a speckle over the sequence.
    strehl_variation : float, optional
        Relative standard deviation of the frame-to-frame PSF brightness.
    noise_std : float, optional
        Standard deviation of the Gaussian noise.
    planets : sequence of (separation, angle, contrast) or Table, optional
        Companions: separation in pixels, angle in degrees counter-clockwise
        from +x in the derotated frame, flux ratio to ``star_flux``
        (separation and contrast non-negative).  A table needs those three
        columns.  Quantities (or columns with units) are converted: the
        separation must be in ``u.pix``, the angle may be any angle.
        Default: one companion at 12 pixels, 30 degrees, contrast 2e-3.
    mask_radius : float, optional
        If given, pixels closer than this to the star are NaN (a
        coronagraph).
    random_state : int or `numpy.random.Generator`, optional
        Seed or generator (see `~psfkit.utils.get_rng`); the same seed
        gives the same output.
    seed : int, optional
        Deprecated spelling of ``random_state``.

    Returns
    -------
    cube : `~numpy.ndarray`
        ``(n_frames, ny, nx)`` frames.
    parangs : `~numpy.ndarray`
        Parallactic angle of every frame (degrees).
    truth : `~astropy.table.QTable`
        One row per companion: ``x``, ``y`` (derotated frame),
        ``separation``, ``angle``, ``contrast`` and ``flux``.  ``meta``
        holds ``fwhm``, ``center`` (``(x, y)``), ``star_flux`` and
        ``noise_std``.

    Examples
    --------
    >>> from psfkit.datasets import make_adi_sequence
    >>> cube, parangs, truth = make_adi_sequence(n_frames=8, shape=(33, 33),
    ...                                          random_state=1)
    >>> cube.shape, parangs.shape, len(truth)
    ((8, 33, 33), (8,), 1)
    """

    n_frames = check_integer("n_frames", n_frames, minimum=1)
    ny, nx = as_pair("shape", shape, lower_bound=(4, True))
    fwhm = positive("fwhm", fwhm, u.pix)
    star_flux = positive("star_flux", star_flux)
    halo_fraction = positive("halo_fraction", halo_fraction, strict=False)
    speckle_fraction = positive("speckle_fraction", speckle_fraction,
                                strict=False)
    n_speckles = check_integer("n_speckles", n_speckles, minimum=0)
    speckle_drift = positive("speckle_drift", speckle_drift, strict=False)
    strehl_variation = positive("strehl_variation", strehl_variation,
                                strict=False)
    noise_std = positive("noise_std", noise_std, strict=False)
    mask_radius = positive("mask_radius", mask_radius, u.pix, allow_none=True)
    p0, p1 = (float(v) for v in as_pair(
        "parang_range", plain_values("parang_range", parang_range, u.deg),
        integer=False))
    rmax = min(nx - 1, ny - 1) / 2.0
    if n_speckles and rmax <= fwhm:
        msg = (f"shape {(ny, nx)} is too small for fwhm={fwhm:g}: the "
               f"speckles lie between fwhm and {rmax:g} pixels from the "
               "star; enlarge shape, lower fwhm or set n_speckles=0")
        raise ValueError(msg)
    rng = get_rng(random_state)
    rows = _planet_rows(planets)
    xc, yc = (nx - 1) / 2.0, (ny - 1) / 2.0
    parangs = np.linspace(p0, p1, n_frames)
    s = np.linspace(-1.0, 1.0, n_frames)

    yy, xx = np.mgrid[0:ny, 0:nx]
    r = np.hypot(xx - xc, yy - yc)
    halo = (1.0 + (r / (2 * fwhm)) ** 2) ** -1.5
    halo *= halo_fraction * star_flux / halo.sum()
    sigma = fwhm * SIGMA_PER_FWHM
    static = integrated_gaussian_image((ny, nx), xc, yc, star_flux, sigma) + halo

    sp_r = rng.uniform(fwhm, max(rmax, fwhm), n_speckles)
    sp_t = rng.uniform(0, 2 * np.pi, n_speckles)
    sp_w = rng.exponential(1.0, n_speckles) * (1.0 + (sp_r / (2 * fwhm)) ** 2) ** -1.5
    sp_w *= speckle_fraction * halo_fraction * star_flux / max(sp_w.sum(), 1e-300)
    blobs = np.stack([integrated_gaussian_image((ny, nx), xc + rr * np.cos(tt),
                                                yc + rr * np.sin(tt), 1.0, sigma)
                      for rr, tt in zip(sp_r, sp_t, strict=True)]) if n_speckles else \
        np.zeros((0, ny, nx))
    slopes = rng.uniform(-speckle_drift, speckle_drift, n_speckles)
    amps = sp_w[None, :] * np.clip(1.0 + slopes[None, :] * s[:, None], 0, None)

    # smooth brightness variations: a random walk, detrended, unit std
    walk = np.cumsum(rng.normal(size=n_frames))
    walk -= walk.mean()
    walk = walk / walk.std() if n_frames > 1 and walk.std() > 0 else walk * 0
    gain = np.clip(1.0 + strehl_variation * walk, 0.05, None)

    cube = (gain[:, None, None] * (static[None]
                                   + np.tensordot(amps, blobs, axes=(1, 0)))
            + rng.normal(0.0, noise_std, (n_frames, ny, nx)) * (noise_std > 0))

    table = QTable(names=("x", "y", "separation", "angle", "contrast", "flux"),
                   dtype=(float,) * 6)
    for sep, ang, contrast in rows:
        x = xc + sep * np.cos(np.deg2rad(ang))
        y = yc + sep * np.sin(np.deg2rad(ang))
        flux = contrast * star_flux
        # in frame i the companion is rotated by parangs[i] about the star
        t = np.deg2rad(parangs)
        dx, dy = x - xc, y - yc
        for i in range(n_frames):
            cube[i] += integrated_gaussian_image(
                (ny, nx), xc + np.cos(t[i]) * dx - np.sin(t[i]) * dy,
                yc + np.sin(t[i]) * dx + np.cos(t[i]) * dy, flux, sigma)
        table.add_row((x, y, sep, ang, contrast, flux))
    if mask_radius is not None:
        cube[:, r < mask_radius] = np.nan
    table.meta.update(fwhm=fwhm, center=(xc, yc), star_flux=star_flux,
                      noise_std=noise_std)
    return cube, parangs, table
