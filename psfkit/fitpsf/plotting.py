"""
Figures of PSF subtraction results (needs matplotlib).

`plot_residual` shows a PSF-subtracted image with a symmetric colour scale,
`plot_snr_map` a signal-to-noise map (`~psfkit.fitpsf.snr_map`) and
`plot_contrast_curve` the detection limit and the throughput of
`~psfkit.fitpsf.contrast_curve`.  Every image has axis labels, a colour bar
with its quantity and unit, and the star marked; each function returns the
matplotlib ``Figure`` and draws into ``ax`` when one is given.  matplotlib
is imported only when a function is called, so it stays an optional
dependency; this module is not imported by ``psfkit.fitpsf``::

    from psfkit.fitpsf import plotting
"""

from astropy.nddata import NDData
import astropy.units as u
import numpy as np

from ..utils import check_positive, coerce_data, image_colormap
from ._geometry import check_center
from .adi import ADIResult

__all__ = ["plot_residual", "plot_snr_map", "plot_contrast_curve"]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        msg = ("psfkit.fitpsf.plotting needs matplotlib (pip install "
               "matplotlib, or psfkit[all])")
        raise ImportError(msg) from None
    return plt


def _figure_and_axes(ax, figsize):
    if ax is None:
        fig, ax = _pyplot().subplots(figsize=figsize)
        return fig, ax
    return ax.figure, ax


def _unit_of(image, unit):
    if unit is not None:
        return u.Unit(unit)
    if isinstance(image, NDData | u.Quantity):
        return image.unit
    return None


def _in_unit(values, unit, own):
    """``values`` (in ``own``) converted to ``unit`` when both are known."""
    if unit is None or own is None or u.Unit(own) == unit:
        return values
    try:
        return (values * u.Unit(own)).to_value(unit)
    except u.UnitsError:
        msg = f"unit {unit} does not convert from the image's unit {own}"
        raise u.UnitsError(msg) from None


def _marks(marks):
    """``marks`` as an ``(n, 2)`` array of ``(x, y)`` positions."""
    if marks is None:
        return None
    xy = np.atleast_2d(np.asarray(marks, dtype=float))
    if xy.ndim != 2 or xy.shape[1] != 2 or not np.all(np.isfinite(xy)):
        msg = ("marks must be an (x, y) pair or a list of (x, y) pairs of "
               f"finite numbers, got {marks!r}")
        raise ValueError(msg)
    return xy


def _center_in(center, shape):
    """The checked ``center``, which must lie on the image."""
    ctr = check_center("center", center, shape)
    ny, nx = shape
    if not (-0.5 <= ctr[0] <= nx - 0.5 and -0.5 <= ctr[1] <= ny - 0.5):
        msg = f"center {ctr} is outside the {nx} x {ny} image"
        raise ValueError(msg)
    return ctr


def _label(quantity, unit):
    if unit is None or unit == u.dimensionless_unscaled:
        return quantity
    return f"{quantity} [{unit.to_string()}]"


def _show_image(ax, values, *, vmin, vmax, cmap, colorbar_label, title,
                center, marks):
    """Draw ``values`` with pixel axes, a labelled colour bar and marks."""
    plt = _pyplot()
    im = ax.imshow(values, origin="lower", cmap=image_colormap(cmap),
                   vmin=vmin, vmax=vmax,
                   interpolation="nearest")
    ax.set_xlabel("x [pixel]")
    ax.set_ylabel("y [pixel]")
    if title:
        ax.set_title(title)
    bar = plt.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    bar.set_label(colorbar_label)
    ax.plot(center[0], center[1], marker="+", color="k", ms=10, mew=1.5,
            ls="none", label="star")
    if marks is not None:
        xy = marks
        ax.plot(xy[:, 0], xy[:, 1], marker="o", mfc="none", mec="k", ms=14,
                mew=1.2, ls="none", label="companion")
    return im


