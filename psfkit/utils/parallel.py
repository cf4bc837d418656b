"""
One way to run work in parallel, whatever executor the user has.

Every psfkit function that can spread work out takes one keyword,
``executor=``:

- `None`: the default.  Independent tasks (images, frames, tiles) run one
  after the other in the calling process; engines that split one large
  array into chunks (model sets, ramps) use threads on the available cores.
- an int ``n``: ``n`` threads of the calling process.
- a `concurrent.futures.Executor` (thread or process pool), a
  dask.distributed ``Client`` or an ipyparallel view: independent tasks
  are mapped over it; chunked engines use a thread pool's threads.

`run_tasks` maps tasks over any of these; `executor_threads` gives the
thread count a chunked engine should use; `resolve_executor` accepts the
older keywords (``n_threads=``, ``client=``) with a deprecation warning.
The warnings that tasks issue (`~psfkit.utils.warn`) on an executor are
collected there and issued again by the calling thread, so they point at
the user's call whatever the executor (and are not lost on other
processes).
"""

import concurrent.futures
import functools

import numpy as np

from .deprecation import renamed_keyword
from .exceptions import call_collecting_warnings, issue_warnings
from .threads import resolve_threads

__all__ = ["executor_kind", "run_tasks", "run_beside", "resolve_executor",
           "executor_threads", "executor_workers"]


