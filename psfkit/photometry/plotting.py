"""
Figures of photometry results: detections on the image, the data, model
and residual of a PSF fit, the quality flags of every source, and the
images of a gridded PSF model.

Every figure is meant to go into a paper as it is: colour bars labelled
with the data unit, axes labelled in pixels (or with the sky coordinates
of a celestial WCS), masked pixels in a colour of their own, markers that leave the
field visible, and a title that says which part of the image is shown.
matplotlib is needed only here (``pip install psfkit[all]``).
"""

import astropy.units as u
import numpy as np

from ..utils import (
    coerce_data,
    find_xy_columns,
    image_colormap,
    label_world_axes,
    to_data_unit,
)

__all__ = ["plot_detections", "plot_residuals", "plot_flags", "plot_psf_grid"]

#: above this many markers in view only the brightest are drawn
MAX_MARKERS = 3000


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - the all extra installs it
        msg = "psfkit.photometry.plotting needs matplotlib (pip install matplotlib)"
        raise ImportError(msg) from None
    return plt


def _image(data, wcs, unit):
    """Plain values, the celestial WCS (or None) and the unit text."""
    arr = coerce_data(data, name="data", allow_all_masked=True)
    wcs = arr.wcs if wcs is None else wcs
    if wcs is not None and not getattr(wcs, "has_celestial", False):
        wcs = None
    if wcs is not None and hasattr(wcs, "celestial"):
        wcs = wcs.celestial
    values = np.where(arr.mask, np.nan, arr.data)
    if unit is None:
        return values, wcs, arr.unit
    unit = u.Unit(unit)
    if arr.unit is not None and arr.unit != unit:
        # show the values in the unit asked for, not relabelled ones
        try:
            values = (values * arr.unit).to_value(unit)
        except u.UnitsError:
            msg = (f"unit {unit} does not convert from the data's unit "
                   f"{arr.unit}")
            raise u.UnitsError(msg) from None
    return values, wcs, unit


def _unit_label(name, unit):
    if unit is None:
        return f"{name} (no unit given)"
    text = str(unit)
    return f"{name} [{text}]" if text else f"{name} [dimensionless]"


def _region(region, shape, *, frame=None):
    """
    ``(x0, x1, y0, y1)`` pixel bounds (inclusive) of the view: the image of
    ``shape``, or the inclusive bounds ``frame`` when given (which may
    reach below pixel 0), cut to ``region``.
    """
    if frame is None:
        ny, nx = shape
        frame = (0, nx - 1, 0, ny - 1)
    if region is None:
        return tuple(frame)
    msg = ("region must be (x_min, x_max, y_min, y_max) finite pixel "
           f"bounds, got {region!r}")
    try:
        bounds = np.asarray(region, dtype=float).ravel()
    except (TypeError, ValueError):
        raise TypeError(msg) from None
    if bounds.size != 4 or not np.all(np.isfinite(bounds)):
        raise ValueError(msg)
    fx0, fx1, fy0, fy1 = frame
    x0, x1, y0, y1 = (int(v) for v in bounds)
    x0, x1 = max(fx0, min(x0, x1)), min(fx1, max(x0, x1))
    y0, y1 = max(fy0, min(y0, y1)), min(fy1, max(y0, y1))
    if x0 > x1 or y0 > y1:
        if shape is None:
            msg = (f"region {region} holds none of the sources (x {fx0}-"
                   f"{fx1}, y {fy0}-{fy1})")
        else:
            msg = (f"region {region} does not overlap the {shape[1]}x"
                   f"{shape[0]} image")
        raise ValueError(msg)
    return x0, x1, y0, y1


def _region_text(bounds, shape):
    x0, x1, y0, y1 = bounds
    ny, nx = shape
    if (x0, x1, y0, y1) == (0, nx - 1, 0, ny - 1):
        return f"whole image, {nx} x {ny} pixels"
    return f"x {x0}-{x1}, y {y0}-{y1} of the {nx} x {ny} pixel image"


def _axes(ax, wcs, fig=None, position=111):
    plt = _pyplot()
    if ax is not None:
        return ax
    fig = plt.figure(figsize=(7, 6)) if fig is None else fig
    if wcs is not None:
        return fig.add_subplot(position, projection=wcs)
    return fig.add_subplot(position)