def plot_residual(image, *, ax=None, center=None, marks=None, unit=None,
                  percentile=99.5, cmap="RdBu_r", title="PSF-subtracted image"):
    """
    Show a PSF-subtracted image on a colour scale symmetric about zero.

    Parameters
    ----------
    image : array-like, masked array, Quantity, NDData or `ADIResult`
        The residual image (an `~psfkit.fitpsf.ADIResult` gives its combined
        image and its unit).  Masked and NaN pixels are drawn in a colour
        of their own (see `~psfkit.utils.image_colormap`).
    ax : `matplotlib.axes.Axes`, optional
        Where to draw; default a new figure.
    center : tuple of float, optional
        ``(x, y)`` of the star, marked with a cross; default the centre.
        It must lie on the image.
    marks : array-like, optional
        An ``(x, y)`` position or a list of them to circle (known or
        candidate companions).
    unit : str or `~astropy.units.Unit`, optional
        The unit to show the values in (by default that of a Quantity,
        NDData or ADIResult); an image with a unit is converted to it
        (`~astropy.units.UnitsError` if it does not convert).
    percentile : float, optional
        The colour scale spans +-this percentile of the absolute values.
    cmap : str, optional
        A diverging colour map.
    title : str, optional
        The axes title.

    Returns
    -------
    fig : `matplotlib.figure.Figure`
    """
    own = None
    if isinstance(image, ADIResult):
        own = image.unit
        image = image.image
    own = _unit_of(image, None) if own is None else own
    unit = own if unit is None else u.Unit(unit)
    data = coerce_data(image, name="image", ndim=2, allow_all_masked=True)
    values = _in_unit(np.where(data.mask, np.nan, data.data), unit, own)
    finite = np.abs(values[np.isfinite(values)])
    lim = float(np.percentile(finite, percentile)) if finite.size else 1.0
    lim = lim if lim > 0 else 1.0
    ctr = _center_in(center, data.shape)
    marks = _marks(marks)
    fig, ax = _figure_and_axes(ax, (5.6, 4.6))
    _show_image(ax, values, vmin=-lim, vmax=lim, cmap=cmap,
                colorbar_label=_label("residual", unit), title=title,
                center=ctr, marks=marks)
    return fig


def plot_snr_map(snr, *, ax=None, center=None, marks=None, vmax=None,
                 cmap="magma", title="signal-to-noise map"):
    """
    Show a signal-to-noise map, such as `~psfkit.fitpsf.snr_map` returns.

    Parameters
    ----------
    snr : array-like or masked array
        The map; masked pixels (where the SNR is undefined) are drawn in
        a colour of their own.
    ax : `matplotlib.axes.Axes`, optional
        Where to draw; default a new figure.
    center : tuple of float, optional
        ``(x, y)`` of the star; default the centre.
    marks : array-like, optional
        ``(x, y)`` positions to circle.
    vmax : float, optional
        The top of the colour scale (default the larger of 5 and the map's
        maximum); the bottom is ``-vmax / 2``.
    cmap : str, optional
        The colour map.
    title : str, optional
        The axes title.

    Returns
    -------
    fig : `matplotlib.figure.Figure`
    """
    data = coerce_data(snr, name="snr", ndim=2, allow_all_masked=True)
    values = np.where(data.mask, np.nan, data.data)
    if vmax is None:
        top = np.nanmax(values) if np.isfinite(values).any() else 5.0
        vmax = max(5.0, float(top))
    vmax = check_positive("vmax", vmax)
    ctr = _center_in(center, data.shape)
    marks = _marks(marks)
    fig, ax = _figure_and_axes(ax, (5.6, 4.6))
    _show_image(ax, values, vmin=-vmax / 2, vmax=vmax, cmap=cmap,
                colorbar_label="SNR (Student-t, Mawet et al. 2014)",
                title=title, center=ctr, marks=marks)
    return fig


def _twin_of(ax):
    """The right-hand twin of ``ax`` (made on the first call)."""
    for other in ax.figure.axes:
        if other is not ax and other.bbox.bounds == ax.bbox.bounds and (
                other.get_shared_x_axes().joined(ax, other)):
            return other
    return ax.twinx()


