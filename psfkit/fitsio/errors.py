"""The error raised for a FITS file or output path that cannot be used."""

from ..utils.exceptions import PsfkitError

__all__ = ["FitsInputError"]


class FitsInputError(PsfkitError, ValueError):
    """A FITS file (or an output path) cannot be used as asked."""


# shown (and pickled) under the name users import it by
FitsInputError.__module__ = "psfkit.fitsio"
