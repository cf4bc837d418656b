"""
Running the ramp engines over a whole cube: in memory, chunk by chunk of
pixels on threads, or block by block of a dask array.

Both drivers return a dict of per-pixel arrays named like the fields of
`~psfkit.modelsets.RampFitResult`; `fit_ramps` adds the units.
"""

import astropy.units as u
import numpy as np

from ..utils import (
    check_in,
    check_integer,
    check_positive,
    coerce_data,
    run_chunked,
    to_data_unit,
)
from ._ramp_engine import COUNT_DTYPE, FLAG_DTYPE, fit_chunk
from ._ramp_linear import LinearRamps
from ._solve import PatternCache

__all__ = []

#: every per-pixel output, in the order of the result's fields
FIELDS = ("slope", "intercept", "slope_err", "var_poisson", "var_readnoise",
          "n_used", "n_segments", "flags")


def check_times(times, K):
    """The read times as float64 (``0, 1, ...`` by default), checked."""
    if times is None:
        return np.arange(K, dtype=np.float64)
    arr = np.asarray(times)
    if arr.dtype.kind not in "biuf":
        msg = f"times must contain real numbers, got dtype {arr.dtype}"
        raise TypeError(msg)
    arr = arr.astype(np.float64).ravel()
    if arr.size != K:
        msg = f"times has {arr.size} values but the cube has {K} reads"
        raise ValueError(msg)
    if not np.all(np.isfinite(arr)) or np.any(np.diff(arr) <= 0):
        msg = "times must be finite and strictly increasing"
        raise ValueError(msg)
    return arr


def ramp_options(degree, read_noise, gain, weighting, saturation, detect_jumps,
             jump_threshold, data_unit=None):
    """
    The engine options, checked; ``read_noise`` and ``saturation`` given as
    Quantities are converted to ``data_unit`` (the cube's unit) and
    ``gain`` to electrons per ``data_unit``.
    """
    degree = check_integer("degree", degree, minimum=1)
    check_in("weighting", weighting, ("unweighted", "optimal"))
    read_noise = to_data_unit("read_noise", read_noise, data_unit)
    saturation = to_data_unit("saturation", saturation, data_unit)
    if isinstance(gain, u.Quantity):
        per_unit = None if data_unit is None else u.electron / data_unit
        gain = to_data_unit("gain", gain, per_unit)
    if read_noise is not None:
        read_noise = check_positive("read_noise", read_noise)
    gain = check_positive("gain", gain)
    jump_threshold = check_positive("jump_threshold", jump_threshold)
    if saturation is not None:
        saturation = check_positive("saturation", saturation)
    if read_noise is None and (weighting == "optimal" or detect_jumps):
        need = "optimal weighting" if weighting == "optimal" else "jump detection"
        msg = f"{need} needs read_noise"
        raise ValueError(msg)
    if weighting == "optimal" and degree != 1:
        msg = "optimal weighting is defined for degree=1 only"
        raise ValueError(msg)
    return dict(degree=degree, read_noise=read_noise, gain=gain,
                weighting=weighting, saturation=saturation,
                detect_jumps=bool(detect_jumps),
                jump_threshold=jump_threshold)


def _names(opts):
    noise = opts["read_noise"] is not None
    return [n for n in FIELDS if noise or not n.startswith("var_")]


