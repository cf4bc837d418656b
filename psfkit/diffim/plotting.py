"""
Quality-assessment displays of PSF matching (needs matplotlib).

One function per view of the solve: the candidates over the image (good
green, rejected red), the kernel basis, the kernel realised across the
image, the spatial model of the coefficients, the spatial cells, and the
template / science / matched / difference images side by side.  Each
function returns the matplotlib ``Figure``; matplotlib is imported only when
one of them is called, so it stays an optional dependency of psfkit.

This module is not imported by ``psfkit.diffim``; import it explicitly::

    from psfkit.diffim import plotting
"""

import numpy as np

from ..utils import check_integer, coerce_data
from .candidates import CandidateStatus, SpatialCellSet

__all__ = [
    "plot_candidates",
    "plot_kernel_basis",
    "plot_kernel_mosaic",
    "plot_spatial_coefficients",
    "plot_spatial_cells",
    "plot_subtraction",
]

_STATUS_STYLE = {
    CandidateStatus.GOOD: dict(color="limegreen", marker="o", label="good"),
    CandidateStatus.BAD: dict(color="red", marker="x", label="bad"),
    CandidateStatus.UNKNOWN: dict(color="0.6", marker="+",
                                  label="not used"),
}


def _pyplot():
    import matplotlib.pyplot as plt

    return plt


def _figure_and_axes(ax, figsize):
    plt = _pyplot()
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
        return fig, ax
    return ax.figure, ax


def _image_data(image, name):
    arr = coerce_data(image, name=name, allow_all_masked=True)
    return np.where(arr.mask, np.nan, arr.data)


def _limits(values, lo=1.0, hi=99.5):
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 1.0
    vmin, vmax = np.percentile(finite, [lo, hi])
    if vmax <= vmin:
        vmax = vmin + 1.0
    return float(vmin), float(vmax)


def _cell_set_of(obj):
    cell_set = getattr(obj, "cell_set", obj)
    if not isinstance(cell_set, SpatialCellSet):
        msg = (f"expected a SpatialCellSet or a result with a cell_set, got "
               f"{type(obj).__name__}")
        raise TypeError(msg)
    return cell_set


def _kernel_of(obj):
    kernel = getattr(obj, "kernel", obj)
    if not (hasattr(kernel, "kernel_image") and hasattr(kernel, "basis")):
        msg = (f"expected a SpatialKernel or a result with a kernel, got "
               f"{type(obj).__name__}")
        raise TypeError(msg)
    return kernel


def _draw_cells(ax, cell_set, **style):
    ny, nx = cell_set.shape
    sx, sy = cell_set.size_cell
    for i in range(cell_set.n_cells_x + 1):
        ax.axvline(min(i * sx, nx) - 0.5, **style)
    for j in range(cell_set.n_cells_y + 1):
        ax.axhline(min(j * sy, ny) - 0.5, **style)


def plot_candidates(image, cells, *, show_bad=True, show_unused=False,
                    ax=None):
    """
    The kernel candidates over an image: good in green, bad in red.

    Parameters
    ----------
    image : array-like or `~astropy.nddata.NDData`
        The image to show (masked pixels blank).
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
    'kernel candidates: 0 good, 0 bad'
    """
    cell_set = _cell_set_of(cells)
    data = _image_data(image, "image")
    fig, ax = _figure_and_axes(ax, (6, 6))
    vmin, vmax = _limits(data)
    ax.imshow(data, origin="lower", cmap="gray", vmin=vmin, vmax=vmax)
    counts = {}
    for status, style in _STATUS_STYLE.items():
        cands = [c for c in cell_set.candidates if c.status is status]
        counts[status] = len(cands)
        if (not cands or (status is CandidateStatus.BAD and not show_bad)
                or (status is CandidateStatus.UNKNOWN and not show_unused)):
            continue
        x = [c.x for c in cands]
        y = [c.y for c in cands]
        if style["marker"] == "o":
            ax.scatter(x, y, s=60, marker="o", facecolors="none",
                       edgecolors=style["color"], label=style["label"])
        else:
            ax.scatter(x, y, s=60, marker=style["marker"], c=style["color"],
                       label=style["label"])
    _draw_cells(ax, cell_set, color="0.5", lw=0.4, alpha=0.6)
    ny, nx = data.shape
    ax.set_xlim(-0.5, nx - 0.5)
    ax.set_ylim(-0.5, ny - 0.5)
    ax.set_title(f"kernel candidates: {counts[CandidateStatus.GOOD]} good, "
                 f"{counts[CandidateStatus.BAD]} bad")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper right", fontsize=8)
    return fig


