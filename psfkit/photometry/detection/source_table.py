"""
The source tables of the finders: photutils 3.x column names, the 0.x
names still readable, and display formats that fit a terminal.
"""

from astropy.table import QTable
import astropy.units as u
import numpy as np

from ...utils import NoDetectionsWarning, PsfkitDeprecationWarning, pixel_to_sky, warn

__all__ = ["SourceTable"]

#: former column names (photutils < 3 and psfkit 0.1) -> current names
COLUMN_ALIASES = {
    "xcentroid": "x_centroid",
    "ycentroid": "y_centroid",
    "npix": "n_pixels",
    "pa": "orientation",
}

#: display formats; the values themselves keep full precision
_FORMATS = {
    "x_centroid": ".4f", "y_centroid": ".4f", "sharpness": ".4f",
    "roundness": ".4f", "roundness1": ".4f", "roundness2": ".4f",
    "fwhm": ".4f", "orientation": ".3f", "peak": ".6g", "flux": ".6g",
    "mag": ".4f", "daofind_mag": ".4f", "peak_value": ".6g",
    "x_peak": "d", "y_peak": "d",
}


class AliasedTable(QTable):
    """
    A `~astropy.table.QTable` in which former column names can be read.

    ``aliases`` maps former names to current ones; the former names are
    not listed in ``colnames``.  With ``deprecated`` set, reading a former
    name gives a `~psfkit.utils.PsfkitDeprecationWarning`.
    """

    aliases = {}
    deprecated = False

    def _alias(self, item):
        if not isinstance(item, str) or item in self.colnames:
            return item
        new = self.aliases.get(item)
        if new not in self.colnames:
            return item
        if self.deprecated:
            warn(f"the column name {item!r} is deprecated; use {new!r} "
                 "instead", PsfkitDeprecationWarning)
        return new

    def __getitem__(self, item):
        return super().__getitem__(self._alias(item))

    def __setitem__(self, item, value):
        super().__setitem__(self._alias(item), value)


class SourceTable(AliasedTable):
    """
    A `~astropy.table.QTable` of detected sources.

    It behaves exactly like a `~astropy.table.QTable`; in addition the
    column names used before photutils 3.0 (and by psfkit 0.1) can be
    read: ``table['xcentroid']`` is ``table['x_centroid']``, and likewise
    ``ycentroid``, ``npix`` (``n_pixels``) and ``pa`` (``orientation``).
    Those names are not listed in ``colnames``.

    Examples
    --------
    >>> from psfkit.photometry.detection import SourceTable
    >>> t = SourceTable({'x_centroid': [1.5, 2.25]})
    >>> t['xcentroid'].tolist()
    [1.5, 2.25]
    """

    aliases = COLUMN_ALIASES


def build_table(schema, values, unit, meta=None):
    """
    A `SourceTable` with the columns of ``schema``.

    Parameters
    ----------
    schema : sequence of (name, dtype, kind)
        ``kind`` is ``'data'`` for columns in the data unit, ``'deg'`` for
        angles, ``None`` otherwise.
    values : dict of array-like
        The column values.
    unit : `~astropy.units.UnitBase` or None
        The data unit.
    meta : dict, optional
        Table metadata.
    """
    table = SourceTable(meta=meta)
    for name, dtype, kind in schema:
        col = np.asarray(values[name], dtype=dtype)
        if kind == "data" and unit is not None:
            col = u.Quantity(col, unit)
        elif kind == "deg":
            col = u.Quantity(col, u.deg)
        table[name] = col
        if name in _FORMATS:
            table[name].info.format = _FORMATS[name]
    return table


def empty_table(schema, unit, reason, meta=None):
    """A zero-row table with every column, after a `NoDetectionsWarning`."""
    warn(f"No sources were found: {reason}", NoDetectionsWarning)
    values = {name: np.zeros(0, dtype=dtype) for name, dtype, _ in schema}
    return build_table(schema, values, unit, meta)


def add_sky_column(table, wcs, after, xname, yname, skyname):
    """Insert the sky positions of a celestial WCS after column ``after``."""
    from astropy.coordinates import SkyCoord

    if (wcs is None or len(table) == 0
            or not getattr(wcs, "has_celestial", True)):
        return table
    sky = pixel_to_sky(wcs, table[xname], table[yname])
    if isinstance(sky, SkyCoord):
        table.add_column(sky, name=skyname,
                         index=table.colnames.index(after) + 1)
    return table
