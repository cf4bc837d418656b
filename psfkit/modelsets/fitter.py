"""
`LinearModelSetFitter`: fit one astropy linear model to many data sets.

The fitter speaks astropy (a model set in, a fitted copy out, astropy's
shape rules for ``x``, ``y``, ``z`` and ``model_set_axis``) and hands the
numbers to a batched least-squares engine that never loops over models in
Python, whether points are masked or weighted per model.  dask arrays are
fitted chunk by chunk of models by the same engine (module ``_dask``),
lazily with `LinearModelSetFitter.fit_lazy`.
"""

import functools

from astropy.table import QTable
import numpy as np

from ..utils import (
    ParamReprMixin,
    PsfkitWarning,
    executor_threads,
    progress_bar,
    renamed_keyword,
    resolve_executor,
    warn,
)
from ._dask import fit_lazy, unpack, whole_data_sets
from ._design import build_design, check_linear_model
from ._inputs import (
    as_coord,
    as_model_data,
    check_weights,
    data_rows,
    is_dask,
    squared_weights,
)
from ._model_copy import copy_for_fit, parameter_columns
from ._solve import STATUS_NAMES, STATUS_OK, solve_batch
from .uncertainties import attach_uncertainties

__all__ = ["LinearModelSetFitter", "LazyModelSetFit", "ModelSetFitWarning"]

__doctest_requires__ = {("LinearModelSetFitter.fit_lazy",): ["dask"]}


class ModelSetFitWarning(PsfkitWarning):
    """Some models of a set could not be fitted (too few points, singular)."""


