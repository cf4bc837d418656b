"""
PSF photometry with photutils 3.x's API: `PSFPhotometry` and
`IterativePSFPhotometry`, on psfkit's engine.

The classes take photutils 3.x's arguments keyword for keyword and return
its table (columns, flag bits, ``meta``), so code written for photutils
runs unchanged; the fitting is psfkit's: the seed classes' engine
(`~psfkit.photometry.BasicPSFPhotometry` builds the fit set-up and fits a
stage of sources; this module only reads the inputs, measures local
backgrounds, and writes the table in photutils' vocabulary through
``_photutils_columns``).  The iterative class is `PSFPhotometry` plus
photutils' loop, in its two modes.
"""

from dataclasses import replace
import inspect
import warnings

from astropy.modeling import Model
from astropy.nddata import NDData
from astropy.table import QTable, vstack
import astropy.units as u
from astropy.utils.exceptions import AstropyUserWarning
import numpy as np

from ...utils import (
    NoDetectionsWarning,
    as_pair,
    check_in,
    check_integer,
    renamed_keyword,
    warn,
)
from ..background.local_background import LocalBackground
from ._astropy_fit import astropy_solver
from ._group_fit import render
from ._init_guesses import aperture_flux, initial_parameters
from ._interop import (
    call_grouper,
    celestial_wcs,
    run_finder,
    sky_centroid,
)
from ._photutils_columns import (
    decode_flags,
    finder_positions,
    photutils_flags,
    read_init_params,
    results_table,
    table_meta,
)
from ._pipeline import CORE_PARAMS, Sources, model_subshape, prepare
from .fitters import BatchedLMFitter, SparseLMFitter
from .psf_photometry import BasicPSFPhotometry

__all__ = ["PSFPhotometry", "IterativePSFPhotometry"]

_ATTRS = ("psf_model", "fit_shape", "finder", "grouper", "fitter",
          "fitter_maxiters", "xy_bounds", "aperture_radius",
          "local_bkg_estimator", "group_warning_threshold", "progress_bar")


def _check_callable(name, value):
    if value is not None and not callable(value):
        msg = f"{name!r} must be a callable object"
        raise TypeError(msg)
    return value


def _check_model(psf_model):
    if not isinstance(psf_model, Model):
        msg = "psf_model must be an Astropy Model subclass"
        raise TypeError(msg)
    if psf_model.n_inputs != 2 or psf_model.n_outputs != 1:
        msg = "psf_model must be two-dimensional"
        raise ValueError(msg)
    if not all(p in psf_model.param_names for p in CORE_PARAMS):
        msg = ("Invalid PSF model - could not find PSF parameter names: "
               "psf_model must have parameters x_0, y_0 and flux (wrap "
               "other models with psfkit.photometry.prepare_psf_model)")
        raise ValueError(msg)
    return psf_model


def _check_xy_bounds(xy_bounds):
    if xy_bounds is None:
        return None
    values = np.atleast_1d(np.asarray(xy_bounds, dtype=object))
    if values.ndim != 1:
        msg = "xy_bounds must be a 1D array"
        raise ValueError(msg)
    if len(values) == 1:
        values = np.array([values[0], values[0]], dtype=object)
    if len(values) != 2:
        msg = "xy_bounds must have 1 or 2 elements"
        raise ValueError(msg)
    out = []
    for bound in values:
        if bound is None:
            out.append(None)
            continue
        bound = float(bound)
        if not np.isfinite(bound):
            msg = "xy_bounds must be finite"
            raise ValueError(msg)
        if bound <= 0:
            msg = "xy_bounds must be strictly positive"
            raise ValueError(msg)
        out.append(bound)
    return tuple(out)


def _check_radius(radius):
    if radius is None:
        return None
    if (not np.isscalar(radius) or isinstance(radius, bool)
            or not np.isfinite(radius) or radius <= 0):
        msg = "aperture_radius must be a strictly-positive scalar"
        raise ValueError(msg)
    return radius


def _check_local_bkg(value):
    if value is None:
        return None
    if isinstance(value, LocalBackground):
        return value
    # photutils' LocalBackground (and any object with its interface)
    if (callable(value) and hasattr(value, "inner_radius")
            and hasattr(value, "outer_radius")):
        return value
    msg = ("local_bkg_estimator must be a LocalBackground instance "
           "(psfkit's or photutils')")
    raise TypeError(msg)


