"""
Reading the PSF base: a cube in either axis order, or a list of images.

psfkit's own layout puts the bases first, ``(n_bases, ny, nx)``, as a FITS
cube reads.  psfsubtraction, and much code written for it, stacks them last,
``(ny, nx, n_bases)`` (``numpy.dstack``).  `coerce_bases` accepts both: the
caller may name the axis (``bases_axis``), and otherwise the layout is taken
from the image shape when an image is given, or from the shape of the cube
when only one reading gives square images.  A cube that can be read both
ways (every side equal, or an image that fits both readings) is an error
that asks for ``bases_axis``: guessing would silently transpose the data.
"""

import dataclasses

import astropy.units as u
import numpy as np

from ..utils import coerce_data

__all__ = []

_FIRST, _LAST = 0, 2


def _axis_value(bases_axis):
    if bases_axis is None:
        return None
    if isinstance(bases_axis, bool) or not isinstance(bases_axis, int | np.integer):
        msg = ("bases_axis must be 0 (bases first, (n_bases, ny, nx)), -1 or 2 "
               f"(bases last, (ny, nx, n_bases)) or None, got {bases_axis!r}")
        raise TypeError(msg)
    if int(bases_axis) in (0, -3):
        return _FIRST
    if int(bases_axis) in (2, -1):
        return _LAST
    msg = ("bases_axis must be 0 (bases first, (n_bases, ny, nx)) or -1 "
           f"(bases last, (ny, nx, n_bases)), got {bases_axis!r}")
    raise ValueError(msg)


def _readings(shape):
    """The image shape under each layout of a 3-D cube."""
    return {_FIRST: tuple(shape[1:]), _LAST: tuple(shape[:2])}


def detect_bases_axis(shape, image_shape=None):
    """
    The axis that holds the bases of a cube of ``shape``.

    Parameters
    ----------
    shape : tuple of 3 int
        The shape of the cube.
    image_shape : tuple of 2 int, optional
        The shape of the image to fit, if known.

    Returns
    -------
    axis : int
        0 for ``(n_bases, ny, nx)``, 2 for ``(ny, nx, n_bases)``.

    Raises
    ------
    ValueError
        If both readings fit (an image that matches both, or a cube with all
        sides equal), or, with an image, none does.
    """
    readings = _readings(shape)
    hint = ("pass bases_axis=0 if the bases are the first axis "
            "(n_bases, ny, nx), or bases_axis=-1 if they are the last axis "
            "(ny, nx, n_bases), as in psfsubtraction")
    if image_shape is not None:
        image_shape = tuple(image_shape)
        fits = [axis for axis, im in readings.items() if im == image_shape]
        if len(fits) == 1:
            return fits[0]
        if not fits:
            msg = (f"psfbase of shape {tuple(shape)} does not match the image "
                   f"of shape {image_shape} with the bases along the first "
                   f"axis (images {readings[_FIRST]}) or the last axis "
                   f"(images {readings[_LAST]})")
            raise ValueError(msg)
        msg = (f"psfbase of shape {tuple(shape)} matches the image shape "
               f"{image_shape} with the bases along either axis; {hint}")
        raise ValueError(msg)
    a, b, c = shape
    if a == b == c:
        msg = (f"psfbase of shape {tuple(shape)} can be read with the bases "
               f"along the first or the last axis; {hint}")
        raise ValueError(msg)
    if a == b:
        # square images only if the bases come last: the layout of
        # numpy.dstack and psfsubtraction, as in (40, 40, 3)
        return _LAST
    return _FIRST


def convert_unit(data, unit, *, name, other):
    """
    An `~psfkit.utils.ArrayData` with its values in ``unit``.

    Parameters
    ----------
    data : `~psfkit.utils.ArrayData`
        The data to convert.
    unit : `~astropy.units.UnitBase` or None
        The unit wanted (that of ``other``).
    name, other : str
        The argument names of ``data`` and of the reference, for messages.

    Raises
    ------
    astropy.units.UnitsError
        If one of the two has a unit and the other not, or the units do not
        convert.
    """
    if data.unit == unit:
        return data
    if data.unit is None or unit is None:
        has, lacks, which = ((name, other, data.unit) if unit is None
                             else (other, name, unit))
        msg = (f"{has} has a unit ({which}) but {lacks} does not; give both "
               "or neither a unit")
        raise u.UnitsError(msg)
    try:
        factor = data.unit.to(unit)
    except u.UnitConversionError:
        msg = (f"{name} is in {data.unit}, which does not convert to the unit "
               f"of {other} ({unit})")
        raise u.UnitsError(msg) from None
    return dataclasses.replace(data, data=data.data * factor, unit=unit)


def coerce_bases(psfbase, *, bases_axis=None, image_shape=None):
    """
    Turn a PSF base into the flat arrays the fitters work on.

    Parameters
    ----------
    psfbase : array-like, masked array, NDData or sequence of 2-D images
        A cube in either layout (see the module description) or a sequence
        of equally shaped images.
    bases_axis : {None, 0, -1}, optional
        The axis of the cube that runs over the bases; `None` detects it.
    image_shape : tuple of 2 int, optional
        The shape of the image to fit, used to detect the layout.

    Returns
    -------
    base1d : `~numpy.ndarray`
        ``(n_pix, n_bases)`` values, masked values set to 0.
    mask1d : `~numpy.ndarray` of bool or None
        ``(n_pix, n_bases)`` mask, `None` if nothing is masked.
    shape : tuple of int
        The ``(ny, nx)`` shape of one base.
    unit : `~astropy.units.UnitBase` or None
        The unit of the bases (a Quantity's or an NDData's); the images of
        a sequence are converted to the unit of the first.
    """
    axis = _axis_value(bases_axis)
    if isinstance(psfbase, list | tuple):
        if len(psfbase) == 0:
            msg = ("psfbase must hold at least one base image, got an empty "
                   "sequence")
            raise ValueError(msg)
        items = [coerce_data(im, name=f"psfbase[{i}]", ndim=2,
                             allow_all_masked=True)
                 for i, im in enumerate(psfbase)]
        unit = items[0].unit
        items = [convert_unit(it, unit, name=f"psfbase[{i}]",
                              other="psfbase[0]")
                 for i, it in enumerate(items)]
        shapes = {it.shape for it in items}
        if len(shapes) != 1:
            msg = ("all images in psfbase must have the same shape, got "
                   f"{sorted(shapes)}")
            raise ValueError(msg)
        data = np.stack([it.data for it in items])
        mask = np.stack([it.mask for it in items])
    else:
        cube = coerce_data(psfbase, name="psfbase", ndim=3, allow_all_masked=True)
        unit = cube.unit
        if axis is None:
            axis = detect_bases_axis(cube.shape, image_shape)
        data, mask = cube.data, cube.mask
        if axis == _LAST:
            data = np.moveaxis(data, -1, 0)
            mask = np.moveaxis(mask, -1, 0)
    if mask.all():
        msg = "psfbase has no usable values: every value is masked or non-finite"
        raise ValueError(msg)
    n_bases = data.shape[0]
    # (n_pix, n_bases), C order: the rows of one region are gathered at once
    base1d = np.ascontiguousarray(data.reshape(n_bases, -1).T, dtype=float)
    mask1d = np.ascontiguousarray(mask.reshape(n_bases, -1).T)
    if mask1d.any():
        base1d[mask1d] = 0.0
    else:
        mask1d = None
    return base1d, mask1d, tuple(int(s) for s in data.shape[1:]), unit
