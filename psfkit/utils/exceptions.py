"""Warning and error classes shared by every psfkit subpackage."""

from astropy.utils.exceptions import AstropyUserWarning

__all__ = [
    "PsfkitWarning",
    "NoDetectionsWarning",
    "NonFiniteValueWarning",
    "PsfkitError",
    "InputDataError",
]


class PsfkitWarning(AstropyUserWarning):
    """Base class for every warning psfkit emits."""


class NoDetectionsWarning(PsfkitWarning):
    """A finder or photometry step found no sources."""


class NonFiniteValueWarning(PsfkitWarning):
    """Non-finite input values (NaN or inf) were masked."""


class PsfkitError(Exception):
    """Base class for psfkit's domain errors (catch this for all of them)."""


class InputDataError(PsfkitError, ValueError):
    """Input data cannot be used: empty, all masked, or inconsistent."""
