"""
`PSFPhotometry`: photutils 3.x's PSF photometry API on psfkit's engine.

The class takes photutils 3.x's arguments keyword for keyword and returns
its table (columns, flag bits, ``meta``), so code written for photutils
runs unchanged; the fitting is psfkit's: the seed classes' engine
(`~psfkit.photometry.BasicPSFPhotometry` builds the fit set-up and fits a
stage of sources; this module only reads the inputs, measures local
backgrounds, and writes the table in photutils' vocabulary through
``_photutils_columns``).  `~psfkit.photometry.IterativePSFPhotometry`
(``photutils_iterative``) is this class plus photutils' loop.
"""

from dataclasses import replace
import inspect
import warnings

import numpy as np

from ...utils import (
    Checked,
    NoDetectionsWarning,
    PsfkitDeprecationWarning,
    PsfkitWarning,
    pixel_to_sky,
    renamed_keyword,
    warn,
)
from ..detection.source_table import AliasedTable
from . import _photutils_inputs as inputs
from . import _settings as opt
from ._astropy_fit import astropy_solver
from ._init_guesses import aperture_flux, initial_parameters, model_profile
from ._interop import (
    call_grouper,
    psf_param_names,
    run_finder,
)
from ._photutils_columns import (
    check_group_id,
    finder_positions,
    fits_as,
    photutils_flags,
    read_init_params,
    results_table,
    table_meta,
)
from ._photutils_inputs import local_bkg_map, prepare_inputs
from ._photutils_results import ResultImagesMixin
from ._pipeline import Sources, extra_names
from .basic import BasicPSFPhotometry
from .fitters import BatchedLMFitter, SparseLMFitter

__all__ = ["PSFPhotometry"]


class ResultsTable(AliasedTable):
    """
    The results table: a `~astropy.table.QTable` in which photutils'
    former name ``npixfit`` reads ``n_pixels_fit``, with a deprecation
    warning, as in photutils 3.x.
    """

    aliases = {"npixfit": "n_pixels_fit"}
    deprecated = True


#: the settings of the photometry (repr and table meta, in photutils' order)
ATTRS = ("psf_model", "fit_shape", "finder", "grouper", "fitter",
         "fitter_maxiters", "xy_bounds", "aperture_radius",
         "local_bkg_estimator", "group_warning_threshold", "progress_bar")


