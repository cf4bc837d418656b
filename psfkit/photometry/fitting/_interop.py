"""
Duck typing for the objects users bring from photutils (or write).

The photometry classes accept groupers and finders from
psfkit, from photutils 3.x and from user code.  They differ in small
ways that this module absorbs, so that the classes call one function:

- a grouper is called either photutils 3.x's way, ``grouper(x, y)``
  returning group ids, or the seed's way, ``grouper(table)`` returning the
  table with a ``group_id`` column (`call_grouper`);
- a PSF model names its centre and flux ``x_0``, ``y_0``, ``flux``, or
  says which of its parameters they are in ``x_name``, ``y_name`` and
  ``flux_name`` (photutils' ``make_psf_model``) (`psf_param_names`);
- a finder may or may not take a ``mask`` keyword, and returns `None` or
  an empty table when it finds nothing (`run_finder`);
- an image with a celestial WCS gives sky positions (`psfkit.utils.pixel_to_sky`).
"""

import inspect

from astropy.table import QTable, Table
import numpy as np

__all__ = []


def psf_param_names(model):
    """
    The names of the model's x, y and flux parameters, or `None`.

    ``x_0``, ``y_0`` and ``flux`` when the model has them, else the
    parameters its ``x_name``, ``y_name`` and ``flux_name`` attributes
    name (photutils 3.x's convention for wrapped models).
    """
    names = tuple(getattr(model, "param_names", ()))
    if all(p in names for p in ("x_0", "y_0", "flux")):
        return ("x_0", "y_0", "flux")
    given = tuple(getattr(model, attr, None)
                  for attr in ("x_name", "y_name", "flux_name"))
    if all(isinstance(p, str) and p in names for p in given):
        return given
    return None


def _takes_xy(grouper):
    """Whether ``grouper`` is called with positions ``(x, y)``."""
    try:
        params = list(inspect.signature(grouper).parameters.values())
    except (TypeError, ValueError):
        return True
    positional = [p for p in params
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return (len(positional) >= 2
            or any(p.kind is p.VAR_POSITIONAL for p in params))


def call_grouper(grouper, x, y, *, ids=None, flux=None, name="grouper"):
    """
    Group ids of sources at ``(x, y)`` from any kind of grouper.

    Parameters
    ----------
    grouper : callable
        ``grouper(x, y)`` returning one id per source (photutils 3.x and
        psfkit), or ``grouper(table)`` returning a table with a
        ``group_id`` column (the seed's, and photutils 0.x's, way; the
        table has ``id``, ``x_0``, ``y_0`` and ``flux_0``).
    x, y : ndarray
        The positions.
    ids, flux : ndarray, optional
        Source ids and fluxes for a table grouper.
    name : str, optional
        The argument name for error messages.

    Returns
    -------
    group_id : ndarray of int64
    """
    n = len(x)
    if ids is None:
        ids = np.arange(1, n + 1)
    if _takes_xy(grouper):
        out = grouper(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    else:
        table = QTable({"id": ids, "x_0": x, "y_0": y,
                        "flux_0": np.full(n, np.nan) if flux is None else flux})
        out = grouper(table)
    if isinstance(out, Table):
        if "group_id" not in out.colnames or len(out) != n:
            msg = (f"{name} returned a table without a group_id column or "
                   "with a different number of rows than sources")
            raise ValueError(msg)
        gid = np.asarray(out["group_id"])
        if "id" in out.colnames:
            order = np.argsort(np.asarray(out["id"]))
            gid = gid[order][np.searchsorted(np.asarray(out["id"])[order], ids)]
    else:
        gid = np.asarray(getattr(out, "group_id", out))
    if gid.shape != (n,):
        msg = (f"{name} must return one group id per source ({n}), got an "
               f"array of shape {gid.shape}")
        raise ValueError(msg)
    return gid


def run_finder(finder, data, mask):
    """
    Call a finder with the mask when it takes one.

    Returns
    -------
    table : `~astropy.table.Table` or None
        `None` when nothing was found.
    """
    try:
        takes_mask = "mask" in inspect.signature(finder).parameters
    except (TypeError, ValueError):
        takes_mask = True
    found = finder(data, mask=mask) if takes_mask else finder(data)
    if found is None or len(found) == 0:
        return None
    return found


def celestial_wcs(wcs):
    """``wcs`` if it maps pixels to celestial coordinates, else `None`."""
    if wcs is None:
        return None
    celestial = getattr(wcs, "has_celestial", None)
    if celestial is None:
        # a gwcs (or other APE 14) WCS: ask for the world objects
        try:
            celestial = any(cls[0].__name__ == "SkyCoord"
                            for cls in wcs.world_axis_object_classes.values())
        except (AttributeError, TypeError):
            return None
    return wcs if celestial else None

