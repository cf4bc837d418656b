"""
Up-the-ramp fitting of IR detector cubes.

Each pixel's non-destructive reads are fitted with a line (or a low-order
polynomial) in time; the slope is the count rate.  Saturated reads and
masked or NaN reads are dropped, cosmic-ray jumps split a ramp into
segments that are fitted separately and combined by inverse variance, and
the slope uncertainty is the exact variance of the estimator used under
read noise plus Poisson noise.

This module holds the public entry point and its result; the work is done
by private modules: ``_ramp_array`` runs the engines over a cube (chunks
of pixels on threads, or dask blocks), ``_ramp_linear`` is the one-pass
route for complete straight-line ramps, ``_ramp_engine`` the general
engine (segments, masks, variances), ``_ramp_weights`` the optimal
weighting and ``_jumps`` the jump detection.
"""

from dataclasses import dataclass, field, fields

from astropy.nddata import NDData
import astropy.units as u
from astropy.utils.masked import Masked
import numpy as np

from ..utils import (
    SummaryReprMixin,
    check_integer,
    coerce_data,
    describe,
    executor_threads,
    renamed_keyword,
    resolve_executor,
)
from ..utils import (
    progress_bar as make_progress_bar,
)
from ._inputs import check_axis, is_dask
from ._ramp_array import check_times, fit_array, fit_dask, ramp_options
from .flags import (
    JUMP_DET,
    NAN_INPUT,
    RAMP_FLAGS,
    SATURATED,
    TOO_FEW_READS,
    UNDETERMINED_ERR,
)

__all__ = ["fit_ramps", "RampFitResult", "SATURATED", "JUMP_DET",
           "TOO_FEW_READS", "NAN_INPUT", "UNDETERMINED_ERR", "RAMP_FLAGS"]


@dataclass(frozen=True, repr=False)
class RampFitResult(SummaryReprMixin):
    """
    Per-pixel results of `fit_ramps` (arrays of the cube's pixel shape).

    With a cube or ``times`` with units, the values are Quantities (see
    `fit_ramps`); for a dask cube they are dask arrays.

    Attributes
    ----------
    slope : array
        The count rate, in data units per unit of ``times``.
    intercept : array
        The fitted value at ``time = 0`` (of the first segment).
    slope_err : array
        The 1-sigma uncertainty of ``slope``: ``sqrt(var_poisson +
        var_readnoise)`` when ``read_noise`` was given, otherwise from the
        scatter of the reads about the fit.
    var_poisson, var_readnoise : array or None
        The Poisson and read-noise parts of the slope variance (only when
        ``read_noise`` was given).
    n_used : array of int32
        The number of reads that entered the slope.
    n_segments : array of int32
        The number of ramp segments combined.
    flags : array of int16
        Bit flags, see `RAMP_FLAGS`.
    """

    slope: np.ndarray
    intercept: np.ndarray
    slope_err: np.ndarray
    var_poisson: np.ndarray | None
    var_readnoise: np.ndarray | None
    n_used: np.ndarray
    n_segments: np.ndarray
    flags: np.ndarray
    #: the units of a lazy (dask) result's fields; see `units`
    _units: dict | None = field(default=None, compare=False)

    @property
    def shape(self):
        """The pixel shape."""
        return tuple(np.shape(self.slope))

    @property
    def units(self):
        """
        The unit of every field that has one (``{}`` without units).

        For an in-memory result these are the units of its Quantities; a
        dask result holds plain dask arrays and keeps their units here
        (`compute` attaches them).
        """
        if self._units is not None:
            return {k: v for k, v in self._units.items()
                    if getattr(self, k) is not None}
        return {f.name: getattr(self, f.name).unit for f in fields(self)
                if isinstance(getattr(self, f.name), u.Quantity)}

    def compute(self, **kwargs):
        """
        The in-memory result of a dask fit, with its units.

        Parameters
        ----------
        **kwargs
            Passed to ``dask.compute`` (for example ``scheduler=``).

        Returns
        -------
        result : `RampFitResult`
            Every array computed at once (``self`` when nothing is lazy):
            the same values, dtypes and units as a fit in memory.
        """
        names = [f.name for f in fields(self) if not f.name.startswith("_")]
        lazy = {n: getattr(self, n) for n in names
                if is_dask(getattr(self, n))}
        if not lazy:
            return self
        import dask

        (done,) = dask.compute(lazy, **kwargs)
        values = {n: done.get(n, getattr(self, n)) for n in names}
        return RampFitResult(**_with_units(values, self._units))

    def flag_counts(self):
        """
        The number of pixels carrying each flag, by name.

        Returns
        -------
        counts : dict
            ``{name: count}`` for every flag of `RAMP_FLAGS` (computes a
            dask result).
        """
        flags = np.asarray(self.flags)
        return {name: int(np.count_nonzero(flags & bit))
                for name, bit in RAMP_FLAGS.items()}

    def _summary_items(self):
        items = [("shape", describe(self.shape))]
        units = self.units
        for name in ("slope", "slope_err", "intercept", "var_poisson",
                     "var_readnoise", "n_used", "n_segments", "flags"):
            items.append((name, _describe_array(getattr(self, name),
                                                units.get(name))))
        if not is_dask(self.flags):
            counts = {k: v for k, v in self.flag_counts().items() if v}
            text = ", ".join(f"{k} {v}" for k, v in counts.items())
            items.append(("flagged", text or "none"))
        return items


