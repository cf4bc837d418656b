"""
`IterativePSFPhotometry`: photutils 3.x's iterative PSF photometry.

`~psfkit.photometry.PSFPhotometry` is run, the finder looks for new
sources in the residual image and the photometry is run again, in
photutils' two modes: ``'new'`` fits the new sources on the residual
image, ``'all'`` refits everything on the original image.
"""

import warnings

from astropy.nddata import NDData
from astropy.table import QTable, vstack
import astropy.units as u
import numpy as np

from ...utils import (
    Checked,
    NoDetectionsWarning,
    as_pair,
    pixel_to_sky,
    renamed_keyword,
)
from ._init_guesses import aperture_flux, model_profile
from ._interop import psf_param_names, run_finder
from ._photutils_columns import (
    finder_positions,
    fits_as,
    valid_rows,
)
from ._photutils_inputs import nddata_parts
from ._photutils_results import ResultImagesMixin
from .photutils_api import ATTRS, PSFPhotometry

__all__ = ["IterativePSFPhotometry"]


def _check_maxiters(name, value):
    if (not np.isscalar(value) or isinstance(value, bool)
            or not np.isfinite(value) or value <= 0):
        msg = f"{name} must be a strictly-positive scalar"
        raise ValueError(msg)
    if value != int(value):
        msg = f"{name} must be an integer"
        raise ValueError(msg)
    return int(value)


def _check_mode(name, value):
    if value not in ("new", "all"):
        msg = f"{name} must be 'new' or 'all', got {value!r}"
        raise ValueError(msg)
    return value


def _check_sub_shape(name, value):
    return None if value is None else as_pair(name, value, check_odd=True)


def _setting(name):
    """A `PSFPhotometry` setting, read and set on the photometry of passes."""

    def fget(self):
        return getattr(self._psfphot, name)

    def fset(self, value):
        setattr(self._psfphot, name, value)

    return property(fget, fset, doc=f"The ``{name}`` of the photometry.")


