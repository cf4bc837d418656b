"""
Region plug-ins: which sets of pixels are fitted (and subtracted) together.

Every function here is a plug-in for the ``regions`` slot of a fitter: it
takes the fitter as ``self`` and returns an iterable of regions (see
`psfkit.fitpsf.utils`; the built-in ones yield sorted flat pixel indices).
The wrappers take a regions plug-in and return a new one.

Fitter attributes used here:

``convention``
    ``'psfkit'`` (default) or ``'psfsubtraction'``: the meaning of the
    sector settings below (see :doc:`/fitpsf/psfsubtraction` for the second).
``sector_radius_inner``, ``sector_radius_n``, ``sector_radius``
    Radial boundaries of `sectors`.  In psfkit's convention, in pixels: by
    default ``sector_radius_n`` annuli with logarithmically spaced edges
    from ``sector_radius_inner`` (default 1 pixel) out to the image corner;
    an explicit array ``sector_radius`` of edges overrides them.  Pixels
    closer than the first edge form one central region, and pixels beyond
    the last edge one more annulus, so that every pixel lies in exactly one
    sector.
``sector_phi``
    The number of equal azimuthal sectors, or an array of angle boundaries
    (radians, or an astropy angle ``Quantity``; counter-clockwise from +x).
    Boundaries are cyclic: the sector from the last boundary to the first
    one (through 2 pi) is a sector too.
``sector_center``
    ``(x, y)`` of the centre of the sectors; `None` for the image centre.
``min_number_of_bases``
    `group_by_basis` ignores pixels with fewer valid bases.
``region_min_size``
    `wrapper_min_size` merges smaller regions into their neighbour.
"""

import numpy as np

from ..utils import check_integer
from . import _sectors
from .utils import PluginCallable, region_to_indices

__all__ = [
    "image_at_once",
    "image_unmasked",
    "pixel_by_pixel",
    "group_by_basis",
    "sectors",
    "sectors_by_basis",
    "wrapper_min_size",
    "wrapper_overlap_region",
    "sector_labels",
]


def image_at_once(self):
    """
    Fit the whole image as one region.

    Returns
    -------
    regions : list of `~numpy.ndarray`
        One region holding every pixel.
    """
    return [np.arange(int(np.prod(self.image_shape)))]


def image_unmasked(self):
    """
    Fit all unmasked pixels of the image as one region.

    Returns
    -------
    regions : list of `~numpy.ndarray`
        One region holding every pixel not masked in the image.
    """
    return [np.flatnonzero(~self.image_mask1d)]


def pixel_by_pixel(self):
    """
    Make every unmasked pixel its own region.

    The extreme form of LOCI.  Combine it with an optimisation region that
    reaches beyond the pixel (`~psfkit.fitpsf.optregion.dilated_region`);
    it costs one fit per pixel, so it only suits small images.

    Returns
    -------
    regions : generator of `~numpy.ndarray`
        One single-pixel region per unmasked pixel.
    """
    for pix in np.flatnonzero(~self.image_mask1d):
        yield np.array([pix])


def _group_pixels(self, pixels):
    """Split ``pixels`` into groups with the same set of valid bases."""
    bmask = self.base_mask1d
    min_bases = check_integer("min_number_of_bases",
                              getattr(self, "min_number_of_bases", 1),
                              minimum=0)
    if bmask is None:
        return [pixels] if pixels.size and self.n_bases >= min_bases else []
    sub = bmask[pixels]
    keep = (self.n_bases - sub.sum(axis=1)) >= max(min_bases, 1)
    pixels, sub = pixels[keep], sub[keep]
    if pixels.size == 0:
        return []
    packed = np.packbits(sub, axis=1)
    keys = np.ascontiguousarray(packed).view(
        np.dtype((np.void, packed.shape[1]))).ravel()
    _, inverse = np.unique(keys, return_inverse=True)
    return _sectors.split_by_label(pixels, inverse.ravel())


def group_by_basis(self):
    """
    Group the unmasked pixels by the set of bases valid at them.

    Pixels where exactly the same bases are unmasked form one region, so
    that each region can use every base available there.  Pixels with
    fewer than ``self.min_number_of_bases`` (default 1) valid bases are
    left out.

    Returns
    -------
    regions : list of `~numpy.ndarray`
    """
    return _group_pixels(self, np.flatnonzero(~self.image_mask1d))


