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
import functools

import numpy as np

__all__ = []


def box_offsets(shape):
    """Return the (dy, dx) integer offsets of an odd box, row-major."""
    ny, nx = shape
    dy, dx = np.mgrid[-(ny // 2):ny // 2 + 1, -(nx // 2):nx // 2 + 1]
    return dy.ravel(), dx.ravel()


def nearest_pixel(coord):
    """
    Index of the pixel containing ``coord`` (pixel centres at integers; a
    coordinate on the edge between two pixels, ``i + 0.5``, belongs to
    pixel ``i``, as with astropy's ``overlap_slices`` and photutils).
    Coordinates beyond 2**52 pixels, or not finite, give a pixel far off
    any image (2**52 from the origin), not an integer overflow.
    """
    coord = np.asarray(coord, dtype=float)
    far = float(2 ** 52)
    coord = np.clip(np.where(np.isfinite(coord), coord, -far), -far, far)
    return np.ceil(coord - 0.5).astype(np.int64)


@dataclass(frozen=True)
class Boxes:
    """
    The fit boxes of ``n`` sources.

    Attributes
    ----------
    flat : ndarray of int64, shape (n, npix)
        Flat image index of each box pixel, ``-1`` outside the image.
    partial : ndarray of bool, shape (n,)
        True where part of the box lies outside the image.
    cols, rows : ndarray of int64, shape (n, nx) and (n, ny)
        The columns and rows each box spans (also outside the image).
    """

    flat: np.ndarray
    partial: np.ndarray
    cols: np.ndarray
    rows: np.ndarray

    @property
    def npix(self):
        return self.flat.shape[1]

    @functools.cached_property
    def x(self):
        """Column coordinate of each box pixel, float ``(n, npix)``."""
        n, nx = self.cols.shape
        ny = self.rows.shape[1]
        grid = np.broadcast_to(self.cols[:, None, :], (n, ny, nx))
        return grid.reshape(n, ny * nx).astype(float)

    @functools.cached_property
    def y(self):
        """Row coordinate of each box pixel, float ``(n, npix)``."""
        n, ny = self.rows.shape
        nx = self.cols.shape[1]
        grid = np.broadcast_to(self.rows[:, :, None], (n, ny, nx))
        return grid.reshape(n, ny * nx).astype(float)


def make_boxes(xc, yc, shape, image_shape):
    """
    Build the boxes of shape ``shape`` around the pixels nearest (xc, yc).

    A box is the outer sum of its rows and columns, so the indices are
    formed in one broadcast pass (the pixel coordinates only when asked
    for), and the pixels outside the image are looked for only in the
    boxes that reach beyond it.

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

    Examples
    --------
    >>> import numpy as np
    >>> boxes = make_boxes(np.array([0.2, 4.0]), np.array([3.0, 2.6]),
    ...                    (3, 3), (5, 6))
    >>> boxes.flat.tolist()
    [[-1, 12, 13, -1, 18, 19, -1, 24, 25], [15, 16, 17, 21, 22, 23, 27, 28, 29]]
    >>> boxes.partial.tolist(), boxes.x[1, :3].tolist(), boxes.y[1, ::3].tolist()
    ([True, False], [3.0, 4.0, 5.0], [2.0, 3.0, 4.0])
    """
    by, bx = shape
    rows = nearest_pixel(yc)[:, None] + np.arange(-(by // 2), by // 2 + 1)
    cols = nearest_pixel(xc)[:, None] + np.arange(-(bx // 2), bx // 2 + 1)
    ny, nx = image_shape
    in_y = (rows >= 0) & (rows < ny)
    in_x = (cols >= 0) & (cols < nx)
    flat = (rows * nx)[:, :, None] + cols[:, None, :]
    partial = ~(in_y.all(axis=1) & in_x.all(axis=1))
    edge = np.flatnonzero(partial)
    if edge.size:
        inside = in_y[edge, :, None] & in_x[edge, None, :]
        flat[edge] = np.where(inside, flat[edge], -1)
    return Boxes(flat=flat.reshape(len(flat), by * bx), partial=partial,
                 cols=cols, rows=rows)


def gather(values_flat, flat, fill=0.0):
    """Values of a flattened image at box pixels (``fill`` outside)."""
    # (``take`` is several times faster than fancy indexing; "clip" reads
    # pixel 0 for the -1 of pixels outside the image, then overwritten)
    out = values_flat.take(flat, mode="clip")
    np.copyto(out, fill, where=flat < 0)
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
