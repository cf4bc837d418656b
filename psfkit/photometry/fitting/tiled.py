"""
PSF photometry of a large image in overlapping tiles.

The image is cut into a grid of *cores* that cover it exactly once; each
tile is its core grown by ``overlap`` pixels on every side (clipped to the
image).  Every tile is measured on its own by an ordinary photometry object,
in this process or in parallel on any executor (``executor=``: a number of
threads, a ``concurrent.futures`` pool, a dask.distributed ``Client``, an
ipyparallel view; see `psfkit.utils.run_tasks`).  A star is measured by every tile that
sees it but kept only from the tile whose core holds its fitted position,
so the merged catalogue has each star once; the residual mosaic is built
from the tile cores, where each tile has fitted every star that reaches
into its core.
"""

import copy
from dataclasses import dataclass

from astropy.table import QTable, vstack
import astropy.units as u
import numpy as np

from ...utils import (
    NoDetectionsWarning,
    SummaryReprMixin,
    as_pair,
    coerce_data,
    describe,
    pixel_to_sky,
    renamed_keyword,
    resolve_executor,
    warn,
)
from ...utils.parallel import executor_kind, run_tasks
from ...utils.progress import progress_bar as make_progress_bar
from ...utils.tiling import (
    call_recording_warnings,
    core_bounds,
    reissue_warnings,
    tile_grid,
)
from ._interop import celestial_wcs

__all__ = ["tiled_photometry", "TiledPhotometryResult"]

# table columns holding pixel positions, shifted from tile to image frame
_X_COLUMNS = ("x_0", "x_fit")
_Y_COLUMNS = ("y_0", "y_fit")


@dataclass(frozen=True, repr=False)
class TiledPhotometryResult(SummaryReprMixin):
    """
    The merged outcome of `tiled_photometry`.

    Attributes
    ----------
    table : `~astropy.table.QTable`
        One row per star, with the columns of the photometry object's
        table in full-image coordinates, ``id`` renumbered from 1,
        ``group_id`` made unique over the image, and ``tile_id`` (the
        tile that measured the star).
    residual_image : `~numpy.ndarray` or `~astropy.units.Quantity`
        ``image - background - model`` assembled from the tile cores.
    tiles : `~astropy.table.QTable`
        One row per tile: ``tile_id``, the core's pixel ranges ``x_min``,
        ``x_max``, ``y_min``, ``y_max`` (``max`` excluded), the tile's
        ranges with the overlap (``tile_x_min``...), ``n_fitted`` (stars
        fitted in the whole tile) and ``n_sources`` (stars kept).
    """

    table: QTable
    residual_image: object
    tiles: QTable

    def _summary_items(self):
        flags = np.asarray(self.table["flags"], dtype=np.int64) if len(
            self.table) else np.zeros(0, dtype=np.int64)
        return [("table", describe(self.table)),
                ("flagged", describe(int(np.count_nonzero(flags)))),
                ("residual_image", describe(self.residual_image)),
                ("tiles", describe(len(self.tiles)))]


def _owned(xs, ys, bounds):
    """True for positions inside a core ``(x_lo, x_hi, y_lo, y_hi)``."""
    x_lo, x_hi, y_lo, y_hi = bounds
    return (xs >= x_lo) & (xs < x_hi) & (ys >= y_lo) & (ys < y_hi)


def _value(column):
    return np.asarray(getattr(column, "value", column), dtype=float)


def _run_tile(task):
    """Measure one tile; return its kept rows and residual core."""
    photometry, data, mask, error, bounds, core = task
    result, notes = call_recording_warnings(photometry.run, data, mask=mask,
                                            error=error)
    table = result.table
    xs, ys = _value(table["x_fit"]), _value(table["y_fit"])
    # a failed fit keeps its star where it was found
    bad = ~(np.isfinite(xs) & np.isfinite(ys))
    xs[bad], ys[bad] = _value(table["x_0"])[bad], _value(table["y_0"])[bad]
    kept = table[_owned(xs, ys, bounds)]
    residual = result.residual_image
    residual = np.array(getattr(residual, "value", residual)[core])
    return kept, len(table), residual, notes


