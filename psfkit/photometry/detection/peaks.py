"""
`find_peaks`: local maxima of an image above a threshold, as photutils 3.x
finds them, on psfkit's candidate-only peak search.
"""

import numpy as np

from ..._numerics.peaks import local_maxima
from ...utils import as_pair, check_in, check_integer, coerce_data
from ._base import circular_footprint, merge_alias, threshold_array
from ._checks import check_min_separation, check_threshold
from .source_table import add_sky_column, build_table, empty_table

__all__ = ["find_peaks"]

_SCHEMA = (("id", np.int64, None), ("x_peak", np.int64, None),
           ("y_peak", np.int64, None), ("peak_value", float, "data"))


def _footprint(box_size, footprint):
    """The neighbourhood (centre at ``shape // 2``, as in scipy)."""
    if footprint is None:
        by, bx = as_pair("box_size", box_size, lower_bound=(1, True))
        return np.ones((by, bx), dtype=bool)
    footprint = np.asarray(footprint, dtype=bool)
    if footprint.ndim != 2 or footprint.size == 0:
        msg = (f"footprint must be a non-empty 2-D array, got shape "
               f"{footprint.shape}")
        raise ValueError(msg)
    return footprint


def _centroids(data, valid, xs, ys, footprint, centroid_func, error):
    """Run ``centroid_func`` on a cutout around each peak (odd sizes)."""
    hy, hx = footprint.shape[0] // 2, footprint.shape[1] // 2
    xc = np.full(xs.size, np.nan)
    yc = np.full(xs.size, np.nan)
    ny, nx = data.shape
    for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
        y0, y1 = max(y - hy, 0), min(y + hy + 1, ny)
        x0, x1 = max(x - hx, 0), min(x + hx + 1, nx)
        cut = data[y0:y1, x0:x1]
        kwargs = {"mask": ~valid[y0:y1, x0:x1]}
        if error is not None:
            kwargs["error"] = error[y0:y1, x0:x1]
        cx, cy = centroid_func(cut, **kwargs)
        xc[i] = x0 + float(np.squeeze(cx))
        yc[i] = y0 + float(np.squeeze(cy))
    return xc, yc