def _nddata_parts(data, mask, error):
    """The array (with unit), mask, error and WCS of an NDData."""
    arr = data.data if data.unit is None else data.data << data.unit
    if data.mask is not None:
        mask = data.mask if mask is None else (np.asarray(mask, bool)
                                               | np.asarray(data.mask, bool))
    if error is None and data.uncertainty is not None:
        from ...utils import uncertainty_to_error

        error = uncertainty_to_error(data.uncertainty,
                                     name="data.uncertainty", unit=data.unit)
        if data.unit is not None:
            error = error << data.unit
    return arr, mask, error, celestial_wcs(data.wcs)


def local_bkg_map(shape, x, y, local_bkg, fit_shape):
    """
    The local background of each source over its fit box, as an image.

    Each pixel of a fit box gets the background of the source whose box
    it is; where boxes overlap, that of the nearest source.  Non-finite
    values are not subtracted (they are flagged).
    """
    out = np.zeros(shape)
    lb = np.where(np.isfinite(local_bkg), local_bkg, 0.0)
    if not np.any(lb):
        return out
    best = np.full(shape, np.inf)
    hy, hx = fit_shape[0] // 2, fit_shape[1] // 2
    dy, dx = np.mgrid[-hy:hy + 1, -hx:hx + 1]
    cx, cy = np.floor(x + 0.5).astype(int), np.floor(y + 0.5).astype(int)
    for i in np.flatnonzero(lb):
        rows, cols = cy[i] + dy, cx[i] + dx
        ok = (rows >= 0) & (rows < shape[0]) & (cols >= 0) & (cols < shape[1])
        rows, cols = rows[ok], cols[ok]
        dist = (cols - x[i])**2 + (rows - y[i])**2
        closer = dist < best[rows, cols]
        best[rows[closer], cols[closer]] = dist[closer]
        out[rows[closer], cols[closer]] = lb[i]
    return out


