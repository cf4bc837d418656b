"""
Image differencing of a large pair in overlapping tiles.

Each tile of the aligned pair gets its own PSF-matching kernel (with its
own spatial variation) from `~psfkit.diffim.ImagePsfMatch`, which suits
mosaics whose PSF changes more than one low-order spatial model can
follow, and lets the tiles run in parallel on any executor that
`~psfkit.fitpsf.map_remove_psf` accepts (a dask.distributed ``Client``,
a ``concurrent.futures`` pool).  The difference image is assembled from
the tile cores; the overlap keeps the masked convolution border of each
tile out of its core.  A tile without a usable kernel (no candidates, or
blank data) is marked failed and its core masked; the others go on.
"""

from dataclasses import dataclass

from astropy.nddata import NDData, StdDevUncertainty, VarianceUncertainty
from astropy.table import QTable
import numpy as np

from ..utils import (
    InputDataError,
    PsfkitWarning,
    SummaryReprMixin,
    as_pair,
    coerce_data,
    executor_kind,
    renamed_keyword,
    resolve_executor,
    run_tasks,
    warn,
)
from ..utils.progress import progress_bar as make_progress_bar
from ..utils.tiling import call_recording_warnings, reissue_warnings, tile_grid
from ._images import mask_border
from .config import PsfMatchConfig
from .image_psf_match import ImagePsfMatch
from .solve import NoKernelCandidatesError

__all__ = ["tiled_subtract_images", "TiledSubtractionResult",
           "TileMatchFailedWarning"]


class TileMatchFailedWarning(PsfkitWarning):
    """No matching kernel could be found for some tiles (their core is masked)."""


@dataclass(frozen=True, repr=False)
class TiledSubtractionResult(SummaryReprMixin):
    """
    The outcome of `tiled_subtract_images`.

    Attributes
    ----------
    difference : `~astropy.nddata.NDData`
        ``science - template`` PSF-matched tile by tile, with a
        ``VarianceUncertainty`` and a mask (which covers the cores of
        failed tiles and the outer ``kernel_size // 2`` border), and the
        science image's unit, WCS, meta and float type.
    tiles : `~astropy.table.QTable`
        One row per tile: ``tile_id``, the core's pixel ranges ``x_min``,
        ``x_max``, ``y_min``, ``y_max`` (``max`` excluded), ``ok``,
        ``kernel_sum``, ``difference_std``, ``n_candidates_used``,
        ``condition_number`` and ``message`` (why a tile failed).
    """

    difference: NDData
    tiles: QTable

    def _summary_items(self):
        ok = int(np.count_nonzero(self.tiles["ok"]))
        return super()._summary_items() + [
            ("tiles_ok", f"{ok} of {len(self.tiles)}")]


def _match_tile(task):
    """Subtract one tile pair; return its core and summary numbers."""
    matcher, template, science, core, kwargs = task
    try:
        res, notes = call_recording_warnings(matcher.subtract_images,
                                             template, science, **kwargs)
    except (NoKernelCandidatesError, InputDataError) as exc:
        return None, str(exc), []
    diff = res.difference
    pieces = (np.asarray(diff.data)[core],
              np.asarray(diff.uncertainty.array)[core],
              np.asarray(diff.mask)[core])
    summary = (res.kernel_sum, res.difference_std, res.n_candidates_used,
               res.condition_number)
    return pieces, summary, notes


def _as_nddata(arr, tile):
    error = None if arr.error is None else StdDevUncertainty(arr.error[tile])
    return NDData(arr.data[tile], mask=arr.mask[tile], uncertainty=error,
                  unit=arr.unit)


