"""
Renamed keywords: the old spelling keeps working, with a warning.

psfkit speaks one dialect across its subpackages (``random_state=`` for
randomness, ``executor=`` for parallelism); `renamed_keyword` lets the
earlier spellings (``seed=``, ``n_threads=``, ``client=``) keep working
while telling users the current name.
"""

import functools
import inspect

from .exceptions import PsfkitDeprecationWarning, warn

__all__ = ["renamed_keyword"]

def _call_name(func):
    """``name()`` as the user calls ``func`` (a class for ``__init__``)."""
    name = func.__qualname__
    if name.endswith(".__init__"):
        name = name[: -len(".__init__")]
    return f"{name}()"


def _listing(names):
    names = [f"{name}=" for name in names]
    if len(names) == 2:
        return f"both {names[0]} and {names[1]}"
    return f"{', '.join(names[:-1])} and {names[-1]}"


def renamed_keyword(**renames):
    """
    Decorate a function whose keywords were renamed.

    The decorated function is written with the current names only; the
    decorator sees the keywords of each call before the function's
    defaults are applied, so it can tell a keyword that was passed (even
    at its default value, or positionally) from one that was not.

    Parameters
    ----------
    **renames : str
        ``old_name="new_name"`` pairs; several former names may map to
        one current name (``n_threads="executor", client="executor"``).

    Returns
    -------
    decorator : callable
        Wraps a function so that a call passing a former name alone works,
        with a `~psfkit.utils.PsfkitDeprecationWarning`, as if the current
        name had been passed; a call with the current name alone is
        untouched.

    Raises
    ------
    TypeError
        At decoration, when a current name is not a parameter of the
        function or a former name still is; at a call, when the call
        passes two names of one parameter (a former name and the current
        one, or two former names), naming them.

    Examples
    --------
    >>> import warnings
    >>> from psfkit.utils import renamed_keyword
    >>> @renamed_keyword(seed="random_state")
    ... def draw(n, random_state=None):
    ...     return n, random_state
    >>> draw(3, random_state=None)
    (3, None)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     draw(3, seed=7)
    (3, 7)
    >>> str(caught[0].message)
    'seed= is deprecated; use random_state= instead'
    >>> draw(3, random_state=None, seed=7)
    Traceback (most recent call last):
    ...
    TypeError: draw() got both random_state= and seed=; ... not both
    """
    if not renames:
        msg = "renamed_keyword needs at least one old_name='new_name' pair"
        raise TypeError(msg)

    def decorate(func):
        signature = inspect.signature(func)
        params = signature.parameters
        for old, new in renames.items():
            if new not in params:
                msg = (f"{_call_name(func)} has no parameter {new!r} for "
                       f"the former name {old!r}")
                raise TypeError(msg)
            if old in params:
                msg = (f"{_call_name(func)} still has the parameter {old!r}; "
                       "a renamed keyword must not be in the signature")
                raise TypeError(msg)

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            if renames.keys().isdisjoint(kwargs):
                return func(*args, **kwargs)
            former = {old: kwargs.pop(old) for old in renames if old in kwargs}
            try:
                # only what the call itself passed: no defaults are applied
                passed = signature.bind_partial(*args, **kwargs).arguments
            except TypeError:
                # a call wrong in another way: the function's own error
                return func(*args, **kwargs)
            for new in dict.fromkeys(renames[old] for old in former):
                olds = [old for old in former if renames[old] == new]
                if new in passed or len(olds) > 1:
                    names = ([new] if new in passed else []) + olds
                    what = ("is the former name" if len(olds) == 1
                            else "are former names")
                    msg = (f"{_call_name(func)} got {_listing(names)}; "
                           f"{' and '.join(o + '=' for o in olds)} {what} "
                           f"of {new}=: give {new}= only, not "
                           f"{'both' if len(names) == 2 else 'several'}")
                    raise TypeError(msg)
            for old, value in former.items():
                warn(f"{old}= is deprecated; use {renames[old]}= instead",
                     PsfkitDeprecationWarning)
                kwargs[renames[old]] = value
            return func(*args, **kwargs)

        wrapper.renamed_keywords = dict(renames)
        return wrapper

    return decorate