def find_peaks(data, threshold, *, box_size=3, footprint=None, mask=None,
               border_width=None, n_peaks=None, min_separation=None,
               centroid_func=None, error=None, wcs=None, ties="all",
               npeaks=None):
    """
    Find local maxima of an image above a threshold.

    A pixel is a peak when it is above ``threshold`` (strictly) and no
    pixel of its neighbourhood is larger; pixels beyond the edges count
    as 0.  By default every pixel tied for the maximum of its
    neighbourhood is a peak (as in photutils); ``ties='first'`` keeps only
    the first of a flat plateau in raster order.

    Parameters
    ----------
    data : array-like, masked array, ``Quantity`` or ``NDData``
        The 2-D image; NaN and masked pixels are never peaks and never
        block a neighbour.
    threshold : float, 2-D array or `~astropy.units.Quantity`
        The value a peak must exceed.
    box_size : int or tuple of 2 int, optional
        The size of the rectangular neighbourhood; ignored when
        ``footprint`` or ``min_separation`` is given.
    footprint : 2-D array of bool, optional
        The neighbourhood, centred on the pixel (for an even size, on
        index ``size // 2``, as `scipy.ndimage.maximum_filter` does).
    mask : array-like of bool, optional
        `True` for pixels to ignore.
    border_width : int or tuple of 2 int, optional
        Peaks within this many pixels of the ``(y, x)`` edges are dropped.
    n_peaks : int, optional
        The maximum number of peaks; the largest ones are kept (listed by
        decreasing value).
    min_separation : float, optional
        A peak must be the largest value within this radius (pixels);
        replaces ``box_size`` and ``footprint``.
    centroid_func : callable, optional
        ``centroid_func(cutout, mask=..., error=...) -> (x, y)`` (such as
        photutils' ``centroid_com``), run on the ``box_size`` (or
        ``footprint``) box around each peak; adds ``x_centroid`` and
        ``y_centroid`` columns.
    error : array-like, optional
        The 1-sigma errors passed to ``centroid_func``.
    wcs : WCS, optional
        A celestial WCS (the data's own when they are an NDData); adds a
        ``skycoord_peak`` column (and ``skycoord_centroid``).
    ties : {'all', 'first'}, optional
        Keep every tied pixel, or one per plateau.
    npeaks : int, optional
        The seed's name of ``n_peaks``.

    Returns
    -------
    table : `~psfkit.photometry.SourceTable`
        Columns ``id, x_peak, y_peak, peak_value`` (in raster order unless
        ``n_peaks`` cut the list); zero rows with a
        `~psfkit.utils.NoDetectionsWarning` when there is no peak.

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.photometry import find_peaks
    >>> img = np.zeros((7, 9))
    >>> img[2, 3] = 5.0
    >>> img[5, 7] = 3.0
    >>> t = find_peaks(img, 1.0)
    >>> print(t['x_peak'].tolist(), t['y_peak'].tolist(), t['peak_value'].tolist())
    [3, 7] [2, 5] [5.0, 3.0]
    """
    arr = coerce_data(data, name="data", mask=mask, allow_all_masked=True)
    wcs = arr.wcs if wcs is None else wcs
    thr = threshold_array(check_threshold("threshold", threshold), arr.unit,
                          arr.shape)
    min_separation = check_min_separation("min_separation", min_separation)
    box = _footprint(box_size, footprint)
    footprint = circular_footprint(min_separation) if min_separation else box
    ties = check_in("ties", ties, ("all", "first"))
    n_peaks = merge_alias("n_peaks", n_peaks, "npeaks", npeaks, None)
    if n_peaks is not None and n_peaks != np.inf:
        n_peaks = check_integer("n_peaks", n_peaks, minimum=0)
    else:
        n_peaks = None
    if centroid_func is not None and not callable(centroid_func):
        msg = f"centroid_func must be a callable object, got {centroid_func!r}"
        raise TypeError(msg)
    if arr.n_valid == 0:
        return empty_table(_SCHEMA, arr.unit, "every pixel is masked")
    valid = ~arr.mask
    if np.ptp(arr.data[valid]) == 0:
        return empty_table(_SCHEMA, arr.unit, "the data are constant")
    values = np.where(valid, arr.data, -np.inf)
    with np.errstate(invalid="ignore"):
        candidates = valid & (arr.data > thr)
    if border_width is not None:
        wy, wx = as_pair("border_width", border_width, lower_bound=(0, True))
        candidates[:wy] = False
        candidates[arr.shape[0] - wy:] = False
        candidates[:, :wx] = False
        candidates[:, arr.shape[1] - wx:] = False
    ys, xs = local_maxima(values, footprint, candidates, ties=ties,
                          outside=0.0)
    if ys.size == 0:
        return empty_table(_SCHEMA, arr.unit, "no peak above the threshold")
    peak = arr.data[ys, xs]
    if n_peaks is not None and ys.size > n_peaks:
        keep = np.argsort(-peak, kind="stable")[:n_peaks]
        ys, xs, peak = ys[keep], xs[keep], peak[keep]
    cols = {"id": np.arange(1, ys.size + 1), "x_peak": xs, "y_peak": ys,
            "peak_value": peak}
    table = build_table(_SCHEMA, cols, arr.unit)
    add_sky_column(table, wcs, "y_peak", "x_peak", "y_peak", "skycoord_peak")
    if centroid_func is not None:
        err = None if error is None else np.asarray(getattr(error, "value",
                                                            error), float)
        table["x_centroid"], table["y_centroid"] = _centroids(
            np.where(valid, arr.data, 0.0), valid, xs, ys, box,
            centroid_func, err)
        add_sky_column(table, wcs, "y_centroid", "x_centroid", "y_centroid",
                       "skycoord_centroid")
    return table
