"""
Figures of ramp fits: one pixel's reads with its fit, segments and jumps;
the slope map; the flag map.

matplotlib is needed only when one of these functions is called.  Every
function draws on ``ax`` (the current axes by default) and returns it;
axes are labelled, maps have colour bars with their units.
"""

import astropy.units as u
import numpy as np

from ..utils import as_pair, check_integer, coerce_data, image_colormap
from ._inputs import is_dask
from ._ramp_array import check_times, ramp_options
from ._ramp_engine import segment_reads
from .flags import RAMP_FLAGS
from .ramps import check_mask, fit_ramps

__all__ = ["plot_ramp", "plot_slope_map", "plot_flag_map"]


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        msg = "plotting needs matplotlib (pip install matplotlib, or psfkit[all])"
        raise ImportError(msg) from None
    return plt


def _axes(ax):
    return _pyplot().gca() if ax is None else ax


def _values(value):
    """Plain ndarray and unit of a result array (numpy, Quantity or dask)."""
    if value is None:
        return None, None
    if is_dask(value):
        value = value.compute()
    unit = getattr(value, "unit", None)
    return np.asarray(getattr(value, "value", value)), unit


def _map(values, what):
    """A 2-D result array (plain values and unit) for a map of ``what``."""
    values, unit = _values(values)
    if values.ndim != 2:
        msg = f"the {what} map must be 2-D, got shape {values.shape}"
        raise ValueError(msg)
    return values, unit


def _pixel_axes(ax, title):
    ax.set_title(title)
    ax.set_xlabel("x [pixel]")
    ax.set_ylabel("y [pixel]")
    return ax


def _label(text, unit):
    if unit is None or unit == u.dimensionless_unscaled:
        return text
    return f"{text} [{unit.to_string()}]"


def _pixel(pixel):
    """``pixel`` as an ``(x, y)`` pair of ints."""
    if np.ndim(pixel) != 1 or np.size(pixel) != 2:
        msg = f"pixel must be an (x, y) pair of integers, got {pixel!r}"
        raise ValueError(msg)
    return as_pair("pixel", pixel)


def _result_array(result, name):
    """The ``name`` array of a ramp fit result, or a clear error."""
    if not (hasattr(result, "slope") and hasattr(result, name)):
        msg = ("result must be a RampFitResult (as fit_ramps returns), got "
               f"{type(result).__name__}")
        raise TypeError(msg)
    return getattr(result, name)


