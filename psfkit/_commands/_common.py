"""
Helpers shared by the subcommands: output files, logging, progress, the
``-j`` option, the unit, mask and errors of the input data and the masked
pixels of output images.
"""

import concurrent.futures
import os
from pathlib import Path
import sys
import tempfile
import threading

import astropy.units as u
import numpy as np

from ..fitsio import FitsInputError, check_output_paths
from ..utils import progress_bar, uncertainty_to_error

#: the unit of data whose FITS header has no BUNIT (data numbers)
ASSUMED_UNIT = u.Unit("DN")
_FITS_SUFFIXES = (".fits.gz", ".fits.fz", ".fits", ".fit", ".fts")


class Log:
    """Prints progress unless ``--quiet``; details only with ``--verbose``."""

    def __init__(self, args):
        self.quiet = getattr(args, "quiet", False)
        self.verbose = getattr(args, "verbose", False)

    def __call__(self, message):
        if not self.quiet:
            print(message)

    def detail(self, message):
        if self.verbose and not self.quiet:
            print(message)

    @property
    def progress(self):
        """
        Whether to draw progress bars: on a terminal, or with ``-v``
        (never with ``-q``, and not in logs unless asked for).
        """
        return not self.quiet and (self.verbose or sys.stderr.isatty())

    def bar(self, *, total=None, desc=None, unit="it"):
        """A progress bar on stderr (a no-op one when bars are off)."""
        return progress_bar(enabled=self.progress, total=total, desc=desc,
                            unit=unit, leave=False)


def default_name(source, suffix):
    """``<source stem><suffix>`` in the current folder."""
    stem = Path(source).name
    for ext in _FITS_SUFFIXES:
        if stem.lower().endswith(ext):
            stem = stem[: -len(ext)]
            break
    return f"{stem}{suffix}"


class Outputs:
    """
    A command's output files: all checked before any work is done, all
    written under temporary names and renamed into place only when the
    command succeeds, so that a failed command leaves no partial result
    and never replaces an earlier one.

    Use as a context manager around the command's work; `path` gives the
    temporary name to write each output to.
    """

    def __init__(self, args, *, inputs):
        self._overwrite = bool(getattr(args, "overwrite", False))
        self._inputs = [item for item in inputs if item is not None]
        self._final = []
        self._staged = {}

    def check(self, *paths):
        """
        Check the outputs together and return them as a list of paths
        (`None` entries are kept); raises `~psfkit.fitsio.FitsInputError`
        on the first problem.
        """
        checked = check_output_paths(paths, inputs=self._inputs,
                                     overwrite=self._overwrite)
        self._final = [p for p in checked if p is not None]
        return checked

    def path(self, final):
        """The temporary file to write ``final`` to (same folder and suffix)."""
        final = Path(final)
        if final not in self._final:
            msg = f"{final} was not checked as an output"
            raise RuntimeError(msg)
        fd, name = tempfile.mkstemp(prefix=f".{final.stem}.", suffix=
                                    f".partial-{final.name}", dir=final.parent)
        os.close(fd)
        os.remove(name)  # writers refuse to overwrite; let them create it
        self._staged[final] = Path(name)
        return Path(name)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            missing = [p for p in self._final if p not in self._staged]
            if missing:
                self._discard()
                msg = f"{missing[0]} was checked but never written"
                raise RuntimeError(msg)
            for final, staged in self._staged.items():
                os.replace(staged, final)
        else:
            self._discard()
        return False

    def _discard(self):
        for staged in self._staged.values():
            if staged.exists():
                staged.unlink()


def check_figure_path(path):
    """
    Check, before any work, that a figure can be saved under ``path``:
    matplotlib is installed and knows the file type from its suffix.
    """
    if path is None:
        return
    try:
        from matplotlib.figure import Figure
    except ImportError:
        msg = f"{path}: writing a figure needs matplotlib (pip install matplotlib)"
        raise FitsInputError(msg) from None
    known = Figure().canvas.get_supported_filetypes()
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in known:
        msg = (f"{path}: a figure needs a file type matplotlib can write "
               f"({', '.join('.' + k for k in sorted(known))})")
        raise FitsInputError(msg)


def jobs_executor(jobs, *, processes):
    """
    The library's ``executor=`` for ``-j N``: `None` for one job, else a
    process pool of ``N`` workers (``processes=True``, for independent
    frames or tiles) or ``N`` threads (for chunked in-process engines).
    The caller shuts a pool down.
    """
    if jobs is None or (processes and jobs <= 1):
        return None
    if processes:
        return concurrent.futures.ProcessPoolExecutor(jobs)
    return int(jobs)


