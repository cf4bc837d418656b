"""Simulated up-the-ramp detector cubes."""

from dataclasses import dataclass

import astropy.units as u
import numpy as np

from ..utils import (
    SummaryReprMixin,
    as_pair,
    check_integer,
    get_rng,
    renamed_keyword,
)
from ._inputs import finite, plain_values, poisson, positive

__all__ = ["RampTruth", "make_ramp_cube"]


@dataclass(frozen=True, repr=False)
class RampTruth(SummaryReprMixin):
    """
    The known inputs of a simulated ramp cube.

    Attributes
    ----------
    rate : `~numpy.ndarray`
        The true count rate of every pixel, in data units (DN) per second,
        shape ``(ny, nx)``.
    times : `~numpy.ndarray`
        The time of every read since the reset in seconds, shape
        ``(n_reads,)``.
    bias : float
        The constant level added to every read (DN).
    read_noise : float
        The Gaussian read noise of a single read (DN).
    gain : float
        Electrons per DN; the accumulated charge is Poisson in electrons.
    jump_read : `~numpy.ndarray` of int
        The first read that includes the cosmic-ray jump of each pixel, or
        -1 for no jump.
    jump_amplitude : `~numpy.ndarray`
        The jump size in DN (0 where there is no jump).
    jump_sigma : `~numpy.ndarray`
        The jump size in units of the standard deviation of a two-point
        difference, ``sqrt(2 * read_noise**2 + rate * dt / gain)``.
    saturated_read : `~numpy.ndarray` of int
        The first read at or above ``saturation``, or -1 if none.
    """

    rate: np.ndarray
    times: np.ndarray
    bias: float
    read_noise: float
    gain: float
    jump_read: np.ndarray
    jump_amplitude: np.ndarray
    jump_sigma: np.ndarray
    saturated_read: np.ndarray