def plot_ramp(cube, pixel, times=None, *, ax=None, axis=0, mask=None,
              read_noise=None, gain=1.0, weighting="unweighted",
              saturation=None, detect_jumps=False, jump_threshold=4.0):
    """
    Plot one pixel's reads with its fitted slope, segments and jumps.

    The pixel is fitted by `~psfkit.modelsets.fit_ramps` with the options
    given (the same options give the same slope as the fit of the whole
    cube).  Used reads are dots, unused ones (masked, NaN or saturated)
    crosses; each segment between jumps gets the fitted rate drawn through
    its own reads; jumps are dotted vertical lines.

    Parameters
    ----------
    cube : array-like, masked array, Quantity or NDData
        A 3-D cube with time along ``axis``.
    pixel : tuple of 2 int
        The ``(x, y)`` pixel to show.
    times : array-like or Quantity, optional
        The read times, as for `~psfkit.modelsets.fit_ramps`.
    ax : `matplotlib.axes.Axes`, optional
        Where to draw; default the current axes.
    axis, mask, read_noise, gain, weighting, saturation, detect_jumps, jump_threshold
        As for `~psfkit.modelsets.fit_ramps`.

    Returns
    -------
    ax : `matplotlib.axes.Axes`

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import astropy.units as u
    >>> from psfkit.datasets import make_ramp_cube
    >>> from psfkit.modelsets import plot_ramp
    >>> cube, truth = make_ramp_cube((4, 4), 10, rate=5.0, read_noise=3.0,
    ...                              jump_fraction=1.0, random_state=1)
    >>> fig, ax = plt.subplots()
    >>> ax = plot_ramp(cube * u.DN, (1, 2), truth.times * u.s, ax=ax,
    ...                read_noise=3.0, detect_jumps=True)
    >>> ax.get_xlabel(), ax.get_ylabel()
    ('time [s]', 'signal [DN]')
    >>> plt.close(fig)
    """
    data = coerce_data(cube, name="cube", ndim=3, dtype=np.float64,
                       allow_all_masked=True)
    data_unit = data.unit
    opts = ramp_options(1, read_noise, gain, weighting, saturation, detect_jumps,
                        jump_threshold, data_unit)
    values = data.data
    mask = check_mask(mask, values.shape)
    if data.mask.any():
        # the masks the cube carries (NaN reads are never used anyway)
        mask = data.mask if mask is None else mask | data.mask
    axis = check_integer("axis", axis)
    if not -3 <= axis < 3:
        msg = f"axis must be one of the cube's 3 axes (-3 to 2), got {axis}"
        raise ValueError(msg)
    values = np.moveaxis(values, axis, 0)
    x, y = _pixel(pixel)
    ny, nx = values.shape[1:]
    if not (0 <= x < nx and 0 <= y < ny):
        msg = f"pixel (x, y) = {(x, y)} is outside the {nx} x {ny} image"
        raise ValueError(msg)
    ramp = values[:, y, x]
    pmask = None
    if mask is not None:
        pmask = np.moveaxis(np.asarray(mask, dtype=bool), axis, 0)[:, y, x]
    time_unit = getattr(times, "unit", None)
    t = check_times(getattr(times, "value", times), ramp.size)
    saturation = opts["saturation"]
    res = fit_ramps(ramp[:, None], t, mask=None if pmask is None
                    else pmask[:, None], read_noise=opts["read_noise"],
                    gain=opts["gain"], weighting=weighting,
                    saturation=saturation,
                    detect_jumps=detect_jumps, jump_threshold=jump_threshold,
                    executor=1)
    slope, err = float(res.slope[0]), float(res.slope_err[0])

    valid = np.isfinite(ramp)[None]
    if pmask is not None:
        valid &= ~pmask[None]
    used, seg, _ = segment_reads(ramp[None], valid, t, opts)
    used = used[0] & np.isfinite(ramp)
    seg = np.zeros(ramp.size, int) if seg is None else seg[0]

    ax = _axes(ax)
    ax.plot(t[used], ramp[used], "o", color="C0", label="reads used")
    if not used.all():
        ax.plot(t[~used], ramp[~used], "x", color="0.5",
                label="not used (masked, NaN or saturated)")
    if np.isfinite(slope):
        for s in np.unique(seg[used]):
            part = used & (seg == s)
            level = np.mean(ramp[part] - slope * t[part])
            ax.plot(t[part], level + slope * t[part], "-", color="C1",
                    label="fitted rate" if s == seg[used][0] else None)
    for j in np.flatnonzero(np.diff(seg) > 0):
        ax.axvline(0.5 * (t[j] + t[j + 1]), color="C3", ls=":",
                   label="jump" if j == np.flatnonzero(np.diff(seg))[0]
                   else None)
    if saturation is not None and np.any(ramp >= saturation):
        # drawn only where it explains unused reads: a distant level
        # would squash the ramp
        ax.axhline(saturation, color="0.3", ls="--", lw=0.8,
                   label="saturation")
    rate_unit = None
    if data_unit is not None or time_unit is not None:
        rate_unit = ((u.dimensionless_unscaled if data_unit is None
                      else data_unit) / (u.s if time_unit is None
                                         else time_unit))
    unit_text = "" if rate_unit is None else f" {rate_unit.to_string()}"
    ax.set_title(f"pixel (x, y) = ({x}, {y}): slope {slope:.4g} "
                 f"± {err:.2g}{unit_text}")
    ax.set_xlabel(_label("time", time_unit if time_unit is not None
                         else (u.s if data_unit is not None else None)))
    ax.set_ylabel(_label("signal", data_unit))
    ax.legend(loc="best", fontsize="small")
    return ax