def _describe_array(value, unit=None):
    """`describe`, with dask arrays summarised without computing them."""
    if is_dask(value):
        text = f"<dask {value.dtype} array {value.shape}"
        if unit is None:
            return text + ">"
        return text + (f", unit {unit}>" if str(unit) else ", dimensionless>")
    return describe(value)


def _units(data_unit, time_unit):
    """The unit of every result field, or `None` without units."""
    if data_unit is None and time_unit is None:
        return None
    level = u.dimensionless_unscaled if data_unit is None else data_unit
    # plain times are seconds (the convention of IR detector headers)
    rate = level / (u.s if time_unit is None else time_unit)
    return {"slope": rate, "slope_err": rate, "intercept": level,
            "var_poisson": rate**2, "var_readnoise": rate**2}


def _with_units(values, units):
    """Attach ``units`` to the in-memory arrays of ``values`` (a dict)."""
    for name, unit in (units or {}).items():
        if values[name] is not None:
            values[name] = u.Quantity(values[name], unit, copy=False)
    return values




def check_mask(mask, shape):
    """``mask`` (or `None`) checked against the cube's ``shape``."""
    if mask is None:
        return None
    if np.shape(mask) != tuple(shape):
        msg = (f"mask must have the shape of cube {tuple(shape)}, got "
               f"{np.shape(mask)}")
        raise ValueError(msg)
    return mask if is_dask(mask) else np.asarray(mask, dtype=bool)


