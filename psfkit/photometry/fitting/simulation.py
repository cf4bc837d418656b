"""
`make_psf_model_image`: photutils 3.x's simulated image of PSF models at
random positions, drawn by the engine's renderer.
"""

from astropy.table import QTable
import numpy as np
from scipy.spatial import cKDTree

from ...utils import PsfkitWarning, as_pair, check_integer, warn
from ._group_fit import render
from ._interop import psf_param_names
from ._pipeline import bounding_box_extent

__all__ = ["make_psf_model_image"]

#: candidate positions drawn per source when they must be apart
_CANDIDATES = 10


def _apart(xy, min_separation, n):
    """
    The first ``n`` positions that are more than ``min_separation`` from
    every earlier kept one (positions closer than that are dropped).
    """
    if min_separation <= 0 or len(xy) < 2:
        return xy[:n]
    tree = cKDTree(xy)
    keep = np.zeros(len(xy), dtype=bool)
    for i, near in enumerate(tree.query_ball_point(xy, min_separation)):
        keep[i] = not keep[[j for j in near if j < i]].any()
    return xy[keep][:n]


def _random_positions(shape, n_sources, border, min_separation, rng):
    xlim = (border[1], shape[1] - border[1])
    ylim = (border[0], shape[0] - border[0])
    if xlim[0] >= xlim[1] or ylim[0] >= ylim[1]:
        msg = (f"border_size {tuple(border)} is too large for the image "
               f"shape {tuple(shape)}")
        raise ValueError(msg)
    n_draw = n_sources * (_CANDIDATES if min_separation > 0 else 1)
    x = rng.uniform(*xlim, n_draw)
    y = rng.uniform(*ylim, n_draw)
    xy = _apart(np.column_stack([x, y]), min_separation, n_sources)
    if len(xy) < n_sources:
        warn(f"Only {len(xy)} of the {n_sources} sources fit in the image "
             f"with min_separation={min_separation}.", PsfkitWarning)
    return xy


def make_psf_model_image(shape, psf_model, n_sources, *, model_shape=None,
                         min_separation=1, border_size=None, seed=0,
                         progress_bar=False, **kwargs):
    """
    Make an image of PSF models at random positions.

    As photutils 3.x's ``make_psf_model_image``: with the same arguments
    it draws the same sources (positions and parameters) and returns the
    same image.

    Parameters
    ----------
    shape : tuple of 2 int
        The shape ``(ny, nx)`` of the image.
    psf_model : `~astropy.modeling.Fittable2DModel`
        The PSF model: with ``x_0``, ``y_0`` and ``flux`` parameters, or
        with ``x_name``, ``y_name`` and ``flux_name`` attributes naming
        them (`make_psf_model`).
    n_sources : int
        The number of sources.  Fewer are made (with a warning) when they
        do not fit in the image ``min_separation`` apart.
    model_shape : int or tuple of 2 int, optional
        The box ``(ny, nx)`` around each source over which its model is
        drawn; an even size is drawn over the next odd one (a box centred
        on the source's pixel).  Default: the model's bounding box.
    min_separation : float, optional
        The minimum distance (pixels) between two sources.
    border_size : int or tuple of 2 int, optional
        No source centre is placed within ``(ny, nx)`` pixels of the
        image edges.  Default: half of ``model_shape``.
    seed : int or `None`, optional
        The seed of the `numpy.random.default_rng` generator drawing the
        sources.
    progress_bar : bool, optional
        Accepted for photutils' signature; the sources are drawn at once,
        without a progress bar.
    **kwargs : tuple of 2 float
        Ranges ``(low, high)`` of other model parameters (``flux=(100,
        500)``, ``fwhm=(2, 4)``...), drawn uniformly for each source;
        names that are not parameters of the model are ignored.

    Returns
    -------
    data : `~numpy.ndarray`
        The image.
    params : `~astropy.table.QTable`
        The sources: ``id``, the model's x and y parameters, and one
        column for each parameter given in ``kwargs``.

    Raises
    ------
    ValueError
        When the model has no bounding box and ``model_shape`` is not
        given, when ``border_size`` leaves no room for the sources, or
        when a range is not a pair.

    Examples
    --------
    >>> from psfkit.photometry import CircularGaussianPRF, make_psf_model_image
    >>> data, params = make_psf_model_image((60, 80), CircularGaussianPRF(fwhm=3),
    ...                                     4, flux=(100, 200),
    ...                                     min_separation=10, seed=0)
    >>> data.shape
    (60, 80)
    >>> params.colnames
    ['id', 'x_0', 'y_0', 'flux']
    >>> round(float(data.sum() / params['flux'].sum()), 4)
    1.0
    """
    shape = as_pair("shape", shape, lower_bound=(0, True))
    n_sources = check_integer("n_sources", n_sources, minimum=0)
    names = psf_param_names(psf_model)
    if names is None:
        msg = ("psf_model must have x_0, y_0 and flux parameters, or "
               "x_name, y_name and flux_name attributes naming them")
        raise ValueError(msg)
    x_name, y_name, _ = names
    if model_shape is None:
        box = bounding_box_extent(psf_model)
        if box is None:
            msg = ("model_shape must be specified if the model does not "
                   "have a bounding_box attribute")
            raise ValueError(msg)
        model_shape = tuple(int(np.ceil(hi - lo)) for lo, hi in box)
    model_shape = as_pair("model_shape", model_shape, lower_bound=(0, False))
    if border_size is None:
        border_size = tuple((s - 1) // 2 for s in model_shape)
    border_size = as_pair("border_size", border_size, lower_bound=(0, True))
    ranges = {}
    for name, value in kwargs.items():
        if name in psf_model.param_names and name not in (x_name, y_name):
            if np.size(value) != 2:
                msg = f"{name} must be a (low, high) pair, got {value!r}"
                raise ValueError(msg)
            ranges[name] = value
    rng = np.random.default_rng(seed)
    xy = _random_positions(shape, n_sources, border_size, min_separation, rng)
    params = QTable()
    params["id"] = np.arange(1, len(xy) + 1)
    params[x_name] = xy[:, 0]
    params[y_name] = xy[:, 1]
    for name, (low, high) in ranges.items():
        params[name] = rng.uniform(low, high, len(xy))
    theta = np.tile([float(np.ravel(getattr(psf_model, p).value)[0])
                     for p in psf_model.param_names], (len(params), 1))
    for name in params.colnames[1:]:
        theta[:, psf_model.param_names.index(name)] = params[name]
    box = tuple(s + 1 - s % 2 for s in model_shape)
    data = render(psf_model, theta, shape, box,
                  x_col=psf_model.param_names.index(x_name),
                  y_col=psf_model.param_names.index(y_name))
    return data, params
