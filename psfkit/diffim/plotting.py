"""
Figures of PSF matching (needs matplotlib).

One function per view of the solve: the candidates over the image (good
green, rejected red), the kernel basis, the kernel realised across the
image, the spatial model of the coefficients, the spatial cells, and the
template / science / matched / difference images side by side.  Each
function returns the matplotlib ``Figure``, ready for a paper: every image
has a colour bar labelled with its quantity and unit, the axes are
labelled (sky coordinates when the image has a celestial WCS, pixels
otherwise, in the coordinates of the full image), and the titles say which
part of the image is shown.  matplotlib is imported only when one of them
is called, so it stays an optional dependency of psfkit.

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


def _image(image, name):
    """Data (masked pixels NaN), unit and celestial WCS of an input."""
    arr = coerce_data(image, name=name, allow_all_masked=True, dtype=None)
    wcs = arr.wcs
    if wcs is not None and not getattr(wcs, "has_celestial", False):
        wcs = None
    return np.where(arr.mask, np.nan, arr.data), arr.unit, wcs


def _region(region, shape):
    """``(rows, cols)`` slices with explicit bounds, and a description."""
    if region is None:
        region = (slice(None), slice(None))
    if len(region) != 2 or not all(isinstance(s, slice) for s in region):
        msg = f"region must be a (rows, columns) pair of slices, got {region!r}"
        raise TypeError(msg)
    rows = slice(*region[0].indices(shape[0])[:2])
    cols = slice(*region[1].indices(shape[1])[:2])
    if rows.stop <= rows.start or cols.stop <= cols.start:
        msg = f"region {region!r} selects no pixel of an image of {shape}"
        raise ValueError(msg)
    ny, nx = shape
    if (rows.start, rows.stop, cols.start, cols.stop) == (0, ny, 0, nx):
        text = f"whole image, {nx} x {ny} pixels"
    else:
        text = (f"x {cols.start}-{cols.stop - 1}, y {rows.start}-"
                f"{rows.stop - 1} of a {nx} x {ny} image")
    return (rows, cols), text


def _unit_label(quantity, unit):
    return quantity if unit is None or str(unit) == "" else (
        f"{quantity} [{unit.to_string()}]")


def _limits(values, lo=1.0, hi=99.5):
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 1.0
    vmin, vmax = np.percentile(finite, [lo, hi])
    if vmax <= vmin:
        vmax = vmin + 1.0
    return float(vmin), float(vmax)


def _image_axes(fig, spec, wcs, region):
    """Axes for an image: WCS axes with the region's WCS, or pixel axes."""
    if wcs is not None:
        ax = fig.add_subplot(spec, projection=wcs[region])
        ax.coords[0].set_axislabel("Right ascension" if "RA" in str(
            wcs.wcs.ctype[0]) else str(wcs.world_axis_physical_types[0]))
        ax.coords[1].set_axislabel("Declination" if "DEC" in str(
            wcs.wcs.ctype[1]) else str(wcs.world_axis_physical_types[1]))
        return ax
    ax = fig.add_subplot(spec)
    ax.set_xlabel("x (pixel)")
    ax.set_ylabel("y (pixel)")
    return ax


def _show(ax, data, region, wcs, *, cmap, vmin, vmax, label, stretch=False):
    """Draw ``data[region]`` in full-image pixel coordinates, with a
    labelled colour bar; ``stretch`` shows star fields with an asinh
    stretch (faint sky and bright stars both visible)."""
    from astropy.visualization import AsinhStretch, ImageNormalize

    rows, cols = region
    sub = data[region]
    extent = None if wcs is not None else (
        cols.start - 0.5, cols.stop - 0.5, rows.start - 0.5, rows.stop - 0.5)
    norm = (ImageNormalize(vmin=vmin, vmax=vmax, stretch=AsinhStretch(0.05))
            if stretch else None)
    im = ax.imshow(sub, origin="lower", cmap=cmap, extent=extent,
                   interpolation="nearest", norm=norm,
                   **({} if stretch else {"vmin": vmin, "vmax": vmax}))
    ax.figure.colorbar(im, ax=ax, shrink=0.85, label=label)
    return im


