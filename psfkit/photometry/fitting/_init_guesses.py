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
from ._batch_fitter import evaluate_sources
from ._fit_boxes import gather, make_boxes

__all__ = []


def _find(table, aliases):
    for name in aliases:
        if name in table.colnames:
            return name
    return None


def column_values(col, *, name, unit=None, flux=False, table="init_guesses"):
    """
    A column's values as floats (masked: NaN).  Positions may be in
    pixels or without unit; a flux is converted to the image's ``unit``,
    and may have none when the image has none.
    """
    if isinstance(col, u.Quantity) or getattr(col, "unit", None) is not None:
        q = u.Quantity(col)
        plain = q.unit in (u.dimensionless_unscaled, u.pix)
        if unit is not None and flux and q.unit != u.dimensionless_unscaled:
            try:
                return np.asarray(q.to_value(unit), dtype=float)
            except u.UnitConversionError:
                msg = f"{table} column {name!r} has unit {q.unit}, not {unit}"
                raise u.UnitsError(msg) from None
        if not plain:
            what = ("the image has none" if flux
                    else "positions and shape parameters are in pixels")
            msg = (f"{table} column {name!r} has unit {q.unit}, but "
                   f"{what}")
            raise u.UnitsError(msg)
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
    x = column_values(table[xname], name=xname)
    y = column_values(table[yname], name=yname)
    bad = ~(np.isfinite(x) & np.isfinite(y))
    if bad.any():
        rows = np.flatnonzero(bad)[:10].tolist()
        msg = f"{name} has non-finite positions in rows {rows}"
        raise ValueError(msg)
    flux = None
    fname = None if from_finder else find_column(table, "flux", required=False)
    if fname is not None:
        flux = column_values(table[fname], name=fname, unit=unit, flux=True)
    extra = {}
    for pname in extra_names:
        col = _find(table, (f"{pname}_init", f"{pname}_0"))
        if col is not None:
            extra[pname] = column_values(table[col], name=col)
    if "id" in table.colnames and not from_finder:
        ids = labels(table, "id", name)
        if len(np.unique(ids)) != len(ids):
            msg = f"{name} column 'id' must hold unique integers"
            raise ValueError(msg)
    else:
        ids = np.arange(1, len(table) + 1, dtype=np.int64)
    group_id = None
    if "group_id" in table.colnames and not from_finder:
        group_id = labels(table, "group_id", name)
    return {"x": x, "y": y, "flux": flux, "extra": extra, "id": ids,
            "group_id": group_id}


def aperture_flux(data, valid, x, y, radius, *, profile=None):
    """
    Sum of the data in circular apertures, corrected for masked pixels.

    Pixel weights fall linearly from 1 to 0 across the aperture edge
    (``radius - 0.5`` to ``radius + 0.5`` from the pixel centre), a close
    approximation to the exact overlap area.  Where some aperture pixels
    are masked (or outside the image), the sum over the usable ones is
    divided by the fraction of the source's light expected on them: the
    fraction of the aperture sum of ``profile`` (the PSF model) that they
    hold.  Without ``profile``, or where the profile gives no usable
    fraction (not positive on the usable pixels), the fraction of the
    aperture's area they cover is used instead.

    Parameters
    ----------
    data : ndarray, 2-D
    valid : ndarray of bool, 2-D
        True for usable pixels.
    x, y : ndarray, shape (n,)
    radius : float
    profile : callable, optional
        ``profile(rows, px, py)``: the PSF (of any flux) of the sources
        ``rows`` (indices into ``x`` and ``y``) at the pixel coordinates
        ``px`` and ``py``, arrays of shape ``(len(rows), npix)``; returns
        the ``(len(rows), npix)`` values (see `model_profile`).

    Returns
    -------
    flux : ndarray, shape (n,)
        NaN when no usable pixel lies in the aperture.

    Notes
    -----
    Scaling by the area over-estimates the flux when the masked pixels lie
    in the faint wings of the star and under-estimates it when they cover
    its core; a noise-free star of the model's shape gets the aperture sum
    it would have without masked pixels.
    """
    half = int(np.ceil(radius + 0.5))
    boxes = make_boxes(x, y, (2 * half + 1, 2 * half + 1), data.shape)
    vals = gather(data.ravel(), boxes.flat)
    ok = gather(valid.ravel(), boxes.flat, False)
    # squared distances as the outer sum of the row and column terms (a
    # source absurdly far off the image is at an infinite distance)
    with np.errstate(over="ignore"):
        dx2 = (boxes.cols - x[:, None]) ** 2
        dy2 = (boxes.rows - y[:, None]) ** 2
    dist = np.sqrt(dy2[:, :, None] + dx2[:, None, :]).reshape(len(x),
                                                              vals.shape[1])
    w = np.clip(radius + 0.5 - dist, 0.0, 1.0)
    total = w.sum(axis=1)
    used = np.where(ok, w, 0.0)
    used_sum = used.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        # the fraction of the aperture covered by usable pixels...
        fraction = used_sum / total
        partial = np.flatnonzero(used_sum < total)
        if profile is not None and partial.size:
            # ... or, better, of the source's light that falls on them
            psf = np.asarray(profile(partial, boxes.x[partial],
                                     boxes.y[partial]), dtype=float)
            psf = np.where(np.isfinite(psf), psf, 0.0)
            whole = np.sum(w[partial] * psf, axis=1)
            seen = np.sum(used[partial] * psf, axis=1) / whole
            good = np.isfinite(seen) & (seen > 0) & (whole > 0)
            fraction[partial[good]] = seen[good]
        flux = np.sum(used * np.where(ok, vals, 0.0), axis=1) / fraction
    flux[used_sum <= 0] = np.nan
    return flux


