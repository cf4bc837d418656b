"""
Image panels for figures: pixel or sky axes with labels, a colour bar
naming the quantity and its unit, and the part of the image shown.

matplotlib is imported only when a figure is drawn.
"""

from astropy.nddata import NDData
import astropy.units as u
import numpy as np

from .validation import check_integer

__all__ = ["image_region", "show_image", "label_world_axes",
           "image_colormap"]

#: candidates for the colour of masked and NaN pixels; the one farthest
#: from every colour of the colour map is used
BAD_COLORS = ("magenta", "lime", "cyan", "orange", "yellow", "red")

# world-axis physical types (and their ctype prefixes) and their labels
_WORLD_LABELS = {
    "pos.eq.ra": "Right ascension", "pos.eq.dec": "Declination",
    "pos.galactic.lon": "Galactic longitude",
    "pos.galactic.lat": "Galactic latitude",
    "pos.ecliptic.lon": "Ecliptic longitude",
    "pos.ecliptic.lat": "Ecliptic latitude",
    "pos.supergalactic.lon": "Supergalactic longitude",
    "pos.supergalactic.lat": "Supergalactic latitude",
}
_CTYPE_LABELS = {
    "RA": "Right ascension", "DEC": "Declination",
    "GLON": "Galactic longitude", "GLAT": "Galactic latitude",
    "ELON": "Ecliptic longitude", "ELAT": "Ecliptic latitude",
    "SLON": "Supergalactic longitude", "SLAT": "Supergalactic latitude",
}


def image_region(shape, size, *, center=None):
    """
    A square cut of at most ``size`` pixels from an image, and its name.

    Parameters
    ----------
    shape : tuple of 2 int
        ``(ny, nx)`` of the image.
    size : int
        The largest side of the cut (a positive integer).
    center : tuple of 2 float, optional
        ``(x, y)`` to centre the cut on (default: the image centre).

    Returns
    -------
    region : tuple of 2 slice
        ``(rows, cols)``.
    description : str
        ``"the whole 256x256 image"`` or ``"x 0-255, y 0-255 of 1024x1024"``.

    Examples
    --------
    >>> from psfkit.utils import image_region
    >>> image_region((1024, 1024), 256, center=(0, 0))[1]
    'x 0-255, y 0-255 of the 1024x1024 image'
    >>> image_region((100, 80), 256)[1]
    'the whole 100x80 image'

    Raises
    ------
    TypeError, ValueError
        If ``size`` is not a positive integer.
    """
    size = check_integer("size", size, minimum=1)
    ny, nx = shape
    if ny <= size and nx <= size:
        return (slice(0, ny), slice(0, nx)), f"the whole {ny}x{nx} image"
    cx, cy = (nx / 2, ny / 2) if center is None else center
    spans = []
    for c, n in ((cy, ny), (cx, nx)):
        side = min(size, n)
        lo = int(np.clip(round(c - side / 2), 0, n - side))
        spans.append(slice(lo, lo + side))
    rows, cols = spans
    return (rows, cols), (f"x {cols.start}-{cols.stop - 1}, y {rows.start}-"
                          f"{rows.stop - 1} of the {ny}x{nx} image")


def image_colormap(cmap):
    """
    A colour map that draws masked and NaN pixels in a visible colour.

    The "bad" colour is the one of `BAD_COLORS` farthest from every colour
    of the map (magenta for grey scales, for example), so blank pixels
    cannot be mistaken for sky, zero or saturated star cores.

    Parameters
    ----------
    cmap : str or `matplotlib.colors.Colormap`
        The colour map.

    Returns
    -------
    cmap : `matplotlib.colors.Colormap`
        A copy of ``cmap`` with its "bad" colour set.

    Examples
    --------
    >>> from psfkit.utils import image_colormap
    >>> image_colormap("gray").get_bad()
    array([1., 0., 1., 1.])
    """
    import matplotlib
    from matplotlib.colors import to_rgba

    base = matplotlib.colormaps[cmap] if isinstance(cmap, str) else cmap
    samples = base(np.linspace(0.0, 1.0, 64))[:, :3]

    def distance(name):
        return np.min(np.linalg.norm(samples - to_rgba(name)[:3], axis=1))

    bad = max(BAD_COLORS, key=distance)
    return base.with_extremes(bad=bad)


def _world_label(name, ctype):
    label = _WORLD_LABELS.get(name or "")
    if label is None and ctype:
        label = _CTYPE_LABELS.get(ctype.split("-")[0].upper())
    if label is not None:
        return label
    return ctype.split("-")[0] if ctype else (name or "")


