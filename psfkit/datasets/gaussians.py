"""Images of elliptical Gaussian sources with known positions and fluxes."""

from astropy.table import QTable, Table
import astropy.units as u
import numpy as np

from .._numerics.gaussian import integrated_gaussian_image
from ..utils import as_pair, check_integer, get_rng, renamed_keyword
from ._inputs import plain_values

__all__ = ["make_gaussian_sources", "make_random_gaussians"]

_TRUNCATE = 8.0  # sources are drawn out to this many sigma from their centre


def _column(table, name, unit=None, default=None):
    """A column as finite floats in ``unit`` (see `plain_values`)."""
    if name not in table.colnames:
        if default is None:
            msg = f"source_table must have a {name!r} column"
            raise ValueError(msg)
        return np.full(len(table), default, dtype=float)
    label = f"source_table column {name!r}"
    values = np.asarray(plain_values(label, table[name], unit), dtype=float)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        msg = (f"{label} must be finite, got {values[bad[0]]} in row "
               f"{bad[0]}")
        raise ValueError(msg)
    return values


def _flux_unit(table, name):
    """The unit of a flux-like column, or `None`."""
    col = table[name]
    unit = getattr(col, "unit", None)
    return None if unit in (None, u.dimensionless_unscaled) else unit


def make_gaussian_sources(shape, source_table, oversample=None):
    """
    Make an image containing 2-D elliptical Gaussian sources.

    By default each source is integrated over every pixel, as a detector
    records it, so that the image matches
    `~psfkit.photometry.IntegratedGaussianPRF` and fitted fluxes are
    unbiased (sampling at pixel centres instead overestimates the peak of
    a narrow star and biases fitted fluxes by about 1% at sigma = 1.5 px).
    Each source is evaluated only on the pixels within 8 sigma of its
    centre, so the cost grows with the number of sources, not with the
    image area times the number of sources.

    Parameters
    ----------
    shape : int or tuple of 2 int
        The ``(ny, nx)`` shape of the output image.
    source_table : `~astropy.table.Table`
        One row per source with columns ``x_mean``, ``y_mean`` (pixel
        coordinates, ``(0, 0)`` the centre of the first pixel),
        ``x_stddev``, ``y_stddev``, optional ``theta`` (radians,
        counter-clockwise from the +x axis; default 0), and either
        ``flux`` (the total flux) or ``amplitude`` (the peak value of the
        continuous profile).  If both are present ``flux`` is used.
        Columns with units are converted: positions and widths must be in
        pixels (``u.pix``), ``theta`` may be any angle, and the unit of
        ``flux`` or ``amplitude`` is that of the image.  Every value must
        be finite.
    oversample : int, optional
        `None` (default) integrates over each pixel: exactly (with error
        functions) for circular sources and sources aligned with the axes
        (``theta`` a multiple of 90 degrees), by Gauss-Legendre quadrature
        with enough nodes for the narrowest width otherwise.  An integer
        samples each pixel on an ``oversample x oversample`` sub-grid and
        averages (``1``: the value at the pixel centre, as psfkit 0.1 did by
        default).

    Returns
    -------
    image : `~numpy.ndarray` or `~astropy.units.Quantity`
        The image, of float64; a Quantity in the unit of the ``flux`` (or
        ``amplitude``) column if that has one.

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.table import Table
    >>> from psfkit.datasets import make_gaussian_sources
    >>> sources = Table()
    >>> sources['flux'] = [700., 800.]
    >>> sources['x_mean'] = [12., 17.]
    >>> sources['y_mean'] = [15., 15.]
    >>> sources['x_stddev'] = [2., 2.]
    >>> sources['y_stddev'] = [2., 2.]
    >>> image = make_gaussian_sources((32, 32), sources)
    >>> print(f"{image.sum():.1f} {image[15, 12]:.3f}")
    1500.0 28.740
    >>> sampled = make_gaussian_sources((32, 32), sources, oversample=1)
    >>> print(f"{sampled[15, 12]:.3f}")
    29.251
    """
    ny, nx = as_pair("shape", shape, lower_bound=(0, False))
    if oversample is not None:
        oversample = check_integer("oversample", oversample, minimum=1)
    if not isinstance(source_table, Table):
        msg = "source_table must be an astropy Table"
        raise TypeError(msg)
    which = "flux" if "flux" in source_table.colnames else "amplitude"
    if which not in source_table.colnames:
        msg = "source_table must have a 'flux' or an 'amplitude' column"
        raise ValueError(msg)
    unit = _flux_unit(source_table, which)
    image = np.zeros((ny, nx))
    if len(source_table) == 0:
        return image if unit is None else image * unit

    x0 = _column(source_table, "x_mean", u.pix)
    y0 = _column(source_table, "y_mean", u.pix)
    sx = _column(source_table, "x_stddev", u.pix)
    sy = _column(source_table, "y_stddev", u.pix)
    theta = _column(source_table, "theta", u.rad, default=0.0)
    if np.any(sx <= 0) or np.any(sy <= 0):
        msg = "source_table x_stddev and y_stddev must be positive"
        raise ValueError(msg)
    flux = _column(source_table, which, unit)
    if which == "amplitude":
        flux = flux * (2.0 * np.pi * sx * sy)

    rotated = np.ones(len(x0), dtype=bool)
    if oversample is None:
        # a quarter turn swaps the widths: still separable, integrated exactly
        quarter = theta / (np.pi / 2)
        turns = np.rint(quarter)
        # a circular source looks the same at any angle
        rotated = (np.abs(quarter - turns) > 1e-12) & (sx != sy)
        odd = (turns % 2 == 1) & ~rotated
        wx = np.where(odd, sy, sx)
        wy = np.where(odd, sx, sy)
        aligned = ~rotated
        image += integrated_gaussian_image(
            (ny, nx), x0[aligned], y0[aligned], flux[aligned], wx[aligned],
            wy[aligned], extent=_TRUNCATE)
    for i in np.flatnonzero(rotated):
        _add_sampled(image, x0[i], y0[i], flux[i], sx[i], sy[i], theta[i],
                     _nodes(oversample, min(sx[i], sy[i])))
    return image if unit is None else image * unit