def _label_axes(ax, wcs):
    label_world_axes(ax, wcs if hasattr(ax, "coords") else None)


def _norm(values, bounds, stretch):
    from astropy.visualization import (
        AsinhStretch,
        ImageNormalize,
        LinearStretch,
        PercentileInterval,
    )

    x0, x1, y0, y1 = bounds
    view = values[y0:y1 + 1, x0:x1 + 1]
    view = view[np.isfinite(view)]
    if view.size == 0:
        view = np.zeros(1)
    stretches = {"asinh": AsinhStretch(0.05), "linear": LinearStretch()}
    if stretch not in stretches:
        msg = f"stretch must be 'asinh' or 'linear', got {stretch!r}"
        raise ValueError(msg)
    return ImageNormalize(view, interval=PercentileInterval(99.5),
                          stretch=stretches[stretch])


def _show(ax, values, bounds, norm, cmap, label, unit):
    plt = _pyplot()
    x0, x1, y0, y1 = bounds
    im = ax.imshow(values, origin="lower", cmap=image_colormap(cmap), norm=norm,
                   interpolation="nearest")
    ax.set_xlim(x0 - 0.5, x1 + 0.5)
    ax.set_ylim(y0 - 0.5, y1 + 0.5)
    bar = plt.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    bar.set_label(_unit_label(label, unit))
    return im


def _positions(table):
    xname, yname = find_xy_columns(table, name="sources")
    x = np.asarray(getattr(table[xname], "value", table[xname]), dtype=float)
    y = np.asarray(getattr(table[yname], "value", table[yname]), dtype=float)
    return x, y


def _brightness(table):
    for name in ("flux_fit", "flux", "peak", "peak_value", "flux_init"):
        if name in table.colnames:
            return np.asarray(getattr(table[name], "value", table[name]),
                              dtype=float)
    return None


def _marker_radius(table, radius):
    if radius is not None:
        return float(radius)
    if "fwhm" in table.colnames:
        fwhm = np.nanmedian(np.asarray(getattr(table["fwhm"], "value",
                                               table["fwhm"]), dtype=float))
        if np.isfinite(fwhm) and fwhm > 0:
            return 1.5 * float(fwhm)
    return 4.0


def _draw_circles(ax, x, y, radius, color, n_view):
    """Rings of ``radius`` pixels at ``(x, y)``."""
    from matplotlib.collections import EllipseCollection

    # thin, translucent rings whose size follows the zoom: with thousands
    # of sources the field stays visible between and inside them
    width = 0.9 if n_view < 300 else 0.5
    diameter = np.full(x.size, 2.0 * radius)
    rings = EllipseCollection(diameter, diameter, np.zeros(x.size),
                              units="xy", offsets=np.column_stack([x, y]),
                              offset_transform=ax.transData,
                              facecolors="none", edgecolors=color,
                              linewidths=width, alpha=0.8)
    ax.add_collection(rings)
    return rings