class PSFPhotometry(ResultImagesMixin):
    """
    PSF photometry with photutils 3.x's interface, on psfkit's engine.

    Finds sources (or takes ``init_params``), groups them, measures an
    optional local background around each, fits the PSF model to all of
    them and returns photutils 3.x's results table.

    Parameters
    ----------
    psf_model : `~astropy.modeling.Fittable2DModel`
        The PSF model, with parameters ``x_0``, ``y_0`` and ``flux``
        (psfkit's or photutils' models, or any model through
        `~psfkit.photometry.prepare_psf_model`).  Parameters that are not
        ``fixed`` are fitted.
    fit_shape : int or tuple of 2 int
        The odd shape ``(ny, nx)`` of the box fitted around each source.
    finder : callable, optional
        Called as ``finder(data, mask=mask)`` when no ``init_params`` are
        given; returns a table with x and y columns (``xcentroid``...) or
        `None`.  psfkit's and photutils' finders both work.
    grouper : callable, optional
        Called as ``grouper(x, y)`` returning the group id of each source
        (psfkit's or photutils' `~psfkit.photometry.SourceGrouper`); a
        seed-style grouper taking a table works too.  `None`: every source
        is its own group.  A ``group_id`` column of ``init_params``
        overrides it.
    fitter : `SparseLMFitter`, `BatchedLMFitter` or astropy fitter, optional
        `None` uses `SparseLMFitter` (every star fitted with all its
        neighbours, whatever the groups); `BatchedLMFitter` and astropy
        fitters (photutils' default is ``TRFLSQFitter()``) fit each group
        on its own, as photutils does.
    fitter_maxiters : int, optional
        The maximum number of fit iterations.
    xy_bounds : float or tuple of 2 float, optional
        How far (pixels) a fitted centre may move from its initial
        position, along x and y (``(bx, by)``; either may be `None`).
    aperture_radius : float, optional
        The radius of the circular aperture giving the initial fluxes that
        ``init_params`` does not give.  Where aperture pixels are masked
        (or off the image), the sum over the others is divided by the
        fraction of the PSF model's light that falls on them.
    local_bkg_estimator : `~psfkit.photometry.LocalBackground`, optional
        Measures a background in an annulus around each source, which is
        subtracted over the source's fit box before fitting (a
        ``local_bkg`` column of ``init_params`` overrides it).
    group_warning_threshold : int, optional
        Warn when a group has more sources than this.
    progress_bar : bool, optional
        Show the progress of the fit.
    executor : None, int or executor, optional
        A psfkit addition: fit parts of a large image at once (a number of
        threads, a `concurrent.futures` pool, a dask.distributed
        ``Client``...), as for `~psfkit.photometry.BasicPSFPhotometry`.
    localbkg_estimator : `~psfkit.photometry.LocalBackground`, optional
        The name of ``local_bkg_estimator`` before photutils 3.0
        (deprecated).

    Attributes
    ----------
    results : `~astropy.table.QTable` or None
        The table of the last call.
    init_params : `~astropy.table.QTable` or None
        The initial parameters of the last call (``id``, ``group_id``,
        ``local_bkg``, ``<p>_init``).
    finder_results : `~astropy.table.Table` or None
        The finder's table of the last call.
    fit_info : list of dict
        Per source: ``n_iterations``, ``converged`` and ``param_err``
        (the 1-sigma errors of the free parameters, in ``param_names``
        order).  psfkit's engine does not return each source's covariance
        matrix, so there is no ``param_cov``.
    data_unit : `~astropy.units.UnitBase` or None

    Notes
    -----
    The table has photutils 3.x's columns: ``id``, ``group_id``,
    ``group_size``, ``local_bkg``, ``x_init``, ``y_init``, ``flux_init``
    (and ``<p>_init`` for every other free parameter ``p``), ``x_fit``,
    ``y_fit``, ``flux_fit``, ``<p>_fit``, ``x_err``, ``y_err``,
    ``flux_err``, ``<p>_err`` (NaN for fixed parameters),
    ``n_pixels_fit``, ``qfit``, ``cfit``, ``reduced_chi2`` (NaN without
    ``error``) and ``flags`` with photutils' bits (see `decode_flags`);
    with an NDData input with a celestial WCS, also ``sky_centroid``.
    Flux columns carry the data unit.

    Where psfkit differs from photutils: the default fitter fits every
    star together with all its neighbours (photutils fits each group on
    its own, ignoring stars of other groups), so blended stars in
    different groups get better fits; a fitted centre never leaves its fit
    box; where fit boxes overlap, each pixel's local background is that of
    the nearest source (photutils subtracts each source's background from
    its own copy of the pixel); and initial fluxes from the aperture
    subtract the local background times the aperture area (photutils
    subtracts it once).

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.table import QTable
    >>> from psfkit.photometry import CircularGaussianPRF, PSFPhotometry
    >>> psf = CircularGaussianPRF(fwhm=2.5)
    >>> yy, xx = np.mgrid[0:41, 0:41]
    >>> data = (psf.evaluate(xx, yy, 1000.0, 12.3, 20.6, 2.5)
    ...         + psf.evaluate(xx, yy, 600.0, 28.8, 14.1, 2.5))
    >>> phot = PSFPhotometry(psf, (7, 7), aperture_radius=4)
    >>> init = QTable({'x': [12, 29], 'y': [21, 14]})
    >>> tbl = phot(data, init_params=init)
    >>> print(np.round(tbl['x_fit', 'y_fit', 'flux_fit'].as_array().tolist(), 3))
    [[  12.3   20.6 1000. ]
     [  28.8   14.1  600. ]]
    >>> tbl['flags'].tolist()
    [0, 0]
    """

    # every setting is checked when set, here or later as an attribute
    psf_model = Checked(inputs.check_model)
    fit_shape = Checked(inputs.check_fit_shape)
    finder = Checked(inputs.check_callable)
    grouper = Checked(inputs.check_callable)
    fitter = Checked(inputs.check_fitter)
    fitter_maxiters = Checked(inputs.check_maxiters)
    xy_bounds = Checked(inputs.check_xy_bounds)
    aperture_radius = Checked(inputs.check_radius)
    local_bkg_estimator = Checked(inputs.check_local_bkg)
    group_warning_threshold = Checked(inputs.check_count)
    progress_bar = Checked(inputs.check_flag)
    executor = Checked(opt.executor)

    @renamed_keyword(localbkg_estimator="local_bkg_estimator")
    def __init__(self, psf_model, fit_shape, *, finder=None, grouper=None,
                 fitter=None, fitter_maxiters=100, xy_bounds=None,
                 aperture_radius=None, local_bkg_estimator=None,
                 group_warning_threshold=25, progress_bar=False,
                 executor=None):
        self.psf_model = psf_model
        self.fit_shape = fit_shape
        self.finder = finder
        self.grouper = grouper
        self.fitter = fitter
        self.fitter_maxiters = fitter_maxiters
        self.xy_bounds = xy_bounds
        self.aperture_radius = aperture_radius
        self.local_bkg_estimator = local_bkg_estimator
        self.group_warning_threshold = group_warning_threshold
        self.progress_bar = progress_bar
        self.executor = executor
        if self.fitter_maxiters is not None and not self._fitter_takes_maxiter():
            warn("'maxiters' will be ignored because it is not accepted by "
                 "the input fitter __call__ method.", PsfkitWarning)
            self.fitter_maxiters = None
        self._reset()

    def __repr__(self):
        items = ", ".join(f"{name}={getattr(self, name)!r}" for name in ATTRS)
        return f"{type(self).__name__}({items})"

    def __getstate__(self):
        return opt.without_pool(self.__dict__)

    def _reset(self):
        self.results = None
        self.init_params = None
        self.finder_results = None
        self.fit_info = []
        self.data_unit = None

    # ------------------------------------------------------------ engine
    def _engine(self):
        """The seed class configured as this object: the shared engine."""
        fitter = self.fitter
        maxiters = self.fitter_maxiters
        if isinstance(fitter, SparseLMFitter) and maxiters is not None:
            fitter = SparseLMFitter(maxiters=maxiters, tol=fitter.tol,
                                    min_coupling=fitter.min_coupling)
        elif isinstance(fitter, BatchedLMFitter) and maxiters is not None:
            fitter = BatchedLMFitter(maxiters=maxiters, tol=fitter.tol)
        engine = BasicPSFPhotometry(None, None, self.psf_model,
                                    self.fit_shape, fitter=fitter,
                                    progress_bar=self.progress_bar,
                                    executor=self.executor)
        setup = replace(engine._fit_setup(), xy_bounds=self.xy_bounds)
        if not isinstance(fitter, SparseLMFitter | BatchedLMFitter):
            takes = self._fitter_takes_maxiter()
            setup = replace(setup, solver=astropy_solver(
                fitter, maxiters=maxiters if takes else None,
                progress_bar=self.progress_bar))
        return engine, setup

    def _fitter_takes_maxiter(self):
        fitter = self.fitter
        if isinstance(fitter, SparseLMFitter | BatchedLMFitter):
            return True
        try:
            return "maxiter" in inspect.signature(fitter.__call__).parameters
        except (TypeError, ValueError):
            return False

    def _extra_names(self, setup):
        return [p for p in extra_names(setup) if not self.psf_model.fixed[p]]

    # ------------------------------------------------------------ inputs
    def _local_bkg(self, image, prep, x, y):
        if self.local_bkg_estimator is None:
            return np.zeros(len(x))
        # values in the data's unit, without it (as photutils passes them:
        # its LocalBackground cannot take a Quantity)
        data = np.where(prep.valid, image, np.nan)
        bkg = self.local_bkg_estimator(data, x, y, mask=~prep.valid)
        bkg = getattr(bkg, "value", bkg)
        return np.atleast_1d(np.asarray(bkg, dtype=float))

    def _initial(self, image, prep, setup, init_params):
        """Initial values of a pass, as arrays (None: nothing to fit)."""
        extras = self._extra_names(setup)
        if init_params is not None:
            init = read_init_params(init_params, extras, unit=prep.unit)
        else:
            if self.finder is None:
                msg = "finder must be defined if init_params is not input"
                raise ValueError(msg)
            data = image if prep.unit is None else image * prep.unit
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                found = run_finder(self.finder, data, ~prep.valid)
            for w in caught:
                warnings.warn_explicit(w.message, w.category, w.filename,
                                       w.lineno)
            self.finder_results = found
            if found is None:
                if not any(issubclass(w.category, NoDetectionsWarning)
                           or w.category.__name__ == "NoDetectionsWarning"
                           for w in caught):
                    warn("No sources were found.", NoDetectionsWarning)
                return None
            x, y = finder_positions(found)
            n = len(x)
            init = {"x": x, "y": y, "flux": None, "extra": {},
                    "id": np.arange(1, n + 1, dtype=np.int64),
                    "group_id": None, "local_bkg": None}
        if init["local_bkg"] is None:
            init["local_bkg"] = self._local_bkg(image, prep, init["x"],
                                                init["y"])
        if init["flux"] is None:
            init["flux"] = self._aperture_fluxes(image, prep, setup, init)
        if init["group_id"] is None:
            init["group_id"] = (init["id"].copy() if self.grouper is None
                                else self._groups(init))
        sizes = np.unique(init["group_id"], return_counts=True)[1]
        if len(sizes) and sizes.max() > self.group_warning_threshold:
            warn(f"Some groups have more than {self.group_warning_threshold} "
                 "sources. Fitting such groups may take a long time and be "
                 "error-prone (the default SparseLMFitter fits any number "
                 "of stars at the same cost per star).", PsfkitWarning)
        return init

    def _groups(self, init):
        gid = call_grouper(self.grouper, init["x"], init["y"], ids=init["id"],
                           flux=init["flux"])
        return check_group_id(gid)

    def _aperture_fluxes(self, image, prep, setup, init):
        if self.aperture_radius is None:
            msg = ("aperture_radius must be defined if a flux column is not "
                   "in init_params")
            raise ValueError(msg)
        r = float(self.aperture_radius)
        x, y = init["x"], init["y"]
        # masked pixels: the sums corrected by the model's light on the
        # usable ones
        profile = model_profile(setup, self.psf_model, x, y, init["extra"])
        flux = aperture_flux(image, prep.valid, x, y, r, profile=profile)
        lb = np.where(np.isfinite(init["local_bkg"]), init["local_bkg"], 0.0)
        if np.any(lb):
            # the background on the usable pixels, corrected alike: the
            # difference is the source's sum corrected once
            flux -= lb * aperture_flux(np.ones(image.shape), prep.valid, x,
                                       y, r, profile=profile)
        return flux

    # ------------------------------------------------------------ fitting
    def _fit(self, image, prep, init_params):
        """One pass: initial values, fit, and the table (or None)."""
        engine, setup = self._engine()
        init = self._initial(image, prep, setup, init_params)
        if init is None:
            return None
        x, y = init["x"], init["y"]
        lbmap = local_bkg_map(image.shape, x, y, init["local_bkg"],
                              self.fit_shape)
        data = np.where(prep.valid, image - lbmap, 0.0)
        # a given non-finite flux stays (the source is flagged, not fitted)
        flux = init["flux"]
        guesses = {"x": x, "y": y, "flux": np.where(np.isfinite(flux), flux,
                                                    0.0),
                   "extra": init["extra"]}
        theta = initial_parameters(setup, self.psf_model, guesses, data,
                                   prep.valid, None)
        theta[:, setup.flux_col] = flux
        n = len(x)
        sources = Sources(ids=init["id"], theta0=theta, start=theta.copy(),
                          group_id=init["group_id"],
                          iteration=np.ones(n, dtype=int),
                          box_xy=np.column_stack([x, y]))
        order = np.argsort(init["id"], kind="stable")
        stage = engine._fit_stage(prep, setup, sources, data=data)
        fits = stage.fits
        flags = photutils_flags(
            setup=setup, image_shape=image.shape, fit_shape=self.fit_shape,
            theta0=theta, theta=fits.theta, engine=fits.flags,
            npix=fits.npix, n_masked=fits.n_masked,
            local_bkg=init["local_bkg"], xy_bounds=self.xy_bounds)
        if np.any(flags & 8):
            warn("One or more fit(s) may not have converged. Please check "
                 'the "flags" column in the output table.', PsfkitWarning)
        table = results_table(
            ids=init["id"], group_id=init["group_id"],
            local_bkg=init["local_bkg"], setup=setup,
            extras=self._extra_names(setup), theta0=theta, theta=fits.theta,
            unc=fits.unc, npix=fits.npix, qfit=fits.qfit, cfit=fits.cfit,
            chi2=fits.chi2, has_error=prep.has_error, flags=flags,
            unit=prep.unit)[order]
        free = np.asarray(setup.free)
        self.fit_info = [{"n_iterations": int(fits.niter[i]),
                          "converged": not (flags[i] & 8),
                          "param_err": fits.unc[i, free]}
                         for i in order]
        return table

    def __call__(self, data, *, mask=None, error=None, init_params=None):
        """
        Run the photometry.

        Parameters
        ----------
        data : 2-D array, `~astropy.units.Quantity` or `~astropy.nddata.NDData`
            The background-subtracted image (an NDData's mask, uncertainty,
            unit and WCS are used).
        mask : 2-D array of bool, optional
            `True` for pixels to ignore.  Non-finite pixels are ignored
            too (with a warning when they are not masked).
        error : 2-D array, optional
            The 1-sigma error of each pixel (fit weights ``1/error``).
        init_params : `~astropy.table.Table`, optional
            Initial values: x and y columns (``x_init``, ``xcentroid``,
            ``x``, ...), optional ``flux_init`` (or ``flux``...),
            ``<p>_init`` for other free parameters, ``id``, ``group_id``
            and ``local_bkg``.  Without it the finder is run.

        Returns
        -------
        table : `~astropy.table.QTable` or None
            The results (see the class Notes); `None` when no source was
            found.
        """
        self._reset()
        prep, wcs = prepare_inputs(data, mask, error)
        self.data_unit = prep.unit
        table = self._fit(prep.data, prep, init_params)
        if table is None:
            return None
        table = ResultsTable(table, copy=False)
        table.meta.update(table_meta(self, ATTRS, type(self).__name__))
        if wcs is not None:
            table["sky_centroid"] = pixel_to_sky(wcs, table["x_fit"],
                                                 table["y_fit"])
        self.init_params = table[["id", "group_id", "local_bkg",
                                  *[c for c in table.colnames
                                    if c.endswith("_init")]]]
        self.results = table
        return table

    # ------------------------------------------------------------ outputs
    @property
    def fit_params(self):
        """
        The ``id``, ``*_fit`` and ``*_err`` columns of `results`
        (deprecated, as in photutils 3.x: use `results`).
        """
        warn("The fit_params function is deprecated: use results instead",
             PsfkitDeprecationWarning)
        if self.results is None:
            return None
        return self.results[[c for c in self.results.colnames
                             if c == "id" or c.endswith(("_fit", "_err"))]]

    def results_to_init_params(self, *, remove_invalid=True, reset_ids=True):
        """
        The fitted values as an ``init_params`` table (``<p>_init``).

        Parameters
        ----------
        remove_invalid : bool, optional
            Leave out rows with a non-finite fitted value.
        reset_ids : bool, optional
            Number the kept rows 1, 2, ... (with ``remove_invalid``).

        Returns
        -------
        table : `~astropy.table.QTable` or None
        """
        return fits_as(self.results, lambda c: c.replace("_fit", "_init"),
                        remove_invalid, reset_ids)

    def results_to_model_params(self, *, remove_invalid=True, reset_ids=True):
        """
        The fitted values under the model's parameter names (``x_0``...).

        Parameters
        ----------
        remove_invalid, reset_ids : bool, optional
            As for `results_to_init_params`.

        Returns
        -------
        table : `~astropy.table.QTable` or None
        """
        xname, yname, fluxname = psf_param_names(self.psf_model)
        names = {"x_fit": xname, "y_fit": yname, "flux_fit": fluxname}
        return fits_as(self.results,
                        lambda c: names.get(c, c.replace("_fit", "")),
                        remove_invalid, reset_ids)

    def _model_setup(self):
        return self.psf_model, self.fit_shape, self.data_unit