def plot_kernel_basis(basis, *, max_images=None, ncols=None):
    """
    The kernel basis images, on a grid.

    Parameters
    ----------
    basis : `~numpy.ndarray`, `~psfkit.diffim.SpatialKernel` or result
        ``(n_basis, k, k)`` images, or an object with a ``basis`` (or a
        ``kernel`` with one).
    max_images : int, optional
        Show only the first ones.
    ncols : int, optional
        Columns of the grid (about square by default).

    Returns
    -------
    fig : ``matplotlib.figure.Figure``

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use('Agg')
    >>> from psfkit.diffim import alard_lupton_basis
    >>> from psfkit.diffim.plotting import plot_kernel_basis
    >>> fig = plot_kernel_basis(alard_lupton_basis(11, [1.0, 2.0], [2, 1]))
    >>> sum(ax.has_data() for ax in fig.axes)
    9
    """
    if hasattr(basis, "kernel") and not hasattr(basis, "basis"):
        basis = basis.kernel
    basis = np.asarray(getattr(basis, "basis", basis), dtype=float)
    if basis.ndim != 3:
        msg = f"basis must be a stack of 2-D images, got shape {basis.shape}"
        raise ValueError(msg)
    if max_images is not None:
        basis = basis[:check_integer("max_images", max_images, minimum=1)]
    n = len(basis)
    ncols = (int(np.ceil(np.sqrt(n))) if ncols is None
             else check_integer("ncols", ncols, minimum=1))
    nrows = int(np.ceil(n / ncols))
    plt = _pyplot()
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.3 * ncols, 1.3 * nrows),
                             squeeze=False)
    for i, ax in enumerate(axes.ravel()):
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= n:
            ax.set_axis_off()
            continue
        lim = float(np.abs(basis[i]).max()) or 1.0
        ax.imshow(basis[i], origin="lower", cmap="RdBu_r", vmin=-lim, vmax=lim)
        ax.set_title(str(i), fontsize=7)
    fig.suptitle(f"kernel basis ({n} images of {basis.shape[-1]}x"
                 f"{basis.shape[-2]})")
    return fig


def plot_kernel_mosaic(kernel, *, n=3, same_scale=True):
    """
    The kernel realised on an ``n x n`` grid of positions across the image.

    Parameters
    ----------
    kernel : `~psfkit.diffim.SpatialKernel` or result
        The spatial kernel (or a result with a ``kernel``).
    n : int, optional
        Grid size; the positions are the centres of an ``n x n`` tiling of
        the image.
    same_scale : bool, optional
        One colour scale for all panels (shows the variation), else one per
        panel.

    Returns
    -------
    fig : ``matplotlib.figure.Figure``

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use('Agg')
    >>> import numpy as np
    >>> from psfkit.diffim import SpatialFunction, SpatialKernel, alard_lupton_basis
    >>> from psfkit.diffim.plotting import plot_kernel_mosaic
    >>> k = SpatialKernel(alard_lupton_basis(9, [1.5], [0]), np.array([[1.0]]),
    ...                   SpatialFunction(0, (64, 64)))
    >>> len(plot_kernel_mosaic(k, n=2).axes)
    4
    """
    kernel = _kernel_of(kernel)
    n = check_integer("n", n, minimum=1)
    ny, nx = kernel.shape
    xs = (np.arange(n) + 0.5) * nx / n - 0.5
    ys = (np.arange(n) + 0.5) * ny / n - 0.5
    gx, gy = np.meshgrid(xs, ys)
    images = kernel.kernel_image(gx.ravel(), gy.ravel()).reshape(
        n, n, kernel.kernel_size, kernel.kernel_size)
    plt = _pyplot()
    fig, axes = plt.subplots(n, n, figsize=(1.8 * n, 1.8 * n), squeeze=False)
    vmin, vmax = float(images.min()), float(images.max())
    for j in range(n):
        for i in range(n):
            # row 0 of the figure is the top of the image
            ax = axes[n - 1 - j, i]
            img = images[j, i]
            lims = (vmin, vmax) if same_scale else (img.min(), img.max())
            ax.imshow(img, origin="lower", cmap="viridis", vmin=lims[0],
                      vmax=lims[1])
            ax.set_title(f"({xs[i]:.0f}, {ys[j]:.0f})", fontsize=7)
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle("kernel realised across the image")
    return fig


