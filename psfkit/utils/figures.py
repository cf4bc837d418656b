"""
Image panels for figures: pixel or sky axes with labels, a colour bar
naming the quantity and its unit, and the part of the image shown.

matplotlib is imported only when a figure is drawn.
"""

import numpy as np

__all__ = ["image_region", "show_image"]


def image_region(shape, size, *, center=None):
    """
    A square cut of at most ``size`` pixels from an image, and its name.

    Parameters
    ----------
    shape : tuple of 2 int
        ``(ny, nx)`` of the image.
    size : int
        The largest side of the cut.
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
    """
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


def show_image(ax, image, *, label, unit=None, region=None, title=None,
               cmap="gray", norm=None, vmin=None, vmax=None, colorbar=True):
    """
    Draw an image on ``ax`` with labelled axes and a colour bar.

    Parameters
    ----------
    ax : `matplotlib.axes.Axes`
        The axes (a WCSAxes gets sky-coordinate labels).
    image : array-like
        The whole image; masked values are left blank.
    label : str
        What the values are (``"counts"``, ``"residual / sigma"``...).
    unit : `~astropy.units.Unit` or str, optional
        Shown in brackets after ``label`` on the colour bar.
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
    """
    data = np.ma.masked_invalid(np.ma.asanyarray(image))
    rows, cols = region if region is not None else (
        slice(0, data.shape[0]), slice(0, data.shape[1]))
    cut = data[rows, cols]
    extent = (cols.start - 0.5, cols.start + cut.shape[1] - 0.5,
              rows.start - 0.5, rows.start + cut.shape[0] - 0.5)
    kwargs = {} if norm is not None else {"vmin": vmin, "vmax": vmax}
    artist = ax.imshow(cut, origin="lower", cmap=cmap, norm=norm,
                       extent=extent, interpolation="nearest", **kwargs)
    if hasattr(ax, "coords"):
        # WCSAxes: world-coordinate ticks on the pixel grid
        ax.coords[0].set_axislabel("right ascension")
        ax.coords[1].set_axislabel("declination")
    else:
        ax.set_xlabel("x (pixel)")
        ax.set_ylabel("y (pixel)")
    if title:
        ax.set_title(title)
    if colorbar:
        text = label if unit is None or str(unit) == "" else f"{label} [{unit}]"
        ax.figure.colorbar(artist, ax=ax, fraction=0.046, pad=0.04, label=text)
    return artist