@renamed_keyword(client="executor")
def tiled_subtract_images(template, science, *, tile_size, overlap,
                          config=None, executor=None, convolve="template",
                          template_fwhm=None, science_fwhm=None,
                          progress_bar=False):
    """
    PSF-match and subtract an aligned pair tile by tile.

    Parameters
    ----------
    template, science : array-like or `~astropy.nddata.NDData`
        The aligned images (an NDData's uncertainty gives the variance).
    tile_size : int or tuple of 2 int
        ``(ny, nx)`` of a tile's core.
    overlap : int or tuple of 2 int
        The margin added around each core; at least half the largest
        kernel (``kernel_size // 2``, or ``max(kernel_size,
        kernel_size_max) // 2`` with ``scale_by_fwhm``), so that no core
        pixel lies in a tile's masked convolution border.  Each tile also
        needs room for its candidates' stamps, so tiles of a few hundred
        pixels work best.
    config : `~psfkit.diffim.PsfMatchConfig`, optional
        The configuration of every tile's `~psfkit.diffim.ImagePsfMatch`;
        its cell sizes should be smaller than the tiles.
    executor : optional
        Where the tiles run: `None` (here, one after the other, each using
        every core), a number of threads, a ``concurrent.futures``
        executor, a dask.distributed ``Client`` or an ipyparallel view (see
        `~psfkit.utils.run_tasks`).
    convolve : {'template', 'science', 'auto'}, optional
        See `~psfkit.diffim.ImagePsfMatch.match_images`.
    template_fwhm, science_fwhm : float, optional
        FWHMs in pixels; measured in every tile when not given.
    progress_bar : bool, optional
        Show a bar counting the finished tiles (needs ``tqdm``).
    client : optional
        Deprecated spelling of ``executor``.

    Returns
    -------
    result : `TiledSubtractionResult`

    Warns
    -----
    TileMatchFailedWarning
        When some tiles had no usable kernel candidate (or no usable data);
        their cores are masked in the difference.  Warnings raised while matching a tile
        (for example an ill-conditioned spatial system) are re-issued once
        each, naming the tile.

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.datasets import make_diffim_pair
    >>> from psfkit.diffim import PsfMatchConfig
    >>> from psfkit.diffim.tiled import tiled_subtract_images
    >>> template, science, truth = make_diffim_pair(
    ...     (256, 320), n_stars=900, flux_range=(3e3, 3e5), random_state=3)
    >>> config = PsfMatchConfig(scale_by_fwhm=False, kernel_size=15,
    ...                         size_cell_x=48, size_cell_y=48,
    ...                         spatial_kernel_order=1)
    >>> res = tiled_subtract_images(template, science, tile_size=(128, 160),
    ...                             overlap=16, config=config)
    >>> len(res.tiles), bool(res.tiles['ok'].all())
    (4, True)
    >>> bool(np.allclose(res.tiles['kernel_sum'], truth.flux_scale, rtol=0.02))
    True
    """
    executor = resolve_executor(executor)
    tile_size = as_pair("tile_size", tile_size, lower_bound=(1, True))
    overlap = as_pair("overlap", overlap, lower_bound=(0, True))
    matcher = ImagePsfMatch(config if config is not None
                            else PsfMatchConfig())
    cfg = matcher.config
    half = (max(cfg.kernel_size, cfg.kernel_size_max) if cfg.scale_by_fwhm
            else cfg.kernel_size) // 2
    if min(overlap) < half:
        msg = (f"overlap {overlap} is smaller than half the largest kernel "
               f"({half} pixels): core pixels would be masked")
        raise ValueError(msg)
    tarr = coerce_data(template, name="template", dtype=None)
    sarr = coerce_data(science, name="science", dtype=None)
    if tarr.shape != sarr.shape:
        msg = (f"template and science must have the same shape, got "
               f"{tarr.shape} and {sarr.shape}")
        raise ValueError(msg)
    # tiles running side by side each keep to one thread
    kwargs = dict(convolve=convolve, template_fwhm=template_fwhm,
                  science_fwhm=science_fwhm,
                  executor=None if executor_kind(executor) == "serial" else 1)
    grid = tile_grid(sarr.shape, tile_size, overlap)
    tasks = []
    for core, tile in grid:
        local = tuple(slice(c.start - t.start, c.stop - t.start)
                      for c, t in zip(core, tile, strict=True))
        tasks.append((matcher, _as_nddata(tarr, tile), _as_nddata(sarr, tile),
                      local, kwargs))
    with make_progress_bar(total=len(tasks), enabled=progress_bar,
                           desc="tiles", unit="tile") as bar:
        outputs = run_tasks(_match_tile, tasks, executor, progress=bar)
    return _assemble(sarr, grid, outputs, half)


def _assemble(sarr, grid, outputs, half):
    shape = sarr.shape
    diff = np.full(shape, np.nan, dtype=sarr.data.dtype)
    var = np.full(shape, np.nan, dtype=sarr.data.dtype)
    mask = np.ones(shape, dtype=bool)
    rows, failed = [], []
    reissue_warnings([out[2] for out in outputs])
    for i, ((core, _), (pieces, info, _)) in enumerate(
            zip(grid, outputs, strict=True)):
        ranges = (i, core[1].start, core[1].stop, core[0].start, core[0].stop)
        if pieces is None:
            failed.append(i)
            rows.append((*ranges, False, np.nan, np.nan, 0, np.nan, info))
            continue
        diff[core], var[core], mask[core] = pieces
        rows.append((*ranges, True, *info, ""))
    # the whole pair's outer border has no convolved values
    mask_border(mask, half)
    if failed:
        warn(f"no matching kernel for tile(s) {failed}; their "
                      "cores are masked (see tiles['message'])",
                      TileMatchFailedWarning)
    names = ("tile_id", "x_min", "x_max", "y_min", "y_max", "ok",
             "kernel_sum", "difference_std", "n_candidates_used",
             "condition_number", "message")
    tiles = QTable(rows=rows, names=names)
    difference = NDData(diff, uncertainty=VarianceUncertainty(var, copy=False),
                        mask=mask, unit=sarr.unit, wcs=sarr.wcs,
                        meta=sarr.meta)
    return TiledSubtractionResult(difference=difference, tiles=tiles)