def plot_contrast_curve(curve, *, ax=None, label=None, truth=None,
                        pixel_scale=None, throughput=True,
                        title="detection limit"):
    """
    Plot the contrast limit of `~psfkit.fitpsf.contrast_curve` versus
    separation, with the throughput on a second axis.

    Parameters
    ----------
    curve : `~astropy.table.QTable`
        The table of `~psfkit.fitpsf.contrast_curve` (columns
        ``separation``, ``contrast``, ``throughput``; ``meta['sigma']``).
        A ``separation`` in an angle unit is shown in that unit.
    ax : `matplotlib.axes.Axes`, optional
        Where to draw; default a new figure.  Call again with the same
        ``ax`` to compare methods.
    label : str, optional
        The legend label of the curve.
    truth : `~astropy.table.Table`, optional
        Companions to mark (columns ``separation`` in pixels and
        ``contrast``; the separations as the curve's), such as the truth
        table of
        `~psfkit.datasets.make_adi_sequence`.
    pixel_scale : `~astropy.units.Quantity`, optional
        Angle per pixel (for example ``12.25 * u.mas`` or
        ``0.01 * u.arcsec / u.pix``): separations are then shown in that
        angle's unit instead of pixels.
    throughput : bool, optional
        Also plot the throughput, on a right-hand axis (the same one when
        called again with the same ``ax``).
    title : str, optional
        The axes title.

    Returns
    -------
    fig : `matplotlib.figure.Figure`
    """
    for name in ("separation", "contrast", "throughput"):
        if name not in curve.colnames:
            msg = f"curve must have a {name!r} column (see contrast_curve)"
            raise ValueError(msg)
    sep_column = curve["separation"]
    sep_unit = getattr(sep_column, "unit", None)
    sep = np.asarray(getattr(sep_column, "value", sep_column), dtype=float)
    if sep_unit is not None and sep_unit not in (u.pix,
                                                 u.dimensionless_unscaled):
        if pixel_scale is not None:
            msg = (f"the separation column is in {sep_unit}, not pixels: "
                   "pixel_scale would convert it twice")
            raise ValueError(msg)
        factor, xlabel = 1.0, f"separation [{sep_unit.to_string()}]"
    elif pixel_scale is None:
        factor, xlabel = 1.0, "separation [pixel]"
    else:
        scale = u.Quantity(pixel_scale)
        if scale.unit.is_equivalent(u.deg / u.pix):
            scale = scale * u.pix
        if scale.unit.physical_type != "angle":
            msg = ("pixel_scale must be an angle per pixel (as 12.25 * u.mas "
                   f"or 0.01 * u.arcsec / u.pix), got {pixel_scale!r}")
            raise ValueError(msg)
        factor = scale.value
        xlabel = f"separation [{scale.unit.to_string()}]"
    sigma = curve.meta.get("sigma", 5.0)
    fig, ax = _figure_and_axes(ax, (6.0, 4.0))
    (line,) = ax.semilogy(sep * factor, curve["contrast"], "o-",
                          label=label or f"{sigma:g}-sigma limit")
    if truth is not None:
        tsep = truth["separation"]
        if isinstance(tsep, u.Quantity) and tsep.unit not in (
                u.pix, u.dimensionless_unscaled) and sep_unit is not None:
            tsep = tsep.to(sep_unit)
        ax.semilogy(np.asarray(getattr(tsep, "value", tsep), float) * factor,
                    truth["contrast"], "r*", ms=12, ls="none",
                    label="companion")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"{sigma:g}-sigma contrast (flux ratio)")
    if title:
        ax.set_title(title)
    if throughput:
        twin = _twin_of(ax)
        twin.plot(sep * factor, curve["throughput"], "s--", color=line.get_color(),
                  alpha=0.6, ms=4)
        twin.set_ylabel("throughput (dashed)")
        twin.set_ylim(0, max(1.05, float(np.nanmax(curve["throughput"])) * 1.05))
    ax.legend(loc="upper right", fontsize="small")
    return fig