def plot_detections(data, sources, *, ax=None, region=None, wcs=None,
                    unit=None, marker_radius=None, color="tab:orange",
                    cmap="Greys", stretch="asinh", title=None,
                    max_markers=MAX_MARKERS):
    """
    The image with a ring around every detected source.

    Parameters
    ----------
    data : array-like, ``Quantity`` or ``NDData``
        The image (an NDData's celestial WCS gives sky axes).
    sources : `~astropy.table.Table`
        The detections (any position columns `~psfkit.utils.find_column`
        knows: ``x_centroid``, ``x_fit``, ``x_peak``...).
    ax : `matplotlib.axes.Axes`, optional
        Draw into these axes (a new figure otherwise).
    region : tuple of 4 int, optional
        ``(x_min, x_max, y_min, y_max)`` pixels to show; the whole image
        by default.  The title says which part is shown.
    wcs : WCS, optional
        A celestial WCS (the data's own by default).
    unit : `~astropy.units.Unit` or str, optional
        The unit to show the data in (the data's own by default); data
        with a unit are converted to it (`~astropy.units.UnitsError` if
        they do not convert).
    marker_radius : float, optional
        The ring radius in pixels; 1.5 times the median ``fwhm`` column,
        or 4 pixels.
    color, cmap, stretch : optional
        The ring colour, the image colour map, and ``'asinh'`` or
        ``'linear'`` intensity scaling (99.5% of the shown pixels span the
        colour map).
    title : str, optional
        The title; by default the number of sources and the region shown.
    max_markers : int, optional
        With more sources in view, only this many of the brightest are
        drawn (the legend says so).

    Returns
    -------
    ax : `matplotlib.axes.Axes`
    """
    values, wcs, unit = _image(data, wcs, unit)
    bounds = _region(region, values.shape)
    ax = _axes(ax, wcs)
    _show(ax, values, bounds, _norm(values, bounds, stretch), cmap,
          "pixel value", unit)
    x, y = _positions(sources)
    x0, x1, y0, y1 = bounds
    view = (x >= x0 - 0.5) & (x <= x1 + 0.5) & (y >= y0 - 0.5) & (y <= y1 + 0.5)
    idx = np.flatnonzero(view)
    label = f"{idx.size} detections"
    bright = _brightness(sources)
    if idx.size > max_markers and bright is not None:
        order = np.argsort(-np.nan_to_num(bright[idx], nan=-np.inf))
        idx = idx[order[:max_markers]]
        label = f"{max_markers} brightest of {int(view.sum())} detections"
    from matplotlib.lines import Line2D

    _draw_circles(ax, x[idx], y[idx], _marker_radius(sources, marker_radius),
                  color, idx.size)
    proxy = Line2D([], [], marker="o", markerfacecolor="none",
                   markeredgecolor=color, linestyle="none", label=label)
    ax.legend(handles=[proxy], loc="upper right", fontsize="small",
              framealpha=0.8)
    _label_axes(ax, wcs)
    ax.set_title(title or f"{len(sources)} sources detected; "
                 f"{_region_text(bounds, values.shape)}")
    return ax


def plot_residuals(data, result, *, region=None, wcs=None, unit=None,
                   background=None, cmap="Greys", stretch="asinh",
                   title=None, fig=None):
    """
    Data, fitted model and residual side by side.

    Parameters
    ----------
    data : array-like, ``Quantity`` or ``NDData``
        The image that was fitted.
    result : `~psfkit.photometry.PSFPhotometryResult` or array-like
        The photometry result (its ``model_image``, ``residual_image`` and
        ``background`` are used), or a residual image.
    region : tuple of 4 int, optional
        ``(x_min, x_max, y_min, y_max)`` pixels to show (the whole image by
        default); named in the title.
    wcs : WCS, optional
        A celestial WCS (the data's own by default).
    unit : `~astropy.units.Unit` or str, optional
        The unit of the colour bars (the data's own by default); the data,
        model, residual and background are converted to it, or to the
        data's unit (`~astropy.units.UnitsError`, naming the argument,
        if one does not convert).  Pixels masked or NaN in the data are
        blank in every panel.
    background : float or array-like, optional
        The background to subtract from the data panel when ``result`` is
        a plain residual image.
    cmap, stretch : optional
        The colour map and intensity scaling of the data and model panels
        (the residual panel is linear and symmetric about zero).
    title : str, optional
        The figure title.
    fig : `matplotlib.figure.Figure`, optional
        The figure to draw into.

    Returns
    -------
    fig : `matplotlib.figure.Figure`
    """
    plt = _pyplot()
    values, wcs, unit = _image(data, wcs, unit)
    if hasattr(result, "residual_image"):
        residual = _plain("result.residual_image", result.residual_image,
                          unit)
        model = _plain("result.model_image", result.model_image, unit)
        background = getattr(result, "background", background)
    else:
        residual = _plain("result", result, unit)
        model = None
    if residual.shape != values.shape:
        msg = (f"the residual image {residual.shape} and the data "
               f"{values.shape} must have the same shape")
        raise ValueError(msg)
    bkg = 0.0 if background is None else _plain("background", background,
                                                 unit)
    subtracted = values - bkg
    # pixels masked (or NaN) in the data are blank in every panel
    blank = ~np.isfinite(values)
    residual = np.where(blank, np.nan, residual)
    if model is None:
        model = subtracted - residual
    model = np.where(blank, np.nan, model)
    bounds = _region(region, values.shape)
    fig = plt.figure(figsize=(15, 4.8)) if fig is None else fig
    norm = _norm(subtracted, bounds, stretch)
    panels = (("data - background", subtracted, norm, cmap),
              ("fitted model", model, norm, cmap))
    for k, (name, image, pnorm, pcmap) in enumerate(panels):
        ax = _axes(None, wcs, fig, 131 + k)
        _show(ax, image, bounds, pnorm, pcmap, name, unit)
        _label_axes(ax, wcs)
        ax.set_title(name)
    ax = _axes(None, wcs, fig, 133)
    x0, x1, y0, y1 = bounds
    view = residual[y0:y1 + 1, x0:x1 + 1]
    view = view[np.isfinite(view)]
    limit = float(np.percentile(np.abs(view), 99.5)) if view.size else 1.0
    from matplotlib.colors import Normalize

    _show(ax, residual, bounds, Normalize(-limit or -1.0, limit or 1.0),
          "RdBu_r", "residual", unit)
    _label_axes(ax, wcs)
    ax.set_title("residual (data - background - model)")
    fig.suptitle(title or f"PSF photometry residuals; "
                 f"{_region_text(bounds, values.shape)}")
    fig.tight_layout()
    return fig


