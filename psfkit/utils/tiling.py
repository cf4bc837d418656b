"""
Tiles of a large image, and warnings carried back from the tiles.

Tiled photometry and tiled differencing both cut an image into *cores*
that cover it exactly once, grow each core by an overlap into a *tile*,
process the tiles independently (possibly on other processes), and merge
the results core by core.  The grid and the bookkeeping of warnings raised
on workers live here, so both share one implementation.
"""

import threading
import warnings

import numpy as np

from .exceptions import call_collecting_warnings, warn

__all__ = ["tile_grid", "core_bounds", "call_recording_warnings",
           "reissue_warnings"]

# recording warnings changes process-wide state: one recording at a time
_RECORD_LOCK = threading.RLock()


def tile_grid(shape, tile_size, overlap):
    """
    The cores and tiles covering an image.

    Parameters
    ----------
    shape : tuple of 2 int
        ``(ny, nx)`` of the image.
    tile_size : tuple of 2 int
        ``(ny, nx)`` of a core (the last row and column of cores may be
        smaller).
    overlap : tuple of 2 int
        The margin added on each side of a core.

    Returns
    -------
    tiles : list of tuple
        ``(core, tile)`` per tile, each a pair of slices ``(rows, cols)``.

    Examples
    --------
    >>> from psfkit.utils import tile_grid
    >>> core, tile = tile_grid((10, 10), (5, 5), (2, 2))[0]
    >>> core, tile
    ((slice(0, 5, None), slice(0, 5, None)), (slice(0, 7, None), slice(0, 7, None)))
    """
    starts = [range(0, n, t) for n, t in zip(shape, tile_size, strict=True)]
    tiles = []
    for y0 in starts[0]:
        for x0 in starts[1]:
            core = (slice(y0, min(y0 + tile_size[0], shape[0])),
                    slice(x0, min(x0 + tile_size[1], shape[1])))
            tile = tuple(slice(max(c.start - o, 0), min(c.stop + o, n))
                         for c, o, n in zip(core, overlap, shape, strict=True))
            tiles.append((core, tile))
    return tiles


def core_bounds(core, tile, shape):
    """
    A core's pixel-edge bounds ``(x_lo, x_hi, y_lo, y_hi)`` in tile coordinates.

    A pixel's centre is an integer, so pixel ``i`` spans ``i - 0.5`` to
    ``i + 0.5``; cores at the image border extend to infinity, so that a
    source measured just outside the image is still kept once.
    """
    bounds = []
    for axis in (1, 0):
        c, t, n = core[axis], tile[axis], shape[axis]
        lo = -np.inf if c.start == 0 else c.start - t.start - 0.5
        hi = np.inf if c.stop == n else c.stop - t.start - 0.5
        bounds += [lo, hi]
    return tuple(bounds)


def call_recording_warnings(func, *args, **kwargs):
    """
    Call ``func`` and return its result with the warnings it raised.

    Warnings raised on a worker process would be lost (or only logged
    there); tiles record them as ``(category, message)`` pairs so that the
    caller re-issues them with `reissue_warnings`, whatever the executor.
    The warning filters are process-wide, so calls made from several
    threads of one process take turns (worker processes, not threads, give
    the parallelism).
    """
    with _RECORD_LOCK, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # psfkit's own warnings are collected, the others recorded
        result, notes = call_collecting_warnings(func, *args, **kwargs)
    return result, [(w.category, str(w.message)) for w in caught] + notes


def reissue_warnings(outputs, *, skip=()):
    """Warn once per distinct recorded warning, naming the first tile."""
    seen = set()
    for i, notes in enumerate(outputs):
        for category, message in notes:
            if issubclass(category, skip) or (category, message) in seen:
                continue
            seen.add((category, message))
            warn(f"tile {i}: {message}", category)
