"""
Reading positions and fluxes from tables whatever the columns are called.

Catalogues reach psfkit from users (``x``, ``x_0``, ``x_init``...), from
star finders (``xcentroid``, ``x_centroid``) and from earlier fits
(``x_fit``).  Every psfkit function that reads positions or fluxes from a
table goes through `find_column`, with one list of accepted names in one
order of priority, so a table holding several of them is read the same
way everywhere.  The order follows photutils 3.x: an explicit initial value
first, then plain and centroid names, then a previous fit.
"""

__all__ = ["COLUMN_ALIASES", "find_column", "find_xy_columns"]

#: accepted column names per quantity, in order of priority
COLUMN_ALIASES = {
    "x": ("x_init", "xinit", "x", "x_0", "x0", "xcentroid", "x_centroid",
          "x_peak", "xcen", "x_cen", "xpos", "x_pos", "x_fit", "xfit"),
    "y": ("y_init", "yinit", "y", "y_0", "y0", "ycentroid", "y_centroid",
          "y_peak", "ycen", "y_cen", "ypos", "y_pos", "y_fit", "yfit"),
    "flux": ("flux_init", "fluxinit", "flux", "flux_0", "flux0", "flux_fit",
             "fluxfit", "source_sum", "segment_flux", "kron_flux"),
}


def find_column(table, quantity, *, name="table", required=True):
    """
    The name of the column of ``table`` that holds ``quantity``.

    Parameters
    ----------
    table : `~astropy.table.Table` or mapping
        Anything with ``colnames`` (or keys).
    quantity : {'x', 'y', 'flux'}
        What to look for (see ``COLUMN_ALIASES``).
    name : str, optional
        The argument's name, for the error message.
    required : bool, optional
        Raise when no column is found (else return `None`).

    Returns
    -------
    column : str or None

    Raises
    ------
    ValueError
        When ``required`` and none of the accepted names is present.

    Examples
    --------
    >>> from astropy.table import Table
    >>> from psfkit.utils import find_column
    >>> find_column(Table({"x_0": [1.0], "x": [2.0]}), "x")
    'x'
    """
    names = getattr(table, "colnames", None)
    if names is None:
        names = list(table.keys())
    for alias in COLUMN_ALIASES[quantity]:
        if alias in names:
            return alias
    if required:
        accepted = ", ".join(COLUMN_ALIASES[quantity])
        msg = f"{name} has no {quantity} column; accepted names are {accepted}"
        raise ValueError(msg)
    return None


def find_xy_columns(table, *, name="table"):
    """The ``(x, y)`` column names of ``table`` (see `find_column`)."""
    return (find_column(table, "x", name=name),
            find_column(table, "y", name=name))