@renamed_keyword(n_threads="executor")
def fit_ramps(cube, times=None, *, degree=1, read_noise=None, gain=1.0,
              weighting="unweighted", mask=None, saturation=None,
              detect_jumps=False, jump_threshold=4.0, axis=0,
              chunk_pixels=None, executor=None, progress_bar=False):
    """
    Fit the slope of every pixel's up-the-ramp reads.

    Parameters
    ----------
    cube : array-like, masked array, Quantity, NDData or dask array
        The reads, with time along ``axis`` (data units, e.g. DN).
        Integer and big-endian data (as read from FITS) are converted
        chunk by chunk; NaN marks a bad read.
    times : array-like or `~astropy.units.Quantity`, optional
        The time of every read (strictly increasing); default
        ``0, 1, 2, ...``.  Only their differences matter.  Plain numbers
        are taken as seconds when the cube has a unit.
    degree : int, optional
        The polynomial degree in time; the slope is the linear
        coefficient (the rate at ``time = 0`` for degree > 1).
    read_noise : float or `~astropy.units.Quantity`, optional
        The read noise of one read (data units; a Quantity is converted
        to the cube's unit).  With it, ``slope_err`` is the exact
        standard deviation of the estimator under read noise plus Poisson
        noise; without it, ``slope_err`` comes from the residual scatter,
        which takes the reads' errors as independent: right for read-noise
        dominated ramps, too small (by up to a factor of a few) for ramps
        dominated by Poisson noise, whose reads accumulate the same charge.
        Required for ``weighting='optimal'`` and jump detection.
    gain : float or `~astropy.units.Quantity`, optional
        Electrons per data unit, for the Poisson variance (a Quantity,
        such as ``2 * u.electron / u.DN``, is converted to electrons per
        unit of the cube).
    weighting : {'unweighted', 'optimal'}, optional
        ``'optimal'`` uses the signal-to-noise dependent weights of Fixsen
        et al. (2000) within each segment.
    mask : array-like of bool, optional
        `True` marks reads to ignore; same shape as ``cube`` (a dask array
        for a dask cube is fine).
    saturation : float or `~astropy.units.Quantity`, optional
        Reads at or above this level, and every later read of the pixel,
        are not used (a Quantity is converted to the cube's unit).
    detect_jumps : bool, optional
        Find cosmic-ray jumps and fit the segments between them separately.
    jump_threshold : float, optional
        The jump detection threshold in standard deviations of the jump
        statistic (a standard normal variable without a jump).
    axis : int, optional
        The time axis of ``cube``.
    chunk_pixels : int, optional
        The number of pixels fitted at a time (bounds the extra memory).
    executor : None, int or `~concurrent.futures.ThreadPoolExecutor`, optional
        Threads fitting chunks of pixels at the same time: `None` (default)
        every available core (at most 8), an int that many threads (``1``
        fits in the calling thread), a thread pool its number of workers.
        A dask cube is fitted one thread per block, on dask's scheduler.
    progress_bar : bool, optional
        Show a progress bar over the pixels (needs tqdm).  A dask cube is
        computed later, on dask's scheduler: use dask's progress reporting
        (``dask.diagnostics.ProgressBar`` or the distributed dashboard).
    n_threads : int, optional
        Deprecated alias of ``executor`` (a number of threads).

    Returns
    -------
    result : `RampFitResult`
        Arrays of the pixel shape (dask arrays for a dask input).

    Notes
    -----
    Each usable stretch of reads (between saturation, masked reads and
    jumps) is a segment.  A segment's slope is a weighted least-squares
    fit; its variance is that of the estimator, ``c . y``, under read
    noise (``RN**2 * sum(c**2)``) and Poisson noise (covariance
    ``rate/gain * min(t_i, t_j)`` between reads), with the rate of the
    pixel.  Segments are combined by inverse variance; one-read segments
    carry no slope and are dropped.  Without ``read_noise`` a ramp with as
    many usable reads as coefficients (two reads for a line) has a slope
    but no measurable scatter: ``slope_err`` is NaN and the pixel is
    flagged `UNDETERMINED_ERR`, whatever the dtype or mask.  The flags are
    `SATURATED`, `JUMP_DET`, `TOO_FEW_READS`, `NAN_INPUT` and
    `UNDETERMINED_ERR` (see `RAMP_FLAGS`).  Jump sizes are naturally
    measured in units of the standard deviation of a two-point difference,
    ``sqrt(2 RN**2 + rate dt / gain)``; the detection statistic is
    described in the user guide.

    Units follow the data: a cube with a unit (a Quantity, an NDData or
    CCDData with a unit, or a dask array of Quantity blocks) or ``times``
    with a unit give Quantities: ``slope`` and ``slope_err`` in data units
    per time unit (``DN / s``; plain times count as seconds),
    ``intercept`` in data units, the variances in their square.

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.datasets import make_ramp_cube
    >>> from psfkit.modelsets import fit_ramps
    >>> cube, truth = make_ramp_cube((50, 50), 10, rate=20.0, read_noise=5.0,
    ...                              gain=2.0, random_state=0)
    >>> res = fit_ramps(cube, truth.times, read_noise=5.0, gain=2.0)
    >>> print(f"{np.mean(res.slope):.1f}")
    20.0
    >>> pull = (res.slope - truth.rate) / res.slope_err
    >>> bool(0.9 < np.std(pull) < 1.1)
    True
    >>> res.shape, res.flag_counts()["TOO_FEW_READS"]
    ((50, 50), 0)
    """
    if chunk_pixels is not None:
        chunk_pixels = check_integer("chunk_pixels", chunk_pixels, minimum=1)
    n_threads = executor_threads(resolve_executor(executor))
    time_unit = None
    if isinstance(times, u.Quantity):
        time_unit, times = times.unit, times.value
    data_unit = None
    if is_dask(cube):
        meta = getattr(cube, "_meta", None)
        data_unit = getattr(meta, "unit", None)
    elif isinstance(cube, NDData | np.ma.MaskedArray | u.Quantity | Masked) \
            or not isinstance(cube, np.ndarray):
        data = coerce_data(cube, name="cube", ndim=None, dtype=None,
                           allow_all_masked=True)
        cube, data_unit = data.data, data.unit
        mask = check_mask(mask, cube.shape)
        mask = data.mask if mask is None else (data.mask | mask)
    opts = ramp_options(degree, read_noise, gain, weighting, saturation,
                        detect_jumps, jump_threshold, data_unit)
    if cube.ndim < 2:
        msg = f"cube must have at least 2 dimensions, got shape {cube.shape}"
        raise ValueError(msg)
    if cube.dtype.kind not in "biuf":
        msg = f"cube must contain real numbers, got dtype {cube.dtype}"
        raise TypeError(msg)
    axis = check_axis(axis, cube.ndim)
    K = cube.shape[axis]
    times = check_times(times, K)
    if K < opts["degree"] + 1:
        msg = (f"the cube has {K} reads; a degree-{opts['degree']} fit "
               f"needs at least {opts['degree'] + 1}")
        raise ValueError(msg)
    mask = check_mask(mask, cube.shape)
    units = _units(data_unit, time_unit)
    if is_dask(cube):
        # dask results are lazy: nothing is fitted here; the units travel
        # beside the arrays (Quantity blocks do not survive the transfers
        # of dask.distributed) and come back with RampFitResult.compute()
        values = fit_dask(cube, times, mask, axis, chunk_pixels, opts)
        return RampFitResult(**values, _units=units)
    npix = cube.size // K
    with make_progress_bar(total=npix, enabled=progress_bar,
                           desc="fit_ramps", unit="pixel") as bar:
        values = fit_array(cube, times, mask, axis, chunk_pixels, opts,
                           n_threads=n_threads, progress=bar)
    return RampFitResult(**_with_units(values, units))
