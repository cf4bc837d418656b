"""
The images of a subtraction side by side: template, science, matched
image and difference.
"""

import numpy as np

from ._panels import _image, _image_axes, _limits, _pyplot, _region, _show, _unit_label

__all__ = ["plot_subtraction"]


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
    >>> [text.get_text() for text in fig.texts]  # the suptitle
    ['x 0-127, y 0-127 of a 256 x 256 image']
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