@renamed_keyword(seed="random_state")
def make_ramp_cube(shape, n_reads, *, rate, read_noise, gain=1.0,
                   jump_fraction=0.0, saturation=None, random_state=None,
                   frame_time=1.0, bias=0.0, jump_sigma=5.0,
                   dtype=np.float64):
    """
    Simulate an up-the-ramp cube of non-destructive reads.

    Every pixel collects charge at a constant rate: the electrons added
    between reads are Poisson, every read adds Gaussian read noise, and a
    fraction of the pixels receive one cosmic-ray jump at a random read.
    Reads at or above ``saturation`` are clipped to it.

    Arguments may be `~astropy.units.Quantity`: times are converted to
    seconds, levels to DN (``u.adu`` or ``u.DN``; electrons through
    ``gain``), rates to DN per second.  Plain numbers are in those units.
    The cube and the truth hold plain numbers in DN and seconds.

    Parameters
    ----------
    shape : int or tuple of 2 int
        The ``(ny, nx)`` shape of the detector.
    n_reads : int
        The number of reads (at least 2).
    rate : float or array-like
        The count rate in DN per second, a scalar or an ``(ny, nx)`` array
        (above 1e15 electrons per read the Gaussian approximation of the
        Poisson distribution is drawn, which is exact far below the
        noise).
    read_noise : float
        The read noise of one read, in DN.
    gain : float, optional
        Electrons per DN.
    jump_fraction : float, optional
        The fraction of pixels with one jump.
    saturation : float, optional
        The saturation level in DN.
    random_state : int or `numpy.random.Generator`, optional
        Seed or generator (see `~psfkit.utils.get_rng`); the same seed
        gives the same output.
    seed : int, optional
        Deprecated spelling of ``random_state``.
    frame_time : float, optional
        The time between reads in seconds; read ``i`` is at ``(i + 1) *
        frame_time``.
    bias : float, optional
        A constant level added to every read.
    jump_sigma : float, optional
        The jump size in units of the standard deviation of a two-point
        difference at that pixel, ``sqrt(2 * read_noise**2 + rate *
        frame_time / gain)``.
    dtype : dtype, optional
        The floating-point type of the cube (integer types, which would
        wrap around, are refused).

    Returns
    -------
    cube : `~numpy.ndarray`
        Shape ``(n_reads, ny, nx)``, in DN.
    truth : `RampTruth`
        The rates, read times, jumps and saturation of the simulation.

    Examples
    --------
    >>> from psfkit.datasets import make_ramp_cube
    >>> cube, truth = make_ramp_cube((4, 5), 6, rate=10.0, read_noise=2.0,
    ...                              random_state=1)
    >>> cube.shape, truth.times.tolist()
    ((6, 4, 5), [1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    """
    shape = as_pair("shape", shape, lower_bound=(1, True))
    n_reads = check_integer("n_reads", n_reads, minimum=2)
    try:
        floating = np.issubdtype(np.dtype(dtype), np.floating)
    except TypeError:
        floating = False
    if not floating:
        msg = f"dtype must be a floating-point type, got {dtype!r}"
        raise TypeError(msg)
    gain = positive("gain", gain, u.electron / u.adu,
                    equivalencies=[(u.electron / u.DN, u.electron / u.adu)])
    # DN (u.adu or u.DN), and electrons through the gain
    counts = [(u.DN, u.adu),
              (u.electron, u.adu, lambda e: e / gain, lambda d: d * gain)]
    read_noise = positive("read_noise", read_noise, u.adu, strict=False,
                          equivalencies=counts)
    frame_time = positive("frame_time", frame_time, u.s)
    jump_sigma = positive("jump_sigma", jump_sigma, strict=False)
    bias = finite("bias", bias, u.adu, equivalencies=counts)
    if saturation is not None:
        saturation = finite("saturation", saturation, u.adu,
                            equivalencies=counts)
    jump_fraction = finite("jump_fraction", jump_fraction)
    if not 0.0 <= jump_fraction <= 1.0:
        msg = f"jump_fraction must be between 0 and 1, got {jump_fraction}"
        raise ValueError(msg)
    rates = [(a / u.s, b / u.s, *conv) for a, b, *conv in counts]
    rate = np.asarray(plain_values("rate", rate, u.adu / u.s, rates),
                      dtype=float)
    try:
        rate = np.broadcast_to(rate, shape).copy()
    except ValueError:
        msg = (f"rate must be a scalar or an array of shape {shape}, got "
               f"shape {rate.shape}")
        raise ValueError(msg) from None
    if not np.all(np.isfinite(rate)) or np.any(rate < 0):
        msg = "rate must be finite and non-negative"
        raise ValueError(msg)
    rng = get_rng(random_state)

    times = frame_time * np.arange(1, n_reads + 1)
    sigma_d = np.sqrt(2 * read_noise**2 + rate * frame_time / gain)
    has_jump = rng.random(shape) < jump_fraction
    jump_read = np.where(has_jump, rng.integers(1, n_reads, size=shape), -1)
    jump_amp = np.where(has_jump, jump_sigma * sigma_d, 0.0)

    cube = np.empty((n_reads,) + shape, dtype=dtype)
    electrons = np.zeros(shape)
    mean_e = rate * gain * frame_time
    for i in range(n_reads):
        electrons += poisson(rng, mean_e)
        read = electrons / gain + bias + rng.normal(0.0, read_noise, shape)
        read += np.where((jump_read >= 0) & (jump_read <= i), jump_amp, 0.0)
        cube[i] = read
    saturated_read = np.full(shape, -1)
    if saturation is not None:
        over = cube >= saturation
        # once a pixel saturates it stays saturated
        over = np.logical_or.accumulate(over, axis=0)
        cube[over] = saturation
        anyover = over.any(axis=0)
        saturated_read = np.where(anyover, np.argmax(over, axis=0), -1)
    truth = RampTruth(rate=rate, times=times, bias=bias,
                      read_noise=read_noise, gain=gain, jump_read=jump_read,
                      jump_amplitude=jump_amp,
                      jump_sigma=np.where(has_jump, jump_sigma, 0.0),
                      saturated_read=saturated_read)
    return cube, truth
