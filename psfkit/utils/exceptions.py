"""
Warning and error classes shared by every psfkit subpackage, and `warn`,
which points each warning at the user's own line.

Work done on an executor's threads or processes has no user line of its
own: `call_collecting_warnings` runs it with `warn` collecting the warnings
instead of issuing them, and the calling thread issues them with
`issue_warnings`, at the line of the user's call (``psfkit.utils.run_tasks``
does both).
"""

import os
import sys
import threading
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
    "call_collecting_warnings",
    "issue_warnings",
]

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# per thread: the list collecting the warnings of `call_collecting_warnings`
_COLLECTING = threading.local()


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
    psfkit the condition was found).  Inside `call_collecting_warnings`
    (work on an executor) the warning is collected instead, to be issued
    by the calling thread.

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
    notes = getattr(_COLLECTING, "notes", None)
    if notes is not None:
        notes.append((category, str(message)))
        return
    warnings.warn(message, category, stacklevel=_stack_level())


def call_collecting_warnings(func, *args, **kwargs):
    """
    Call ``func``, collecting the warnings it issues through `warn`.

    Meant for work run on an executor's thread or process, where a warning
    would name the executor's code (or, on another process, be lost).
    Only this thread collects; calls may nest.

    Returns
    -------
    result : object
        ``func(*args, **kwargs)``.
    notes : list of tuple
        ``(category, message)`` of each warning, in order, for
        `issue_warnings` (they pickle, so they can come back from another
        process).

    Examples
    --------
    >>> from psfkit.utils import call_collecting_warnings, warn
    >>> call_collecting_warnings(warn, "no sources were found")
    (None, [(<class 'psfkit.utils.exceptions.PsfkitWarning'>, 'no sources were found')])
    """
    outer = getattr(_COLLECTING, "notes", None)
    _COLLECTING.notes = notes = []
    try:
        result = func(*args, **kwargs)
    finally:
        _COLLECTING.notes = outer
    return result, notes


def issue_warnings(notes):
    """
    Issue warnings collected by `call_collecting_warnings`, with `warn`.

    Parameters
    ----------
    notes : iterable of tuple
        ``(category, message)`` pairs.

    Examples
    --------
    >>> import warnings
    >>> from psfkit.utils import call_collecting_warnings, issue_warnings, warn
    >>> _, notes = call_collecting_warnings(warn, "no sources were found")
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     issue_warnings(notes)
    >>> [str(w.message) for w in caught]
    ['no sources were found']
    """
    for category, message in notes:
        warn(message, category)
