"""
PSF photometry in one pass: `BasicPSFPhotometry`.

The class composes a background estimator, a star finder, a grouper and a
PSF model around one fitting engine (`psfkit.photometry.fitting._engine`):
it runs FIND (or takes initial guesses), GROUP, fits every group (NSTAR)
and SUBTRACTs once.  The iterative classes built on it live in
`psfkit.photometry.fitting.iterative`.

By default all stars of the image are fitted together, each with every
neighbour that reaches its pixels (`SparseLMFitter`), whatever the
grouping; `BatchedLMFitter` or any astropy fitter fit the grouper's groups
independently instead.
"""

import numpy as np

from ...utils import (
    Checked,
    NoDetectionsWarning,
    ParamReprMixin,
    check_bool,
    progress_bar,
    warn,
)
from ..models._native import native_model
from . import _settings as opt
from ._astropy_fit import astropy_solver
from ._engine import fit_image
from ._group_fit import FitSetup, lm_solver
from ._init_guesses import initial_parameters, read_init_table
from ._interop import psf_param_names
from ._pipeline import (
    Renderer,
    Sources,
    Stage,
    build_table,
    copied_columns,
    detect,
    extra_names,
    group_sources,
    model_subshape,
    prepare,
)
from ._settings import model_fwhm
from .fitters import BatchedLMFitter, SparseLMFitter
from .results import make_result

__all__ = ["BasicPSFPhotometry"]




