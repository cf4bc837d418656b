"""
The photutils 3.x vocabulary of a photometry run: input and output tables.

`PSFPhotometry` and `IterativePSFPhotometry` run psfkit's engine; this
module translates at their boundary:

- `read_init_params` reads an ``init_params`` table whatever the
  spelling of its columns (``x_init``, ``xcentroid``, ``x``...; the same
  priority as photutils), with photutils' checks and messages;
- `results_table` writes the fits as photutils 3.x lays them out
  (``id``, ``group_id``, ``group_size``, ``local_bkg``, ``<p>_init``,
  ``<p>_fit``, ``<p>_err``, ``n_pixels_fit``, ``qfit``, ``cfit``,
  ``reduced_chi2``, ``flags``) with photutils' flag bits
  (`~psfkit.photometry.PSF_FLAGS`);
- `table_meta` is the table's ``meta`` (versions, date, class settings);
- `fits_as` turns the fits back into initial values or model parameters,
  and `model_image` renders them.
"""

import datetime
import platform

from astropy.table import QTable, Table
import astropy.units as u
import numpy as np

from ...utils import COLUMN_ALIASES, as_pair
from ._fit_boxes import nearest_pixel
from ._group_fit import render
from ._init_guesses import column_values, labels
from ._interop import psf_param_names
from ._pipeline import bounding_box_extent
from .flags import PSF_FLAGS, PSFFlags

__all__ = []

#: how close (pixels) to an ``xy_bounds`` limit a centre is "near" it
NEAR_BOUND_TOL = 0.01


def _column(table, alias, extra=False):
    names = ((f"{alias}_init", alias, f"{alias}_fit") if extra
             else COLUMN_ALIASES[alias])
    for name in names:
        if name in table.colnames:
            return name
    return None


def _in_unit(table, colname, unit):
    """A column's values in the data unit, checked as photutils does."""
    values = table[colname]
    if isinstance(values, u.Quantity) or getattr(values, "unit", None):
        if unit is None:
            msg = (f"init_params {colname} column has units, but the input "
                   "data does not have units")
            raise ValueError(msg)
        try:
            values = u.Quantity(values).to_value(unit)
        except u.UnitConversionError as exc:
            msg = (f"init_params {colname} column has units that are "
                   "incompatible with the input data units")
            raise ValueError(msg) from exc
    elif unit is not None:
        msg = ("The input data has units, but the init_params "
               f"{colname} column does not have units.")
        raise ValueError(msg)
    return np.asarray(np.ma.filled(np.ma.asarray(values, dtype=float),
                                   np.nan), dtype=float)


def _plain(values):
    values = getattr(values, "value", values)
    return np.asarray(np.ma.filled(np.ma.asarray(values, dtype=float),
                                   np.nan), dtype=float)


def check_group_id(group_id):
    """Group ids must be finite positive integers (photutils' rule)."""
    group_id = np.asarray(group_id)
    if group_id.dtype.kind == "f" and not np.all(np.isfinite(group_id)):
        msg = "group_id must be finite"
        raise ValueError(msg)
    if group_id.dtype.kind not in "iu":
        msg = "group_id must be an integer array"
        raise TypeError(msg)
    if np.any(group_id <= 0):
        msg = "group_id must contain only positive (> 0) integers"
        raise ValueError(msg)
    return group_id.astype(np.int64)


def read_init_params(table, extra_names, *, unit):
    """
    Read an ``init_params`` table.

    Parameters
    ----------
    table : `~astropy.table.Table`
    extra_names : sequence of str
        The free model parameters other than position and flux; read
        from ``<p>_init``, ``<p>`` or ``<p>_fit``.
    unit : `~astropy.units.UnitBase` or None
        The data unit: ``flux`` and ``local_bkg`` columns must carry a
        compatible unit exactly when the data have one.

    Returns
    -------
    init : dict
        ``x``, ``y``, ``flux`` (or None), ``extra`` (dict), ``id``,
        ``group_id`` (or None) and ``local_bkg`` (or None), as arrays.
    """
    if not isinstance(table, Table):
        msg = "init_params must be an astropy Table"
        raise TypeError(msg)
    xname, yname = _column(table, "x"), _column(table, "y")
    if xname is None or yname is None:
        msg = ("init_params must contain valid column names for the x and y "
               f"source positions (e.g. x_init and y_init); got "
               f"{table.colnames}")
        raise ValueError(msg)
    n = len(table)
    # positions in pixels (or without unit); x and y columns in degrees
    # were taken as pixels
    x = column_values(table[xname], name=xname, table="init_params")
    y = column_values(table[yname], name=yname, table="init_params")
    fname = _column(table, "flux")
    extra = {}
    for pname in extra_names:
        col = _column(table, pname, extra=True)
        if col is not None:
            extra[pname] = _plain(table[col])
    ids = (labels(table, "id", "init_params") if "id" in table.colnames
           else np.arange(1, n + 1, dtype=np.int64))
    return {
        "x": x,
        "y": y,
        "flux": None if fname is None else _in_unit(table, fname, unit),
        "extra": extra,
        "id": ids,
        "group_id": (check_group_id(table["group_id"])
                     if "group_id" in table.colnames else None),
        "local_bkg": (_in_unit(table, "local_bkg", unit)
                      if "local_bkg" in table.colnames else None),
    }


