"""
Initial guesses: column aliases, validation, and aperture fluxes.

Tables of initial positions come from users (``x_0``, ``x``, ``x_init``...)
and from star finders (``xcentroid``...).  `read_init_table` finds the
columns whatever their spelling, through the one resolver of the package
(`psfkit.utils.find_column`), and returns plain arrays; `aperture_flux`
supplies the initial fluxes that the table does not give.
"""

from astropy.table import Table
import astropy.units as u
import numpy as np

from ...utils import COLUMN_ALIASES, find_column
from ._fit_boxes import gather, make_boxes

__all__ = []


def _find(table, aliases):
    for name in aliases:
        if name in table.colnames:
            return name
    return None


def _values(col, *, name, unit=None):
    if isinstance(col, u.Quantity) or getattr(col, "unit", None) is not None:
        q = u.Quantity(col)
        if unit is not None and q.unit not in (u.dimensionless_unscaled,):
            try:
                return np.asarray(q.to_value(unit), dtype=float)
            except u.UnitConversionError:
                msg = f"init_guesses column {name!r} has unit {q.unit}, not {unit}"
                raise u.UnitsError(msg) from None
        values = q.value
    else:
        values = col
    values = np.ma.filled(np.ma.asarray(values, dtype=float), np.nan)
    return np.asarray(values, dtype=float)


def read_init_table(table, extra_names, *, from_finder=False, unit=None,
                    name="init_guesses"):
    """
    Read positions, fluxes, extra parameters, ids and groups from a table.

    Parameters
    ----------
    table : `~astropy.table.Table`
        The initial guesses.
    extra_names : sequence of str
        Names of the model parameters other than position and flux; their
        values are read from ``<name>_init`` or ``<name>_0`` columns (in
        that order, as positions).
    from_finder : bool
        The table comes from a star finder: its ``flux`` is not a total
        flux and its ``id`` and group columns are not used.
    unit : `~astropy.units.UnitBase` or None
        The unit of the image (fluxes are converted to it).
    name : str
        The argument name used in error messages.

    Returns
    -------
    guesses : dict
        ``x``, ``y`` (float arrays), ``flux`` (array or None), ``extra``
        (dict of arrays for the columns present), ``id`` (int array) and
        ``group_id`` (int array or None).
    """
    if not isinstance(table, Table):
        try:
            table = Table(table)
        except (TypeError, ValueError) as exc:
            msg = f"{name} must be an astropy Table, got {type(table).__name__}"
            raise TypeError(msg) from exc
    xname = find_column(table, "x", required=False)
    yname = find_column(table, "y", required=False)
    if xname is None or yname is None:
        msg = (f"{name} must have x and y position columns (one of "
               f"{', '.join(COLUMN_ALIASES['x'])} and the matching y name); "
               f"got {table.colnames}")
        raise ValueError(msg)
    x = _values(table[xname], name=xname)
    y = _values(table[yname], name=yname)
    bad = ~(np.isfinite(x) & np.isfinite(y))
    if bad.any():
        rows = np.flatnonzero(bad)[:10].tolist()
        msg = f"{name} has non-finite positions in rows {rows}"
        raise ValueError(msg)
    flux = None
    fname = None if from_finder else find_column(table, "flux", required=False)
    if fname is not None:
        flux = _values(table[fname], name=fname, unit=unit)
    extra = {}
    for pname in extra_names:
        col = _find(table, (f"{pname}_init", f"{pname}_0"))
        if col is not None:
            extra[pname] = _values(table[col], name=col)
    if "id" in table.colnames and not from_finder:
        ids = np.asarray(table["id"])
        if ids.dtype.kind not in "iu" or len(np.unique(ids)) != len(ids):
            msg = f"{name} column 'id' must hold unique integers"
            raise ValueError(msg)
        ids = ids.astype(np.int64)
    else:
        ids = np.arange(1, len(table) + 1, dtype=np.int64)
    group_id = None
    if "group_id" in table.colnames and not from_finder:
        group_id = np.asarray(table["group_id"]).astype(np.int64)
    return {"x": x, "y": y, "flux": flux, "extra": extra, "id": ids,
            "group_id": group_id}


def aperture_flux(data, valid, x, y, radius):
    """
    Sum of the data in circular apertures, corrected for masked pixels.

    Pixel weights fall linearly from 1 to 0 across the aperture edge
    (``radius - 0.5`` to ``radius + 0.5`` from the pixel centre), a close
    approximation to the exact overlap area.  Masked pixels are replaced
    by the mean of the usable ones.

    Parameters
    ----------
    data : ndarray, 2-D
    valid : ndarray of bool, 2-D
        True for usable pixels.
    x, y : ndarray, shape (n,)
    radius : float

    Returns
    -------
    flux : ndarray, shape (n,)
        NaN when no usable pixel lies in the aperture.
    """
    half = int(np.ceil(radius + 0.5))
    boxes = make_boxes(x, y, (2 * half + 1, 2 * half + 1), data.shape)
    vals = gather(data.ravel(), boxes.flat)
    ok = gather(valid.ravel(), boxes.flat, False)
    # squared distances as the outer sum of the row and column terms
    dx2 = (boxes.cols - x[:, None]) ** 2
    dy2 = (boxes.rows - y[:, None]) ** 2
    dist = np.sqrt(dy2[:, :, None] + dx2[:, None, :]).reshape(len(x),
                                                              vals.shape[1])
    w = np.clip(radius + 0.5 - dist, 0.0, 1.0)
    total = w.sum(axis=1)
    used = np.where(ok, w, 0.0)
    used_sum = used.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        flux = np.sum(used * np.where(ok, vals, 0.0), axis=1) * total / used_sum
    flux[used_sum <= 0] = np.nan
    return flux


def initial_parameters(setup, psf_model, guesses, image, valid, radius):
    """
    The starting parameters of every source, ``(n, n_params)``.

    Positions, fluxes and extra parameters come from ``guesses`` (see
    `read_init_table`), the other parameters from the model's values;
    fluxes the table does not give are measured in apertures of radius
    ``radius()`` on ``image``.
    """
    n = len(guesses["x"])
    theta = np.empty((n, len(setup.param_names)))
    for col, name in enumerate(setup.param_names):
        theta[:, col] = float(np.ravel(getattr(psf_model, name).value)[0])
    theta[:, setup.x_col] = guesses["x"]
    theta[:, setup.y_col] = guesses["y"]
    for name, values in guesses["extra"].items():
        theta[:, setup.param_names.index(name)] = values
    flux = guesses["flux"]
    if flux is None:
        flux = np.full(n, np.nan)
    need = ~np.isfinite(flux)
    if need.any():
        flux = flux.copy()
        flux[need] = aperture_flux(image, valid, guesses["x"][need],
                                   guesses["y"][need], radius())
    theta[:, setup.flux_col] = flux
    return theta