class LinearModelSetFitter(ParamReprMixin):
    """
    Vectorised linear least-squares fitter for astropy model sets.

    A drop-in replacement for ``astropy.modeling.fitting.LinearLSQFitter``
    when fitting a model set (``n_models=N``): one call fits every model,
    with masked points (masked arrays or NaN) and per-model weights handled
    without a Python loop over the models.

    Parameters
    ----------
    calc_uncertainties : bool, optional
        Compute the covariance matrix of the free parameters of every
        model: ``fit_info['cov']`` and ``fit_info['std']``, and, as
        astropy's fitters do, ``fitted.cov_matrix`` and ``fitted.stds``
        (see Notes).
    rcond : float, optional
        Relative cut-off for small singular values of the (weighted) design
        matrix, as in `numpy.linalg.lstsq`; default ``eps * max(K, P)``.
    absolute_sigma : bool, optional
        If `True` the weights are taken as ``1/sigma`` with correct
        absolute sigmas and the covariance is ``(A^T W A)^-1``; otherwise
        (default) it is scaled by the reduced residual sum of squares of
        each model.
    executor : None, int or `~concurrent.futures.ThreadPoolExecutor`, optional
        Threads fitting chunks of models at the same time: `None` (default)
        every available core (at most 8), an int that many threads (``1``
        fits in the calling thread), a thread pool its number of workers.
        Data in dask arrays are fitted one thread per chunk, on dask's
        current scheduler.
    progress_bar : bool, optional
        Show a progress bar over the chunks of models (needs tqdm); for
        dask data use dask's own progress reporting.
    n_threads : int, optional
        Deprecated alias of ``executor`` (a number of threads).

    Attributes
    ----------
    fit_info : `~astropy.table.QTable` or None
        The per-model table of the last fit (also attached to the returned
        model as ``fitted.fit_info``): ``n_points`` (points used), ``rank``,
        ``rss`` (weighted residual sum of squares), ``status`` (0 ok, 1 too
        few points, 2 singular; names in ``fit_info.meta['status_names']``)
        and, with ``calc_uncertainties``, ``cov`` and ``std``.  A column
        that is the same for every model (``n_points``, ``rank`` and
        ``status`` when no point was masked) is stored once, as a
        read-only broadcast array.
    supports_masked_input : bool
        `True`: astropy's ``FittingWithOutlierRemoval`` may hand this
        fitter masked model-set data.

    Notes
    -----
    With ``calc_uncertainties``, a single model gets astropy's
    ``Covariance`` and ``StandardDeviations`` objects as
    ``fitted.cov_matrix`` and ``fitted.stds``; a model set gets a
    `~psfkit.modelsets.ModelSetCovariances` and a
    `~psfkit.modelsets.ModelSetStds`, sequences that give astropy's object
    of model ``n`` at index ``n`` (as astropy's lists do) without creating
    millions of Python objects.  Their parameter names are the free
    parameters (astropy labels the covariance with every parameter, fixed
    ones included).

    Models whose points are all valid share one pseudo-inverse of the
    design: their parameters are BLAS matrix-vector products written
    straight into the fitted model's parameter arrays, chunk by chunk in
    float64 (a float32 cube is never converted as a whole).  The fitted
    model is a copy of ``model`` that does not duplicate the parameter
    arrays the fit replaces.

    The design matrix is built from the model's ``fit_deriv`` on the
    coordinates mapped from ``domain`` to ``window`` (or ``x_domain`` etc.)
    exactly as astropy does, so orthogonal polynomials give astropy's
    coefficients.  Fixed parameters are removed from the design and their
    contribution subtracted from each model's data.  Models with fewer
    valid points than free parameters get NaN parameters and status 1;
    rank-deficient ones get the minimum-norm solution and status 2.

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.modeling import models
    >>> from psfkit.modelsets import LinearModelSetFitter
    >>> x = np.arange(6.0)
    >>> y = np.array([2.0 * x + 1.0, -x + 3.0])
    >>> y[1, 2] = np.nan
    >>> fitted = LinearModelSetFitter()(models.Polynomial1D(1, n_models=2),
    ...                                 x, y)
    >>> np.round(fitted.param_sets, 10)
    array([[ 1.,  3.],
           [ 2., -1.]])
    >>> fitted.fit_info['n_points'].tolist()
    [6, 5]
    """

    #: astropy's outlier-removal wrapper checks this before it hands a
    #: model set masked data
    supports_masked_input = True
    #: the constraints honoured (astropy's name for them)
    supported_constraints = ["fixed"]

    _repr_params = ("calc_uncertainties", "rcond", "absolute_sigma",
                    "executor", "progress_bar")

    @renamed_keyword(n_threads="executor")
    def __init__(self, *, calc_uncertainties=False, rcond=None,
                 absolute_sigma=False, executor=None, progress_bar=False):
        self.calc_uncertainties = bool(calc_uncertainties)
        self.rcond = rcond
        self.absolute_sigma = bool(absolute_sigma)
        self.executor = resolve_executor(executor)
        # checked now: the fit runs in threads of this process
        executor_threads(self.executor)
        self.progress_bar = bool(progress_bar)
        self.fit_info = None

    @property
    def n_threads(self):
        """The number of threads an in-memory fit uses (from ``executor``)."""
        return executor_threads(self.executor)

    def __call__(self, model, x, y=None, z=None, *, weights=None,
                 inplace=False):
        """
        Fit ``model`` to the data and return the fitted model.

        Parameters
        ----------
        model : ``astropy.modeling.FittableModel``
            A linear model, usually a model set.
        x, y : array-like
            For a 1-D model ``x`` are the coordinates and ``y`` the data;
            for a 2-D model ``x`` and ``y`` are the coordinates.  The data
            may be a dask array: it is then fitted chunk by chunk on the
            current dask scheduler (see `fit_lazy`), with the same results.
        z : array-like, optional
            The data of a 2-D model (may be a dask array).
        weights : array-like, optional
            ``1/sigma`` of every point: either shared (the shape of the
            coordinates) or one set per model (the shape of the data, may
            be a dask array).
        inplace : bool, optional
            Update ``model`` instead of a copy.

        Returns
        -------
        fitted : ``astropy.modeling.FittableModel``
            The model with fitted parameters and a ``fit_info`` table.
        """
        fit = self._inputs(model, x, y, z)
        if is_dask(fit["data"]) or is_dask(weights):
            lazy = self.fit_lazy(model, x, y, z, weights=weights)
            return lazy.compute(model=model if inplace else None)
        values, mask = as_model_data(fit["data"], fit["name"])
        rows = functools.partial(data_rows, axis=fit["axis"],
                                 n_models=fit["n_models"],
                                 data_shape=fit["data_shape"],
                                 name=fit["name"], multi=fit["multi"](values))
        Y = rows(values)
        valid = None if mask is None else ~rows(mask)
        W = squared_weights(weights, values.shape, fit["data_shape"],
                            fit["axis"], fit["n_models"],
                            fit["multi"](values))

        free = [p for p in model.param_names if not model.fixed[p]]
        if inplace:
            fitted, cols = model, parameter_columns(model, free)
        else:
            fitted, cols = copy_for_fit(model, free)
        design = self._design(fitted, fit["coords"], like=model)
        with progress_bar(total=Y.shape[0], enabled=self.progress_bar,
                          desc="model-set fit", unit="model") as bar:
            sol = solve_batch(design.A, Y, valid=valid, weights=W,
                              rcond=self.rcond, want_rss=True,
                              want_hinv=self.calc_uncertainties,
                              offset=design.implicit,
                              fixed=(design.A_fixed, design.p_fixed),
                              out=cols, n_threads=self.n_threads,
                              progress=bar)
        return self._finish(fitted, design, sol)

    def fit_lazy(self, model, x, y=None, z=None, *, weights=None):
        """
        Prepare the fit of a model set to dask arrays, without computing.

        The data (and per-model weights) are split into chunks of whole
        data sets along ``model_set_axis``, keeping the chunks of that
        axis; each chunk is fitted independently by the engine used for
        in-memory data, so the results are the same.  Nothing is read or
        fitted until `LazyModelSetFit.compute` (or ``dask.compute`` on its
        arrays) is called, which runs on the current dask scheduler: a
        dask.distributed ``Client`` if one is active.

        Parameters
        ----------
        model, x, y, z, weights
            As for calling the fitter; the data and per-model weights may
            be dask arrays or in-memory arrays.

        Returns
        -------
        lazy : `LazyModelSetFit`

        Examples
        --------
        >>> import dask.array as da
        >>> import numpy as np
        >>> from astropy.modeling import models
        >>> from psfkit.modelsets import LinearModelSetFitter
        >>> x = np.arange(5.0)
        >>> y = da.from_array(np.outer(np.arange(1000.0), x) + 2.0,
        ...                   chunks=(250, 5))
        >>> lazy = LinearModelSetFitter().fit_lazy(
        ...     models.Polynomial1D(1, n_models=1000), x, y)
        >>> lazy.params.chunks
        ((250, 250, 250, 250), (2,))
        >>> fitted = lazy.compute(scheduler="synchronous")
        >>> fitted.c1.value[:3].tolist()  # doctest: +FLOAT_CMP
        [0.0, 1.0, 2.0]
        """
        import dask.array as da

        fit = self._inputs(model, x, y, z)
        data = fit["data"]
        if not is_dask(data):
            # in-memory data are checked (and masks applied) here
            values, mask = as_model_data(data, fit["name"])
            data = values if mask is None else np.where(mask, np.nan, values)
        values = da.asarray(data)
        multi = fit["multi"](values)
        model_axis = fit["axis"] if multi else None
        rows = functools.partial(data_rows, axis=fit["axis"],
                                 n_models=fit["n_models"],
                                 data_shape=fit["data_shape"],
                                 name=fit["name"], multi=multi)
        Y = rows(whole_data_sets(values, model_axis))
        shared_w = per_model_w = None
        if weights is not None:
            if multi and np.shape(weights) == values.shape:
                w = whole_data_sets(weights, model_axis)
                per_model_w = rows(w)
            else:
                shared_w = squared_weights(np.asarray(weights), values.shape,
                                           fit["data_shape"], fit["axis"],
                                           fit["n_models"], multi)
        # the copy's free parameters are filled in by compute()
        fitted, _ = copy_for_fit(model, [p for p in model.param_names
                                         if not model.fixed[p]])
        design = self._design(fitted, fit["coords"], like=model)
        packed = fit_lazy(design, Y, weights=per_model_w,
                          shared_weights=shared_w,
                          check_weights=check_weights, rcond=self.rcond,
                          want_hinv=self.calc_uncertainties, name=fit["name"])
        return LazyModelSetFit(self, fitted, design, packed)

    def _inputs(self, model, x, y, z):
        """Check the model and coordinates; find the data argument."""
        check_linear_model(model)
        n_models = len(model)
        axis = model.model_set_axis or 0
        if model.n_inputs == 1:
            if y is None:
                msg = f"{type(model).__name__} needs x and y"
                raise ValueError(msg)
            if z is not None:
                msg = f"{type(model).__name__} is 1-D; z must not be given"
                raise ValueError(msg)
            coords = [as_coord(x, "x")]
            data, dname = y, "y"
        else:
            if y is None or z is None:
                msg = f"{type(model).__name__} is 2-D; give x, y and z"
                raise ValueError(msg)
            coords = [as_coord(x, "x"), as_coord(y, "y")]
            if coords[0].shape != coords[1].shape:
                msg = (f"x and y must have the same shape, got "
                       f"{coords[0].shape} and {coords[1].shape}")
                raise ValueError(msg)
            data, dname = z, "z"
        data_shape = coords[0].shape

        def multi(values):
            return n_models > 1 or values.ndim > len(data_shape)

        return {"coords": coords, "data": data, "name": dname,
                "n_models": n_models, "axis": axis, "data_shape": data_shape,
                "multi": multi}

    @staticmethod
    def _design(fitted, coords, like=None):
        design = build_design(fitted, [c.reshape(-1) for c in coords],
                              like=like)
        K, P = design.A.shape
        if P == 0:
            msg = "every parameter of the model is fixed; nothing to fit"
            raise ValueError(msg)
        if K < P:
            msg = (f"{K} data point(s) per model cannot determine the {P} "
                   f"free parameters of {type(fitted).__name__}")
            raise ValueError(msg)
        return design

    def _finish(self, fitted, design, sol):
        """Store the solution in the model and the fit_info table."""
        n_models = len(fitted)
        P = design.A.shape[1]
        for j, pname in enumerate(design.free):
            param = getattr(fitted, pname)
            if param.value is sol.columns[j] or (
                    isinstance(param.value, np.ndarray)
                    and sol.columns[j].base is param.value):
                continue  # the engine wrote into the model's own array
            shape = np.shape(param.value)
            param.value = sol.columns[j].reshape(shape)
        self.fit_info = self._table(sol, design, P)
        fitted.fit_info = self.fit_info
        if self.calc_uncertainties:
            attach_uncertainties(fitted, self.fit_info["cov"], design.free,
                                 np.asarray(self.fit_info["std"]))
        if sol.status.strides == (0,):
            # one status for every model (a broadcast array)
            n_bad = n_models if sol.status[0] != STATUS_OK else 0
        else:
            n_bad = int(np.count_nonzero(sol.status != STATUS_OK))
        if n_bad:
            counts = {STATUS_NAMES[s]: int(np.count_nonzero(sol.status == s))
                      for s in np.unique(sol.status) if s != STATUS_OK}
            detail = ", ".join(f"{v} {k}" for k, v in counts.items())
            warn(f"{n_bad} of {n_models} models could not be fitted "
                          f"normally ({detail}); see fit_info['status']",
                          ModelSetFitWarning)
        return fitted

    @staticmethod
    def _reduced_chi2(sol, P):
        """``rss / (n_points - P)`` of every model (NaN without dof)."""
        n = sol.n_points
        if n.strides == (0,):
            # one count for every model: no per-model temporaries
            dof = int(n[0]) - P if n.size else 0
            if dof > 0:
                return sol.rss / dof
            return np.full(n.shape, np.nan)
        dof = n - P
        return np.divide(sol.rss, dof, out=np.full(n.shape, np.nan),
                         where=dof > 0)

    def _table(self, sol, design, P):
        cols = {"n_points": sol.n_points, "rank": sol.rank, "rss": sol.rss,
                "status": sol.status}
        if self.calc_uncertainties:
            if self.absolute_sigma:
                cov = sol.hinv
            else:
                scale = self._reduced_chi2(sol, P)
                if sol.hinv.flags.writeable:
                    # the engine's own array: scaled in place
                    cov = sol.hinv
                    cov *= scale[:, None, None]
                else:
                    cov = sol.hinv * scale[:, None, None]
            cols["cov"] = cov
            with np.errstate(invalid="ignore"):
                cols["std"] = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
        t = QTable(cols, copy=False)
        t.meta["status_names"] = dict(STATUS_NAMES)
        t.meta["free_params"] = list(design.free)
        return t