def sector_labels(shape, *, center, radius_edges, phi_edges):
    """
    Label every pixel with the sector it belongs to (psfkit convention).

    Parameters
    ----------
    shape : tuple of int
        The ``(ny, nx)`` image shape.
    center : tuple of float
        ``(x, y)`` of the sector centre.
    radius_edges : array-like
        Increasing radial boundaries in pixels.  Radius ``r`` belongs to the
        annulus ``edges[k] <= r < edges[k + 1]``; pixels with
        ``r < edges[0]`` form the central region and pixels with
        ``r >= edges[-1]`` the outermost annulus.
    phi_edges : array-like
        Sorted cyclic angle boundaries in radians in ``[0, 2 pi)``.

    Returns
    -------
    labels : `~numpy.ndarray` of int
        Consecutive labels ``0..n-1`` of the non-empty sectors, ordered by
        annulus (inside out) then angle.

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.fitpsf.regions import sector_labels
    >>> lab = sector_labels((5, 5), center=(2, 2), radius_edges=[0.5, 4],
    ...                     phi_edges=[0, np.pi])
    >>> lab          # 0: centre; 1: angles [0, pi); 2: angles [pi, 2 pi)
    array([[2, 2, 2, 2, 2],
           [2, 2, 2, 2, 2],
           [2, 2, 0, 1, 1],
           [1, 1, 1, 1, 1],
           [1, 1, 1, 1, 1]])
    """
    return _sectors.sector_labels(shape, center=center,
                                  radius_edges=radius_edges,
                                  phi_edges=phi_edges)


def sectors(self):
    """
    Split the image into annular sectors around ``self.sector_center``.

    In psfkit's convention every pixel, the centre included, lies in
    exactly one sector (see the module description for the attributes);
    with ``convention = 'psfsubtraction'`` the pixels outside
    psfsubtraction's sectors are in none and stay masked.  Masked image
    pixels are left in their sector: the fitter fits without them and masks
    them in the residual.

    Returns
    -------
    regions : list of `~numpy.ndarray`
        Flat pixel indices of each non-empty sector.
    """
    return list(_sectors.sector_pixel_lists(self))


def sectors_by_basis(self):
    """
    Combine `sectors` and `group_by_basis`.

    The unmasked pixels of every sector are grouped by the set of bases
    valid at them.  With ``convention = 'psfsubtraction'`` masked image
    pixels stay in their group, as psfsubtraction keeps them: they do not
    enter any fit, but they widen the area dilated into the optimisation
    region of `~psfkit.fitpsf.optregion.around_region`.

    Returns
    -------
    regions : list of `~numpy.ndarray`
    """
    keep_masked = _sectors.convention_of(self) == "psfsubtraction"
    imask = self.image_mask1d
    # a list (as sectors gives), so that progress bars know the total
    return [group for reg in _sectors.sector_pixel_lists(self)
            for group in _group_pixels(self, reg if keep_masked
                                       else reg[~imask[reg]])]


class wrapper_min_size(PluginCallable):  # noqa: N801
    """
    Wrap a regions plug-in so that no region is smaller than a minimum.

    A region with fewer than ``self.region_min_size`` pixels is merged into
    the region that follows it (the last one into the one before it), so
    that every pixel stays covered.

    Parameters
    ----------
    func : callable
        The regions plug-in to wrap.

    Examples
    --------
    >>> from psfkit.fitpsf import LOCI
    >>> from psfkit.fitpsf.regions import sectors, wrapper_min_size
    >>> class BigSectors(LOCI):
    ...     regions = wrapper_min_size(sectors)
    ...     region_min_size = 50
    """

    def __init__(self, func):
        self.func = func

    def __call__(self, fitter):
        minsize = check_integer("region_min_size",
                                getattr(fitter, "region_min_size", 1),
                                minimum=1)
        shape = fitter.image_shape
        out = []
        pending = []
        for reg in self.func(fitter):
            pending.append(region_to_indices(reg, shape))
            if sum(p.size for p in pending) >= minsize:
                out.append(np.concatenate(pending))
                pending = []
        if pending:
            merged = np.concatenate(pending)
            if out:
                out[-1] = np.concatenate([out[-1], merged])
            elif merged.size:
                out.append(merged)
        return [np.sort(r) for r in out]


class wrapper_overlap_region(PluginCallable):  # noqa: N801
    """
    Wrap a regions plug-in so that overlapping regions become disjoint.

    A pixel that appeared in an earlier region is removed from every later
    one, and regions that become empty are dropped, so each pixel is fitted
    once (by the first region that contains it).

    Parameters
    ----------
    func : callable
        The regions plug-in to wrap.
    """

    def __init__(self, func):
        self.func = func

    def __call__(self, fitter):
        shape = fitter.image_shape
        seen = np.zeros(int(np.prod(shape)), dtype=bool)
        for reg in self.func(fitter):
            idx = region_to_indices(reg, shape)
            idx = idx[~seen[idx]]
            seen[idx] = True
            if idx.size:
                yield idx
