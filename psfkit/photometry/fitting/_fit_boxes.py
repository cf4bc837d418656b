"""
Fit boxes: the pixels each source is fitted on, gathered by fancy indexing.

Every source gets a box of odd shape ``(ny, nx)`` centred on the pixel
nearest its initial position.  Boxes are stored as flat pixel indices into
the image (``-1`` where the box leaves the image), so gathering the data of
ten thousand sources is one indexing operation and adding their models back
into an image is one `numpy.bincount`.  Nothing here allocates an
image-sized array per source or per group.

Sources fitted together (a group) are laid out as the concatenation of
their boxes; pixels shared by overlapping boxes are kept once (the later
copies get zero weight), so a group is fitted on the union of its boxes.
Groups of equal size form a bucket that is fitted in one batched problem.
"""

from dataclasses import dataclass

import numpy as np

__all__ = []


def box_offsets(shape):
    """Return the (dy, dx) integer offsets of an odd box, row-major."""
    ny, nx = shape
    dy, dx = np.mgrid[-(ny // 2):ny // 2 + 1, -(nx // 2):nx // 2 + 1]
    return dy.ravel(), dx.ravel()


def nearest_pixel(coord):
    """Index of the pixel containing ``coord`` (pixel centres at integers)."""
    return np.floor(np.asarray(coord, dtype=float) + 0.5).astype(np.int64)


@dataclass(frozen=True)
class Boxes:
    """
    The fit boxes of ``n`` sources.

    Attributes
    ----------
    flat : ndarray of int64, shape (n, npix)
        Flat image index of each box pixel, ``-1`` outside the image.
    x, y : ndarray of float, shape (n, npix)
        Pixel coordinates (column, row) of each box pixel.
    partial : ndarray of bool, shape (n,)
        True where part of the box lies outside the image.
    """

    flat: np.ndarray
    x: np.ndarray
    y: np.ndarray
    partial: np.ndarray

    @property
    def npix(self):
        return self.flat.shape[1]


def make_boxes(xc, yc, shape, image_shape):
    """
    Build the boxes of shape ``shape`` around the pixels nearest (xc, yc).

    Parameters
    ----------
    xc, yc : ndarray of float, shape (n,)
        Finite box centres.
    shape : tuple of 2 odd int
        The box shape ``(ny, nx)``.
    image_shape : tuple of 2 int
        The image shape.

    Returns
    -------
    boxes : `Boxes`
    """
    dy, dx = box_offsets(shape)
    iy = nearest_pixel(yc)[:, None] + dy[None, :]
    ix = nearest_pixel(xc)[:, None] + dx[None, :]
    ny, nx = image_shape
    inside = (ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny)
    flat = np.where(inside, iy * nx + ix, -1)
    return Boxes(flat=flat, x=ix.astype(float), y=iy.astype(float),
                 partial=~inside.all(axis=1))


def gather(values_flat, flat, fill=0.0):
    """Values of a flattened image at box pixels (``fill`` outside)."""
    out = values_flat[np.where(flat >= 0, flat, 0)]
    out[flat < 0] = fill
    return out


def accumulate(image_shape, flat, values):
    """Sum box values into an image; pixels outside the image are dropped."""
    keep = (flat >= 0) & np.isfinite(values)
    size = int(np.prod(image_shape))
    total = np.bincount(flat[keep], weights=values[keep], minlength=size)
    return total.reshape(image_shape)


def duplicate_pixels(flat):
    """
    Mark repeated pixel indices within each row (all but the first copy).

    Parameters
    ----------
    flat : ndarray of int, shape (g, m)

    Returns
    -------
    dup : ndarray of bool, shape (g, m)
    """
    order = np.argsort(flat, axis=1, kind="stable")
    srt = np.take_along_axis(flat, order, axis=1)
    dup_sorted = np.zeros(srt.shape, dtype=bool)
    dup_sorted[:, 1:] = srt[:, 1:] == srt[:, :-1]
    dup = np.empty_like(dup_sorted)
    np.put_along_axis(dup, order, dup_sorted, axis=1)
    return dup


def split_groups(group_index):
    """
    Bucket sources by the size of their group.

    Parameters
    ----------
    group_index : ndarray of int, shape (n,)
        Any integer label per source; equal labels fit together.

    Returns
    -------
    buckets : list of ndarray of int, each of shape (n_groups_k, k)
        For each distinct group size ``k`` (ascending), the source indices
        of every group of that size, in input order within a group.
    """
    group_index = np.asarray(group_index)
    if group_index.size == 0:
        return []
    order = np.argsort(group_index, kind="stable")
    _, start, counts = np.unique(group_index[order], return_index=True,
                                 return_counts=True)
    buckets = []
    for k in np.unique(counts):
        first = start[counts == k]
        buckets.append(order[first[:, None] + np.arange(k)[None, :]])
    return buckets