def _nodes(oversample, sigma):
    """Sub-pixel offsets and weights (summing to 1) over ``[-1/2, 1/2]``."""
    if oversample is not None:
        return ((np.arange(oversample) + 0.5) / oversample - 0.5,
                np.full(oversample, 1.0 / oversample))
    # Gauss-Legendre is exact for polynomials of degree 2n - 1; a Gaussian
    # across one pixel needs more nodes the narrower it is (1e-7 relative
    # accuracy down to sigma = 0.25 px)
    n = int(np.clip(np.ceil(4.0 / sigma), 4, 16))
    points, weights = np.polynomial.legendre.leggauss(n)
    return points / 2.0, weights / 2.0


def _add_sampled(image, x0, y0, flux, sx, sy, theta, nodes):
    """Add one rotated Gaussian, averaged over sub-pixel ``nodes``."""
    ny, nx = image.shape
    offsets, weights = nodes
    cost, sint = np.cos(theta), np.sin(theta)
    a = cost**2 / (2 * sx**2) + sint**2 / (2 * sy**2)
    # (counter-clockwise from +x: the major axis of x_stddev > y_stddev
    # at 45 degrees runs along y = x, as astropy's Gaussian2D)
    b = np.sin(2 * theta) * (1.0 / (2 * sx**2) - 1.0 / (2 * sy**2)) / 2.0
    c = sint**2 / (2 * sx**2) + cost**2 / (2 * sy**2)
    radius = _TRUNCATE * max(sx, sy)
    xlo = max(int(np.floor(x0 - radius)), 0)
    xhi = min(int(np.ceil(x0 + radius)) + 1, nx)
    ylo = max(int(np.floor(y0 - radius)), 0)
    yhi = min(int(np.ceil(y0 + radius)) + 1, ny)
    if xlo >= xhi or ylo >= yhi:
        return
    n = offsets.size
    dx = ((np.arange(xlo, xhi)[:, None] + offsets).ravel() - x0)[None, :]
    dy = ((np.arange(ylo, yhi)[:, None] + offsets).ravel() - y0)[:, None]
    g = np.exp(-(a * dx**2 + 2 * b * dx * dy + c * dy**2))
    g = g.reshape(yhi - ylo, n, xhi - xlo, n)
    g = np.einsum("injm,n,m->ij", g, weights, weights)
    image[ylo:yhi, xlo:xhi] += flux / (2.0 * np.pi * sx * sy) * g