def _plain(name, value, unit):
    """Plain float values of ``value`` in ``unit`` (the data's unit)."""
    if isinstance(value, u.Quantity) and unit is None:
        # data without a unit: a unit here cannot be checked
        value = value.value
    value = to_data_unit(name, value, unit)
    return np.asarray(value, dtype=float)


def _flag_names(bits):
    try:
        from .fitting.flags import PSFFlags
    except ImportError:  # pragma: no cover
        return {b: f"bit {b}" for b in bits}
    names = {}
    for bit in bits:
        try:
            names[bit] = PSFFlags(bit).name.lower().replace("_", " ")
        except ValueError:
            names[bit] = f"bit {bit}"
    return names


def _result_shape(result):
    """The ``(ny, nx)`` of the image a photometry result was fitted on."""
    images = getattr(result, "_images", None)
    raw = getattr(images, "raw", None)
    if raw is not None:
        return tuple(np.shape(raw))
    residual = getattr(result, "residual_image", None)
    return None if residual is None else tuple(np.shape(residual))


def _source_frame(x, y):
    """
    Inclusive ``(x0, x1, y0, y1)`` pixel bounds from pixel 0 (or the
    lowest source, when one lies below it) to the highest source, holding
    every finite position.
    """
    ok = np.isfinite(x) & np.isfinite(y)
    # the pixel holding each position (its centre within half a pixel)
    px = np.floor(x[ok] + 0.5)
    py = np.floor(y[ok] + 0.5)
    return (int(np.min(px, initial=0.0)), int(np.max(px, initial=0.0)),
            int(np.min(py, initial=0.0)), int(np.max(py, initial=0.0)))