def labels(table, column, name):
    """
    The integer labels of ``table[column]`` (``id``, ``group_id``): no
    masked entry, no value that is not a finite integer (a NaN was cast to
    the smallest int64).
    """
    values = table[column]
    if np.any(np.ma.getmaskarray(values)):
        msg = f"{name} column {column!r} has masked values"
        raise ValueError(msg)
    values = np.asarray(values)
    with np.errstate(invalid="ignore"):
        whole = values.dtype.kind in "iu" or (
            values.dtype.kind == "f" and np.all(np.isfinite(values))
            and np.all(values == np.round(values))
            and np.all(np.abs(values) < 2.0 ** 62))
    if not whole:
        msg = f"{name} column {column!r} must hold integers"
        raise ValueError(msg)
    return values.astype(np.int64)


def _start(setup, psf_model, x, y, extra):
    """
    Parameters ``(n, n_params)``: positions, ``extra``, model values (an
    ``extra`` value that is masked or not finite takes the model's, as a
    missing flux takes the aperture's).
    """
    theta = np.empty((len(x), len(setup.param_names)))
    for col, name in enumerate(setup.param_names):
        theta[:, col] = float(np.ravel(getattr(psf_model, name).value)[0])
    theta[:, setup.x_col] = x
    theta[:, setup.y_col] = y
    for name, values in extra.items():
        col = setup.param_names.index(name)
        values = np.asarray(values, dtype=float)
        theta[:, col] = np.where(np.isfinite(values), values, theta[:, col])
    return theta


def model_profile(setup, psf_model, x, y, extra=None):
    """
    The ``profile`` of `aperture_flux` for sources of ``setup``'s model.

    Parameters
    ----------
    setup : `~psfkit.photometry.fitting._group_fit.FitSetup`
        What is fitted (the model and its parameter columns).
    psf_model : astropy model
        The model whose parameter values fill the columns not given.
    x, y : ndarray, shape (n,)
        The source positions.
    extra : dict, optional
        Values of other parameters (arrays of shape ``(n,)``).

    Returns
    -------
    profile : callable
        ``profile(rows, px, py)``: the PSF of unit flux of the sources
        ``rows`` at the pixels ``(px, py)``, as `aperture_flux` takes it.
    """
    theta = _start(setup, psf_model, x, y, extra or {})
    theta[:, setup.flux_col] = 1.0

    def profile(rows, px, py):
        return evaluate_sources(setup.model, px, py, theta[rows],
                                jacobian=False)

    return profile


def initial_parameters(setup, psf_model, guesses, image, valid, radius):
    """
    The starting parameters of every source, ``(n, n_params)``.

    Positions, fluxes and extra parameters come from ``guesses`` (see
    `read_init_table`), the other parameters from the model's values;
    fluxes the table does not give are measured in apertures of radius
    ``radius()`` on ``image`` (corrected for masked pixels with the
    model's profile, see `aperture_flux`).
    """
    theta = _start(setup, psf_model, guesses["x"], guesses["y"],
                   guesses["extra"])
    flux = guesses["flux"]
    if flux is None:
        flux = np.full(len(theta), np.nan)
    need = ~np.isfinite(flux)
    if need.any():
        flux = flux.copy()
        # the model's light on the usable aperture pixels corrects the sum
        profile = model_profile(setup, psf_model, guesses["x"][need],
                                guesses["y"][need],
                                {k: v[need] for k, v in
                                 guesses["extra"].items()})
        flux[need] = aperture_flux(image, valid, guesses["x"][need],
                                   guesses["y"][need], radius(),
                                   profile=profile)
    theta[:, setup.flux_col] = flux
    return theta
