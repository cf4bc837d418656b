"""
Helpers for writing and combining fitter plug-ins.

A *region* is a set of pixels of the image.  Plug-ins may give it either as
a boolean array (of the image shape, or flattened) that is `True` on the
selected pixels, or as a 1-D integer array of indices into the flattened
image.  The fitters convert every region to sorted flat indices with
`region_to_indices`, the cheapest form for gathering pixels.  A *base
selection* is, in the same way, a boolean array over the bases or an integer
array of base indices (`base_indices`).
"""

import types

import astropy.units as u
import numpy as np

from ..utils import PsfkitWarning

__all__ = [
    "SkippedRegionWarning",
    "PluginCallable",
    "region_to_indices",
    "region_to_mask",
    "base_indices",
]


class SkippedRegionWarning(PsfkitWarning):
    """Some regions had too few usable pixels or bases and were not fitted."""


class PluginCallable:
    """
    Base class for plug-ins that carry parameters (and therefore pickle).

    A plain function assigned as a class attribute becomes a method; an
    instance of a subclass of `PluginCallable` behaves the same way, so
    parametrised plug-ins (``best_correlated(5)``) and wrapped plug-ins
    (``wrapper_ignore_all_masked(around_region)``) can be used exactly like
    plain functions, as class attributes or per instance.  Subclasses
    implement ``__call__(self, fitter, *args)``.
    """

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        return types.MethodType(self, instance)

    @property
    def __name__(self):
        return type(self).__name__

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


def region_to_indices(region, shape, *, name="region"):
    """
    Convert a region to a sorted 1-D array of flat pixel indices.

    Parameters
    ----------
    region : array-like of bool or int
        A boolean array of shape ``shape`` (or flattened), or an integer
        array of flat pixel indices.
    shape : tuple of int
        The ``(ny, nx)`` image shape.
    name : str, optional
        The name used in error messages.

    Returns
    -------
    indices : `~numpy.ndarray` of intp
        The unique flat indices, sorted.

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.fitpsf.utils import region_to_indices
    >>> region_to_indices(np.array([[True, False], [False, True]]), (2, 2))
    array([0, 3])
    >>> region_to_indices([3, 1], (2, 2))
    array([1, 3])
    """
    npix = int(np.prod(shape))
    return _sorted_indices(
        region, npix, (tuple(shape), (npix,)), name=name,
        bool_text=f"of the image shape {tuple(shape)} (or flattened)",
        kind="flat pixel",
        outside=f"pixel indices outside the image of {npix} pixels")


def region_to_mask(region, shape, *, name="region"):
    """
    Convert a region to a boolean image of shape ``shape``.

    Parameters
    ----------
    region : array-like of bool or int
        See `region_to_indices`.
    shape : tuple of int
        The ``(ny, nx)`` image shape.
    name : str, optional
        The name used in error messages.

    Returns
    -------
    mask : `~numpy.ndarray` of bool
        `True` on the pixels of the region.

    Examples
    --------
    >>> from psfkit.fitpsf.utils import region_to_mask
    >>> region_to_mask([0, 3], (2, 2))
    array([[ True, False],
           [False,  True]])
    """
    mask = np.zeros(int(np.prod(shape)), dtype=bool)
    mask[region_to_indices(region, shape, name=name)] = True
    return mask.reshape(shape)


def base_indices(selection, n_bases, *, name="base selection"):
    """
    Convert a base selection to a sorted 1-D array of base indices.

    Parameters
    ----------
    selection : array-like of bool or int
        A boolean array of length ``n_bases`` or integer base indices.
    n_bases : int
        The number of bases.
    name : str, optional
        The name used in error messages.

    Returns
    -------
    indices : `~numpy.ndarray` of intp

    Examples
    --------
    >>> from psfkit.fitpsf.utils import base_indices
    >>> base_indices([True, False, True], 3)
    array([0, 2])
    """
    return _sorted_indices(
        selection, n_bases, ((n_bases,),), name=name,
        bool_text=f"of length {n_bases} (the number of bases)", kind="base",
        outside=f"base indices outside 0..{n_bases - 1}")


def _sorted_indices(selection, size, bool_shapes, *, name, bool_text, kind,
                    outside):
    """
    Sorted unique indices below ``size`` from a boolean mask (of one of
    ``bool_shapes``) or from integer indices; the texts name the kind of
    index in the error messages.
    """
    arr = np.asarray(selection)
    if arr.dtype == bool:
        if arr.shape not in bool_shapes:
            msg = (f"{name} must be a boolean array {bool_text}, got shape "
                   f"{arr.shape}")
            raise ValueError(msg)
        return np.flatnonzero(arr)
    if arr.size == 0:
        return np.zeros(0, dtype=np.intp)
    if arr.dtype.kind not in "iu" or arr.ndim != 1:
        msg = (f"{name} must be a boolean mask or a 1-D integer array of "
               f"{kind} indices, got dtype {arr.dtype} with shape {arr.shape}")
        raise ValueError(msg)
    arr = arr.astype(np.intp, copy=False)
    if not np.all(arr[1:] > arr[:-1]):
        arr = np.unique(arr)
    # sorted: the first and last index bound all the others
    if arr[0] < 0 or arr[-1] >= size:
        msg = f"{name} has {outside}"
        raise ValueError(msg)
    return arr


def united(values, mask, unit):
    """
    Result values as psfkit.fitpsf returns them.

    Without a unit, a `~numpy.ma.MaskedArray`; with one, a
    `~astropy.units.Quantity` in that unit with the masked values set to
    NaN (a masked array cannot carry a unit).
    """
    if unit is None:
        return np.ma.MaskedArray(values, mask=mask)
    return u.Quantity(np.where(mask, np.nan, values), unit, copy=False)