def _figure_and_axes(ax, figsize, wcs=None):
    plt = _pyplot()
    if ax is None:
        fig = plt.figure(figsize=figsize)
        return fig, _image_axes(fig, 111, wcs, (slice(None), slice(None)))
    if not (ax.get_xlabel() or ax.get_ylabel()):
        ax.set_xlabel("x (pixel)")
        ax.set_ylabel("y (pixel)")
    return ax.figure, ax


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


def _draw_cells(ax, cell_set, transform=None, **style):
    ny, nx = cell_set.shape
    sx, sy = cell_set.size_cell
    kw = dict(style)
    if transform is not None:
        kw["transform"] = transform
    for i in range(cell_set.n_cells_x + 1):
        x = min(i * sx, nx) - 0.5
        ax.plot([x, x], [-0.5, ny - 0.5], **kw)
    for j in range(cell_set.n_cells_y + 1):
        y = min(j * sy, ny) - 0.5
        ax.plot([-0.5, nx - 0.5], [y, y], **kw)


def _pixel_transform(ax):
    """Data coordinates in image pixels, also on WCS axes."""
    return ax.get_transform("pixel") if hasattr(ax, "coords") else None


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


def plot_kernel_basis(basis, *, max_images=None, ncols=None):
    """
    The kernel basis images, on a grid with one colour scale (the first
    has unit sum, the others zero sum and unit L2 norm).

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
    >>> sum(ax.has_data() for ax in fig.axes[:-1])  # the last is the colour bar
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
    fig, axes = plt.subplots(nrows, ncols,
                             figsize=(1.3 * ncols + 1.0, 1.3 * nrows + 0.6),
                             squeeze=False)
    lim = float(np.abs(basis).max()) or 1.0
    half = basis.shape[-1] // 2
    extent = (-half - 0.5, half + 0.5, -half - 0.5, half + 0.5)
    im = None
    for i, ax in enumerate(axes.ravel()):
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= n:
            ax.set_axis_off()
            continue
        im = ax.imshow(basis[i], origin="lower", cmap="RdBu_r", vmin=-lim,
                       vmax=lim, extent=extent)
        ax.set_title(str(i), fontsize=7)
    fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.8,
                 label="basis value")
    fig.suptitle(f"kernel basis: {n} images of {basis.shape[-1]} x "
                 f"{basis.shape[-2]} pixels")
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
    >>> len(plot_kernel_mosaic(k, n=2).axes)  # 4 panels and a colour bar
    5
    """
    kernel = _kernel_of(kernel)
    n = check_integer("n", n, minimum=1)
    ny, nx = kernel.shape
    xs = (np.arange(n) + 0.5) * nx / n - 0.5
    ys = (np.arange(n) + 0.5) * ny / n - 0.5
    gx, gy = np.meshgrid(xs, ys)
    k = kernel.kernel_size
    images = kernel.kernel_image(gx.ravel(), gy.ravel()).reshape(n, n, k, k)
    plt = _pyplot()
    fig, axes = plt.subplots(n, n, figsize=(1.9 * n + 1.2, 1.9 * n + 0.5),
                             squeeze=False)
    vmin, vmax = float(images.min()), float(images.max())
    half = k // 2
    extent = (-half - 0.5, half + 0.5, -half - 0.5, half + 0.5)
    for j in range(n):
        for i in range(n):
            # row 0 of the figure is the top of the image
            ax = axes[n - 1 - j, i]
            img = images[j, i]
            lims = (vmin, vmax) if same_scale else (img.min(), img.max())
            im = ax.imshow(img, origin="lower", cmap="viridis", vmin=lims[0],
                           vmax=lims[1], extent=extent)
            ax.set_title(f"at ({xs[i]:.0f}, {ys[j]:.0f})", fontsize=7)
            if not same_scale:
                fig.colorbar(im, ax=ax, shrink=0.8)
            if j == 0:
                ax.set_xlabel("dx (pixel)", fontsize=7)
            else:
                ax.set_xticks([])
            if i == 0:
                ax.set_ylabel("dy (pixel)", fontsize=7)
            else:
                ax.set_yticks([])
            ax.tick_params(labelsize=6)
    if same_scale:
        fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.8,
                     label="kernel value")
    fig.suptitle(f"kernel across the whole image ({nx} x {ny} pixels), "
                 f"kernel sum {kernel.kernel_sum:.4g}")
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
    panels = [("kernel sum", "kernel sum", kernel.kernel_sum_image())]
    panels += [(f"coefficient {i}", f"coefficient of basis {i}", maps[i])
               for i in indices]
    n = len(panels)
    ncols = min(n, 4)
    nrows = int(np.ceil(n / ncols))
    plt = _pyplot()
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.3 * ncols, 2.9 * nrows),
                             squeeze=False)
    good = ([] if cells is None else
            [c for c in _cell_set_of(cells).candidates
             if c.status is CandidateStatus.GOOD])
    ny, nx = kernel.shape
    extent = (-0.5, nx - 0.5, -0.5, ny - 0.5)
    for ax, (title, label, img) in zip(axes.ravel(), panels, strict=False):
        im = ax.imshow(img, origin="lower", cmap="viridis", extent=extent)
        fig.colorbar(im, ax=ax, shrink=0.8, label=label)
        if good:
            ax.plot([c.x for c in good], [c.y for c in good], "w.", ms=3)
            ax.set_xlim(-0.5, nx - 0.5)
            ax.set_ylim(-0.5, ny - 0.5)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("x (pixel)", fontsize=8)
        ax.set_ylabel("y (pixel)", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes.ravel()[n:]:
        ax.set_axis_off()
    fig.suptitle(f"spatial model of the kernel over the whole image "
                 f"({nx} x {ny} pixels)")
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


def plot_subtraction(template, science, result, *, region=None, zlim=5.0):
    """
    Template, science, matched image and difference side by side.

    Parameters
    ----------
    template, science : array-like or `~astropy.nddata.NDData`
        The input images; their unit labels the colour bars, and the
        science image's celestial WCS (or the difference's) gives sky axes.
    result : `~psfkit.diffim.SubtractionResult`
        The subtraction (its ``matched_image`` and ``difference``).
    region : tuple of slice, optional
        ``(rows, columns)`` to show; the whole image by default.  The title
        says which part is shown and the pixel axes keep the coordinates of
        the full image.
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
    >>> fig = plot_subtraction(t, s, res, region=(slice(0, 128), slice(0, 128)))
    >>> fig.get_suptitle()
    'x 0-127, y 0-127 of a 256 x 256 image'
    """
    for attr in ("matched_image", "difference"):
        if getattr(result, attr, None) is None:
            msg = (f"result must be a SubtractionResult (with {attr}), got "
                   f"{type(result).__name__}")
            raise TypeError(msg)
    zlim = float(zlim)
    t_data, t_unit, _ = _image(template, "template")
    s_data, s_unit, s_wcs = _image(science, "science")
    diff = result.difference
    m_data, m_unit, _ = _image(result.matched_image, "matched_image")
    wcs = s_wcs if s_wcs is not None else _image(diff, "difference")[2]
    region, text = _region(region, s_data.shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.asarray(diff.data) / np.sqrt(np.asarray(diff.uncertainty.array))
    if diff.mask is not None:
        z = np.where(diff.mask, np.nan, z)
    which = getattr(result, "convolved", "template")
    panels = [("template", t_data, _unit_label("template", t_unit)),
              ("science", s_data, _unit_label("science", s_unit)),
              (f"matched {which}", m_data,
               _unit_label(f"matched {which}", m_unit)),
              ("difference / sigma", z, "difference / sigma")]
    plt = _pyplot()
    fig = plt.figure(figsize=(11, 10))
    grid = fig.add_gridspec(2, 2, wspace=0.35, hspace=0.3)
    for spec, (title, img, label) in zip(grid, panels, strict=True):
        ax = _image_axes(fig, spec, wcs, region)
        if title.startswith("difference"):
            _show(ax, img, region, wcs, cmap="RdBu_r", vmin=-zlim, vmax=zlim,
                  label=label)
        else:
            vmin, vmax = _limits(img[region])
            _show(ax, img, region, wcs, cmap="gray", vmin=vmin, vmax=vmax,
                  label=label, stretch=True)
        ax.set_title(title)
    fig.suptitle(text)
    return fig