class IterativePSFPhotometry(ResultImagesMixin):
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
        The radius of the aperture giving the initial fluxes (required),
        corrected for masked pixels as in `PSFPhotometry`.
    local_bkg_estimator, group_warning_threshold
        As for `PSFPhotometry`.
    sub_shape : int or tuple of 2 int, optional
        The box over which fitted sources are subtracted to make the
        residual image; default: the model's bounding box.
    progress_bar, executor : optional
        As for `PSFPhotometry` (``executor`` is a psfkit addition).
    localbkg_estimator : optional
        Deprecated name of ``local_bkg_estimator``.

    Attributes
    ----------
    results : `~astropy.table.QTable` or None
        The table of the last call; it has an ``iter_detected`` column
        (the pass that found each source).
    fit_results : list of `PSFPhotometry`
        The photometry of each pass, as that pass left it: its own
        ``results`` (ids from 1, without ``iter_detected``),
        ``init_params`` and ``finder_results`` (for later passes, the
        finder's table of the residual image).

    Notes
    -----
    A warning given by several passes is given once.

    Examples
    --------
    A faint star next to a bright one is found in the residual image of
    the first pass; mode ``'all'`` then fits both together:

    >>> import numpy as np
    >>> from psfkit.photometry import (CircularGaussianPRF, DAOStarFinder,
    ...                                IterativePSFPhotometry, SourceGrouper)
    >>> psf = CircularGaussianPRF(fwhm=3.0)
    >>> yy, xx = np.mgrid[0:41, 0:41]
    >>> data = (psf.evaluate(xx, yy, 5000.0, 18.0, 20.0, 3.0)
    ...         + psf.evaluate(xx, yy, 500.0, 22.0, 21.0, 3.0))
    >>> phot = IterativePSFPhotometry(psf, (7, 7), DAOStarFinder(5.0, 3.0),
    ...                               mode='all', grouper=SourceGrouper(8),
    ...                               aperture_radius=4)
    >>> tbl = phot(data)
    >>> tbl['iter_detected'].tolist()
    [1, 2]
    >>> print(np.round(tbl['flux_fit'], 1))
    [5000.  500.]
    """

    maxiters = Checked(_check_maxiters)
    mode = Checked(_check_mode)
    sub_shape = Checked(_check_sub_shape)

    @renamed_keyword(localbkg_estimator="local_bkg_estimator")
    def __init__(self, psf_model, fit_shape, finder, *, grouper=None,
                 fitter=None, fitter_maxiters=100, xy_bounds=None,
                 maxiters=3, mode="new", aperture_radius=None,
                 local_bkg_estimator=None, group_warning_threshold=25,
                 sub_shape=None, progress_bar=False, executor=None):
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
            progress_bar=progress_bar, executor=executor)
        self.maxiters = maxiters
        self.mode = mode
        if self.mode == "all" and grouper is None:
            msg = "grouper must be input for the 'all' mode"
            raise ValueError(msg)
        self.sub_shape = sub_shape
        self.fit_results = []
        self.results = None

    def __repr__(self):
        names = (*ATTRS, "maxiters", "mode", "sub_shape")
        items = ", ".join(f"{n}={getattr(self, n)!r}" for n in names)
        return f"{type(self).__name__}({items})"

    def _snapshot(self, finder_results=None):
        """
        Keep the photometry of the pass just run in `fit_results`.

        The copy holds its own tables, so later passes (which edit the
        running table) leave it as the pass made it; ``finder_results``
        is the finder's table of a later pass (the first pass's own run of
        the finder is already in the photometry).
        """
        phot = self._psfphot
        copy = PSFPhotometry.__new__(PSFPhotometry)
        copy.__dict__.update(phot.__dict__)
        for name in ("results", "init_params", "finder_results"):
            table = getattr(phot, name)
            setattr(copy, name, None if table is None else table.copy())
        if finder_results is not None:
            copy.finder_results = finder_results
        copy.fit_info = list(phot.fit_info)
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
        # each pass may give the same warning: it is told once (also when
        # a pass fails)
        caught = []
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                table = self._run(data, mask, error, init_params)
        finally:
            told = set()
            for w in caught:
                key = (w.category, str(w.message))
                if key not in told:
                    told.add(key)
                    warnings.warn_explicit(w.message, w.category, w.filename,
                                           w.lineno)
        self.results = table
        return table

    def _run(self, data, mask, error, init_params):
        """The passes of a call: the table, or None."""
        wcs = None
        if isinstance(data, NDData):
            data, mask, error, wcs = nddata_parts(data, mask, error)
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
                # the finder sees the residual's non-finite pixels masked
                bad = ~np.isfinite(np.asarray(getattr(residual, "value",
                                                      residual)))
                found = run_finder(phot.finder, residual,
                                   bad if mask is None
                                   else bad | np.asarray(mask, bool))
            if found is None:
                break
            x, y = finder_positions(found)
            new = QTable({"x_init": x, "y_init": y})
            if self.mode == "all":
                keep_iter = table["iter_detected"][
                    valid_rows(table)]
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
            self._snapshot(finder_results=found)
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
            table["sky_centroid"] = pixel_to_sky(wcs, table["x_fit"],
                                                 table["y_fit"])
        return table

    def _next_all(self, residual, mask, new, phot):
        """The previous fits plus the new sources, for an 'all' pass."""
        old = phot.results_to_init_params()
        model = phot.psf_model
        params = {"x", "y", "flux", *(p for p in model.param_names
                                      if not model.fixed[p])}
        old = old[[c for c in old.colnames
                   if c == "id" or c.removesuffix("_init") in params]]
        values = residual.value if isinstance(residual, u.Quantity) else residual
        valid = np.isfinite(values)
        if mask is not None:
            valid &= ~np.asarray(mask, dtype=bool)
        x = np.asarray(new["x_init"], float)
        y = np.asarray(new["y_init"], float)
        # the new sources start from the model's values (as below): their
        # profile corrects the sums for masked pixels
        _, setup = phot._engine()
        flux = aperture_flux(np.where(valid, values, 0.0), valid, x, y,
                             float(phot.aperture_radius),
                             profile=model_profile(setup, model, x, y))
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
        return fits_as(self.results, lambda c: c.replace("_fit", "_init"),
                        remove_invalid, reset_ids)

    def results_to_model_params(self, *, remove_invalid=True, reset_ids=True):
        """As `PSFPhotometry.results_to_model_params`, for all passes."""
        xname, yname, fluxname = psf_param_names(self._psfphot.psf_model)
        names = {"x_fit": xname, "y_fit": yname, "flux_fit": fluxname}
        return fits_as(self.results,
                        lambda c: names.get(c, c.replace("_fit", "")),
                        remove_invalid, reset_ids)

    def _model_setup(self):
        phot = self._psfphot
        return phot.psf_model, phot.fit_shape, phot.data_unit


for _name in (*ATTRS, "executor"):
    setattr(IterativePSFPhotometry, _name, _setting(_name))
del _name
