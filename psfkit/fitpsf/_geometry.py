"""
Pixel geometry shared by the region plug-ins, the ADI tools and the
evaluation tools: centres, radius and angle grids, field rotation.

Angles of the field rotation (parallactic angles) are in degrees; a source
at offset ``(dx, dy)`` from the centre in the sky frame appears in a frame
taken at angle ``theta`` at ``R(theta) @ (dx, dy)``, i.e. rotated
counter-clockwise by ``theta``.  Angles given as a
`~astropy.units.Quantity` are converted by `angle_values`.
"""

import astropy.units as u
import numpy as np

__all__ = []


def default_center(shape):
    """Return the ``(x, y)`` centre of an image of shape ``(ny, nx)``."""
    ny, nx = shape
    return ((nx - 1) / 2.0, (ny - 1) / 2.0)


def check_center(name, center, shape):
    """Validate an ``(x, y)`` centre; `None` selects the image centre."""
    if center is None:
        return default_center(shape)
    arr = np.asarray(center, dtype=float)
    if arr.shape != (2,) or not np.all(np.isfinite(arr)):
        msg = f"{name} must be an (x, y) pair of finite numbers, got {center!r}"
        raise ValueError(msg)
    return (float(arr[0]), float(arr[1]))


def radius_angle(shape, center):
    """
    Return the distance from ``center`` and the angle (radians in
    ``[0, 2 pi)``, counter-clockwise from +x) of every pixel centre.
    """
    ny, nx = shape
    dy = np.arange(ny, dtype=float)[:, None] - center[1]
    dx = np.arange(nx, dtype=float)[None, :] - center[0]
    r = np.hypot(dx, dy)
    phi = np.mod(np.arctan2(dy, dx), 2 * np.pi)
    return r, phi


def frame_angles(parangs, n_frames):
    """
    The parallactic angles of a cube's ``n_frames`` frames, in degrees
    (`angle_values`), checked: one finite angle per frame.
    """
    angles = angle_values("parangs", parangs).ravel()
    if angles.size != n_frames:
        msg = (f"parangs must have one angle per frame ({n_frames}), "
               f"got {angles.size}")
        raise ValueError(msg)
    if not np.all(np.isfinite(angles)):
        msg = "parangs must be finite"
        raise ValueError(msg)
    return angles


def angle_values(name, value, unit=u.deg):
    """
    Angles as a float array in ``unit``; plain numbers are taken to be in
    ``unit`` already, an angle `~astropy.units.Quantity` is converted.

    Parameters
    ----------
    name : str
        The argument name used in error messages.
    value : float, array-like or `~astropy.units.Quantity`
        The angles.
    unit : `~astropy.units.UnitBase`, optional
        The unit of the result (degrees by default).

    Returns
    -------
    angles : `~numpy.ndarray`
        At least 1-D.  Use `angle_value` for a single angle.

    Raises
    ------
    astropy.units.UnitsError
        If ``value`` is a Quantity whose unit is not an angle.
    """
    if isinstance(value, u.Quantity):
        if not value.unit.is_equivalent(u.deg):
            msg = (f"{name} must be angles (plain numbers in {unit} or an "
                   f"angle Quantity), got a Quantity in {value.unit}")
            raise u.UnitsError(msg)
        return np.atleast_1d(value.to_value(unit)).astype(float)
    return np.atleast_1d(np.asarray(value, dtype=float))


def angle_value(name, value):
    """One angle in degrees, as a float (see `angle_values`)."""
    arr = angle_values(name, value)
    if arr.size != 1:
        msg = f"{name} must be a single angle, got {arr.size} values"
        raise ValueError(msg)
    return float(arr[0])


def rotate_offsets(dx, dy, angle_deg):
    """Rotate offsets counter-clockwise by ``angle_deg`` (degrees)."""
    t = np.deg2rad(angle_deg)
    c, s = np.cos(t), np.sin(t)
    return c * dx - s * dy, s * dx + c * dy


def rotated_enough(base_angles, target_angle, radius, *, n_delta, fwhm):
    """
    Boolean mask of the frames whose field rotation relative to the target
    moves a source at ``radius`` by at least ``n_delta * fwhm`` pixels along
    its arc (the LOCI/ADI reference-selection criterion).  The angles are
    in degrees (see `angle_values`).
    """
    diff = np.deg2rad(np.asarray(base_angles, dtype=float) - target_angle)
    # wrap to [-pi, pi] so that 359 deg and 1 deg are 2 deg apart
    diff = np.abs(np.angle(np.exp(1j * diff)))
    return diff * radius >= n_delta * fwhm
