"""
What the PSF-matching figures share: inputs as images with their unit and
WCS, the part of the image shown, labelled image panels with colour bars,
and the spatial cells drawn over an image.
"""

import numpy as np

from ...utils import coerce_data, image_colormap, label_world_axes
from ..candidates import CandidateStatus, SpatialCellSet

__all__ = []


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
        return label_world_axes(fig.add_subplot(spec, projection=wcs[region]))
    return label_world_axes(fig.add_subplot(spec))


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
    im = ax.imshow(sub, origin="lower", cmap=image_colormap(cmap), extent=extent,
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
