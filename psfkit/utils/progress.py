"""
Progress bars for long computations, in a terminal or a Jupyter notebook.

Every psfkit step that can take more than a few seconds accepts
``progress_bar=``; `progress_bar` turns that option into a bar.  It uses
``tqdm.auto`` (a widget in Jupyter when ``ipywidgets`` is installed, a
text bar otherwise, never a warning about the missing widget library).
"""

__all__ = ["progress_bar"]


class _NoBar:
    """The do-nothing stand-in used when no bar is wanted."""

    def __init__(self, iterable=None):
        self._iterable = iterable

    def __iter__(self):
        return iter(self._iterable if self._iterable is not None else ())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n=1):
        pass

    def set_postfix_str(self, text, refresh=True):
        pass

    def set_description(self, text, refresh=True):
        pass

    def refresh(self):
        pass

    def close(self):
        pass


def _tqdm_class():
    try:
        import tqdm  # noqa: F401
    except ImportError:
        msg = ("progress_bar=True needs the tqdm package "
               "(pip install tqdm, or psfkit[all])")
        raise ImportError(msg) from None
    try:
        import ipywidgets  # noqa: F401
        from tqdm.auto import tqdm as bar
    except ImportError:
        # without ipywidgets tqdm.auto warns in notebooks; a text bar works
        from tqdm.std import tqdm as bar
    return bar


def progress_bar(iterable=None, *, enabled, total=None, desc=None,
                 unit="it", leave=None, bar_format=None):
    """
    A progress bar over ``iterable`` (or one updated by hand), if enabled.

    Parameters
    ----------
    iterable : iterable, optional
        What to iterate over; omit it and call ``update(n)`` instead.
    enabled : bool
        The caller's ``progress_bar`` option; `False` gives an object with
        the same methods that does nothing.
    total : int, optional
        The number of steps (taken from ``len(iterable)`` when possible).
    desc : str, optional
        A label shown before the bar.
    unit : str, optional
        What a step is called (``"star"``, ``"tile"``...).
    leave : bool, optional
        Keep the finished bar on screen (tqdm's default when `None`).
    bar_format : str, optional
        tqdm's layout of the bar, for example ``"{desc}: {elapsed}"`` for
        a step that counts nothing but should show that it is running.

    Returns
    -------
    bar : iterable and context manager
        With ``update(n)``, ``set_postfix_str(text)`` and ``close()``.

    Raises
    ------
    ImportError
        When enabled and tqdm is not installed.

    Examples
    --------
    >>> from psfkit.utils import progress_bar
    >>> with progress_bar(total=3, enabled=False) as bar:
    ...     for _ in range(3):
    ...         bar.update()
    >>> [i for i in progress_bar(range(3), enabled=False)]
    [0, 1, 2]
    """
    if not enabled:
        return _NoBar(iterable)
    bar = _tqdm_class()
    kwargs = {"total": total, "desc": desc, "unit": unit}
    if leave is not None:
        kwargs["leave"] = leave
    if bar_format is not None:
        kwargs["bar_format"] = bar_format
    return bar(iterable, **kwargs)