def plot_flags(result, *, data=None, ax=None, region=None, wcs=None,
               unit=None, cmap="Greys", stretch="asinh", title=None):
    """
    Where the flagged fits are: every source coloured by its flags.

    Parameters
    ----------
    result : `~psfkit.photometry.PSFPhotometryResult` or `~astropy.table.Table`
        The photometry result, or its table (``flags`` column and fitted
        or initial positions).
    data : array-like, ``Quantity`` or ``NDData``, optional
        The image to show underneath.  Without it the axes span the image
        the result was fitted on, or, for a bare table, pixel 0 to the
        farthest source (every source, also those at negative coordinates).
    ax : `matplotlib.axes.Axes`, optional
        Draw into these axes.
    region : tuple of 4 int, optional
        ``(x_min, x_max, y_min, y_max)`` pixels to show, within the image
        (or, for a bare table, within the span of the sources).
    wcs : WCS, optional
        A celestial WCS (the data's own by default).
    unit : `~astropy.units.Unit` or str, optional
        The unit to show the data in (the data's own by default).
    cmap, stretch : optional
        The image colour map and intensity scaling.
    title : str, optional
        The title; by default the flag counts and the region shown.

    Returns
    -------
    ax : `matplotlib.axes.Axes`

    Notes
    -----
    Clean fits are small grey dots; each flag bit present gets its own
    colour and legend entry with its count (a source with several bits
    appears under each).
    """
    plt = _pyplot()
    table = getattr(result, "table", result)
    if "flags" not in table.colnames:
        msg = "the table has no flags column"
        raise ValueError(msg)
    flags = np.asarray(table["flags"], dtype=np.int64)
    x, y = _positions(table)
    frame = None
    if data is not None:
        values, wcs, unit = _image(data, wcs, unit)
        shape = values.shape
    else:
        values = None
        shape = _result_shape(result)
        if shape is None:
            # no image size known: a frame around every source, also those
            # at negative coordinates (partly off the image's edge)
            frame = _source_frame(x, y)
    bounds = _region(region, shape, frame=frame)
    ax = _axes(ax, wcs)
    if values is not None:
        _show(ax, values, bounds, _norm(values, bounds, stretch), cmap,
              "pixel value", unit)
    else:
        x0, x1, y0, y1 = bounds
        ax.set_xlim(x0 - 0.5, x1 + 0.5)
        ax.set_ylim(y0 - 0.5, y1 + 0.5)
        ax.set_aspect("equal")
    clean = flags == 0
    ax.scatter(x[clean], y[clean], s=4, color="0.55", linewidths=0,
               label=f"no flag ({int(clean.sum())})")
    bits = [1 << k for k in range(63) if np.any(flags & (1 << k))]
    names = _flag_names(bits)
    colours = plt.cm.tab10(np.arange(max(len(bits), 1)) % 10)
    for colour, bit in zip(colours, bits, strict=False):
        sel = (flags & bit) != 0
        ax.scatter(x[sel], y[sel], s=22, facecolors="none",
                   edgecolors=[colour], linewidths=1.0,
                   label=f"{names[bit]} ({int(sel.sum())})")
    ax.legend(loc="upper right", fontsize="small", framealpha=0.8,
              title="flags")
    _label_axes(ax, wcs)
    n_flagged = int((~clean).sum())
    if frame is None:
        where = _region_text(bounds, shape)
    else:
        x0, x1, y0, y1 = bounds
        # (bounds may be negative: "x -3 to 30", not "x -3-30")
        where = f"sources within x {x0} to {x1}, y {y0} to {y1}"
    ax.set_title(title or f"{n_flagged} of {len(table)} fits flagged; "
                 f"{where}")
    return ax


def _axis_text(values):
    """Grid node coordinates as short tick labels."""
    return [f"{v:.0f}" if float(v).is_integer() else f"{v:.1f}"
            for v in values]