def plot_slope_map(result, *, ax=None, cmap="viridis", percentiles=(1, 99)):
    """
    Show the slope of every pixel, with a colour bar in the slope's unit.

    Parameters
    ----------
    result : `~psfkit.modelsets.RampFitResult`
        A fit of a cube with two pixel axes.
    ax : `matplotlib.axes.Axes`, optional
        Where to draw; default the current axes.
    cmap : str, optional
        The colour map.
    percentiles : tuple of 2 float, optional
        The colour scale runs between these percentiles of the finite
        slopes; pixels without a slope are drawn in a colour of their own
        (see `~psfkit.utils.image_colormap`).

    Returns
    -------
    ax : `matplotlib.axes.Axes`

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import astropy.units as u
    >>> from psfkit.datasets import make_ramp_cube
    >>> from psfkit.modelsets import fit_ramps, plot_slope_map
    >>> cube, truth = make_ramp_cube((8, 8), 6, rate=5.0, read_noise=3.0,
    ...                              random_state=1)
    >>> res = fit_ramps(cube * u.DN, truth.times * u.s, read_noise=3.0)
    >>> fig, ax = plt.subplots()
    >>> ax = plot_slope_map(res, ax=ax)
    >>> ax.images[0].colorbar.ax.get_ylabel()
    'slope [DN / s]'
    >>> plt.close(fig)
    """
    slope, unit = _map(_result_array(result, "slope"), "slope")
    plt = _pyplot()
    ax = _axes(ax)
    finite = slope[np.isfinite(slope)]
    vmin, vmax = (np.percentile(finite, percentiles) if finite.size
                  else (None, None))
    image = ax.imshow(np.ma.masked_invalid(slope), origin="lower",
                      cmap=image_colormap(cmap),
                      vmin=vmin, vmax=vmax, interpolation="nearest")
    bar = plt.colorbar(image, ax=ax)
    bar.set_label(_label("slope", unit))
    n_blank = slope.size - finite.size
    return _pixel_axes(ax, "Slope" + (f" ({n_blank} pixels without a slope)"
                                      if n_blank else ""))


def _combination_name(value):
    if value == 0:
        return "none"
    return "+".join(name for name, bit in RAMP_FLAGS.items() if value & bit)


def plot_flag_map(result, *, ax=None):
    """
    Show which flags every pixel carries.

    Each combination of flags present gets its own colour; the colour bar
    names the combinations and counts their pixels.

    Parameters
    ----------
    result : `~psfkit.modelsets.RampFitResult`
        A fit of a cube with two pixel axes.
    ax : `matplotlib.axes.Axes`, optional
        Where to draw; default the current axes.

    Returns
    -------
    ax : `matplotlib.axes.Axes`

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> from psfkit.datasets import make_ramp_cube
    >>> from psfkit.modelsets import fit_ramps, plot_flag_map
    >>> rate = np.full((8, 8), 5.0)
    >>> rate[:, 6:] = [300.0, 3000.0]        # two bright columns saturate
    >>> cube, truth = make_ramp_cube((8, 8), 6, rate=rate, read_noise=3.0,
    ...                              saturation=1000.0, random_state=1)
    >>> res = fit_ramps(cube, truth.times, read_noise=3.0, saturation=1000.0)
    >>> fig, ax = plt.subplots()
    >>> ax = plot_flag_map(res, ax=ax)
    >>> [t.get_text() for t in ax.images[0].colorbar.ax.get_yticklabels()]
    ['none (48)', 'SATURATED (8)', 'SATURATED+TOO_FEW_READS (8)']
    >>> plt.close(fig)
    """
    from matplotlib.colors import BoundaryNorm, ListedColormap

    flags, _ = _map(_result_array(result, "flags"), "flag")
    plt = _pyplot()
    ax = _axes(ax)
    combos, index = np.unique(flags, return_inverse=True)
    index = index.reshape(flags.shape)
    counts = np.bincount(index.ravel(), minlength=combos.size)
    colours = [(0.92, 0.92, 0.92) if c == 0 else plt.get_cmap("tab10")(i % 10)
               for i, c in enumerate(combos)]
    cmap = ListedColormap(colours)
    norm = BoundaryNorm(np.arange(combos.size + 1) - 0.5, combos.size)
    image = ax.imshow(index, origin="lower", cmap=cmap, norm=norm,
                      interpolation="nearest")
    bar = plt.colorbar(image, ax=ax, ticks=np.arange(combos.size))
    bar.ax.set_yticklabels([f"{_combination_name(c)} ({n})"
                            for c, n in zip(combos, counts, strict=True)])
    bar.set_label("flags")
    n_flagged = int(np.count_nonzero(flags))
    return _pixel_axes(ax, f"Ramp flags: {n_flagged} of {flags.size} pixels "
                           "flagged")