def fit_array(cube, times, mask, axis, chunk_pixels, opts, *, n_threads=1,
              progress=None):
    """Fit an in-memory cube (reads along ``axis``); ``times`` checked."""
    K = cube.shape[axis]
    axis %= cube.ndim
    pshape = cube.shape[:axis] + cube.shape[axis + 1:]
    flat = np.moveaxis(cube, axis, 0).reshape(K, -1)
    mflat = None if mask is None else np.moveaxis(mask, axis, 0).reshape(K, -1)
    npix = flat.shape[1]
    A = np.vander(times, opts["degree"] + 1, increasing=True)
    # about 4 MB of float64 per chunk: it stays in cache while it is used;
    # jump detection keeps a dozen arrays of that size, so it takes less
    per_chunk = 2**17 if opts["detect_jumps"] else 2**19
    chunk = chunk_pixels or max(1, min(65536, per_chunk // K))
    out = {}
    for name in _names(opts):
        if name == "flags":
            # zero-filled by the operating system: the pages of unflagged
            # pixels are never written by the one-pass route below
            out[name] = np.zeros(npix, dtype=FLAG_DTYPE)
        elif name in ("n_used", "n_segments"):
            out[name] = np.empty(npix, dtype=COUNT_DTYPE)
        else:
            out[name] = np.empty(npix)
    # native floating-point data needing no per-read masking go straight
    # to the engine, which converts each chunk to float64 and finds
    # non-finite reads itself; everything else is coerced chunk by chunk
    plain = (mflat is None and flat.dtype.kind == "f"
             and flat.dtype.itemsize >= 4 and flat.dtype.isnative
             and opts["saturation"] is None and not opts["detect_jumps"])
    # every chunk meets the same few mask patterns: each is solved once
    # for the whole cube, whichever thread meets it first
    cache = PatternCache()
    linear = (LinearRamps(times, opts, cache) if plain and opts["degree"] == 1
              else None)

    def fit_part(start, stop, scratch):
        # pixels with non-finite reads come out flagged, not as warnings
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            fit_values(start, stop, scratch)
        if progress is not None:
            progress.update(stop - start)

    def fit_values(start, stop, scratch):
        if linear is not None:
            linear.fit(flat[:, start:stop], out, start, scratch)
        else:
            if plain:
                res = fit_chunk(flat[:, start:stop].T, None, times, A, opts,
                                cache)
            else:
                part = coerce_data(flat[:, start:stop], name="cube", ndim=2,
                                   dtype=np.float64, allow_all_masked=True)
                invalid = part.mask
                if mflat is not None:
                    invalid = invalid | mflat[:, start:stop]
                valid = ~invalid.T if invalid.any() else None
                res = fit_chunk(part.data.T, valid, times, A, opts, cache)
            for name, arr in out.items():
                arr[start:stop] = res[name]

    run_chunked(fit_part, npix, chunk, n_threads=n_threads, scratch=dict)
    return {name: (out[name].reshape(pshape) if name in out else None)
            for name in FIELDS}


def _fit_block(c, m=None, *, times, chunk_pixels, opts, names):
    """Fit one dask block (all reads of its pixels); stack the outputs."""
    if m is not None:
        m = np.asarray(m, dtype=bool)
    if isinstance(c, np.ma.MaskedArray):
        # the blocks of a masked dask array carry their masks
        if c.mask is not np.ma.nomask:
            m = np.ma.getmaskarray(c) if m is None else m | np.ma.getmaskarray(c)
        c = c.data
    res = fit_array(np.asarray(c), times, m, 0, chunk_pixels, opts)
    return np.stack([np.asarray(res[n], dtype=np.float64) for n in names])


def fit_dask(cube, times, mask, axis, chunk_pixels, opts):
    """Build the lazy fit of a dask cube; ``times`` and ``mask`` checked."""
    import dask.array as da

    cube = da.moveaxis(cube, axis, 0).rechunk({0: -1})
    names = _names(opts)
    chunks = ((len(names),),) + cube.chunks[1:]
    kwargs = {"times": times, "chunk_pixels": chunk_pixels, "opts": opts,
              "names": names}
    args = [cube]
    if mask is not None:
        args.append(da.moveaxis(da.asarray(mask), axis, 0).rechunk(
            cube.chunks))
    stacked = da.map_blocks(_fit_block, *args, dtype=np.float64,
                            chunks=chunks, meta=np.empty((0,) * cube.ndim),
                            **kwargs)
    values = dict.fromkeys(FIELDS)
    for i, name in enumerate(names):
        arr = stacked[i]
        if name in ("n_used", "n_segments"):
            arr = arr.astype(COUNT_DTYPE)
        elif name == "flags":
            arr = arr.astype(FLAG_DTYPE)
        values[name] = arr
    return values
