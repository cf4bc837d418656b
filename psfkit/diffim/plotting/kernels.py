"""
Figures of the matching kernel: its basis, the kernel realised across the
image, and the spatial model of its coefficients.
"""

import numpy as np

from ...utils import check_integer, image_colormap
from ..candidates import CandidateStatus
from ._panels import _cell_set_of, _kernel_of, _pyplot

__all__ = ["plot_kernel_basis", "plot_kernel_mosaic", "plot_spatial_coefficients"]


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
        im = ax.imshow(basis[i], origin="lower",
                       cmap=image_colormap("RdBu_r"), vmin=-lim, vmax=lim,
                       extent=extent)
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
            im = ax.imshow(img, origin="lower", cmap=image_colormap("viridis"),
                           vmin=lims[0], vmax=lims[1], extent=extent)
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
        im = ax.imshow(img, origin="lower", cmap=image_colormap("viridis"),
                       extent=extent)
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