def finder_positions(found):
    """The ``x``/``y`` columns of a finder's table (any spelling)."""
    xname, yname = _column(found, "x"), _column(found, "y")
    if xname is None or yname is None:
        msg = ("The table returned by the 'finder' must contain columns for "
               f"x and y coordinates (one of {COLUMN_ALIASES['x']} and the "
               f"matching y name); got {found.colnames}")
        raise ValueError(msg)
    return _plain(found[xname]), _plain(found[yname])


def photutils_flags(*, setup, image_shape, fit_shape, theta0, theta, engine,
                    npix, n_masked, local_bkg, xy_bounds):
    """
    The ``flags`` column with photutils 3.x's bit meanings.

    Parameters
    ----------
    setup : the engine's ``FitSetup``
    image_shape, fit_shape : tuple of 2 int
    theta0, theta : ndarray, shape (n, n_params)
        Initial and fitted parameters (NaN when not fitted).
    engine : ndarray of int
        psfkit's `~psfkit.photometry.PSFFlags` of each fit.
    npix, n_masked : ndarray of int
        Usable pixels of each fit box, and its pixels inside the image
        that are masked or not finite.
    local_bkg : ndarray
    xy_bounds : tuple or None
    """
    f = PSF_FLAGS
    n = len(theta)
    flags = np.zeros(n, dtype=np.int64)
    x, y = theta[:, setup.x_col], theta[:, setup.y_col]
    flux = theta[:, setup.flux_col]
    ny, nx = image_shape
    in_image = npix + n_masked
    fitted = np.all(np.isfinite(theta), axis=1)
    with np.errstate(invalid="ignore"):
        flags[npix < fit_shape[0] * fit_shape[1]] |= f["n_pixels_fit_partial"]
        flags[(x < -0.5) | (y < -0.5) | (x > nx - 0.5)
              | (y > ny - 0.5)] |= f["outside_bounds"]
        flags[flux <= 0] |= f["negative_flux"]
    flags[(engine & PSFFlags.NOT_CONVERGED) != 0] |= f["no_convergence"]
    flags[((engine & PSFFlags.NO_COVARIANCE) != 0) | ~fitted] |= f["no_covariance"]
    # a parameter that ended on a bound: the model's, or for the centre the
    # edge of its fit box
    flags[(engine & PSFFlags.AT_BOUND) != 0] |= f["near_bound"]
    if xy_bounds is not None:
        for col, bound in ((setup.x_col, xy_bounds[0]),
                           (setup.y_col, xy_bounds[1])):
            if bound is None:
                continue
            with np.errstate(invalid="ignore"):
                gap = np.abs(np.abs(theta[:, col] - theta0[:, col]) - bound)
                flags[gap <= NEAR_BOUND_TOL] |= f["near_bound"]
    flags[in_image == 0] |= f["no_overlap"]
    flags[(in_image > 0) & (npix == 0)] |= f["fully_masked"]
    flags[(npix > 0) & (npix < len(setup.free))] |= f["too_few_pixels"]
    flags[~(np.isfinite(x) & np.isfinite(y))] |= f["non_finite_position"]
    flags[~np.isfinite(flux)] |= f["non_finite_flux"]
    flags[~np.isfinite(local_bkg)] |= f["non_finite_localbkg"]
    return flags


def results_table(*, ids, group_id, local_bkg, setup, extras, theta0, theta,
                  unc, npix, qfit, cfit, chi2, has_error, flags, unit):
    """
    The photutils 3.x results table of one fit (rows in ``ids`` order).

    ``extras`` are the free model parameters other than position and
    flux; uncertainties of fixed parameters are NaN, as photutils writes
    them.
    """
    names = setup.param_names
    cols = {"x": setup.x_col, "y": setup.y_col, "flux": setup.flux_col}
    cols.update({p: names.index(p) for p in extras})
    free = set(np.asarray(setup.free).tolist())

    def with_unit(values, alias):
        values = np.asarray(values, dtype=float)
        return values * unit if unit is not None and alias == "flux" else values

    _, inverse, counts = np.unique(group_id, return_inverse=True,
                                   return_counts=True)
    table = QTable()
    table["id"] = np.asarray(ids, dtype=np.int64)
    table["group_id"] = np.asarray(group_id, dtype=np.int64)
    table["group_size"] = counts[inverse].astype(np.int64)
    table["local_bkg"] = (np.asarray(local_bkg, dtype=float) * unit
                          if unit is not None else
                          np.asarray(local_bkg, dtype=float))
    for alias, col in cols.items():
        table[f"{alias}_init"] = with_unit(theta0[:, col], alias)
    for alias, col in cols.items():
        table[f"{alias}_fit"] = with_unit(theta[:, col], alias)
    for alias, col in cols.items():
        err = unc[:, col] if col in free else np.full(len(theta), np.nan)
        table[f"{alias}_err"] = with_unit(err, alias)
    npix = np.asarray(npix, dtype=np.int64)
    table["n_pixels_fit"] = npix
    table["qfit"] = np.asarray(qfit, dtype=float)
    table["cfit"] = np.asarray(cfit, dtype=float)
    dof = npix - len(setup.free)
    with np.errstate(invalid="ignore", divide="ignore"):
        table["reduced_chi2"] = (np.where(dof > 0, chi2 / dof, np.nan)
                                 if has_error else np.full(len(npix), np.nan))
    table["flags"] = np.asarray(flags, dtype=np.int64)
    return table