def executor_kind(executor):
    """
    Classify an executor.

    Parameters
    ----------
    executor : object or None
        The executor given by the user.

    Returns
    -------
    kind : {'serial', 'threads', 'futures', 'dask', 'ipyparallel'}
        ``'threads'`` for an int (that many threads of this process).

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
    if isinstance(executor, int | np.integer) and not isinstance(executor, bool):
        if executor < 1:
            msg = f"executor must be a positive number of threads, got {executor}"
            raise ValueError(msg)
        return "threads"
    if isinstance(executor, concurrent.futures.Executor):
        return "futures"
    module = type(executor).__module__ or ""
    if module.startswith("distributed") and hasattr(executor, "gather"):
        return "dask"
    if hasattr(executor, "map_sync"):
        return "ipyparallel"
    if hasattr(executor, "map"):
        return "futures"
    msg = ("executor must be None, a number of threads, a "
           "concurrent.futures.Executor, a dask.distributed Client or an "
           "ipyparallel view, got "
           f"{type(executor).__name__}")
    raise TypeError(msg)


def run_tasks(func, tasks, executor, *, shared=None, progress=None):
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
    progress : object, optional
        A progress bar (`~psfkit.utils.progress_bar`): its ``update(n)``
        counts the finished tasks, one by one in this process, in threads
        and on ``concurrent.futures`` executors (in order), all at once on
        dask and ipyparallel.

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
    tick = (lambda n: None) if progress is None else progress.update
    if kind == "serial":
        if shared is not None:
            func = functools.partial(func, shared=shared)
        return _counted((func(t) for t in tasks), tick)
    return _issued(_run_elsewhere(_Collecting(func), tasks, executor, kind,
                                  shared, tick))


def _run_elsewhere(func, tasks, executor, kind, shared, tick):
    """`run_tasks` on an executor (not ``'serial'``)."""
    if kind == "dask":
        kwargs = {}
        if shared is not None:
            # hash=False: dask cannot tokenize every masked array
            kwargs["shared"] = executor.scatter(shared, broadcast=True,
                                                hash=False)
        results = list(executor.gather(executor.map(func, tasks, pure=False,
                                                    **kwargs)))
        tick(len(results))
        return results
    if shared is not None:
        func = functools.partial(func, shared=shared)
    if kind == "threads":
        with concurrent.futures.ThreadPoolExecutor(int(executor)) as pool:
            return _counted(pool.map(func, tasks), tick)
    if kind == "futures":
        return _counted(executor.map(func, tasks), tick)
    results = list(executor.map_sync(func, tasks))
    tick(len(results))
    return results


def run_beside(func, here, tasks, executor, *, progress=None):
    """
    Apply ``func`` to ``here`` in the calling thread while ``executor``
    runs it on the other tasks.

    The tasks are handed to the executor first (from the calling thread:
    a process pool may start its workers then), so that this process works
    on its own task instead of waiting.

    Parameters
    ----------
    func : callable
        A module-level function, called as ``func(task)``.
    here : object
        The task for this thread.
    tasks : list
        The tasks for the executor.
    executor : object or None
        See `executor_kind`; with `None` every task runs here, one after
        the other.
    progress : object, optional
        A progress bar whose ``update(n)`` counts the finished tasks.

    Returns
    -------
    mine : object
        ``func(here)``.
    results : list
        ``func``'s results on ``tasks``, in order.

    Examples
    --------
    >>> from psfkit.utils import run_beside
    >>> run_beside(abs, -4, [-1, 2], 2)
    (4, [1, 2])
    """
    kind = executor_kind(executor)
    tick = (lambda n: None) if progress is None else progress.update
    if not tasks or kind == "serial" or (
            kind == "futures" and not hasattr(executor, "submit")):
        mine = func(here)
        tick(1)
        return mine, run_tasks(func, tasks, executor, progress=progress)
    pool = None
    func, mine_func = _Collecting(func), func
    if kind == "threads":
        pool = concurrent.futures.ThreadPoolExecutor(int(executor))
        futures = [pool.submit(func, t) for t in tasks]
        collect = functools.partial(_each_result, futures)
    elif kind == "futures":
        futures = [executor.submit(func, t) for t in tasks]
        collect = functools.partial(_each_result, futures)
    elif kind == "dask":
        # the tasks go to the workers as data, not inside the task graph
        futures = executor.map(func, executor.scatter(tasks, hash=False),
                               pure=False)
        collect = functools.partial(executor.gather, futures)
    else:
        collect = executor.map_async(func, tasks).get
    try:
        mine = mine_func(here)
        tick(1)
        results = list(collect())
        tick(len(results))
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    return mine, _issued(results)


class _Collecting:
    """``func`` run by `~psfkit.utils.call_collecting_warnings` (pickles
    when ``func`` does)."""

    def __init__(self, func):
        self.func = func

    def __call__(self, *args, **kwargs):
        return call_collecting_warnings(self.func, *args, **kwargs)


def _issued(outputs):
    """The results of `_Collecting` calls, their warnings issued here."""
    for _, notes in outputs:
        issue_warnings(notes)
    return [result for result, _ in outputs]


def _each_result(futures):
    return [f.result() for f in futures]


def _counted(results, tick):
    """The results as a list, ticking ``tick(1)`` as each arrives."""
    out = []
    for result in results:
        out.append(result)
        tick(1)
    return out


@renamed_keyword(n_threads="executor", client="executor")
def resolve_executor(executor=None):
    """
    The ``executor=`` argument, accepting the deprecated spellings.

    Parameters
    ----------
    executor : object or None, optional
        See `executor_kind`.
    n_threads : int, optional
        Deprecated: a number of threads, now ``executor=n_threads``.
    client : object, optional
        Deprecated: a dask.distributed ``Client``, now ``executor=client``.

    Returns
    -------
    executor : object or None
        Checked with `executor_kind`.

    Raises
    ------
    TypeError
        When two of ``executor``, ``n_threads`` and ``client`` are given
        (``executor=None`` included: see `~psfkit.utils.renamed_keyword`).

    Examples
    --------
    >>> from psfkit.utils import resolve_executor
    >>> resolve_executor(2)
    2
    """
    executor_kind(executor)
    return executor


def executor_threads(executor):
    """
    How many threads a chunked in-process engine should use.

    `None` gives every available core (at most
    `~psfkit.utils.threads.MAX_DEFAULT_THREADS`), an int gives itself, a
    `~concurrent.futures.ThreadPoolExecutor` its number of workers.

    Raises
    ------
    TypeError
        For executors that run elsewhere (processes, dask, ipyparallel):
        a chunked engine shares its arrays in memory and cannot use them.

    Examples
    --------
    >>> from psfkit.utils import executor_threads
    >>> executor_threads(3)
    3
    """
    kind = executor_kind(executor)
    if kind == "serial":
        return resolve_threads(None)
    if kind == "threads":
        return int(executor)
    if isinstance(executor, concurrent.futures.ThreadPoolExecutor):
        return max(1, int(executor._max_workers))
    msg = ("this computation runs in threads of one process; give executor "
           f"as None or a number of threads, not a {type(executor).__name__}")
    raise TypeError(msg)


def executor_workers(executor):
    """
    How many tasks an executor runs at once.

    One for `None` (the calling process, one task after another); the
    number of threads for an int; the workers of a `concurrent.futures`
    pool, the threads of a dask cluster's workers or the engines of an
    ipyparallel view; the machine's cores for other executors.

    Examples
    --------
    >>> from concurrent.futures import ThreadPoolExecutor
    >>> from psfkit.utils import executor_workers
    >>> executor_workers(None), executor_workers(3)
    (1, 3)
    >>> with ThreadPoolExecutor(2) as pool:
    ...     executor_workers(pool)
    2
    """
    kind = executor_kind(executor)
    if kind == "serial":
        return 1
    if kind == "threads":
        return int(executor)
    if kind == "dask":
        return max(1, sum(executor.nthreads().values()))
    if kind == "ipyparallel":
        try:
            return max(1, len(executor))
        except TypeError:
            return resolve_threads(None)
    workers = getattr(executor, "_max_workers", None)
    if isinstance(workers, int | np.integer) and workers > 0:
        return int(workers)
    return resolve_threads(None)
