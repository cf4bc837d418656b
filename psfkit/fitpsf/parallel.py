"""
Run PSF removal over many images in parallel.

`map_remove_psf` covers both ways of configuring fitters: one fitter applied
to a list of images, or a list of fitters that each hold their own image.
It accepts the executors of `concurrent.futures`, a dask.distributed
``Client`` and an ipyparallel view, and always returns the residual images
themselves, in input order.
"""

import numpy as np

from ..utils import check_integer
from ..utils.parallel import executor_kind, run_tasks

__all__ = ["map_remove_psf"]


def _remove_chunk(task):
    fitter, images = task
    if images is None:
        return [fitter.remove_psf()]
    return [fitter.remove_psf(im) for im in images]


def map_remove_psf(fitter_or_fitters, images=None, *, executor=None,
                   chunksize=1):
    """
    Remove the PSF from many images, optionally in parallel.

    Parameters
    ----------
    fitter_or_fitters : `~psfkit.fitpsf.BasePSFFitter` or sequence of them
        One fitter (then ``images`` is required) or one fitter per image,
        each holding its image (then ``images`` must be `None`).
    images : sequence of 2-D arrays, optional
        The images for a single fitter.
    executor : optional
        `None` (run here), a `concurrent.futures.Executor` (thread or
        process pool), a dask.distributed ``Client`` or an ipyparallel view.
        Process-based executors pickle the fitters; their cached solutions
        are not pickled.
    chunksize : int, optional
        With a single fitter, the number of images sent per task (larger
        chunks ship the fitter less often and reuse its solutions).

    Returns
    -------
    residuals : list of `~numpy.ma.MaskedArray`
        The residual image of every input, in order.

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
    chunksize = check_integer("chunksize", chunksize, minimum=1)
    executor_kind(executor)
    if hasattr(fitter_or_fitters, "remove_psf"):
        if images is None:
            msg = "images must be given when a single fitter is passed"
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
    chunks = run_tasks(_remove_chunk, tasks, executor)
    return [np.ma.asarray(r) for chunk in chunks for r in chunk]