def plot_psf_grid(model, *, ax=None, vmax_scale=None, peak_norm=False,
                  deltas=False, cmap="viridis", dividers=True,
                  divider_color="darkgray", divider_ls="-", figsize=None):
    """
    The PSF images of a gridded PSF model, each at its place in the grid.

    The images (oversampled) are laid side by side as the grid nodes lie
    on the detector: x increasing to the right, y upwards, each tile's
    ticks labelled with its node's detector ``x`` and ``y``.  This is
    `~psfkit.photometry.GriddedPSFModel.plot_grid` (photutils' method).

    Parameters
    ----------
    model : `~psfkit.photometry.GriddedPSFModel`
        The gridded model.
    ax : `matplotlib.axes.Axes`, optional
        Draw into these axes (a new figure otherwise).
    vmax_scale : float, optional
        The top of the colour scale as a fraction of the largest value
        shown: 1 for the images (on a logarithmic scale down to 1e-4 of
        the top), 0.03 for ``deltas`` (on a linear scale symmetric about
        zero).
    peak_norm : bool, optional
        Divide what is shown by its largest value (as photutils does: the
        images keep their relative heights).
    deltas : bool, optional
        Show each image minus the mean of all of them: how the PSF varies
        over the detector.  Blank images (all zero: grid nodes off a
        detector's field, as in MIRI's STDPSF grids) are left out of the
        mean and drawn as zero.
    cmap : str or `matplotlib.colors.Colormap`, optional
        The colour map.
    dividers : bool, optional
        Draw lines between the images.
    divider_color, divider_ls : str, optional
        Their colour and line style.
    figsize : tuple of two float, optional
        The size of a new figure (inches).

    Returns
    -------
    fig : `matplotlib.figure.Figure`
        The figure drawn into.

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.photometry import GriddedPSFModel, IntegratedGaussianPRF
    >>> yy, xx = np.mgrid[-12:13, -12:13] / 2
    >>> images = [IntegratedGaussianPRF(sigma=s)(xx, yy) for s in (1.2, 1.4, 1.6, 1.8)]
    >>> grid = GriddedPSFModel(np.array(images), oversampling=2,
    ...                        grid_xypos=[(0, 0), (2047, 0), (0, 2047),
    ...                                    (2047, 2047)], normalize=True)
    >>> fig = grid.plot_grid(deltas=True)
    >>> fig.axes[0].get_title().splitlines()
    ['2 x 2 PSF grid (oversampling 2)', 'each PSF minus their mean']
    """
    # (psfkit's gridded model, by its grid index: the models module
    # imports this one)
    if not (hasattr(model, "grid_xypos") and hasattr(model, "_index")):
        msg = ("model must be a psfkit GriddedPSFModel, got "
               f"{type(model).__name__}")
        raise TypeError(msg)
    stack = np.asarray(model.data, dtype=float)
    index = model._index
    xs, ys = model._xs, model._ys
    if vmax_scale is not None:
        vmax_scale = float(vmax_scale)
        if not (np.isfinite(vmax_scale) and vmax_scale > 0):
            msg = f"vmax_scale must be a positive number, got {vmax_scale}"
            raise ValueError(msg)
    images = stack
    if deltas:
        blank = ~np.any(stack != 0, axis=(1, 2))
        if not blank.all():
            images = np.where(blank[:, None, None], 0.0,
                              stack - stack[~blank].mean(axis=0))
    if peak_norm:
        peak = np.max(images[np.isfinite(images)], initial=0.0)
        if peak != 0:
            images = images / peak
    n_y, n_x = index.shape
    ny, nx = stack.shape[1:]
    # the tiles in grid order, the first grid row at the bottom
    mosaic = images[index].transpose(0, 2, 1, 3).reshape(n_y * ny, n_x * nx)
    plt = _pyplot()
    from matplotlib.colors import LogNorm, Normalize

    if ax is None:
        fig = plt.figure(figsize=figsize)
        ax = fig.add_subplot(111)
    fig = ax.figure
    if deltas:
        top = (0.03 if vmax_scale is None else vmax_scale) * np.max(
            np.abs(images[np.isfinite(images)]), initial=0.0)
        top = top if top > 0 else 1.0
        norm, what = Normalize(-top, top), "\neach PSF minus their mean"
    else:
        top = (1.0 if vmax_scale is None else vmax_scale) * np.max(
            images[np.isfinite(images)], initial=0.0)
        top = top if top > 0 else 1.0
        norm, what = LogNorm(top * 1e-4, top), ""
        mosaic = np.where(mosaic > 0, mosaic, np.nan)
    label = ("difference from the mean PSF" if deltas
             else "value per oversampled pixel")
    if peak_norm:
        label += " (largest = 1)"
    shown = ax.imshow(mosaic, origin="lower", cmap=image_colormap(cmap),
                      norm=norm, interpolation="nearest")
    fig.colorbar(shown, ax=ax, label=label)
    if dividers:
        for i in range(1, n_x):
            ax.axvline(i * nx - 0.5, color=divider_color, ls=divider_ls)
        for j in range(1, n_y):
            ax.axhline(j * ny - 0.5, color=divider_color, ls=divider_ls)
    ax.set_xticks(np.arange(n_x) * nx + (nx - 1) / 2)
    ax.set_xticklabels(_axis_text(xs))
    ax.set_yticks(np.arange(n_y) * ny + (ny - 1) / 2)
    ax.set_yticklabels(_axis_text(ys))
    ax.set_xlabel("x of the grid node (detector pixels)")
    ax.set_ylabel("y of the grid node (detector pixels)")
    osy, osx = model.oversampling
    over = f"{osx}" if osx == osy else f"{osy} x {osx} (y, x)"
    ax.set_title(f"{n_y} x {n_x} PSF grid (oversampling {over}){what}")
    return fig
