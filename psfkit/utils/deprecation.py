"""
Renamed keywords: the old spelling keeps working, with a warning.

psfkit speaks one dialect across its subpackages (``random_state=`` for
randomness, ``executor=`` for parallelism); `renamed_keyword` lets the
earlier spellings (``seed=``, ``n_threads=``, ``client=``) keep working
while telling users the current name.
"""

from .exceptions import PsfkitDeprecationWarning, warn

__all__ = ["renamed_keyword"]

#: marks "not given" for keywords whose meaningful values include `None`
NOT_GIVEN = object()


def renamed_keyword(old_name, old_value, new_name, new_value, *,
                    default=NOT_GIVEN):
    """
    Resolve a keyword that was renamed.

    Parameters
    ----------
    old_name, new_name : str
        The former and the current keyword.
    old_value, new_value : object
        What the caller passed under each name; ``old_value`` is
        ``NOT_GIVEN`` (or `None`) when the old name was not used.
    default : object, optional
        ``new_value``'s default, used to tell whether it was given too.

    Returns
    -------
    value : object
        ``new_value``, or ``old_value`` (with a
        `~psfkit.utils.PsfkitDeprecationWarning`) when only the old name
        was used.

    Raises
    ------
    TypeError
        When both names were given.

    Examples
    --------
    >>> import warnings
    >>> from psfkit.utils import renamed_keyword
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     renamed_keyword("seed", 3, "random_state", None, default=None)
    3
    >>> str(caught[0].message)
    'seed= is deprecated; use random_state= instead'
    """
    if old_value is NOT_GIVEN or old_value is None:
        return new_value
    given_new = new_value is not None and (default is NOT_GIVEN
                                           or new_value is not default)
    if given_new:
        msg = f"give {new_name}= only ({old_name}= is its former name), not both"
        raise TypeError(msg)
    warn(f"{old_name}= is deprecated; use {new_name}= instead",
         PsfkitDeprecationWarning)
    return old_value
