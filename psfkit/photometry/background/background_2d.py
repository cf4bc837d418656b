"""
`Background2D`: a spatially varying sky and its RMS.

A robust estimate in each box of a mesh, a median filter over the boxes,
and a smooth interpolation back to every pixel.  By default the mesh,
filter and interpolation are photutils 3.x's (``_boxes``), so that the
same call gives the same maps; ``method='planar'`` uses psfkit's mesh
(``_mesh``), exact for a sky that is a plane up to the image edges.
"""

import copy
import warnings

import numpy as np

from ...utils import (
    InputDataError,
    ParamReprMixin,
    as_pair,
    check_in,
    coerce_data,
)
from . import _boxes, _mesh
from ._sorted_clip import SortedSamples, supported_clip
from .estimators import (
    _DEFAULT,
    SExtractorBackground,
    StdBackgroundRMS,
    _sigma_clipper,
    clip_text,
)

__all__ = ["Background2D"]


def _check_estimator(name, estimator):
    if not callable(estimator):
        msg = f"{name} must be callable as {name}(data, axis=...), got {estimator!r}"
        raise TypeError(msg)
    # the boxes are clipped once, before both estimators (as photutils
    # does): a copy of the estimator runs without its own clipping
    estimator = copy.copy(estimator)
    if hasattr(estimator, "sigma_clip"):
        estimator.sigma_clip = None
    return estimator


def _output_dtype(data):
    """The input's floating type, float32 for integer data (photutils')."""
    raw = getattr(data, "data", data) if not isinstance(data, np.ndarray) \
        else data
    raw = getattr(raw, "value", raw)
    dtype = np.asarray(raw).dtype
    if dtype.kind == "f" and dtype.itemsize >= 4:
        return dtype.newbyteorder("=")
    return np.dtype(np.float32)


def _call(estimator, clipped):
    with warnings.catch_warnings():
        # all-NaN boxes give NaN, and are excluded afterwards; NaN marks
        # the clipped pixels (astropy's clipping says so when it sees them)
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.filterwarnings("ignore", message="Input data contains "
                                "invalid values")
        values = estimator(clipped, axis=1)
    return np.asarray(getattr(values, "value", values), dtype=float)


def box_statistics(stack, sigma_clip, bkg_estimator, rms_estimator):
    """
    Clip every row of ``stack`` and apply both estimators.

    psfkit's estimators read their statistic straight from the sorted,
    clipped rows; any other estimator gets the rows with the clipped
    values set to NaN, as photutils passes them.

    Returns
    -------
    bkg, rms : ndarray
        One value per row.
    ngood : ndarray of int
        The values left after clipping.
    """
    params = None if sigma_clip is None else supported_clip(sigma_clip)
    if sigma_clip is not None and params is None:
        with warnings.catch_warnings():
            # NaN marks the masked pixels: being clipped is what they are for
            warnings.simplefilter("ignore")
            clipped = sigma_clip(stack, axis=1, masked=False, copy=False)
        ngood = np.count_nonzero(~np.isnan(clipped), axis=1)
        return (_call(bkg_estimator, clipped), _call(rms_estimator, clipped),
                ngood)
    samples = SortedSamples(stack)
    if params is not None:
        samples.clip(*params)
    clipped = None
    out = []
    for estimator in (bkg_estimator, rms_estimator):
        fast = getattr(estimator, "_sorted_statistic", None)
        values = None if fast is None else fast(samples)
        if values is None:
            if clipped is None:
                clipped = samples.filled()
            values = _call(estimator, clipped)
        out.append(np.asarray(values, dtype=float))
    return out[0], out[1], samples.count


