"""
One way to run independent tasks on whatever executor the user has.

psfkit's parallel paths (PSF removal over many images, ADI frames, tiled
photometry and differencing) all accept ``executor=`` (or ``client=``):
`None` to run in the calling process, a `concurrent.futures` executor, a
dask.distributed ``Client``, or an ipyparallel view.
"""

import concurrent.futures
import functools

__all__ = ["executor_kind", "run_tasks"]


def executor_kind(executor):
    """
    Classify an executor.

    Parameters
    ----------
    executor : object or None
        The executor given by the user.

    Returns
    -------
    kind : {'serial', 'futures', 'dask', 'ipyparallel'}

    Raises
    ------
    TypeError
        For an object that is none of the supported executors.

    Examples
    --------
    >>> from concurrent.futures import ThreadPoolExecutor
    >>> from psfkit.utils import executor_kind
    >>> executor_kind(None), executor_kind(ThreadPoolExecutor(1))
    ('serial', 'futures')
    """
    if executor is None:
        return "serial"
    if isinstance(executor, concurrent.futures.Executor):
        return "futures"
    module = type(executor).__module__ or ""
    if module.startswith("distributed") and hasattr(executor, "gather"):
        return "dask"
    if hasattr(executor, "map_sync"):
        return "ipyparallel"
    if hasattr(executor, "map"):
        return "futures"
    msg = ("executor must be None, a concurrent.futures.Executor, a "
           "dask.distributed Client or an ipyparallel view, got "
           f"{type(executor).__name__}")
    raise TypeError(msg)


def run_tasks(func, tasks, executor, *, shared=None):
    """
    Apply ``func`` to every task with any supported executor, in order.

    Parameters
    ----------
    func : callable
        A module-level function (so that it pickles), called as
        ``func(task)``, or ``func(task, shared)`` when ``shared`` is given.
    tasks : list
        The arguments, one per call.
    executor : object or None
        See `executor_kind`.
    shared : object, optional
        A large argument common to every task.  On a dask ``Client`` it is
        sent to each worker once (scattered) instead of once per task.

    Returns
    -------
    results : list
        ``func``'s results, in the order of ``tasks``.

    Examples
    --------
    >>> from psfkit.utils import run_tasks
    >>> run_tasks(abs, [-1, 2, -3], None)
    [1, 2, 3]
    """
    kind = executor_kind(executor)
    if not tasks:
        return []
    if kind == "dask":
        kwargs = {}
        if shared is not None:
            kwargs["shared"] = executor.scatter(shared, broadcast=True)
        return list(executor.gather(executor.map(func, tasks, pure=False,
                                                 **kwargs)))
    if shared is not None:
        func = functools.partial(func, shared=shared)
    if kind == "serial":
        return [func(t) for t in tasks]
    if kind == "futures":
        return list(executor.map(func, tasks))
    return list(executor.map_sync(func, tasks))
