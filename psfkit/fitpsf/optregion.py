"""
Optimisation-region plug-ins: which pixels drive the fit of a region.

Every function here is a plug-in for the ``optregion`` slot of a fitter:
``optregion(self, region, indpsf)`` takes the fitter, the region (sorted flat
pixel indices) and the selected bases (base indices) and returns the pixels
whose values determine the coefficients.  The optimisation region may differ
from the region: LOCI fits the PSF on an area around a region and subtracts
it inside, so that a faint companion in the region does not pull the fit.

Whatever a plug-in returns, the fitter never uses a pixel that is masked in
the image or in one of the selected bases.

Fitter attributes used here:

``dilation_region``
    An int ``n`` (a square of ``2n + 1`` pixels on a side) or a 2-D boolean
    structuring element, by which the region is dilated.
``around_region_rim``
    `around_region` also leaves out the pixels within this many pixels
    (a square of ``2 rim + 1``) of the region.
``optmask``
    A boolean image (or `None`); the fitters leave out of every
    optimisation region the pixels where it is `True` (for example known
    companions), whatever the plug-in.  `wrapper_optmask` does the same
    inside a plug-in.
"""

import numpy as np
from scipy import ndimage

from ..utils import check_integer
from .utils import PluginCallable, region_to_indices

__all__ = [
    "optmask_indices",
    "identity",
    "all_unmasked",
    "dilated_region",
    "around_region",
    "wrapper_optmask",
    "wrapper_ignore_all_masked",
    "dilate_indices",
]


def _usable(self, indpsf):
    """Boolean flat mask of the pixels unmasked in image and chosen bases."""
    good = ~self.image_mask1d
    bmask = self.base_mask1d
    if bmask is not None:
        good = good & ~bmask[:, indpsf].any(axis=1)
    return good


def optmask_indices(fitter):
    """
    The fitter's ``optmask`` as a flat boolean array, checked.

    Parameters
    ----------
    fitter : `~psfkit.fitpsf.BasePSFFitter`
        The fitter.

    Returns
    -------
    optmask : `~numpy.ndarray` of bool or None
        `True` for the pixels to leave out of the optimisation regions;
        `None` if the fitter has no ``optmask``.

    Raises
    ------
    ValueError
        If ``optmask`` does not have the image shape.
    """
    optmask = getattr(fitter, "optmask", None)
    if optmask is None:
        return None
    optmask = np.asarray(optmask, dtype=bool)
    if optmask.shape != tuple(fitter.image_shape):
        msg = (f"optmask must have the image shape "
               f"{tuple(fitter.image_shape)}, got {optmask.shape}")
        raise ValueError(msg)
    return optmask.ravel()


def identity(self, region, indpsf):
    """
    Fit on the region itself.

    Returns
    -------
    optregion : `~numpy.ndarray`
        ``region``, unchanged.
    """
    return region


def all_unmasked(self, region, indpsf):
    """
    Fit on every pixel unmasked in the image and in all selected bases.

    Returns
    -------
    optregion : `~numpy.ndarray`
        Flat pixel indices.
    """
    return np.flatnonzero(_usable(self, indpsf))


def _structure(value):
    if np.ndim(value) == 0:
        n = check_integer("dilation_region", value, minimum=0)
        return n, None
    struct = np.asarray(value, dtype=bool)
    if struct.ndim != 2 or min(struct.shape) == 0:
        msg = ("dilation_region must be an int or a 2-D boolean structuring "
               f"element, got shape {struct.shape}")
        raise ValueError(msg)
    return max(struct.shape) // 2 + 1, struct


def _dilated_box(indices, shape, dilation):
    """
    The region and its dilation as boolean arrays over their bounding box.

    Returns ``(dilated, region, y0, x0)``, or `None` for an empty region;
    ``(y0, x0)`` is the box's first pixel.
    """
    indices = np.asarray(indices, dtype=np.intp)
    if indices.size == 0:
        return None
    half, struct = _structure(dilation)
    ny, nx = shape
    rows, cols = np.divmod(indices, nx)
    y0, y1 = max(rows.min() - half, 0), min(rows.max() + half + 1, ny)
    x0, x1 = max(cols.min() - half, 0), min(cols.max() + half + 1, nx)
    region = np.zeros((y1 - y0, x1 - x0), dtype=bool)
    region[rows - y0, cols - x0] = True
    return _dilate_box(region, half, struct), region, y0, x0


def _dilate_box(box, half, struct=None):
    if struct is not None:
        return ndimage.binary_dilation(box, structure=struct)
    if half == 0:
        return box
    # a square element is two separable running maxima
    return ndimage.maximum_filter(box.view(np.uint8), size=2 * half + 1,
                                  mode="constant", cval=0).view(bool)


