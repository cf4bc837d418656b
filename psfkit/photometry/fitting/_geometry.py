"""
Where each star of an all-star fit lives on the image.

Every star has two boxes centred on the same pixel:

* its *fit box* (``fitshape``), the pixels that constrain it;
* its *model box* (at least the fit box; by default the PSF's bounding
  box), the pixels its model reaches.

The fit uses the pixels of the union ``F`` of all fit boxes (usable ones
only), and the model of the image on ``F`` is the sum over stars of each
star's model on its model box.  A star's *support* is its model box
within ``F``: the pixels where its parameters enter the chi-square.  Boxes
are flat pixel indices into the image, so gathering or scattering the
values of every star is one indexing operation or one `numpy.bincount`,
never an image-sized array per star.

Two boxes of the same shape overlap in a pattern that depends only on the
offset between their centres; `offset_maps` tabulates, for every offset,
where each pixel of one box falls in the other, so that products over the
pixels two stars share are gathers of precomputed indices.
"""

from dataclasses import dataclass, replace
import functools

import numpy as np

from ._fit_boxes import box_offsets, gather, make_boxes, nearest_pixel

__all__ = []


@dataclass(frozen=True)
class StarGeometry:
    """
    The boxes and fit weights of ``n`` stars.

    Attributes
    ----------
    image_shape : tuple of 2 int
    fit_shape, model_shape : tuple of 2 odd int
    cx, cy : ndarray of int64, shape (n,)
        The common centre pixel of each star's boxes.
    flat : ndarray of int64, shape (n, M)
        Flat image index of every model-box pixel, ``-1`` outside the
        image (``M = model_shape[0] * model_shape[1]``, row-major).
    cols, rows : ndarray of float, shape (n, mx) and (n, my)
        The column and row coordinates of each model box.
    weight : ndarray, shape (n, M)
        The fit weight (inverse error, or 1) of each model-box pixel that
        belongs to the fitted pixels ``F``, 0 elsewhere.
    pixel_weight : ndarray, shape (ny * nx,)
        The same weights as a flat image (0 outside ``F``).
    own : ndarray of bool, shape (M,)
        The model-box pixels that belong to the star's own fit box.
    fitted : ndarray of bool, shape (n,)
        Stars with enough usable pixels in their fit box to be fitted.
    npix : ndarray of int, shape (n,)
        Usable pixels in each star's fit box.
    n_masked : ndarray of int, shape (n,)
        Pixels of each fit box inside the image that are masked or not
        finite.
    partial : ndarray of bool, shape (n,)
        Fit boxes that extend beyond the image.
    center_masked : ndarray of bool, shape (n,)
        Stars whose central fit-box pixel is in the image but unusable.
    """

    image_shape: tuple
    fit_shape: tuple
    model_shape: tuple
    cx: np.ndarray
    cy: np.ndarray
    flat: np.ndarray
    cols: np.ndarray
    rows: np.ndarray
    weight: np.ndarray
    pixel_weight: np.ndarray
    own: np.ndarray
    fitted: np.ndarray
    npix: np.ndarray
    n_masked: np.ndarray
    partial: np.ndarray
    center_masked: np.ndarray

    @property
    def n_stars(self):
        return self.flat.shape[0]

    @property
    def box_size(self):
        return self.flat.shape[1]

    @property
    def center(self):
        """Index of the central pixel of a model box."""
        return self.box_size // 2

    def subset(self, idx):
        """The geometry of stars ``idx`` (the fitted pixels unchanged)."""
        per_star = ("cx", "cy", "flat", "cols", "rows", "weight", "fitted",
                    "npix", "n_masked", "partial", "center_masked")
        return replace(self, **{name: getattr(self, name)[idx]
                                for name in per_star})


def grid_xy(cols, rows):
    """Pixel coordinates ``(n, M)`` of row-major boxes from their axes."""
    n, mx = cols.shape
    my = rows.shape[1]
    x = np.broadcast_to(cols[:, None, :], (n, my, mx))
    y = np.broadcast_to(rows[:, :, None], (n, my, mx))
    return x.reshape(n, -1), y.reshape(n, -1)