class BasicPSFPhotometry(ParamReprMixin):
    """
    PSF photometry in one pass: find, group, fit and subtract.

    Parameters
    ----------
    group_maker : callable or None
        Called with a table of ``id``, ``x_0``, ``y_0``, ``flux_0``; returns
        it with a ``group_id`` column (e.g. `~psfkit.photometry.DAOGroup`).
        The default fitter fits every star with all its neighbours anyway
        and only reports the groups; `BatchedLMFitter` and astropy
        fitters fit each group on its own.  `None`: sources whose fit boxes
        overlap (directly or through others) form a group.
    bkg_estimator : callable, object or None
        A scalar estimator called on the masked image (e.g.
        `~psfkit.photometry.MMMBackground`); an object with a
        ``.background`` map of the image's shape (e.g. a computed
        `~psfkit.photometry.Background2D`); a callable returning such an
        object or map (e.g. ``functools.partial(Background2D,
        box_size=32)``); or `None` when the image is already
        background-subtracted.
    psf_model : `~astropy.modeling.Fittable2DModel`
        The PSF model, with parameters ``x_0``, ``y_0`` and ``flux``.  Its
        ``fixed`` flags decide what is fitted (fix ``x_0`` and ``y_0`` for
        forced photometry; unfix ``sigma`` to fit it per source); its
        other parameter values are the default initial guesses.
    fitshape : int or tuple of 2 int
        The odd shape ``(ny, nx)`` of the box fitted around each source.
    finder : callable, optional
        Called as ``finder(image, mask=mask)`` on the background-subtracted
        image when no initial guesses are given; returns a table with
        ``xcentroid`` and ``ycentroid`` columns.
    fitter : `SparseLMFitter`, `BatchedLMFitter` or astropy fitter, optional
        `None` (default) uses `SparseLMFitter`: all stars together, at any
        density.  `BatchedLMFitter` fits the groups independently, all at
        once; an astropy fitter instance (``LevMarLSQFitter``,
        ``TRFLSQFitter``...) fits the groups one by one.
    aperture_radius : float, optional
        The radius of the aperture giving initial fluxes when the initial
        guesses have none; defaults to the model's ``fwhm``.  Where
        aperture pixels are masked (or off the image), the sum over the
        others is divided by the fraction of the PSF model's light that
        falls on them.
    subshape : int or tuple of 2 int, optional
        The odd shape of the region over which each fitted source is added
        to the model image; defaults to the model's bounding box (at least
        ``fitshape``).
    progress_bar : bool, optional
        Show the progress of the fit (iterations, clusters of stars still
        moving; groups with an astropy fitter).
    executor : None, int or executor, optional
        Fit parts of the image at once: a number of threads, a
        `concurrent.futures` pool (a `~concurrent.futures.ProcessPoolExecutor`
        uses every core), a dask.distributed ``Client`` or an ipyparallel
        view; see :ref:`photometry-executor`.  The default `None` fits in
        this process.  A part holds at least a thousand stars, so small
        images are fitted here whatever the executor.
    extra_output_cols : list of str, optional
        Columns of the finder's table (e.g. ``'sharpness'``,
        ``'roundness'``) or of ``init_guesses`` to copy to the output,
        before ``flags``; a source whose table lacks a column gets a
        masked value.

    Notes
    -----
    The output table has the columns ``id``, ``group_id``, ``x_0``,
    ``y_0``, ``flux_0`` (initial values), ``x_fit``, ``y_fit``,
    ``flux_fit``, ``x_0_unc``, ``y_0_unc``, ``flux_unc`` (1-sigma,
    from the covariance; only for free parameters), ``<p>_0``, ``<p>_fit``,
    ``<p>_unc`` for every other free model parameter ``p``, ``npix_fit``
    (usable pixels in the source's box), ``npix_masked`` (pixels of the
    box inside the image that are masked or not finite), ``qfit`` (sum of absolute
    residuals in the box over the flux), ``cfit`` (residual at the box
    centre over the flux), ``reduced_chi2`` (only when errors are given)
    and ``flags`` (`~psfkit.photometry.PSFFlags`).

    Each source is fitted on a ``fitshape`` box centred on the pixel
    nearest its initial position.  The default fitter models the image as
    the sum of all sources' PSFs (each over its ``subshape`` box) and fits
    them together on the union of their fit boxes; the group fitters do
    the same group by group.  Pixels are weighted by ``1/error`` when
    errors are given; masked and non-finite pixels are ignored (and
    flagged).  Without errors the uncertainties are scaled by the reduced
    chi-square of the star's cluster (or group).

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.table import QTable
    >>> from psfkit.photometry import BasicPSFPhotometry, IntegratedGaussianPRF
    >>> psf = IntegratedGaussianPRF(sigma=1.5)
    >>> yy, xx = np.mgrid[0:40, 0:40]
    >>> image = psf.evaluate(xx, yy, 1000.0, 20.3, 18.6, 1.5)
    >>> phot = BasicPSFPhotometry(None, None, psf, (9, 9))
    >>> tab = phot(image, init_guesses=QTable({'x_0': [20.0], 'y_0': [19.0]}))
    >>> print(np.round([tab['x_fit'][0], tab['y_fit'][0], tab['flux_fit'][0]], 3))
    [  20.3   18.6 1000. ]
    """

    _iterative = False
    _repr_params = ("group_maker", "bkg_estimator", "psf_model", "fitshape",
                    "finder", "fitter", "aperture_radius", "subshape",
                    "progress_bar", "executor", "extra_output_cols")
    _repr_changed_only = True

    # every option is checked when set, here or later as an attribute
    group_maker = Checked(opt.optional_callable)
    psf_model = Checked(opt.psf_model)
    fitshape = Checked(opt.odd_shape)
    finder = Checked(opt.optional_callable)
    fitter = Checked(opt.fitter)
    aperture_radius = Checked(opt.optional_positive)
    subshape = Checked(opt.optional_odd_shape)
    progress_bar = Checked(check_bool)
    executor = Checked(opt.executor)
    extra_output_cols = Checked(opt.column_names)

    def __init__(self, group_maker, bkg_estimator, psf_model, fitshape, *,
                 finder=None, fitter=None, aperture_radius=None,
                 subshape=None, progress_bar=False, extra_output_cols=None,
                 executor=None):
        self.group_maker = group_maker
        self.bkg_estimator = bkg_estimator
        self.psf_model = psf_model
        self.fitshape = fitshape
        self.finder = finder
        self.fitter = fitter
        self.aperture_radius = aperture_radius
        self.subshape = subshape
        self.progress_bar = progress_bar
        self.extra_output_cols = extra_output_cols
        self.executor = executor
        self._last_result = None

    def _summary_items(self, *, changed_only=False):
        items = super()._summary_items(changed_only=changed_only)
        if changed_only and not self.extra_output_cols:
            items = [i for i in items if i[0] != "extra_output_cols"]
        return items

    # ----------------------------------------------------------- public API
    def __call__(self, image, *, init_guesses=None, mask=None, error=None,
                 positions=None):
        """
        Run the photometry and return the table (see `run` for parameters).

        The full result is kept for `get_residual_image` and
        `get_model_image`; use `run` to get it directly (and to share one
        object between threads).

        Returns
        -------
        table : `~astropy.table.QTable`
        """
        result = self.run(image, init_guesses=init_guesses, mask=mask,
                          error=error, positions=positions)
        self._last_result = result
        return result.table

    def run(self, image, *, init_guesses=None, mask=None, error=None,
            positions=None):
        """
        Run the photometry on an image.

        Parameters
        ----------
        image : array-like, `~numpy.ma.MaskedArray` or `~astropy.nddata.NDData`
            The 2-D image (an NDData's mask and uncertainty are used).
        init_guesses : `~astropy.table.Table`, optional
            Initial positions (``x_0``/``y_0`` or aliases such as
            ``xcentroid``, ``x``, ``x_init``, ``x_fit``), optional fluxes
            (``flux_0``, ``flux``...), optional ``<param>_0`` values,
            ``id`` and ``group_id``.  Without it the finder is run.
        mask : array-like of bool, optional
            Pixels to ignore (`True`).
        error : array-like, optional
            The 1-sigma error of each pixel, used as fit weights.
        positions : `~astropy.table.Table`, optional
            An alias of ``init_guesses``.

        Returns
        -------
        result : `PSFPhotometryResult`
        """
        if positions is not None:
            if init_guesses is not None:
                msg = "give init_guesses or positions, not both"
                raise ValueError(msg)
            init_guesses = positions
        prep = prepare(image, mask, error, self.bkg_estimator)
        setup = self._fit_setup()
        sources = self._initial_sources(prep, setup, init_guesses)
        if len(sources.ids) == 0:
            warn("no sources were found or given; the photometry "
                 "table is empty", NoDetectionsWarning)
            return self._result(prep, setup, None, [0])
        with self._passes() as bar:
            stage = self._fit_stage(prep, setup, sources)
            bar.update()
            stage, counts = self._iterate(prep, setup, stage, bar)
            # the passes may end before their limit (nothing new found):
            # the bar ends full, at the passes made
            bar.total = len(counts)
            bar.refresh()
        return self._result(prep, setup, stage, counts)

    def get_residual_image(self):
        """The residual image of the last call (image - background - model)."""
        return self._last().residual_image

    def get_model_image(self):
        """The model image (sum of fitted PSFs) of the last call."""
        return self._last().model_image

    @property
    def last_result(self):
        """The `PSFPhotometryResult` of the last call (or `None`)."""
        return self._last_result

    def __getstate__(self):
        # the configuration pickles (for process pools and dask workers);
        # the last result holds cached closures and stays behind
        state = dict(self.__dict__)
        state["_last_result"] = None
        return opt.without_pool(state)

    # ------------------------------------------------------------ stages
    def _last(self):
        if self._last_result is None:
            msg = "no photometry has been run yet: call the object on an image"
            raise RuntimeError(msg)
        return self._last_result

    def _passes(self):
        """The progress bar over passes (none for a single pass)."""
        return progress_bar(enabled=False)

    def _iterate(self, prep, setup, stage, bar):
        return stage, [len(stage.sources.ids)]

    def _fit_setup(self):
        model = self.psf_model
        names = tuple(model.param_names)
        free = np.array([i for i, n in enumerate(names)
                         if not (model.fixed[n] or model.tied[n])], dtype=int)
        if free.size == 0:
            msg = "psf_model has no free parameter: unfix at least flux"
            raise ValueError(msg)
        lower = np.array([-np.inf if model.bounds[n][0] is None
                          else model.bounds[n][0] for n in names], dtype=float)
        upper = np.array([np.inf if model.bounds[n][1] is None
                          else model.bounds[n][1] for n in names], dtype=float)
        if isinstance(self.fitter, SparseLMFitter):
            solver = None
        elif isinstance(self.fitter, BatchedLMFitter):
            solver = lm_solver(maxiters=self.fitter.maxiters,
                               tol=self.fitter.tol)
        else:
            solver = astropy_solver(self.fitter,
                                    progress_bar=self.progress_bar)
        xname, yname, fluxname = psf_param_names(model)
        # photutils' PSF models are evaluated by psfkit's twins
        return FitSetup(model=native_model(model), param_names=names,
                        free=free, lower=lower, upper=upper, fitshape=self.fitshape,
                        solver=solver, fitter=self.fitter,
                        flux_col=names.index(fluxname),
                        x_col=names.index(xname), y_col=names.index(yname))

    def _initial_sources(self, prep, setup, init_guesses, *, image=None,
                         iteration=1, first_id=1):
        extras = extra_names(setup)
        image = prep.data if image is None else image
        if init_guesses is not None:
            guesses = read_init_table(init_guesses, extras, unit=prep.unit)
            found = init_guesses
        else:
            if self.finder is None:
                msg = ("init_guesses (or positions) must be given when the "
                       "photometry has no finder")
                raise ValueError(msg)
            found = detect(self.finder, image, prep)
            if found is None or len(found) == 0:
                return self._no_sources(setup)
            guesses = read_init_table(found, extras, from_finder=True,
                                     name="the finder's table")
            guesses["id"] = guesses["id"] + (first_id - 1)
        theta = initial_parameters(setup, self.psf_model, guesses, image,
                                   prep.valid, self._radius)
        n = len(theta)
        return Sources(ids=guesses["id"], theta0=theta, start=theta.copy(),
                       group_id=guesses["group_id"],
                       iteration=np.full(n, iteration, dtype=int),
                       box_xy=np.column_stack([guesses["x"], guesses["y"]]),
                       extra=copied_columns(found, self.extra_output_cols))

    def _no_sources(self, setup):
        npar = len(setup.param_names)
        return Sources(ids=np.zeros(0, dtype=np.int64),
                       theta0=np.zeros((0, npar)), start=np.zeros((0, npar)),
                       group_id=None, iteration=np.zeros(0, dtype=int),
                       box_xy=np.zeros((0, 2)),
                       extra=copied_columns(None, self.extra_output_cols))

    def _radius(self):
        if self.aperture_radius is not None:
            return self.aperture_radius
        fwhm = model_fwhm(self.psf_model)
        if fwhm is None:
            msg = ("aperture_radius must be given: the initial guesses have "
                   "no flux and psf_model has no fwhm")
            raise ValueError(msg)
        return fwhm

    def _model_shape(self):
        return self.subshape or model_subshape(self.psf_model, self.fitshape)

    def _removal(self, sources):
        """Which sources the all-star fit may remove (none: all asked for)."""
        return {}

    def _fit_stage(self, prep, setup, sources, *, data=None):
        group_id = group_sources(self.group_maker, setup, sources)
        data = prep.data if data is None else data
        n = len(sources.ids)
        busy = n if sources.settled is None else int(np.sum(~sources.settled))
        with progress_bar(enabled=self.progress_bar, desc=f"fit {busy} of {n} "
                          "stars", unit="iter", leave=False) as bar:

            def progress(left):
                bar.update()
                bar.set_postfix_str(f"{left} clusters moving", refresh=False)

            fits = fit_image(setup, data, prep.weight, sources.start,
                             box_xy=sources.box_xy, group_id=group_id,
                             model_shape=self._model_shape(),
                             weights_are_errors=prep.has_error,
                             settled=sources.settled, prior=sources.prior,
                             progress=progress, executor=self.executor,
                             **self._removal(sources))
        # parameters the profile takes the absolute value of (a fit may
        # step through zero, or start from a negative guess) are reported
        # positive
        for name in getattr(setup.model, "_sign_free_params", ()):
            col = setup.param_names.index(name)
            fits.theta[:, col] = np.abs(fits.theta[:, col])
        renderer = Renderer(setup.model, data.shape, self._model_shape(),
                            setup.x_col, setup.y_col)
        return Stage(sources=sources, group_id=group_id, fits=fits,
                     render=renderer)

    # ------------------------------------------------------------ output
    def _result(self, prep, setup, stage, counts):
        table = build_table(prep, setup, stage, iterative=self._iterative,
                            extra_cols=self.extra_output_cols)
        return make_result(table, prep, stage, counts, self.fitter)

