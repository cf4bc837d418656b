"""
Figures of the kernel candidates and of the spatial cells that hold them.
"""

import numpy as np

from ...utils import check_integer
from ..candidates import CandidateStatus
from ._panels import (
    _STATUS_STYLE,
    _cell_set_of,
    _draw_cells,
    _figure_and_axes,
    _image,
    _limits,
    _pixel_transform,
    _region,
    _show,
    _unit_label,
)

__all__ = ["plot_candidates", "plot_spatial_cells"]


def plot_candidates(image, cells, *, show_bad=True, show_unused=False,
                    ax=None):
    """
    The kernel candidates over an image: good in green, bad in red.

    Parameters
    ----------
    image : array-like or `~astropy.nddata.NDData`
        The image to show (masked pixels blank); its unit labels the colour
        bar and a celestial WCS gives sky axes.
    cells : `~psfkit.diffim.SpatialCellSet` or result
        The cell set, or a result with a ``cell_set`` attribute.
    show_bad : bool, optional
        Also show the rejected candidates (red crosses).
    show_unused : bool, optional
        Also show the candidates the solve never reached (grey).
    ax : ``matplotlib.axes.Axes``, optional
        Where to draw; a new figure by default.

    Returns
    -------
    fig : ``matplotlib.figure.Figure``

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use('Agg')
    >>> import numpy as np
    >>> from psfkit.diffim import KernelCandidate, SpatialCellSet
    >>> from psfkit.diffim.plotting import plot_candidates
    >>> cells = SpatialCellSet((64, 64), 32, 32)
    >>> cells.insert_candidate(KernelCandidate(10., 20., np.ones((9, 9)),
    ...                                        np.ones((9, 9))))
    >>> fig = plot_candidates(np.zeros((64, 64)), cells)
    >>> fig.axes[0].get_title()
    'kernel candidates: 0 good, 0 bad (whole image, 64 x 64 pixels)'
    """
    cell_set = _cell_set_of(cells)
    data, unit, wcs = _image(image, "image")
    full = (slice(0, data.shape[0]), slice(0, data.shape[1]))
    if ax is None:
        fig, ax = _figure_and_axes(None, (6.6, 6), wcs)
    else:
        fig, ax = _figure_and_axes(ax, None)
        wcs = wcs if hasattr(ax, "coords") else None
    vmin, vmax = _limits(data)
    _show(ax, data, full, wcs, cmap="gray", vmin=vmin, vmax=vmax,
          label=_unit_label("image", unit), stretch=True)
    transform = _pixel_transform(ax)
    extra = {} if transform is None else {"transform": transform}
    counts = {}
    n_shown = max(1, len(cell_set.candidates))
    # fewer, smaller markers on crowded images keep the field visible
    size = float(np.clip(2.0e4 / n_shown, 6.0, 60.0))
    for status, style in _STATUS_STYLE.items():
        cands = [c for c in cell_set.candidates if c.status is status]
        counts[status] = len(cands)
        if (not cands or (status is CandidateStatus.BAD and not show_bad)
                or (status is CandidateStatus.UNKNOWN and not show_unused)):
            continue
        x = [c.x for c in cands]
        y = [c.y for c in cands]
        if style["marker"] == "o":
            ax.scatter(x, y, s=size, marker="o", facecolors="none",
                       edgecolors=style["color"], label=style["label"],
                       linewidths=0.8, **extra)
        else:
            ax.scatter(x, y, s=size, marker=style["marker"], c=style["color"],
                       label=style["label"], linewidths=0.8, **extra)
    _draw_cells(ax, cell_set, transform, color="0.5", lw=0.4, alpha=0.6)
    ny, nx = data.shape
    ax.set_xlim(-0.5, nx - 0.5)
    ax.set_ylim(-0.5, ny - 0.5)
    _, text = _region(None, data.shape)
    ax.set_title(f"kernel candidates: {counts[CandidateStatus.GOOD]} good, "
                 f"{counts[CandidateStatus.BAD]} bad ({text})")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper right", fontsize=8)
    return fig


def plot_spatial_cells(cells, *, image=None, n_star_per_cell=None, ax=None):
    """
    The spatial cells with the number of candidates (used / held) in each.

    Parameters
    ----------
    cells : `~psfkit.diffim.SpatialCellSet` or result
        The cell set, or a result with a ``cell_set``.
    image : array-like or `~astropy.nddata.NDData`, optional
        An image to draw under the grid (with a colour bar).
    n_star_per_cell : int, optional
        With it, the first number is the candidates a cell offers to the
        solve (its first ``n_star_per_cell`` non-bad ones); without it, the
        good ones.
    ax : ``matplotlib.axes.Axes``, optional
        Where to draw; a new figure by default.

    Returns
    -------
    fig : ``matplotlib.figure.Figure``

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use('Agg')
    >>> from psfkit.diffim import SpatialCellSet
    >>> from psfkit.diffim.plotting import plot_spatial_cells
    >>> fig = plot_spatial_cells(SpatialCellSet((100, 200), 64, 64))
    >>> fig.axes[0].get_title()
    'spatial cells: 4 x 2 of 64 x 64 pixels'
    """
    cell_set = _cell_set_of(cells)
    ny, nx = cell_set.shape
    fig, ax = _figure_and_axes(ax, (6.6, 6 * ny / max(nx, 1) + 0.6))
    if image is not None:
        data, unit, _ = _image(image, "image")
        vmin, vmax = _limits(data)
        _show(ax, data, (slice(0, data.shape[0]), slice(0, data.shape[1])),
              None, cmap="gray", vmin=vmin, vmax=vmax,
              label=_unit_label("image", unit), stretch=True)
    _draw_cells(ax, cell_set, color="tab:blue", lw=0.8)
    for cell in cell_set.cells:
        if n_star_per_cell is None:
            used = sum(c.status is CandidateStatus.GOOD for c in cell.candidates)
        else:
            used = len(cell.usable(check_integer("n_star_per_cell",
                                                 n_star_per_cell, minimum=1)))
        xc = 0.5 * sum(cell.x_range)
        yc = 0.5 * sum(cell.y_range)
        ax.text(xc, yc, f"{used}/{len(cell.candidates)}", ha="center",
                va="center", fontsize=8, color="tab:blue",
                bbox=dict(facecolor="white", alpha=0.6, lw=0))
        if cell.candidates:
            ax.plot([c.x for c in cell.candidates],
                    [c.y for c in cell.candidates], ".", color="tab:orange",
                    ms=3)
    ax.set_xlim(-0.5, nx - 0.5)
    ax.set_ylim(-0.5, ny - 0.5)
    sx, sy = cell_set.size_cell
    ax.set_title(f"spatial cells: {cell_set.n_cells_x} x {cell_set.n_cells_y} "
                 f"of {sx} x {sy} pixels")
    return fig