def _box_indices(box, y0, x0, nx):
    by, bx = np.nonzero(box)
    return (by + y0) * nx + (bx + x0)


def dilate_indices(indices, shape, dilation):
    """
    Dilate a region given as flat indices.

    Only the bounding box of the region (plus the dilation) is processed,
    and a square dilation is done as two separable running maxima, so the
    cost is independent of the image size.

    Parameters
    ----------
    indices : `~numpy.ndarray` of int
        Sorted flat pixel indices.
    shape : tuple of int
        The ``(ny, nx)`` image shape.
    dilation : int or 2-D array of bool
        Half-width of a square structuring element, or the element itself.

    Returns
    -------
    dilated : `~numpy.ndarray` of int
        Sorted flat pixel indices of the dilated region.

    Examples
    --------
    >>> from psfkit.fitpsf.optregion import dilate_indices
    >>> dilate_indices([12], (5, 5), 1)
    array([ 6,  7,  8, 11, 12, 13, 16, 17, 18])
    """
    found = _dilated_box(indices, shape, dilation)
    if found is None:
        return np.asarray(indices, dtype=np.intp)
    dilated, _, y0, x0 = found
    return _box_indices(dilated, y0, x0, shape[1])


def dilated_region(self, region, indpsf):
    """
    Fit on the region dilated by ``self.dilation_region``.

    Returns
    -------
    optregion : `~numpy.ndarray`
        Flat pixel indices.

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.fitpsf import SimpleSubtraction
    >>> from psfkit.fitpsf.optregion import dilated_region
    >>> from psfkit.fitpsf.utils import region_to_mask
    >>> class DilationFitter(SimpleSubtraction):
    ...     optregion = dilated_region
    ...     dilation_region = 1
    >>> fitter = DilationFitter(np.ones((4, 3, 3)), np.ones((3, 3)))
    >>> opt = fitter.optregion(np.array([0]), np.arange(4))
    >>> region_to_mask(opt, (3, 3))
    array([[ True,  True, False],
           [ True,  True, False],
           [False, False, False]])
    """
    region = region_to_indices(region, self.image_shape)
    return dilate_indices(region, self.image_shape,
                          getattr(self, "dilation_region", 10))


def around_region(self, region, indpsf):
    """
    Fit on a ring around the region: dilated, without the region and rim.

    The pixels of the region, and those within ``self.around_region_rim``
    pixels of it, are left out, so a source inside the region cannot drive
    its own subtraction.

    Returns
    -------
    optregion : `~numpy.ndarray`
        Flat pixel indices.
    """
    shape = self.image_shape
    region = region_to_indices(region, shape)
    rim = check_integer("around_region_rim",
                        getattr(self, "around_region_rim", 0), minimum=0)
    found = _dilated_box(region, shape, getattr(self, "dilation_region", 10))
    if found is None:
        return region
    outer, inner, y0, x0 = found
    # pixels of the rim outside the box are not in the dilation anyway
    inner = _dilate_box(inner, rim)
    return _box_indices(outer & ~inner, y0, x0, shape[1])


class _RegionFilter(PluginCallable):
    """An optregion plug-in wrapped to drop some of the pixels it picks."""

    def __init__(self, func):
        self.func = func

    def __call__(self, fitter, region, indpsf):
        opt = region_to_indices(self.func(fitter, region, indpsf),
                                fitter.image_shape, name="optregion")
        return self._keep(fitter, opt, indpsf)


class wrapper_optmask(_RegionFilter):  # noqa: N801
    """
    Wrap an optregion plug-in to leave out the pixels in ``self.optmask``.

    ``self.optmask`` is a boolean image, `True` where a pixel must not drive
    any fit (a known companion, a bad column).  Those pixels are still
    subtracted if they belong to a region.

    Parameters
    ----------
    func : callable
        The optregion plug-in to wrap.
    """

    @staticmethod
    def _keep(fitter, opt, indpsf):
        optmask = optmask_indices(fitter)
        if optmask is None:
            return opt
        return opt[~optmask[opt]]


class wrapper_ignore_all_masked(_RegionFilter):  # noqa: N801
    """
    Wrap an optregion plug-in to drop pixels masked in image or bases.

    Parameters
    ----------
    func : callable
        The optregion plug-in to wrap.
    """

    @staticmethod
    def _keep(fitter, opt, indpsf):
        bmask = fitter.base_mask1d
        if bmask is None:
            # only the image mask matters: look it up on these pixels only
            return opt[~fitter.image_mask1d[opt]]
        return opt[_usable(fitter, indpsf)[opt]]
