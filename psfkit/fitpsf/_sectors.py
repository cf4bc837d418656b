"""
Sector geometry in psfkit's convention and in psfsubtraction's.

psfkit (``convention = 'psfkit'``, the default) measures everything in
pixels around the ``(x, y)`` centre ``((nx - 1) / 2, (ny - 1) / 2)``:
``sector_radius_inner`` is the inner radius, ``sector_radius_n`` the number
of annuli out to the farthest corner, angles run counter-clockwise from +x,
angle boundaries are cyclic, and the pixels inside the first boundary form
one more region, so every pixel is fitted.

``convention = 'psfsubtraction'`` reproduces the geometry of the
psfsubtraction package, whose fitters users port to psfkit:

- the radial boundaries are ``logspace(sector_radius_inner,
  log10(nx), sector_radius_n)``: ``sector_radius_inner`` is a log10
  exponent (0 means 1 pixel; a Quantity in pixels, as KLIP's default,
  is a radius in both conventions) and ``sector_radius_n`` counts
  boundaries, not annuli;
- the default centre is ``(ny / 2, nx / 2)`` in array order, and a given
  ``sector_center`` is read in array order (first index first);
- the angle of a pixel is measured from the first array axis towards the
  second and wrapped to ``[0, 2 pi)``; an int ``sector_phi`` gives ``n``
  equal sectors from 0 to 2 pi, and explicit boundaries are not cyclic;
- a pixel belongs to the sector with ``r_k <= r < r_k+1`` and
  ``phi_j <= angle < phi_j+1``; pixels outside every sector (the centre
  pixel with the default boundaries, and anything beyond the last
  boundary) are not fitted and stay masked.
"""

import astropy.units as u
import numpy as np

from ..utils import check_in, check_integer, check_positive
from ._geometry import angle_values, check_center, radius_angle

__all__ = []

CONVENTIONS = ("psfkit", "psfsubtraction")


def convention_of(fitter):
    """The validated ``convention`` attribute of a fitter."""
    return check_in("convention", getattr(fitter, "convention", "psfkit"),
                    CONVENTIONS)


def sector_center_xy(fitter, shape):
    """``(x, y)`` of the sector centre, whatever the convention."""
    center = getattr(fitter, "sector_center", None)
    if convention_of(fitter) == "psfsubtraction":
        if center is None:
            return (shape[1] / 2.0, shape[0] / 2.0)
        first, second = check_center("sector_center", center, shape)
        return (second, first)
    return check_center("sector_center", center, shape)


def _check_increasing(name, edges, value):
    if (edges.ndim != 1 or edges.size < 2 or not np.all(np.isfinite(edges))
            or np.any(np.diff(edges) <= 0)):
        msg = (f"{name} must hold at least two increasing, finite boundaries, "
               f"got {value!r}")
        raise ValueError(msg)


def phi_edges(phi):
    """Sorted cyclic angle boundaries (psfkit convention)."""
    if np.ndim(phi) == 0 and not isinstance(phi, u.Quantity):
        n = check_integer("sector_phi", phi, minimum=1)
        return 2 * np.pi * np.arange(n) / n
    arr = angle_values("sector_phi", phi, u.rad).ravel()
    if arr.size == 0 or not np.all(np.isfinite(arr)):
        msg = f"sector_phi must be a count or finite angle boundaries, got {phi!r}"
        raise ValueError(msg)
    return np.unique(np.mod(arr, 2 * np.pi))


def radius_edges(fitter, rmax):
    """Radial boundaries in pixels (psfkit convention)."""
    edges = getattr(fitter, "sector_radius", None)
    if edges is not None:
        edges = np.asarray(edges, dtype=float).ravel()
        if (edges.size == 0 or not np.all(np.isfinite(edges))
                or np.any(edges < 0) or np.any(np.diff(edges) <= 0)):
            msg = ("sector_radius must be increasing, non-negative, finite "
                   f"radii, got {edges!r}")
            raise ValueError(msg)
        return edges
    inner = getattr(fitter, "sector_radius_inner", None)
    inner = 1.0 if inner is None else _inner_radius_pixels(inner)
    n = check_integer("sector_radius_n", getattr(fitter, "sector_radius_n", 10),
                      minimum=1)
    outer = max(rmax, inner) * (1 + 1e-9) + 1e-9
    edges = np.logspace(np.log10(inner), np.log10(outer), n + 1)
    # 10 ** log10(inner) is inner or the next float up depending on the
    # NumPy version, which moved pixels at exactly r = inner (common: 5 on
    # an integer grid) between the centre region and the first annulus
    edges[0], edges[-1] = inner, outer
    return edges


def _pixel_radius(value):
    """A ``sector_radius_inner`` Quantity as a radius in pixels."""
    if not value.unit.is_equivalent(u.pix):
        msg = ("sector_radius_inner must be a number or a Quantity in pixels, "
               f"got a Quantity in {value.unit}")
        raise u.UnitsError(msg)
    return value.to_value(u.pix)


def _inner_radius_pixels(value):
    if isinstance(value, u.Quantity):
        value = _pixel_radius(value)
    try:
        return check_positive("sector_radius_inner", value)
    except ValueError:
        msg = (f"sector_radius_inner is a radius in pixels in psfkit and must "
               f"be positive, got {value!r}.  psfsubtraction's "
               "sector_radius_inner is a log10 exponent instead (its default "
               "0 means 1 pixel): give the radius in pixels (1 for that "
               "default), or set convention='psfsubtraction' on the fitter to "
               "use psfsubtraction's meaning of every sector setting")
        raise ValueError(msg) from None