def _check_photometry(photometry, overlap):
    if not callable(getattr(photometry, "run", None)):
        msg = ("photometry must be a psfkit photometry object with a run "
               f"method, got {type(photometry).__name__}")
        raise TypeError(msg)
    bkg = getattr(photometry, "bkg_estimator", None)
    if getattr(bkg, "background", None) is not None:
        msg = ("photometry.bkg_estimator holds a fixed background map, which "
               "cannot be cut into tiles; subtract it from the image first "
               "or pass a callable estimator")
        raise ValueError(msg)
    fitshape = getattr(photometry, "fitshape", (1, 1))
    need = tuple(f // 2 for f in fitshape)
    if any(o < n for o, n in zip(overlap, need, strict=True)):
        msg = (f"overlap {overlap} is smaller than half the fit box "
               f"{fitshape}: stars near a core's edge would be cut; use at "
               f"least {need}")
        raise ValueError(msg)


@renamed_keyword(client="executor")
def tiled_photometry(image, photometry, *, tile_size, overlap, executor=None,
                     mask=None, error=None, progress_bar=False):
    """
    Run PSF photometry on overlapping tiles and merge the results.

    Parameters
    ----------
    image : array-like, `~numpy.ma.MaskedArray` or `~astropy.nddata.NDData`
        The 2-D image (NaN or masked pixels are not used; an NDData's
        uncertainty gives the errors).
    photometry : `~psfkit.photometry.BasicPSFPhotometry` or subclass
        Run on every tile with its own finder, grouper, background
        estimator and PSF model.  A scalar background estimator measures
        each tile's own level; a fixed background map must be subtracted
        from the image beforehand.
    tile_size : int or tuple of 2 int
        ``(ny, nx)`` of a tile's core.
    overlap : int or tuple of 2 int
        The margin in pixels added around each core; at least half the
        fit box.  For results identical to a single pass it should also
        cover the PSF's extent (the model's ``subshape``) plus the
        grouping distance, so that every star reaching into a core is
        fitted in that tile with the neighbours it is grouped with.
    executor : optional
        `None` (tiles run here, one after another), a number of threads, a
        ``concurrent.futures`` executor, a dask.distributed ``Client`` or
        an ipyparallel view (see `psfkit.utils.run_tasks`).
        Process-based executors receive a pickled copy of ``photometry``;
        tiles given to threads share one interpreter, so worker processes
        with one thread each scale best.
    mask : array-like of bool, optional
        Pixels to ignore (`True`).
    error : array-like, optional
        The 1-sigma error of every pixel.
    progress_bar : bool, optional
        Show a bar counting the finished tiles (needs ``tqdm``).  On an
        executor, the tiles' photometry shows no bars of its own (their
        bars would overwrite each other).
    client : optional
        Deprecated spelling of ``executor``.

    Returns
    -------
    result : `TiledPhotometryResult`

    Warns
    -----
    psfkit.utils.NoDetectionsWarning
        When no tile found a star.  Other warnings raised while measuring
        a tile are re-issued once each, naming the tile.

    Notes
    -----
    A star belongs to the tile whose core contains its fitted position
    (its initial position if the fit failed); cores at the image border
    extend beyond it.  Positions are shifted to the full image, ``id`` is
    renumbered in tile order and ``group_id`` made unique.

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.photometry import (BasicPSFPhotometry, DAOStarFinder,
    ...                                IntegratedGaussianPRF,
    ...                                tiled_photometry)
    >>> psf = IntegratedGaussianPRF(sigma=1.5)
    >>> yy, xx = np.mgrid[0:60, 0:80]
    >>> image = sum(psf.evaluate(xx, yy, 500.0, x, y, 1.5)
    ...             for x, y in [(10.2, 12.7), (39.6, 30.1), (70.3, 45.5)])
    >>> phot = BasicPSFPhotometry(None, None, psf, 7,
    ...                           finder=DAOStarFinder(5.0, 3.5))
    >>> res = tiled_photometry(image, phot, tile_size=32, overlap=12)
    >>> len(res.tiles), len(res.table)
    (6, 3)
    >>> print(np.round([res.table['x_fit'], res.table['y_fit']], 2))
    [[10.2 39.6 70.3]
     [12.7 30.1 45.5]]
    """
    executor = resolve_executor(executor)
    tile_size = as_pair("tile_size", tile_size, lower_bound=(1, True))
    overlap = as_pair("overlap", overlap, lower_bound=(0, True))
    _check_photometry(photometry, overlap)
    if executor_kind(executor) != "serial" and getattr(photometry,
                                                       "progress_bar", False):
        # the bar is over the tiles: the workers' photometry draws none
        photometry = copy.copy(photometry)
        photometry.progress_bar = False
    arr = coerce_data(image, name="image", mask=mask, error=error,
                      allow_all_masked=True)
    grid = tile_grid(arr.shape, tile_size, overlap)
    tasks = []
    for core, tile in grid:
        local = tuple(slice(c.start - t.start, c.stop - t.start)
                      for c, t in zip(core, tile, strict=True))
        error_tile = None if arr.error is None else arr.error[tile]
        tasks.append((photometry, arr.with_unit(arr.data[tile]), arr.mask[tile],
                      error_tile, core_bounds(core, tile, arr.shape), local))
    if executor_kind(executor) == "dask":
        # the tiles go to the workers as data, not inside the task graph
        tasks = executor.scatter(tasks, hash=False)
    with make_progress_bar(total=len(grid), enabled=progress_bar,
                           desc="tiles", unit="tile") as bar:
        outputs = run_tasks(_run_tile, tasks, executor, progress=bar)
    return _merge(arr, grid, outputs)


def _merge(arr, grid, outputs):
    residual = np.empty(arr.shape)
    tables, rows = [], []
    next_group = 1
    # a tile without stars is normal; an image without any is reported below
    reissue_warnings([out[3] for out in outputs], skip=NoDetectionsWarning)
    for i, ((core, tile), (kept, n_fitted, res, _)) in enumerate(
            zip(grid, outputs, strict=True)):
        residual[core] = res
        rows.append((i, core[1].start, core[1].stop, core[0].start,
                     core[0].stop, tile[1].start, tile[1].stop,
                     tile[0].start, tile[0].stop, n_fitted, len(kept)))
        if len(kept) == 0 and (tables or i + 1 < len(grid)):
            # an empty tile adds nothing (the last one keeps the columns
            # when no tile found a star)
            continue
        kept = QTable(kept, copy=True)
        for names, offset in ((_X_COLUMNS, tile[1].start),
                              (_Y_COLUMNS, tile[0].start)):
            for name in names:
                col = kept[name]
                kept[name] = col + (offset * col.unit
                                    if isinstance(col, u.Quantity) else offset)
        groups, inverse = np.unique(np.asarray(kept["group_id"]),
                                    return_inverse=True)
        kept["group_id"] = next_group + inverse.ravel()
        next_group += len(groups)
        kept["tile_id"] = np.full(len(kept), i)
        tables.append(kept)
    table = vstack(tables, metadata_conflicts="silent")
    table["id"] = np.arange(1, len(table) + 1)
    # the tiles are plain arrays: the sky positions come from the image's
    # WCS, as in a single pass
    wcs = celestial_wcs(arr.wcs)
    if wcs is not None:
        table["sky_centroid"] = pixel_to_sky(wcs, table["x_fit"],
                                             table["y_fit"])
    if len(table) == 0:
        warn("no tile found a star; the photometry table is empty",
                      NoDetectionsWarning)
    names = ("tile_id", "x_min", "x_max", "y_min", "y_max", "tile_x_min",
             "tile_x_max", "tile_y_min", "tile_y_max", "n_fitted",
             "n_sources")
    tiles = QTable(rows=rows, names=names)
    return TiledPhotometryResult(table=table,
                                 residual_image=arr.with_unit(residual),
                                 tiles=tiles)