def _versions():
    import astropy
    import scipy

    from ... import __version__

    return {"Python": platform.python_version(), "psfkit": __version__,
            "astropy": astropy.__version__, "numpy": np.__version__,
            "scipy": scipy.__version__}


def table_meta(obj, attrs, class_name):
    """
    The ``meta`` of a results table: versions, date, class and settings.

    Objects (model, finder, grouper, fitter, local background estimator)
    are stored as their ``repr``; numbers, tuples and `None` as they are.
    """
    meta = {"date": datetime.datetime.now(datetime.UTC).strftime(
                "%Y-%m-%d %H:%M:%S UTC"),
            "version": _versions(),
            "psf_class": class_name}
    for name in attrs:
        value = getattr(obj, name)
        plain = (value is None or isinstance(value, bool | int | float | str
                                             | tuple | np.ndarray))
        meta[name] = value if plain else repr(value)
    return meta


def fits_as(results, rename, remove_invalid, reset_ids):
    """
    The ``id`` and ``*_fit`` columns of ``results``, renamed by ``rename``
    (as photutils does, ``n_pixels_fit`` is among them).
    """
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


def render_shape(psf_model, fit_shape):
    """
    The box drawn around each source: the model's bounding box (its
    width rounded up, then to the next odd number), as photutils draws.
    """
    box = bounding_box_extent(psf_model)
    if box is None:
        msg = ("model_shape must be specified if the model does not have a "
               "bounding_box attribute: give psf_shape (sub_shape for "
               "IterativePSFPhotometry)")
        raise ValueError(msg)
    (ylo, yhi), (xlo, xhi) = box
    ny, nx = int(np.ceil(yhi - ylo)), int(np.ceil(xhi - xlo))
    return (ny + 1 - ny % 2, nx + 1 - nx % 2)


def model_image(psf_model, results, shape, psf_shape, fit_shape,
                include_local_bkg):
    """
    The image of the fitted sources of a results table.

    Parameters
    ----------
    psf_model : the PSF model (fixed parameters from its values)
    results : `~astropy.table.QTable`
        A photutils 3.x results table (``<p>_fit`` and ``local_bkg``).
    shape : tuple of 2 int
    psf_shape : int, tuple of 2 odd int or None
        The box around each source (`None`: `render_shape`).
    fit_shape : tuple of 2 int
    include_local_bkg : bool
        Add each source's ``local_bkg`` over its box.
    """
    shape = tuple(int(s) for s in shape)
    box = (render_shape(psf_model, fit_shape) if psf_shape is None
           else as_pair("psf_shape", psf_shape, check_odd=True))
    names = tuple(psf_model.param_names)
    xname, yname, fluxname = psf_param_names(psf_model)
    theta = np.tile([float(np.ravel(getattr(psf_model, p).value)[0])
                     for p in names], (len(results), 1))
    for name in results.colnames:
        if name.endswith("_fit"):
            alias = name[:-4]
            param = {"x": xname, "y": yname, "flux": fluxname}.get(alias,
                                                                   alias)
            if param in names:
                values = results[name]
                theta[:, names.index(param)] = getattr(values, "value", values)
    ok = np.all(np.isfinite(theta), axis=1)
    theta = theta[ok]
    x_col, y_col = names.index(xname), names.index(yname)
    image = render(psf_model, theta, shape, box, x_col=x_col, y_col=y_col)
    if include_local_bkg and len(theta):
        lb = results["local_bkg"][ok]
        lb = np.asarray(getattr(lb, "value", lb), dtype=float)
        lb = np.where(np.isfinite(lb), lb, 0.0)
        hy, hx = box[0] // 2, box[1] // 2
        dy, dx = np.mgrid[-hy:hy + 1, -hx:hx + 1]
        rows = nearest_pixel(theta[:, y_col])[:, None, None] + dy
        cols = nearest_pixel(theta[:, x_col])[:, None, None] + dx
        inside = ((rows >= 0) & (rows < shape[0]) & (cols >= 0)
                  & (cols < shape[1]))
        vals = np.broadcast_to(lb[:, None, None], rows.shape)
        np.add.at(image, (rows[inside], cols[inside]), vals[inside])
    return image


def valid_rows(table):
    """Rows whose fitted values are all finite."""
    cols = [c for c in table.colnames if c.endswith("_fit")]
    return np.all([np.isfinite(getattr(table[c], "value", table[c]))
                   for c in cols], axis=0)
