"""
Run PSF removal over many images in parallel.

`map_remove_psf` covers both ways of configuring fitters: one fitter applied
to a list of images, or a list of fitters that each hold their own image.
It accepts the executors of `concurrent.futures`, a dask.distributed
``Client`` and an ipyparallel view, and always returns the residual images
themselves, in input order.
"""

import functools

import astropy.units as u
import numpy as np

from ..utils import check_integer, renamed_keyword, resolve_executor
from ..utils import progress_bar as make_progress_bar
from ..utils.parallel import executor_kind, run_tasks

__all__ = ["map_remove_psf"]


def run_with_progress(func, tasks, executor, *, shared=None, bar=None):
    """
    `~psfkit.utils.run_tasks`, advancing ``bar`` as results arrive.

    Run here (``executor=None``), tasks are done one at a time and the bar
    moves after each; elsewhere all results arrive together.
    """
    if bar is None or executor_kind(executor) != "serial":
        results = run_tasks(func, tasks, executor, shared=shared)
        if bar is not None:
            bar.update(len(tasks))
        return results
    if shared is not None:
        func = functools.partial(func, shared=shared)
    results = []
    for task in tasks:
        results.append(func(task))
        bar.update()
    return results


def _remove_chunk(task):
    fitter, images = task
    if images is None:
        return [fitter.remove_psf()]
    return [fitter.remove_psf(im) for im in images]


@renamed_keyword(n_threads="executor", client="executor")
def map_remove_psf(fitter_or_fitters, images=None, *, executor=None,
                   chunksize=1, progress_bar=False):
    """
    Remove the PSF from many images, optionally in parallel.

    Parameters
    ----------
    fitter_or_fitters : `~psfkit.fitpsf.BasePSFFitter` or sequence of them
        One fitter (then ``images`` is required) or one fitter per image,
        each holding its image (then ``images`` must be `None`).
    images : sequence of 2-D arrays or 3-D array, optional
        The images for a single fitter (a sequence, or a stack along the
        first axis).
    executor : optional
        `None` (run here), a number of threads, a
        `concurrent.futures.Executor` (thread or process pool), a
        dask.distributed ``Client`` or an ipyparallel view (see
        `~psfkit.utils.executor_kind`).  Process-based executors pickle the
        fitters; their cached solutions are not pickled.
    chunksize : int, optional
        With a single fitter, the number of images sent per task (larger
        chunks ship the fitter less often and reuse its solutions).
    progress_bar : bool, optional
        Show a progress bar over the tasks.
    n_threads, client : optional
        Deprecated spellings of ``executor``.

    Returns
    -------
    residuals : list of `~numpy.ma.MaskedArray` or `~astropy.units.Quantity`
        The residual image of every input, in order (Quantities for bases
        with a unit, see `~psfkit.fitpsf.BasePSFFitter.remove_psf`).

    Examples
    --------
    >>> import numpy as np
    >>> from concurrent.futures import ThreadPoolExecutor
    >>> from psfkit.fitpsf import SimpleSubtraction, map_remove_psf
    >>> rng = np.random.default_rng(0)
    >>> psfbase = rng.normal(size=(4, 16, 16))
    >>> images = [psfbase[0] + 0.5 * psfbase[1], 2 * psfbase[3]]
    >>> with ThreadPoolExecutor(2) as pool:
    ...     res = map_remove_psf(SimpleSubtraction(psfbase), images,
    ...                          executor=pool)
    >>> [bool(abs(r).max() < 1e-9) for r in res]
    [True, True]
    """
    executor = resolve_executor(executor)
    chunksize = check_integer("chunksize", chunksize, minimum=1)
    if hasattr(fitter_or_fitters, "remove_psf"):
        if images is None:
            msg = "images must be given when a single fitter is passed"
            raise ValueError(msg)
        if not isinstance(images, list | tuple) and np.ndim(
                getattr(images, "data", images)) == 2:
            msg = ("images must be a sequence of 2-D images or a 3-D stack, "
                   f"got a single 2-D image of shape {np.shape(images)}; pass "
                   "[image] or call the fitter's remove_psf")
            raise ValueError(msg)
        images = list(images)
        tasks = [(fitter_or_fitters, images[i:i + chunksize])
                 for i in range(0, len(images), chunksize)]
    else:
        fitters = list(fitter_or_fitters)
        if images is not None:
            msg = ("images must be None when a sequence of fitters is passed; "
                   "each fitter fits its own image")
            raise ValueError(msg)
        for i, fitter in enumerate(fitters):
            if not hasattr(fitter, "remove_psf"):
                msg = (f"fitter_or_fitters[{i}] is not a PSF fitter "
                       f"(got {type(fitter).__name__})")
                raise TypeError(msg)
            if fitter.image is None:
                msg = f"fitter_or_fitters[{i}] has no image to fit"
                raise ValueError(msg)
        tasks = [(f, None) for f in fitters]
    with make_progress_bar(total=len(tasks), enabled=progress_bar,
                           desc="PSF removal", unit="task") as bar:
        chunks = run_with_progress(_remove_chunk, tasks, executor, bar=bar)
    return [r if isinstance(r, u.Quantity) else np.ma.asarray(r)
            for chunk in chunks for r in chunk]