class Background2D(ParamReprMixin):
    """
    A spatially varying background and background RMS.

    The image is cut into a mesh of boxes; each box gets a robust
    background and RMS estimate from its sigma-clipped pixels; boxes with
    too many masked or clipped pixels are excluded and filled from their
    neighbours; the mesh is median filtered; and a cubic spline through the
    box centres gives full-resolution maps.

    Parameters
    ----------
    data : array-like, masked array, ``Quantity`` or ``NDData``
        The 2-D image; NaN and masked pixels are ignored.
    box_size : int or tuple of 2 int
        The ``(ny, nx)`` box size in pixels; a size larger than the image
        is the image size.
    mask : array-like of bool, optional
        `True` for pixels to ignore (e.g. masked sources).
    coverage_mask : array-like of bool, optional
        `True` where the image has no data (blank mosaic areas): ignored
        like ``mask``, and set to ``fill_value`` in the output maps.
    fill_value : float, optional
        The map value where ``coverage_mask`` is `True`.
    exclude_percentile : float, optional
        A box is excluded (and filled from its neighbours) when more than
        this percentage of its pixels are masked or clipped
        (``method='planar'``: masked).
    filter_size : int or tuple of 2 int, optional
        The size of the median filter over the mesh, in boxes (odd).
    filter_threshold : float, optional
        Filter only the boxes whose background exceeds this value
        (SourceExtractor's ``BACK_FILTERTHRESH``); `None` filters all.
    sigma_clip : `~astropy.stats.SigmaClip` or None, optional
        The clipping applied to the pixels of each box; default
        ``SigmaClip(sigma=3, maxiters=10)``.
    bkg_estimator : callable, optional
        ``f(stack, axis=1)`` giving one background per box; default
        `SExtractorBackground`.  Its own clipping is switched off (the
        boxes are clipped once, with ``sigma_clip``).
    bkg_rms_estimator : callable, optional
        The same for the RMS; default `StdBackgroundRMS`.
    method : {'photutils', 'planar'}, optional
        ``'photutils'`` reproduces photutils 3.x's ``Background2D``: whole
        boxes from the lower-left corner plus partial boxes along the top
        and right edges, excluded boxes filled by inverse-distance
        weighting, a median filter that ignores the nodes beyond the
        edges, and a cubic-spline zoom (clipped to the mesh range).
        ``'planar'`` makes every step exact for a planar sky: equal boxes
        tiling the image exactly, excluded boxes filled from a local plane
        fit, a median filter over a mesh extended by linear
        extrapolation, and a bicubic spline extended to the edges.
    bkgrms_estimator : callable, optional
        The seed's name of ``bkg_rms_estimator``.

    Attributes
    ----------
    background, background_rms : `~numpy.ndarray` or `~astropy.units.Quantity`
        The full-resolution maps (computed on first use, then kept).
    background_mesh, background_rms_mesh : `~numpy.ndarray` or `~astropy.units.Quantity`
        The filtered mesh values, one per box (with the data's unit).
    n_pixels_mesh : `~numpy.ndarray` of int
        The pixels left in each box after masking and clipping.
    mesh_x, mesh_y : `~numpy.ndarray`
        The pixel coordinates of the box centres.
    mesh_rejected : `~numpy.ndarray` of bool
        The boxes that were excluded and filled.

    Notes
    -----
    With the default ``method``, an unmasked image and the default
    estimators, the maps equal photutils 3.x's to about 1e-10 of the sky
    RMS (see :doc:`/photometry/background`).  The boxes are clipped all
    at once: each box is sorted once and every clipping iteration reads
    the median, mean and standard deviation of the kept run of sorted
    values, so the estimate costs one sort of the image.

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.photometry import Background2D
    >>> y, x = np.mgrid[:100, :120]
    >>> sky = 50. + 0.1 * x + 0.05 * y
    >>> noise = np.random.default_rng(1).normal(0., 1., sky.shape)
    >>> bkg = Background2D(sky + noise, 20)
    >>> bkg
    Background2D(data=<float64 array (100, 120)>, box_size=(20, 20))
    >>> bkg.background_mesh.shape
    (5, 6)
    >>> # SourceExtractor's spline flattens the gradient at the edges;
    >>> # the planar mesh follows it (the box noise is about 0.1)
    >>> for method in ("photutils", "planar"):
    ...     err = Background2D(sky + noise, 20, method=method).background - sky
    ...     print(f"{method}: largest error {np.abs(err).max():.1f}")
    photutils: largest error 3.0
    planar: largest error 0.5
    """

    _repr_changed_only = True

    def __init__(self, data, box_size, *, mask=None, coverage_mask=None,
                 fill_value=0.0, exclude_percentile=10.0, filter_size=(3, 3),
                 filter_threshold=None, sigma_clip=_DEFAULT,
                 bkg_estimator=None, bkg_rms_estimator=None,
                 method="photutils", bkgrms_estimator=None):
        if bkgrms_estimator is not None:
            if bkg_rms_estimator is not None:
                msg = ("bkgrms_estimator and bkg_rms_estimator are two names "
                       "for the same estimator; give only one of them")
                raise TypeError(msg)
            bkg_rms_estimator = bkgrms_estimator
        self.method = check_in("method", method, ("photutils", "planar"))
        self.coverage_mask = None
        masks = [] if mask is None else [np.asarray(mask, dtype=bool)]
        if coverage_mask is not None:
            self.coverage_mask = np.asarray(coverage_mask, dtype=bool)
            masks.append(self.coverage_mask)
        total = None
        for m in masks:
            total = m if total is None else np.logical_or(total, m)
        arr = coerce_data(data, name="data", mask=total, dtype=None)
        self._shape = arr.shape
        self._has_mask = mask is not None
        self.dtype = _output_dtype(data)
        self.unit = arr.unit
        box = as_pair("box_size", box_size, lower_bound=(1, True))
        # a box larger than the image is the whole image along that axis
        self.box_size = (min(box[0], arr.shape[0]), min(box[1], arr.shape[1]))
        self.filter_size = as_pair("filter_size", filter_size, check_odd=True)
        self.fill_value = float(fill_value)
        self.filter_threshold = (None if filter_threshold is None
                                 else float(filter_threshold))
        self.sigma_clip = _sigma_clipper(sigma_clip)
        self._given = {"bkg_estimator": bkg_estimator,
                       "bkg_rms_estimator": bkg_rms_estimator}
        self.bkg_estimator = _check_estimator(
            "bkg_estimator", bkg_estimator or SExtractorBackground())
        self.bkg_rms_estimator = _check_estimator(
            "bkg_rms_estimator", bkg_rms_estimator or StdBackgroundRMS())
        pct = float(exclude_percentile)
        if not 0.0 <= pct <= 100.0:
            msg = f"exclude_percentile must be in [0, 100], got {exclude_percentile}"
            raise ValueError(msg)
        self.exclude_percentile = pct
        values = arr.filled(np.nan).astype(float, copy=False)
        if self.method == "photutils":
            self._photutils_mesh(values)
        else:
            self._planar_mesh(values)
        # the statistics are computed in float64; the outputs follow the
        # input's floating type (float32 for integer data), as photutils
        self._bkg_mesh = self._bkg_mesh.astype(self.dtype)
        self._rms_mesh = self._rms_mesh.astype(self.dtype)
        self._maps = {}

    @property
    def bkgrms_estimator(self):
        """The seed's name of ``bkg_rms_estimator``."""
        return self.bkg_rms_estimator

    def _summary_items(self, *, changed_only=False):
        shape = self._shape
        items = [("data", f"<{np.dtype(self.dtype)} array {shape}>"),
                 ("box_size", str(self.box_size))]
        if self._has_mask or not changed_only:
            items.append(("mask", f"<bool array {shape}>" if self._has_mask
                          else "None"))
        if self.coverage_mask is not None or not changed_only:
            items.append(("coverage_mask",
                          "None" if self.coverage_mask is None
                          else f"<bool array {shape}>"))
        settings = (("fill_value", self.fill_value, 0.0),
                    ("exclude_percentile", self.exclude_percentile, 10.0),
                    ("filter_size", self.filter_size, (3, 3)),
                    ("filter_threshold", self.filter_threshold, None))
        for name, value, default in settings:
            if not changed_only or value != default:
                items.append((name, repr(value)))
        text = clip_text(self.sigma_clip)
        if not changed_only or text != "SigmaClip(sigma=3, maxiters=10)":
            items.append(("sigma_clip", text))
        for name in ("bkg_estimator", "bkg_rms_estimator"):
            given = self._given[name]
            if given is not None or not changed_only:
                est = getattr(self, name) if given is None else given
                text = repr(est)
                items.append((name, text if len(text) < 60
                              else type(est).__name__))
        if not changed_only or self.method != "photutils":
            items.append(("method", repr(self.method)))
        return items

    def _statistics(self, stack):
        return box_statistics(stack, self.sigma_clip, self.bkg_estimator,
                              self.bkg_rms_estimator)

    def _photutils_mesh(self, values):
        by, bx = self.box_size
        stack, mesh_shape = _boxes.box_stack(values, self.box_size)
        bkg, rms, ngood = self._statistics(stack)
        threshold = (1.0 - self.exclude_percentile / 100.0) * by * bx
        bad = (ngood <= threshold) | ~np.isfinite(bkg) | ~np.isfinite(rms)
        bkg = np.where(bad, np.nan, bkg).reshape(mesh_shape)
        rms = np.where(bad, np.nan, rms).reshape(mesh_shape)
        if np.all(bad):
            msg = (f"every box has {threshold:g} or fewer usable pixels "
                   f"(box_size={self.box_size}, exclude_percentile="
                   f"{self.exclude_percentile}); use a larger box_size or "
                   "exclude_percentile, or a smaller mask")
            raise InputDataError(msg)
        self.n_pixels_mesh = ngood.reshape(mesh_shape)
        self.mesh_rejected = bad.reshape(mesh_shape)
        self.mesh_y = np.arange(mesh_shape[0]) * by + (by - 1) / 2.0
        self.mesh_x = np.arange(mesh_shape[1]) * bx + (bx - 1) / 2.0
        filled_bkg = _boxes.fill_mesh(bkg)
        filled_rms = _boxes.fill_mesh(rms)
        if (self.filter_threshold is None
                or self.filter_threshold < np.nanmin(bkg)):
            self._bkg_mesh = _boxes.nan_median_filter(filled_bkg,
                                                            self.filter_size)
            self._rms_mesh = _boxes.nan_median_filter(
                filled_rms, self.filter_size)
        else:
            select = filled_bkg > self.filter_threshold
            self._bkg_mesh = _boxes.selective_filter(
                filled_bkg, self.filter_size, select)
            self._rms_mesh = _boxes.selective_filter(
                filled_rms, self.filter_size, select)

    def _planar_mesh(self, values):
        ny, nx = values.shape
        edges_y = _mesh.box_edges(ny, self.box_size[0])
        edges_x = _mesh.box_edges(nx, self.box_size[1])
        self.mesh_y = 0.5 * (edges_y[:-1] + edges_y[1:] - 1)
        self.mesh_x = 0.5 * (edges_x[:-1] + edges_x[1:] - 1)
        stack = _mesh.box_stack(values, edges_y, edges_x)
        mesh_shape = stack.shape[:2]
        stack = stack.reshape(-1, stack.shape[2])
        npix = np.outer(np.diff(edges_y), np.diff(edges_x)).ravel()
        nvalid = np.isfinite(stack).sum(axis=1)
        pct_masked = 100.0 * (npix - nvalid) / npix
        good = (pct_masked <= self.exclude_percentile) & (nvalid > 0)
        if not np.any(good):
            msg = (f"every box has more than exclude_percentile="
                   f"{self.exclude_percentile}% masked pixels; use a larger "
                   "box_size or exclude_percentile, or a smaller mask")
            raise InputDataError(msg)
        bkg = np.full(good.shape, np.nan)
        rms = np.full(good.shape, np.nan)
        ngood = np.zeros(good.shape, dtype=np.int64)
        bkg[good], rms[good], ngood[good] = self._statistics(stack[good])
        good &= np.isfinite(bkg) & np.isfinite(rms)
        if not np.any(good):
            msg = "the estimators returned no finite value for any box"
            raise InputDataError(msg)
        good = good.reshape(mesh_shape)
        self.n_pixels_mesh = ngood.reshape(mesh_shape)
        self.mesh_rejected = ~good
        self._bkg_mesh = _mesh.median_filter_mesh(
            _mesh.fill_rejected(bkg.reshape(mesh_shape), good),
            self.filter_size)
        self._rms_mesh = _mesh.median_filter_mesh(
            _mesh.fill_rejected(rms.reshape(mesh_shape), good),
            self.filter_size)

    # -- full-resolution maps ------------------------------------------
    @property
    def background_mesh(self):
        """The background of each box, after filtering (data unit)."""
        return self._with_unit(self._bkg_mesh)

    @property
    def background_rms_mesh(self):
        """The background rms of each box, after filtering (data unit)."""
        return self._with_unit(self._rms_mesh)

    def _with_unit(self, values):
        if self.unit is None:
            return values
        return np.asarray(values) << self.unit

    def _map(self, mesh):
        if self.method == "photutils":
            out = _boxes.zoom_mesh(mesh, self.box_size, self._shape,
                                   self.dtype)
        else:
            spline = _mesh.mesh_spline(mesh, self.mesh_y, self.mesh_x)
            out = spline(np.arange(self._shape[0], dtype=float),
                         np.arange(self._shape[1], dtype=float))
            out = out.astype(self.dtype, copy=False)
        if self.coverage_mask is not None:
            out[self.coverage_mask] = self.fill_value
        return out

    @property
    def background(self):
        """The full-resolution background map."""
        if "bkg" not in self._maps:
            self._maps["bkg"] = self._map(self._bkg_mesh)
        return self._with_unit(self._maps["bkg"])

    @property
    def background_rms(self):
        """The full-resolution background RMS map."""
        if "rms" not in self._maps:
            self._maps["rms"] = self._map(self._rms_mesh)
        return self._with_unit(self._maps["rms"])

    @property
    def background_median(self):
        """The median of the background mesh."""
        return self._with_unit(float(np.median(self._bkg_mesh)))

    @property
    def background_rms_median(self):
        """The median of the background RMS mesh."""
        return self._with_unit(float(np.median(self._rms_mesh)))

    @property
    def n_pixels_map(self):
        """`n_pixels_mesh` repeated over the pixels of each box."""
        if self.method == "photutils":
            by, bx = self.box_size
            full = np.repeat(np.repeat(self.n_pixels_mesh, by, axis=0), bx,
                             axis=1)
            return full[:self._shape[0], :self._shape[1]]
        edges_y = _mesh.box_edges(self._shape[0], self.box_size[0])
        edges_x = _mesh.box_edges(self._shape[1], self.box_size[1])
        return self.n_pixels_mesh[np.repeat(np.arange(len(edges_y) - 1),
                                            np.diff(edges_y))][
            :, np.repeat(np.arange(len(edges_x) - 1), np.diff(edges_x))]

    def background_at(self, x, y):
        """
        Evaluate the background at arbitrary pixel positions.

        Parameters
        ----------
        x, y : float or array-like
            Pixel coordinates (``(0, 0)`` the centre of the first pixel).

        Returns
        -------
        background : float, `~numpy.ndarray` or `~astropy.units.Quantity`
        """
        if self.method == "photutils":
            values = _boxes.mesh_at(self._bkg_mesh, self.box_size, x, y)
        else:
            spline = _mesh.mesh_spline(self._bkg_mesh, self.mesh_y,
                                       self.mesh_x)
            values = spline.ev(np.asarray(y, dtype=float),
                               np.asarray(x, dtype=float))
        values = np.asarray(values, dtype=float)
        return self._with_unit(float(values) if values.ndim == 0 else values)

    def plot_meshes(self, *, ax=None, marker="+", color="tab:blue",
                    outlines=False, **kwargs):
        """
        Mark the box centres (and outlines) on a matplotlib axes.

        Parameters
        ----------
        ax : `matplotlib.axes.Axes`, optional
            The axes; the current ones by default.
        marker, color : str, optional
            The marker of the box centres and the colour.
        outlines : bool, optional
            Also draw the box outlines.
        **kwargs
            Passed to the outline rectangles.

        Returns
        -------
        ax : `matplotlib.axes.Axes`
        """
        from matplotlib.patches import Rectangle
        import matplotlib.pyplot as plt

        ax = plt.gca() if ax is None else ax
        yy, xx = np.meshgrid(self.mesh_y, self.mesh_x, indexing="ij")
        good = ~self.mesh_rejected
        ax.scatter(xx[good], yy[good], marker=marker, color=color)
        ax.scatter(xx[~good], yy[~good], marker="x", color="tab:red")
        if outlines:
            by, bx = self.box_size
            for x0, y0 in zip(xx.ravel(), yy.ravel(), strict=True):
                ax.add_patch(Rectangle((x0 - bx / 2, y0 - by / 2), bx, by,
                                       fill=False, edgecolor=color, **kwargs))
        return ax
