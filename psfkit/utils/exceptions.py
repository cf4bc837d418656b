"""
Warning and error classes shared by every psfkit subpackage, and `warn`,
which points each warning at the user's own line.
"""

import os
import sys
import warnings

from astropy.utils.exceptions import AstropyDeprecationWarning, AstropyUserWarning

__all__ = [
    "PsfkitWarning",
    "PsfkitDeprecationWarning",
    "NoDetectionsWarning",
    "NonFiniteValueWarning",
    "PsfkitError",
    "InputDataError",
    "warn",
]

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class PsfkitWarning(AstropyUserWarning):
    """Base class for every warning psfkit emits."""


class PsfkitDeprecationWarning(AstropyDeprecationWarning):
    """A psfkit name or keyword that still works but will be removed."""


class NoDetectionsWarning(PsfkitWarning):
    """A finder or photometry step found no sources."""


class NonFiniteValueWarning(PsfkitWarning):
    """Non-finite input values (NaN or inf) were masked."""


class PsfkitError(Exception):
    """Base class for psfkit's domain errors (catch this for all of them)."""


class InputDataError(PsfkitError, ValueError):
    """Input data cannot be used: empty, all masked, or inconsistent."""


def _stack_level():
    """
    The ``stacklevel`` that names the first frame outside psfkit.

    A warning raised deep inside an engine is then reported at the user's
    line (their script, notebook cell or test), not at psfkit's.
    """
    frame = sys._getframe(2)  # the caller of `warn`
    level = 2
    while frame is not None:
        filename = os.path.abspath(frame.f_code.co_filename)
        if not filename.startswith(_PACKAGE_DIR + os.sep):
            break
        frame = frame.f_back
        level += 1
    return level


def warn(message, category=PsfkitWarning):
    """
    Issue a warning attributed to the user's code.

    Every warning psfkit raises goes through here, so that Python reports
    the line of the user's script that called psfkit (however deep inside
    psfkit the condition was found).

    Parameters
    ----------
    message : str
        What happened and, where it helps, what to do about it.
    category : type, optional
        A `PsfkitWarning` subclass (or another `Warning` class).

    Examples
    --------
    >>> import warnings
    >>> from psfkit.utils import NoDetectionsWarning, warn
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warn("no sources were found", NoDetectionsWarning)
    >>> caught[0].category.__name__, str(caught[0].message)
    ('NoDetectionsWarning', 'no sources were found')
    """
    warnings.warn(message, category, stacklevel=_stack_level())