def sector_labels(shape, *, center, radius_edges, phi_edges):
    """
    Label every pixel with its sector (psfkit convention).

    See `psfkit.fitpsf.regions.sector_labels`, which documents it.
    """
    r, phi = radius_angle(shape, center)
    edges = np.asarray(radius_edges, dtype=float)
    pedges = np.asarray(phi_edges, dtype=float)
    rbin = np.searchsorted(edges, r, side="right")
    pbin = (np.searchsorted(pedges, phi, side="right") - 1) % pedges.size
    raw = np.where(rbin == 0, 0, 1 + (rbin - 1) * pedges.size + pbin)
    _, labels = np.unique(raw, return_inverse=True)
    return labels.reshape(shape)


def _psfsubtraction_edges(fitter, shape):
    edges = getattr(fitter, "sector_radius", None)
    if edges is not None:
        arr = np.asarray(edges, dtype=float).ravel()
        _check_increasing("sector_radius", arr, edges)
        redges = arr
    else:
        inner = getattr(fitter, "sector_radius_inner", None)
        if isinstance(inner, u.Quantity):
            # a radius, whose log10 is this convention's setting
            inner = np.log10(_inner_radius_pixels(inner))
        inner = 0.0 if inner is None else float(inner)
        if not np.isfinite(inner):
            msg = ("sector_radius_inner (a log10 exponent in the "
                   f"psfsubtraction convention) must be finite, got {inner!r}")
            raise ValueError(msg)
        n = getattr(fitter, "sector_radius_n", 10)
        try:
            n = check_integer("sector_radius_n", n, minimum=2)
        except ValueError:
            msg = ("sector_radius_n counts the radial boundaries in the "
                   f"psfsubtraction convention and must be at least 2, got {n!r}")
            raise ValueError(msg) from None
        top = np.log10(shape[1])
        if not inner < top:
            msg = ("sector_radius_inner is a log10 exponent in the "
                   f"psfsubtraction convention and must be below log10 of the "
                   f"image width ({top:.3g}), got {inner!r}")
            raise ValueError(msg)
        redges = np.logspace(inner, top, n)
    phi = getattr(fitter, "sector_phi", 12)
    if np.ndim(phi) == 0 and not isinstance(phi, u.Quantity):
        n_phi = check_integer("sector_phi", phi, minimum=1)
        pedges = np.linspace(0, 2 * np.pi, n_phi + 1)
    else:
        pedges = angle_values("sector_phi", phi, u.rad).ravel()
        _check_increasing("sector_phi", pedges, phi)
    return redges, pedges


def psfsubtraction_labels(shape, *, center_xy, radius_edges, phi_edges):
    """
    Label pixels with their sector in psfsubtraction's geometry.

    Returns
    -------
    labels : `~numpy.ndarray` of int
        ``ring * (n_phi - 1) + sector`` for pixels inside a sector, -1 for
        pixels outside every sector; labels increase in psfsubtraction's
        order (radius outer loop, angle inner loop).
    """
    rows, cols = np.indices(shape)
    # array order, as psfsubtraction computes it: first index, then second
    d0 = rows - center_xy[1]
    d1 = cols - center_xy[0]
    r = np.sqrt(d0 ** 2 + d1 ** 2)
    angle = np.arctan2(d1, d0)
    # to [0, 2 pi) the way astropy's Angle.wrap_at does it, so that pixels
    # on a boundary fall on the same side
    angle = np.where(angle < 0, angle + 2 * np.pi, angle)
    angle[angle >= 2 * np.pi] -= 2 * np.pi
    redges = np.asarray(radius_edges, dtype=float)
    pedges = np.asarray(phi_edges, dtype=float)
    ring = np.searchsorted(redges, r, side="right") - 1
    sector = np.searchsorted(pedges, angle, side="right") - 1
    inside = ((ring >= 0) & (ring < redges.size - 1)
              & (sector >= 0) & (sector < pedges.size - 1))
    return np.where(inside, ring * (pedges.size - 1) + sector, -1)


def sector_pixel_lists(fitter):
    """
    The flat pixel indices of every non-empty sector, cached on the fitter.
    """
    shape = tuple(fitter.image_shape)
    convention = convention_of(fitter)
    center = sector_center_xy(fitter, shape)
    if convention == "psfsubtraction":
        redges, pedges = _psfsubtraction_edges(fitter, shape)
    else:
        ny, nx = shape
        corners = np.array([[0, 0], [nx - 1, 0], [0, ny - 1], [nx - 1, ny - 1]])
        rmax = float(np.max(np.hypot(corners[:, 0] - center[0],
                                     corners[:, 1] - center[1])))
        redges = radius_edges(fitter, rmax)
        pedges = phi_edges(getattr(fitter, "sector_phi", 12))
    key = ("sectors", convention, shape, center, redges.tobytes(),
           pedges.tobytes())
    cache = fitter.cache
    if key not in cache:
        if convention == "psfsubtraction":
            labels = psfsubtraction_labels(shape, center_xy=center,
                                           radius_edges=redges,
                                           phi_edges=pedges).ravel()
            pixels = np.flatnonzero(labels >= 0)
            labels = labels[pixels]
        else:
            labels = sector_labels(shape, center=center, radius_edges=redges,
                                   phi_edges=pedges).ravel()
            pixels = np.arange(labels.size)
        cache[key] = split_by_label(pixels, labels)
    return cache[key]


def split_by_label(pixels, labels):
    """Split ``pixels`` into groups of equal label, in increasing label order."""
    if pixels.size == 0:
        return []
    order = np.argsort(labels, kind="stable")
    labels = labels[order]
    cuts = np.flatnonzero(np.diff(labels)) + 1
    return np.split(pixels[order], cuts)