def label_world_axes(ax, wcs=None):
    """
    Label the axes of a `~astropy.visualization.wcsaxes.WCSAxes` with the
    coordinate each one shows.

    Each label comes from the coordinate's type: right ascension and
    declination, Galactic or ecliptic longitude and latitude, in whichever
    order the WCS has them; any other coordinate is labelled with its
    ``CTYPE`` name (or its physical type).  Plain axes get ``x (pixel)``
    and ``y (pixel)``.

    Parameters
    ----------
    ax : `matplotlib.axes.Axes`
        The axes to label.
    wcs : WCS, optional
        The WCS of the axes (default: the axes' own).

    Returns
    -------
    ax : `matplotlib.axes.Axes`

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from astropy.wcs import WCS
    >>> from psfkit.utils import label_world_axes
    >>> wcs = WCS(naxis=2)
    >>> wcs.wcs.ctype = ["DEC--TAN", "RA---TAN"]
    >>> fig = plt.figure()
    >>> ax = label_world_axes(fig.add_subplot(projection=wcs))
    >>> ax.coords[0].get_axislabel(), ax.coords[1].get_axislabel()
    ('Declination', 'Right ascension')
    >>> plt.close(fig)
    """
    if not hasattr(ax, "coords"):
        ax.set_xlabel("x (pixel)")
        ax.set_ylabel("y (pixel)")
        return ax
    wcs = getattr(ax, "wcs", None) if wcs is None else wcs
    types = list(getattr(wcs, "world_axis_physical_types", None) or [])
    ctypes = list(getattr(getattr(wcs, "wcs", None), "ctype", None) or [])
    for k in range(2):
        name = types[k] if k < len(types) else None
        ctype = str(ctypes[k]) if k < len(ctypes) else ""
        label = _world_label(name, ctype)
        if label:
            ax.coords[k].set_axislabel(label)
    return ax


def _image_values(image):
    """Plain values with masked and NaN pixels masked, and the unit."""
    unit = None
    mask = None
    if isinstance(image, NDData):
        unit = image.unit
        mask = image.mask
        image = image.data
    if isinstance(image, u.Quantity):
        unit = image.unit if unit is None else unit
        image = np.ma.MaskedArray(image.value, mask=np.ma.getmask(image))
    data = np.ma.masked_invalid(np.ma.asanyarray(image, dtype=float))
    if mask is not None:
        data = np.ma.masked_where(np.broadcast_to(np.asarray(mask, bool),
                                                  data.shape), data)
    return data, unit


def show_image(ax, image, *, label, unit=None, region=None, title=None,
               cmap="gray", norm=None, vmin=None, vmax=None, colorbar=True):
    """
    Draw an image on ``ax`` with labelled axes and a colour bar.

    Parameters
    ----------
    ax : `matplotlib.axes.Axes`
        The axes (a WCSAxes gets world-coordinate labels, see
        `label_world_axes`).
    image : array-like, masked array, Quantity or NDData
        The whole 2-D image.  Masked pixels (an NDData's ``mask`` too) and
        NaN pixels are drawn in a colour that stands out from the colour
        map (see `image_colormap`; magenta on grey scales).
    label : str
        What the values are (``"counts"``, ``"residual / sigma"``...).
    unit : `~astropy.units.Unit` or str, optional
        Shown in brackets after ``label`` on the colour bar; by default
        the unit of a Quantity or NDData ``image``.
    region : tuple of 2 slice, optional
        The part to show (see `image_region`); the axes keep the pixel
        coordinates of the whole image.
    title : str, optional
        The panel title.
    cmap, norm, vmin, vmax : optional
        As for `matplotlib.axes.Axes.imshow`.
    colorbar : bool, optional
        Whether to add the colour bar.

    Returns
    -------
    artist : `matplotlib.image.AxesImage`

    Raises
    ------
    TypeError
        If ``ax`` is not a matplotlib ``Axes``.
    ValueError
        If ``image`` is not 2-D.
    """
    if not hasattr(ax, "imshow"):
        msg = f"ax must be a matplotlib Axes, got {type(ax).__name__}"
        raise TypeError(msg)
    data, image_unit = _image_values(image)
    if data.ndim != 2:
        msg = f"image must be 2-D, got shape {data.shape}"
        raise ValueError(msg)
    unit = image_unit if unit is None else unit
    rows, cols = region if region is not None else (
        slice(0, data.shape[0]), slice(0, data.shape[1]))
    cut = data[rows, cols]
    extent = (cols.start - 0.5, cols.start + cut.shape[1] - 0.5,
              rows.start - 0.5, rows.start + cut.shape[0] - 0.5)
    kwargs = {} if norm is not None else {"vmin": vmin, "vmax": vmax}
    artist = ax.imshow(cut, origin="lower", cmap=image_colormap(cmap), norm=norm,
                       extent=extent, interpolation="nearest", **kwargs)
    label_world_axes(ax)
    if title:
        ax.set_title(title)
    if colorbar:
        text = label if unit is None or str(unit) == "" else f"{label} [{unit}]"
        ax.figure.colorbar(artist, ax=ax, fraction=0.046, pad=0.04, label=text)
    return artist