@renamed_keyword(seed="random_state")
def make_random_gaussians(n_sources, flux_range, xmean_range, ymean_range,
                          xstddev_range, ystddev_range, random_state=None, *,
                          amplitude_range=None):
    """
    Make a table of Gaussian sources with uniformly random parameters.

    Parameters
    ----------
    n_sources : int
        The number of sources.
    flux_range : tuple of 2 float or `~astropy.units.Quantity`
        The ``(low, high)`` range of the total fluxes.  Ignored (and may be
        `None`) when ``amplitude_range`` is given.  The unit of a Quantity
        is carried to the column.
    xmean_range, ymean_range : tuple of 2 float
        The ranges of the centre positions (pixels; a Quantity must be in
        ``u.pix``).
    xstddev_range, ystddev_range : tuple of 2 float
        The ranges of the standard deviations along x and y (pixels; a
        Quantity must be in ``u.pix``).
    random_state : int or `numpy.random.Generator`, optional
        Seed or generator (see `~psfkit.utils.get_rng`); the same seed
        gives the same table.
    amplitude_range : tuple of 2 float or `~astropy.units.Quantity`, optional
        Draw peak amplitudes instead of total fluxes.
    seed : int, optional
        Deprecated spelling of ``random_state``.

    Returns
    -------
    table : `~astropy.table.QTable`
        Columns ``flux`` (or ``amplitude``), ``x_mean``, ``y_mean``,
        ``x_stddev``, ``y_stddev`` and ``theta`` (radians, uniform in
        ``[0, pi)``).

    Examples
    --------
    >>> from psfkit.datasets import make_random_gaussians
    >>> t = make_random_gaussians(3, (100, 1000), (0, 50), (0, 50),
    ...                           (1, 2), (1, 2), random_state=0)
    >>> t.colnames
    ['flux', 'x_mean', 'y_mean', 'x_stddev', 'y_stddev', 'theta']
    """
    n_sources = check_integer("n_sources", n_sources, minimum=0)
    rng = get_rng(random_state)
    table = QTable()

    def draw(name, rng_range, unit=u.pix):
        lo, hi = as_pair(name, plain_values(name, rng_range, unit),
                         integer=False)
        if hi < lo:
            msg = f"{name} must be (low, high) with low <= high, got {rng_range}"
            raise ValueError(msg)
        return rng.uniform(lo, hi, n_sources)

    def draw_flux(name, rng_range):
        # a flux range keeps its unit
        unit = getattr(rng_range, "unit", None)
        values = draw(name, rng_range, unit)
        return values if unit is None else values * unit

    if amplitude_range is not None:
        table["amplitude"] = draw_flux("amplitude_range", amplitude_range)
    else:
        table["flux"] = draw_flux("flux_range", flux_range)
    table["x_mean"] = draw("xmean_range", xmean_range)
    table["y_mean"] = draw("ymean_range", ymean_range)
    table["x_stddev"] = draw("xstddev_range", xstddev_range)
    table["y_stddev"] = draw("ystddev_range", ystddev_range)
    table["theta"] = rng.uniform(0.0, np.pi, n_sources)
    return table