class ProgressExecutor(concurrent.futures.Executor):
    """
    An executor that ticks a progress bar as each task finishes.

    Tasks run on ``inner`` (a `concurrent.futures.Executor`) or, when it
    is `None`, in this process one after the other, as the library's
    default does.
    """

    def __init__(self, inner, bar):
        self._inner = inner
        self._bar = bar
        self._lock = threading.Lock()

    def _tick(self, _future=None):
        with self._lock:
            self._bar.update(1)

    def submit(self, fn, /, *args, **kwargs):
        if self._inner is not None:
            future = self._inner.submit(fn, *args, **kwargs)
            future.add_done_callback(self._tick)
            return future
        future = concurrent.futures.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # handed to the caller via the future
            future.set_exception(exc)
        self._tick()
        return future

    def shutdown(self, wait=True, *, cancel_futures=False):
        if self._inner is not None:
            self._inner.shutdown(wait=wait, cancel_futures=cancel_futures)


def data_unit(image, path):
    """
    The unit of an input image and the ``BUNIT`` comment for outputs:
    its own, or `ASSUMED_UNIT` (stated as such) when the header has none.
    """
    if image.unit is not None:
        return image.unit, f"from {Path(path).name}"
    return ASSUMED_UNIT, f"assumed: {Path(path).name} has no BUNIT"


def check_min_shape(image, minimum, path, what):
    """Reject an image smaller than ``minimum`` pixels on a side."""
    shape = image.data.shape[-2:]
    if min(shape) < minimum:
        msg = (f"{path}: the image is {shape[0]}x{shape[1]} pixels; {what} "
               f"needs at least {minimum}x{minimum}")
        raise FitsInputError(msg)


def parse_hdu(value):
    """An ``--hdu`` value: an integer index or an HDU name."""
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return value


def mask_and_error(image, path):
    """
    The pixels of an input image that can be used, and their errors.

    Parameters
    ----------
    image : `~astropy.nddata.NDData`
        The image as `~psfkit.fitsio.read_fits_nddata` reads it.
    path : str or `~pathlib.Path`
        Its file, named in error messages.

    Returns
    -------
    mask : `~numpy.ndarray` of bool
        The file's mask, together with the pixels whose value is not
        finite (NaN marks bad pixels in many files) and those whose error
        is zero or not finite (a zero or NaN ``ERR``, a zero ``IVAR``): no
        fit can weight them, so they are masked like any other bad pixel.
    error : `~numpy.ndarray` or None
        The 1-sigma error as the file gives it (``inf`` where the inverse
        variance is zero), or `None` if the file has no uncertainty
        extension.
    n_no_error : int
        How many pixels of the file's mask were added for want of an error.
    n_nonfinite : int
        How many were added for a non-finite value.

    Raises
    ------
    FitsInputError
        If the uncertainty holds negative values, or no pixel is both
        unmasked and finite.
    """
    data = image.data
    mask = (np.zeros(data.shape, bool) if image.mask is None
            else np.asarray(image.mask, bool).copy())
    nonfinite = ~mask & ~np.isfinite(data)
    n_nonfinite = int(np.count_nonzero(nonfinite))
    mask |= nonfinite
    error = None
    if image.uncertainty is not None:
        try:
            # (negative values in masked pixels are sentinels, not errors)
            error = uncertainty_to_error(image.uncertainty,
                                         name="the uncertainty extension",
                                         mask=mask)
        except ValueError as exc:
            raise FitsInputError(f"{path}: {exc}") from None
        no_error = ~mask & ~(np.isfinite(error) & (error > 0))
        n_no_error = int(np.count_nonzero(no_error))
        mask |= no_error
    else:
        n_no_error = 0
    if not np.any(~mask):
        msg = (f"{path}: the image has no usable values: every pixel is "
               "masked or non-finite")
        raise FitsInputError(msg)
    return mask, error, n_no_error, n_nonfinite


def masked_output(data, mask, dtype):
    """
    An output image with its masked and non-finite pixels set to NaN.

    Parameters
    ----------
    data : array-like
        The result.
    mask : array-like of bool or None
        The pixels where it is not usable.
    dtype : `~numpy.dtype`
        The dtype to write it in.

    Returns
    -------
    data : `~numpy.ndarray`
        ``data`` in ``dtype``, NaN where it is masked or not finite.
    mask : `~numpy.ndarray` of bool
        Those pixels: the output's ``MASK``.
    """
    data = np.asarray(data)
    bad = ~np.isfinite(data)
    if mask is not None:
        bad |= np.asarray(mask, bool)
    return np.where(bad, np.nan, data).astype(dtype), bad