class PSFPhotometry:
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
        ``init_params`` does not give.
    local_bkg_estimator : `~psfkit.photometry.LocalBackground`, optional
        Measures a background in an annulus around each source, which is
        subtracted over the source's fit box before fitting (a
        ``local_bkg`` column of ``init_params`` overrides it).
    group_warning_threshold : int, optional
        Warn when a group has more sources than this.
    progress_bar : bool, optional
        Show the progress of the fit.
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

    def __init__(self, psf_model, fit_shape, *, finder=None, grouper=None,
                 fitter=None, fitter_maxiters=100, xy_bounds=None,
                 aperture_radius=None, local_bkg_estimator=None,
                 group_warning_threshold=25, progress_bar=False,
                 localbkg_estimator=None):
        local_bkg_estimator = renamed_keyword(
            "localbkg_estimator", localbkg_estimator, "local_bkg_estimator",
            local_bkg_estimator, default=None)
        self.psf_model = _check_model(psf_model)
        self.fit_shape = as_pair("fit_shape", fit_shape,
                                 lower_bound=(1, True), check_odd=True)
        self.finder = _check_callable("finder", finder)
        self.grouper = _check_callable("grouper", grouper)
        if fitter is None:
            fitter = SparseLMFitter()
        elif not isinstance(fitter, SparseLMFitter | BatchedLMFitter):
            _check_callable("fitter", fitter)
        self.fitter = fitter
        self.fitter_maxiters = check_integer("fitter_maxiters",
                                             fitter_maxiters, minimum=1,
                                             allow_none=True)
        self.xy_bounds = _check_xy_bounds(xy_bounds)
        self.aperture_radius = _check_radius(aperture_radius)
        self.local_bkg_estimator = _check_local_bkg(local_bkg_estimator)
        self.group_warning_threshold = check_integer(
            "group_warning_threshold", group_warning_threshold, minimum=1)
        self.progress_bar = bool(progress_bar)
        self._reset()

    def __repr__(self):
        items = ", ".join(f"{name}={getattr(self, name)!r}" for name in _ATTRS)
        return f"{type(self).__name__}({items})"

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
                                    progress_bar=self.progress_bar)
        setup = replace(engine._fit_setup(), xy_bounds=self.xy_bounds)
        if not isinstance(fitter, SparseLMFitter | BatchedLMFitter):
            try:
                takes = "maxiter" in inspect.signature(fitter.__call__).parameters
            except (TypeError, ValueError):
                takes = False
            if not takes and maxiters is not None:
                warn("'maxiters' will be ignored because it is not accepted "
                     "by the input fitter __call__ method.", AstropyUserWarning)
            setup = replace(setup, solver=astropy_solver(
                fitter, maxiters=maxiters if takes else None,
                progress_bar=self.progress_bar))
        return engine, setup

    def _extra_names(self, setup):
        return [p for p in setup.param_names
                if p not in CORE_PARAMS and not self.psf_model.fixed[p]]

    # ------------------------------------------------------------ inputs
    def _prepare(self, data, mask, error):
        wcs = None
        if isinstance(data, NDData):
            data, mask, error, wcs = _nddata_parts(data, mask, error)
        unit = data.unit if isinstance(data, u.Quantity) else None
        values = np.asanyarray(getattr(data, "value", data))
        if values.ndim != 2:
            msg = f"data must be a 2D array, got {values.ndim}-D"
            raise ValueError(msg)
        for name, arr in (("error", error), ("mask", mask)):
            if arr is not None and arr is not np.ma.nomask \
                    and np.shape(arr) != values.shape:
                msg = f"data and {name} must have the same shape"
                raise ValueError(msg)
        if isinstance(error, u.Quantity):
            if unit is None:
                msg = "error has units but data does not"
                raise ValueError(msg)
            error = error.to_value(unit)
        elif error is not None and unit is not None:
            msg = "data has units but error does not"
            raise ValueError(msg)
        if mask is np.ma.nomask:
            mask = None
        given = (np.zeros(values.shape, bool) if mask is None
                 else np.asarray(mask, dtype=bool))
        bad = ~np.isfinite(np.ma.getdata(values)) & ~given
        if bad.any():
            warn("Input data contains unmasked non-finite values (NaN or "
                 "inf), which were automatically ignored.", AstropyUserWarning)
            given = given | bad
        prep = prepare(values if unit is None else values * unit, given,
                       error, None)
        return prep, wcs

    def _local_bkg(self, image, prep, x, y):
        if self.local_bkg_estimator is None:
            return np.zeros(len(x))
        data = np.where(prep.valid, image, np.nan)
        if prep.unit is not None:
            data = data * prep.unit
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
            init["flux"] = self._aperture_fluxes(image, prep, init)
        if init["group_id"] is None:
            init["group_id"] = (init["id"].copy() if self.grouper is None
                                else self._groups(init))
        sizes = np.unique(init["group_id"], return_counts=True)[1]
        if len(sizes) and sizes.max() > self.group_warning_threshold:
            warn(f"Some groups have more than {self.group_warning_threshold} "
                 "sources. Fitting such groups may take a long time and be "
                 "error-prone (the default SparseLMFitter fits any number "
                 "of stars at the same cost per star).", AstropyUserWarning)
        return init

    def _groups(self, init):
        from ._photutils_columns import check_group_id

        gid = call_grouper(self.grouper, init["x"], init["y"], ids=init["id"],
                           flux=init["flux"])
        return check_group_id(gid)

    def _aperture_fluxes(self, image, prep, init):
        if self.aperture_radius is None:
            msg = ("aperture_radius must be defined if a flux column is not "
                   "in init_params")
            raise ValueError(msg)
        r = float(self.aperture_radius)
        x, y = init["x"], init["y"]
        area = aperture_flux(np.ones(image.shape), prep.valid, x, y, r)
        lb = init["local_bkg"]
        return (aperture_flux(image, prep.valid, x, y, r)
                - np.where(np.isfinite(lb), lb, 0.0) * area)

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
                 'the "flags" column in the output table.', AstropyUserWarning)
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
        prep, wcs = self._prepare(data, mask, error)
        self.data_unit = prep.unit
        table = self._fit(prep.data, prep, init_params)
        if table is None:
            return None
        table.meta.update(table_meta(self, _ATTRS, type(self).__name__))
        if wcs is not None:
            table["sky_centroid"] = sky_centroid(wcs, table["x_fit"],
                                                 table["y_fit"])
        self.init_params = table[["id", "group_id", "local_bkg",
                                  *[c for c in table.colnames
                                    if c.endswith("_init")]]]
        self.results = table
        return table

    # ------------------------------------------------------------ outputs
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
        return _fits_as(self.results, lambda c: c.replace("_fit", "_init"),
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
        names = {"x_fit": "x_0", "y_fit": "y_0", "flux_fit": "flux"}
        return _fits_as(self.results,
                        lambda c: names.get(c, c.replace("_fit", "")),
                        remove_invalid, reset_ids)

    def decode_flags(self, *, return_bit_values=False):
        """
        The flag names (or bit values) set for each source of the results.

        Parameters
        ----------
        return_bit_values : bool, optional
            Return the bit values instead of the names.

        Returns
        -------
        flags : list of list
        """
        if self.results is None:
            msg = "No results available. Please run the photometry first."
            raise ValueError(msg)
        return decode_flags(self.results["flags"],
                            return_bit_values=return_bit_values)

    def make_model_image(self, shape, *, psf_shape=None,
                         include_local_bkg=False, include_localbkg=None):
        """
        The image of the fitted PSFs (and optionally local backgrounds).

        Parameters
        ----------
        shape : tuple of 2 int
            The shape of the image.
        psf_shape : int or tuple of 2 int, optional
            The odd box around each fitted centre over which its model is
            drawn; default: the model's bounding box (at least
            ``fit_shape``).
        include_local_bkg : bool, optional
            Add each source's local background over its ``psf_shape``
            box (overlapping boxes add it more than once, as photutils
            does).
        include_localbkg : bool, optional
            The name of ``include_local_bkg`` before photutils 3.0
            (deprecated).

        Returns
        -------
        image : `~numpy.ndarray`
            Without unit.
        """
        include_local_bkg = renamed_keyword(
            "include_localbkg", include_localbkg, "include_local_bkg",
            include_local_bkg, default=False)
        if self.results is None:
            msg = "No results available. Please run the photometry first."
            raise ValueError(msg)
        return _model_image(self.psf_model, self.results, shape, psf_shape,
                            self.fit_shape, include_local_bkg)

    def make_residual_image(self, data, *, psf_shape=None,
                            include_local_bkg=False, include_localbkg=None):
        """
        The data minus the fitted PSFs (and optionally local backgrounds).

        Parameters
        ----------
        data : 2-D array, `~astropy.units.Quantity` or `~astropy.nddata.NDData`
            The image the photometry was run on.
        psf_shape, include_local_bkg, include_localbkg
            As for `make_model_image`.

        Returns
        -------
        residual : same type as ``data``
        """
        include_local_bkg = renamed_keyword(
            "include_localbkg", include_localbkg, "include_local_bkg",
            include_local_bkg, default=False)
        if isinstance(data, NDData):
            out = data.__class__(data, copy=True)
            arr = np.asanyarray(data.data)
            out.data[...] = arr - self.make_model_image(
                arr.shape, psf_shape=psf_shape,
                include_local_bkg=include_local_bkg)
            return out
        model = self.make_model_image(np.shape(data), psf_shape=psf_shape,
                                      include_local_bkg=include_local_bkg)
        if isinstance(data, u.Quantity):
            return data - model * data.unit
        return np.asarray(data, dtype=float) - model


def _fits_as(results, rename, remove_invalid, reset_ids):
    if results is None:
        return None
    table = QTable()
    for name in results.colnames:
        if name == "id" or name.endswith("_fit"):
            table[rename(name) if name != "id" else "id"] = results[name]
    if remove_invalid:
        keep = np.all([np.isfinite(getattr(table[c], "value", table[c]))
                       for c in table.colnames], axis=0)
        table = table[keep]
        if reset_ids:
            table["id"] = np.arange(1, len(table) + 1)
    return table


def _model_image(psf_model, results, shape, psf_shape, fit_shape,
                 include_local_bkg):
    shape = tuple(int(s) for s in shape)
    box = (model_subshape(psf_model, fit_shape) if psf_shape is None
           else as_pair("psf_shape", psf_shape, check_odd=True))
    names = tuple(psf_model.param_names)
    theta = np.tile([float(np.ravel(getattr(psf_model, p).value)[0])
                     for p in names], (len(results), 1))
    for name in results.colnames:
        if name.endswith("_fit"):
            alias = name[:-4]
            param = {"x": "x_0", "y": "y_0"}.get(alias, alias)
            if param in names:
                values = results[name]
                theta[:, names.index(param)] = getattr(values, "value", values)
    ok = np.all(np.isfinite(theta), axis=1)
    theta = theta[ok]
    x_col, y_col = names.index("x_0"), names.index("y_0")
    image = render(psf_model, theta, shape, box, x_col=x_col, y_col=y_col)
    if include_local_bkg and len(theta):
        lb = results["local_bkg"][ok]
        lb = np.asarray(getattr(lb, "value", lb), dtype=float)
        lb = np.where(np.isfinite(lb), lb, 0.0)
        hy, hx = box[0] // 2, box[1] // 2
        dy, dx = np.mgrid[-hy:hy + 1, -hx:hx + 1]
        rows = np.floor(theta[:, y_col] + 0.5).astype(int)[:, None, None] + dy
        cols = np.floor(theta[:, x_col] + 0.5).astype(int)[:, None, None] + dx
        inside = ((rows >= 0) & (rows < shape[0]) & (cols >= 0)
                  & (cols < shape[1]))
        vals = np.broadcast_to(lb[:, None, None], rows.shape)
        np.add.at(image, (rows[inside], cols[inside]), vals[inside])
    return image


class IterativePSFPhotometry:
    """
    Iterative PSF photometry with photutils 3.x's interface.

    `PSFPhotometry` is run, the finder looks for new sources in the
    residual image, and the photometry is run again, until nothing new is
    found or ``maxiters`` passes are done.

    Parameters
    ----------
    psf_model, fit_shape
        As for `PSFPhotometry`.
    finder : callable
        The star finder (required).
    grouper, fitter, fitter_maxiters, xy_bounds
        As for `PSFPhotometry`.
    maxiters : int, optional
        The maximum number of passes.
    mode : {'new', 'all'}, optional
        ``'new'``: each later pass fits only the new sources, on the
        residual image of the previous passes.  ``'all'``: each later
        pass refits all sources (the earlier ones starting from their
        fits) together with the new ones on the original image; it needs
        a ``grouper``.
    aperture_radius : float
        The radius of the aperture giving the initial fluxes (required).
    local_bkg_estimator, group_warning_threshold
        As for `PSFPhotometry`.
    sub_shape : int or tuple of 2 int, optional
        The box over which fitted sources are subtracted to make the
        residual image; default: the model's bounding box.
    progress_bar : bool, optional
        As for `PSFPhotometry`.
    localbkg_estimator : optional
        Deprecated name of ``local_bkg_estimator``.

    Attributes
    ----------
    results : `~astropy.table.QTable` or None
        The table of the last call; it has an ``iter_detected`` column
        (the pass that found each source).
    fit_results : list of `PSFPhotometry`
        The photometry of each pass.

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.photometry import (CircularGaussianPRF, DAOStarFinder,
    ...                                IterativePSFPhotometry)
    >>> psf = CircularGaussianPRF(fwhm=3.0)
    >>> yy, xx = np.mgrid[0:41, 0:41]
    >>> data = (psf.evaluate(xx, yy, 5000.0, 18.0, 20.0, 3.0)
    ...         + psf.evaluate(xx, yy, 500.0, 23.2, 21.0, 3.0))
    >>> phot = IterativePSFPhotometry(psf, (7, 7), DAOStarFinder(5.0, 3.0),
    ...                               aperture_radius=4)
    >>> tbl = phot(data)
    >>> tbl['iter_detected'].tolist()
    [1, 2]
    >>> print(np.round(tbl['flux_fit'], 1))
    [5000.  500.]
    """

    def __init__(self, psf_model, fit_shape, finder, *, grouper=None,
                 fitter=None, fitter_maxiters=100, xy_bounds=None,
                 maxiters=3, mode="new", aperture_radius=None,
                 local_bkg_estimator=None, group_warning_threshold=25,
                 sub_shape=None, progress_bar=False, localbkg_estimator=None):
        if finder is None:
            msg = "finder cannot be None for IterativePSFPhotometry"
            raise ValueError(msg)
        if aperture_radius is None:
            msg = "aperture_radius cannot be None for IterativePSFPhotometry"
            raise ValueError(msg)
        self._psfphot = PSFPhotometry(
            psf_model, fit_shape, finder=finder, grouper=grouper,
            fitter=fitter, fitter_maxiters=fitter_maxiters,
            xy_bounds=xy_bounds, aperture_radius=aperture_radius,
            local_bkg_estimator=local_bkg_estimator,
            group_warning_threshold=group_warning_threshold,
            progress_bar=progress_bar, localbkg_estimator=localbkg_estimator)
        if (not np.isscalar(maxiters) or isinstance(maxiters, bool)
                or not np.isfinite(maxiters) or maxiters <= 0):
            msg = "maxiters must be a strictly-positive scalar"
            raise ValueError(msg)
        if maxiters != int(maxiters):
            msg = "maxiters must be an integer"
            raise ValueError(msg)
        self.maxiters = int(maxiters)
        self.mode = check_in("mode", mode, ("new", "all"))
        if self.mode == "all" and grouper is None:
            msg = "grouper must be input for the 'all' mode"
            raise ValueError(msg)
        self.sub_shape = (None if sub_shape is None
                          else as_pair("sub_shape", sub_shape, check_odd=True))
        self.fit_results = []
        self.results = None

    def __getattr__(self, name):
        # the PSFPhotometry settings (psf_model, finder, fitter...) read
        # through to the photometry object of the passes
        if name in _ATTRS:
            return getattr(self.__dict__["_psfphot"], name)
        msg = f"{type(self).__name__!r} object has no attribute {name!r}"
        raise AttributeError(msg)

    def __repr__(self):
        names = (*_ATTRS, "maxiters", "mode", "sub_shape")
        items = ", ".join(f"{n}={getattr(self, n)!r}" for n in names)
        return f"{type(self).__name__}({items})"

    def _snapshot(self):
        phot = self._psfphot
        copy = PSFPhotometry.__new__(PSFPhotometry)
        copy.__dict__.update(phot.__dict__)
        self.fit_results.append(copy)

    def __call__(self, data, *, mask=None, error=None, init_params=None):
        """
        Run the iterative photometry.

        Parameters
        ----------
        data, mask, error, init_params
            As for `PSFPhotometry.__call__` (``init_params`` give the
            sources of the first pass only).

        Returns
        -------
        table : `~astropy.table.QTable` or None
        """
        self.fit_results = []
        self.results = None
        wcs = None
        if isinstance(data, NDData):
            data, mask, error, wcs = _nddata_parts(data, mask, error)
        phot = self._psfphot
        table = phot(data, mask=mask, error=error, init_params=init_params)
        self._snapshot()
        if table is None:
            return None
        table["iter_detected"] = np.ones(len(table), dtype=np.int64)
        residual = data
        for iteration in range(2, self.maxiters + 1):
            residual = phot.make_residual_image(residual,
                                                psf_shape=self.sub_shape)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NoDetectionsWarning)
                warnings.filterwarnings("ignore", message="No sources")
                found = run_finder(phot.finder, residual, mask)
            if found is None:
                break
            x, y = finder_positions(found)
            new = QTable({"x_init": x, "y_init": y})
            if self.mode == "all":
                keep_iter = table["iter_detected"][
                    _valid_rows(table)]
                init = self._next_all(residual, mask, new, phot)
                residual = data
                iters = np.concatenate([keep_iter,
                                        np.full(len(new), iteration)])
            else:
                init = new
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NoDetectionsWarning)
                new_table = phot(residual, mask=mask, error=error,
                                 init_params=init)
            self._snapshot()
            if new_table is None:
                break
            if self.mode == "all":
                new_table["iter_detected"] = iters.astype(np.int64)
                table = new_table
            else:
                new_table["id"] += table["id"].max()
                new_table["group_id"] += table["group_id"].max()
                new_table["iter_detected"] = iteration
                new_table.meta = {}
                meta = table.meta
                table = vstack([table, new_table])
                table.meta = meta
        order = [c for c in table.colnames if c != "iter_detected"]
        order.insert(order.index("group_size") + 1, "iter_detected")
        table = table[order]
        table.meta.update(psf_class=type(self).__name__,
                          maxiters=self.maxiters, mode=self.mode,
                          sub_shape=self.sub_shape)
        if wcs is not None:
            table["sky_centroid"] = sky_centroid(wcs, table["x_fit"],
                                                 table["y_fit"])
        self.results = table
        return table

    def _next_all(self, residual, mask, new, phot):
        """The previous fits plus the new sources, for an 'all' pass."""
        old = phot.results_to_init_params()
        values = residual.value if isinstance(residual, u.Quantity) else residual
        valid = np.isfinite(values)
        if mask is not None:
            valid &= ~np.asarray(mask, dtype=bool)
        flux = aperture_flux(np.where(valid, values, 0.0), valid,
                             np.asarray(new["x_init"], float),
                             np.asarray(new["y_init"], float),
                             float(phot.aperture_radius))
        new["flux_init"] = flux if phot.data_unit is None else flux * phot.data_unit
        first = (old["id"].max() if len(old) else 0) + 1
        new["id"] = np.arange(first, first + len(new))
        for name in old.colnames:
            if name not in new.colnames:
                param = name[:-5]
                value = getattr(phot.psf_model, param).value
                new[name] = np.full(len(new), float(np.ravel(value)[0]))
        return vstack([old, new[old.colnames]])

    def results_to_init_params(self, *, remove_invalid=True, reset_ids=True):
        """As `PSFPhotometry.results_to_init_params`, for all passes."""
        return _fits_as(self.results, lambda c: c.replace("_fit", "_init"),
                        remove_invalid, reset_ids)

    def results_to_model_params(self, *, remove_invalid=True, reset_ids=True):
        """As `PSFPhotometry.results_to_model_params`, for all passes."""
        names = {"x_fit": "x_0", "y_fit": "y_0", "flux_fit": "flux"}
        return _fits_as(self.results,
                        lambda c: names.get(c, c.replace("_fit", "")),
                        remove_invalid, reset_ids)

    def decode_flags(self, *, return_bit_values=False):
        """As `PSFPhotometry.decode_flags`, for all passes."""
        if self.results is None:
            msg = "No results available. Please run the photometry first."
            raise ValueError(msg)
        return decode_flags(self.results["flags"],
                            return_bit_values=return_bit_values)

    def make_model_image(self, shape, *, psf_shape=None,
                         include_local_bkg=False, include_localbkg=None):
        """As `PSFPhotometry.make_model_image`, with the sources of all passes."""
        include_local_bkg = renamed_keyword(
            "include_localbkg", include_localbkg, "include_local_bkg",
            include_local_bkg, default=False)
        if self.results is None:
            msg = "No results available. Please run the photometry first."
            raise ValueError(msg)
        return _model_image(self._psfphot.psf_model, self.results, shape,
                            psf_shape, self._psfphot.fit_shape,
                            include_local_bkg)

    def make_residual_image(self, data, *, psf_shape=None,
                            include_local_bkg=False, include_localbkg=None):
        """As `PSFPhotometry.make_residual_image`, with all passes."""
        include_local_bkg = renamed_keyword(
            "include_localbkg", include_localbkg, "include_local_bkg",
            include_local_bkg, default=False)
        model = self.make_model_image(
            np.shape(getattr(data, "data", data)), psf_shape=psf_shape,
            include_local_bkg=include_local_bkg)
        if isinstance(data, NDData):
            out = data.__class__(data, copy=True)
            out.data[...] = np.asanyarray(data.data) - model
            return out
        if isinstance(data, u.Quantity):
            return data - model * data.unit
        return np.asarray(data, dtype=float) - model


def _valid_rows(table):
    cols = [c for c in table.colnames if c.endswith("_fit")]
    return np.all([np.isfinite(getattr(table[c], "value", table[c]))
                   for c in cols], axis=0)
