"""
dask-array support of `~psfkit.modelsets.LinearModelSetFitter`.

The data sets are split along the model axis only: every chunk of a dask
array holds whole data sets, is fitted by the same batched engine as the
in-memory path, and yields one row of packed results per model.  Nothing is
read or fitted until the result is computed, so a model set larger than
memory is fitted chunk by chunk, on threads, processes or a dask.distributed
cluster.  dask is imported only here, and only when a dask array is given.
"""

import numpy as np

from ._inputs import as_model_data
from ._solve import BatchSolution, solve_batch

__all__ = []


def whole_data_sets(values, model_axis):
    """
    Return ``values`` as a dask array chunked along ``model_axis`` only.

    ``model_axis`` is `None` for a single data set (one chunk).
    """
    import dask.array as da

    values = da.asarray(values)
    return values.rechunk({i: -1 for i in range(values.ndim)
                           if i != model_axis})


def _fit_block(Y, *rest, A, implicit, A_fixed, rcond, want_hinv, data_name,
               check_weights, shared_weights):
    """Fit the data sets of one chunk; return their packed results."""
    weights = shared_weights
    p_fixed = rest[-1]
    if len(rest) == 2:
        weights = check_weights(rest[0])
        weights = weights * weights
    values, mask = as_model_data(Y, data_name)
    valid = None if mask is None else ~mask
    sol = solve_batch(A, values, valid=valid, weights=weights, rcond=rcond,
                      want_rss=True, want_hinv=want_hinv, offset=implicit,
                      fixed=(A_fixed, p_fixed))
    cols = [*[c[:, None] for c in sol.columns], sol.n_points[:, None],
            sol.rank[:, None], sol.rss[:, None], sol.status[:, None]]
    if want_hinv:
        cols.append(sol.hinv.reshape(len(values), -1))
    return np.concatenate([np.asarray(c, dtype=np.float64) for c in cols],
                          axis=1)


def fit_lazy(design, Y, *, weights, shared_weights, check_weights, rcond,
             want_hinv, name):
    """
    Build the lazy fit of every row of the dask array ``Y`` (N, K).

    ``weights`` is `None` or a dask array (N, K) of ``1/sigma`` per model
    (validated chunk by chunk with ``check_weights``); ``shared_weights`` is
    `None` or the (K,) squared weights shared by all models.  Returns a
    dask array (N, n_cols) of packed results (see `unpack`).
    """
    import dask.array as da

    P = design.A.shape[1]
    n_cols = P + 4 + (P * P if want_hinv else 0)
    rows = Y.chunks[0]
    Y = Y.rechunk({0: rows, 1: -1})
    args = [Y]
    if weights is not None:
        args.append(weights.rechunk({0: rows, 1: -1}))
    # the fixed parameters are per model: slice them like the data
    args.append(da.from_array(design.p_fixed, chunks=(rows, -1)))
    return da.map_blocks(
        _fit_block, *args, dtype=np.float64, chunks=(rows, (n_cols,)),
        A=design.A, implicit=design.implicit, A_fixed=design.A_fixed,
        rcond=rcond, want_hinv=want_hinv, data_name=name,
        check_weights=check_weights, shared_weights=shared_weights)


def unpack(packed, P, want_hinv):
    """The `BatchSolution` of a computed packed result (N, n_cols)."""
    packed = np.asarray(packed)
    N = packed.shape[0]
    hinv = (np.ascontiguousarray(packed[:, P + 4:]).reshape(N, P, P)
            if want_hinv else None)
    # the integer columns get back the engine's dtypes; which rows shared
    # the common design is not kept (the fitter does not report it)
    return BatchSolution(columns=[packed[:, j] for j in range(P)],
                         n_points=packed[:, P].astype(np.int32),
                         rank=packed[:, P + 1].astype(np.int16),
                         rss=packed[:, P + 2].copy(),
                         status=packed[:, P + 3].astype(np.int8),
                         hinv=hinv, shared=None, hinv_shared=None)