def plot_spatial_coefficients(kernel, *, indices=None, cells=None,
                              max_panels=12):
    """
    Maps of the spatial model: the kernel sum and each basis coefficient.

    Parameters
    ----------
    kernel : `~psfkit.diffim.SpatialKernel` or result
        The spatial kernel (or a result with a ``kernel``, whose
        ``cell_set`` is then also used).
    indices : sequence of int, optional
        The basis coefficients to show; by default the first ones with the
        largest spatial variation, up to ``max_panels - 1``.
    cells : `~psfkit.diffim.SpatialCellSet`, optional
        Candidates to mark on the maps (the good ones).
    max_panels : int, optional
        Largest number of panels.

    Returns
    -------
    fig : ``matplotlib.figure.Figure``

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use('Agg')
    >>> import numpy as np
    >>> from psfkit.diffim import SpatialFunction, SpatialKernel, alard_lupton_basis
    >>> from psfkit.diffim.plotting import plot_spatial_coefficients
    >>> basis = alard_lupton_basis(9, [1.0, 2.0], [0, 0])
    >>> coeffs = np.array([[1.0, 0.0, 0.0], [0.1, 0.05, -0.02]])
    >>> k = SpatialKernel(basis, coeffs, SpatialFunction(1, (64, 64)))
    >>> [ax.get_title() for ax in plot_spatial_coefficients(k).axes[:2]]
    ['kernel sum', 'coefficient 1']
    """
    if cells is None and hasattr(kernel, "cell_set"):
        cells = kernel.cell_set
    kernel = _kernel_of(kernel)
    max_panels = check_integer("max_panels", max_panels, minimum=2)
    nb = kernel.basis.shape[0]
    func = kernel.kernel_function
    maps = {i: func.evaluate(kernel.coefficients[i]) for i in range(nb)}
    if indices is None:
        spread = np.array([np.ptp(maps[i]) for i in range(1, nb)])
        order = 1 + np.argsort(-spread, kind="stable")
        indices = sorted(order[:max_panels - 1].tolist())
    else:
        indices = [check_integer("indices", i, minimum=0) for i in indices]
        for i in indices:
            if i >= nb:
                msg = f"indices must be < {nb} (the number of bases), got {i}"
                raise ValueError(msg)
    panels = [("kernel sum", kernel.kernel_sum_image())]
    panels += [(f"coefficient {i}", maps[i]) for i in indices]
    n = len(panels)
    ncols = min(n, 4)
    nrows = int(np.ceil(n / ncols))
    plt = _pyplot()
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.0 * ncols, 2.8 * nrows),
                             squeeze=False)
    good = ([] if cells is None else
            [c for c in _cell_set_of(cells).candidates
             if c.status is CandidateStatus.GOOD])
    ny, nx = kernel.shape
    for ax, (title, img) in zip(axes.ravel(), panels, strict=False):
        im = ax.imshow(img, origin="lower", cmap="viridis")
        fig.colorbar(im, ax=ax, shrink=0.8)
        if good:
            ax.plot([c.x for c in good], [c.y for c in good], "w.", ms=3)
            ax.set_xlim(-0.5, nx - 0.5)
            ax.set_ylim(-0.5, ny - 0.5)
        ax.set_title(title, fontsize=9)
    for ax in axes.ravel()[n:]:
        ax.set_axis_off()
    fig.suptitle("spatial model of the kernel")
    fig.tight_layout()
    return fig