class LazyModelSetFit:
    """
    A model-set fit to dask arrays, not computed yet.

    Returned by `LinearModelSetFitter.fit_lazy`.  The per-model results
    are dask arrays with the data's chunks along the models; `compute`
    evaluates them all at once and returns the fitted model, exactly as
    calling the fitter on in-memory data would.

    Attributes
    ----------
    params : dask array
        ``(n_models, n_free)`` fitted values of the free parameters, in the
        order of ``free_params``.
    n_points, rank, rss, status : dask array
        The ``fit_info`` columns of every model (see
        `LinearModelSetFitter`), as float64.
    free_params : list of str
        The names of the fitted parameters.
    """

    def __init__(self, fitter, model, design, packed):
        self._fitter = fitter
        self._model = model
        self._design = design
        self._packed = packed
        self.free_params = list(design.free)
        P = len(self.free_params)
        self.params = packed[:, :P]
        self.n_points = packed[:, P]
        self.rank = packed[:, P + 1]
        self.rss = packed[:, P + 2]
        self.status = packed[:, P + 3]

    def __repr__(self):
        return (f"<LazyModelSetFit of {len(self._model)} "
                f"{type(self._model).__name__} models in "
                f"{self._packed.numblocks[0]} chunks>")

    def compute(self, *, model=None, **kwargs):
        """
        Compute the fit and return the fitted model.

        Parameters
        ----------
        model : ``astropy.modeling.FittableModel``, optional
            A model to update in place (it must be the model that was
            fitted); default a new copy.
        **kwargs
            Passed to ``dask.compute`` (for example ``scheduler=``).

        Returns
        -------
        fitted : ``astropy.modeling.FittableModel``
            The model with fitted parameters and a ``fit_info`` table; the
            fitter's ``fit_info`` is updated too.
        """
        import dask

        (packed,) = dask.compute(self._packed, **kwargs)
        fitter = self._fitter
        sol = unpack(packed, len(self.free_params),
                     fitter.calc_uncertainties)
        if model is None:
            fitted, cols = copy_for_fit(self._model, self.free_params)
        else:
            fitted, cols = model, parameter_columns(model, self.free_params)
        if cols is not None:
            # straight into the model's arrays, no intermediate copy
            for col, values in zip(cols, sol.columns, strict=True):
                col[...] = values
            sol.columns = cols
        return fitter._finish(fitted, self._design, sol)