def build_geometry(box_x, box_y, fit_shape, model_shape, weight_image,
                   min_pixels, exclude=None):
    """
    The boxes of every star and the fitted pixels.

    Parameters
    ----------
    box_x, box_y : ndarray, shape (n,)
        Finite positions; each star's boxes are centred on the nearest
        pixel.
    fit_shape, model_shape : tuple of 2 odd int
        ``model_shape`` is enlarged to hold ``fit_shape`` if needed.
    weight_image : ndarray, 2-D
        1/error (or 1) for usable pixels, 0 for masked or non-finite ones.
    min_pixels : int
        Stars with fewer usable fit-box pixels are not fitted (the number
        of free parameters).
    exclude : ndarray of bool, shape (n,), optional
        Stars not to fit whatever their pixels (their boxes leave ``F``).

    Returns
    -------
    geometry : `StarGeometry`
    """
    model_shape = (max(model_shape[0], fit_shape[0]),
                   max(model_shape[1], fit_shape[1]))
    shape = weight_image.shape
    wflat = weight_image.ravel()
    fit = make_boxes(box_x, box_y, fit_shape, shape)
    usable = gather(wflat, fit.flat) > 0
    npix = np.count_nonzero(usable, axis=1)
    fitted = npix >= min_pixels
    if exclude is not None:
        fitted &= ~exclude
    n_masked = np.count_nonzero((fit.flat >= 0) & ~usable, axis=1)
    centre = fit.flat[:, fit.flat.shape[1] // 2]
    center_masked = (centre >= 0) & ~usable[:, fit.flat.shape[1] // 2]

    in_f = np.zeros(wflat.size, dtype=bool)
    in_f[fit.flat[fitted][usable[fitted]]] = True

    pixel_weight = np.where(in_f, wflat, 0.0)
    model = make_boxes(box_x, box_y, model_shape, shape)
    weight = gather(pixel_weight, model.flat)

    my, mx = model_shape
    dy, dx = box_offsets(model_shape)
    fy, fx = fit_shape
    own = (np.abs(dy) <= fy // 2) & (np.abs(dx) <= fx // 2)
    cx, cy = nearest_pixel(box_x), nearest_pixel(box_y)
    cols = (cx[:, None] + np.arange(-(mx // 2), mx // 2 + 1)).astype(float)
    rows = (cy[:, None] + np.arange(-(my // 2), my // 2 + 1)).astype(float)
    return StarGeometry(image_shape=tuple(shape), fit_shape=tuple(fit_shape),
                        model_shape=model_shape, cx=cx, cy=cy,
                        flat=model.flat, cols=cols, rows=rows, weight=weight,
                        pixel_weight=pixel_weight, own=own, fitted=fitted,
                        npix=npix, n_masked=n_masked, partial=fit.partial,
                        center_masked=center_masked)


def offset_maps(model_shape, rows=None):
    """
    Where the pixels of one box fall in another box of the same shape.

    Parameters
    ----------
    model_shape : tuple of 2 odd int
        ``(my, mx)``.
    rows : array-like of int, optional
        The rows wanted (`offset_index`); all by default.  The whole
        table has ``4 (my mx)**2`` entries: large model boxes need rows.

    Returns
    -------
    maps : ndarray of int, shape ((2 my - 1) * (2 mx - 1), my * mx)
        For the offset ``(dy, dx)`` of the second box's centre from the
        first's, row ``(dy + my - 1) * (2 mx - 1) + dx + mx - 1`` gives
        for every pixel of the first box its index in the second box, or
        ``-1`` where it lies outside (with ``rows``, those rows only).
    """
    my, mx = model_shape
    r, c = np.divmod(np.arange(my * mx), mx)
    if rows is None:
        oy, ox = np.mgrid[-(my - 1):my, -(mx - 1):mx]
        oy, ox = oy.ravel(), ox.ravel()
    else:
        oy, ox = np.divmod(np.asarray(rows, dtype=np.int64), 2 * mx - 1)
        oy, ox = oy - (my - 1), ox - (mx - 1)
    oy, ox = oy[:, None], ox[:, None]
    r2, c2 = r[None, :] - oy, c[None, :] - ox
    inside = (r2 >= 0) & (r2 < my) & (c2 >= 0) & (c2 < mx)
    return np.where(inside, r2 * mx + c2, -1)


@functools.lru_cache(maxsize=4)
def offset_table(model_shape):
    """
    The whole `offset_maps` table of ``model_shape``, read-only and made
    once per shape (each all-star fit of a model box uses it: building it
    takes a few milliseconds).
    """
    table = offset_maps(tuple(int(v) for v in model_shape))
    table.flags.writeable = False
    return table


def offset_index(dy, dx, model_shape):
    """Row of `offset_maps` for centre offsets ``(dy, dx)`` (arrays)."""
    my, mx = model_shape
    return (np.asarray(dy) + my - 1) * (2 * mx - 1) + np.asarray(dx) + mx - 1