def plot_spatial_cells(cells, *, image=None, n_star_per_cell=None, ax=None):
    """
    The spatial cells with the number of candidates (used / held) in each.

    Parameters
    ----------
    cells : `~psfkit.diffim.SpatialCellSet` or result
        The cell set, or a result with a ``cell_set``.
    image : array-like or `~astropy.nddata.NDData`, optional
        An image to draw under the grid.
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
    fig, ax = _figure_and_axes(ax, (6, 6 * cell_set.shape[0]
                                    / max(cell_set.shape[1], 1) + 0.5))
    ny, nx = cell_set.shape
    if image is not None:
        data = _image_data(image, "image")
        vmin, vmax = _limits(data)
        ax.imshow(data, origin="lower", cmap="gray", vmin=vmin, vmax=vmax)
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


def plot_subtraction(template, science, result, *, region=None, zlim=5.0):
    """
    Template, science, matched image and difference side by side.

    Parameters
    ----------
    template, science : array-like or `~astropy.nddata.NDData`
        The input images.
    result : `~psfkit.diffim.SubtractionResult`
        The subtraction (its ``matched_image`` and ``difference``).
    region : tuple of slice, optional
        ``(rows, columns)`` to show; the whole image by default.
    zlim : float, optional
        The difference is shown as ``D / sigma`` in ``[-zlim, zlim]``.

    Returns
    -------
    fig : ``matplotlib.figure.Figure``

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use('Agg')
    >>> from psfkit.datasets import make_diffim_pair
    >>> from psfkit.diffim import ImagePsfMatch, PsfMatchConfig
    >>> from psfkit.diffim.plotting import plot_subtraction
    >>> t, s, _ = make_diffim_pair((256, 256), n_stars=300, science_gain=4.0,
    ...                            template_gain=16.0, flux_range=(3e3, 3e5),
    ...                            random_state=2)
    >>> cfg = PsfMatchConfig(size_cell_x=64, size_cell_y=64, kernel_size_min=11)
    >>> res = ImagePsfMatch(cfg).subtract_images(t, s)
    >>> [ax.get_title() for ax in plot_subtraction(t, s, res).axes[:4]]
    ['template', 'science', 'matched template', 'difference / sigma']
    """
    for attr in ("matched_image", "difference"):
        if getattr(result, attr, None) is None:
            msg = (f"result must be a SubtractionResult (with {attr}), got "
                   f"{type(result).__name__}")
            raise TypeError(msg)
    zlim = float(zlim)
    if region is None:
        region = (slice(None), slice(None))
    diff = result.difference
    with np.errstate(invalid="ignore", divide="ignore"):
        z = diff.data / np.sqrt(diff.uncertainty.array)
    z = np.where(diff.mask, np.nan, z)
    matched = _image_data(result.matched_image, "matched_image")
    which = getattr(result, "convolved", "template")
    panels = [("template", _image_data(template, "template")),
              ("science", _image_data(science, "science")),
              (f"matched {which}", matched),
              ("difference / sigma", z)]
    plt = _pyplot()
    fig, axes = plt.subplots(1, 4, figsize=(14, 3.8))
    for ax, (title, img) in zip(axes, panels, strict=True):
        sub = img[region]
        if title.startswith("difference"):
            vmin, vmax = -zlim, zlim
            cmap = "RdBu_r"
        else:
            vmin, vmax = _limits(sub)
            cmap = "gray"
        ax.imshow(sub, origin="lower", cmap=cmap, vmin=vmin, vmax=vmax)
        ax.set_title(title)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig
