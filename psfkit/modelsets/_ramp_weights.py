"""
The optimal weighting of ramp segments of Fixsen et al. (2000).

Within a segment of reads spanning ``t0 .. t1``, read ``i`` gets the weight
``|(t_i - t_mid) / (t_mid - t0)|**P``, where the exponent ``P`` rises with
the segment's signal-to-noise: 0 (the unweighted fit) below 5, then 0.4,
1, 3, 6 and 10 above 100, where the weights approach the first-last
difference, the optimal estimator when Poisson noise dominates.
"""

import numpy as np

__all__ = []

# signal-to-noise class edges and the exponent of each class
SNR_EDGES = np.array([5.0, 10.0, 20.0, 50.0, 100.0])
SNR_POWERS = np.array([0.0, 0.4, 1.0, 3.0, 6.0, 10.0])


def snr_class(slope, span, read_noise, gain):
    """Index into ``SNR_POWERS`` of segments of ``span`` at ``slope``."""
    signal = np.clip(slope, 0.0, None) * span
    snr = signal / np.sqrt(read_noise**2 + signal / gain)
    return np.searchsorted(SNR_EDGES, np.nan_to_num(snr))


def fixsen_classes(times, valid, slope, read_noise, gain):
    """
    The span ``(t0, t1)`` of every row's valid reads and its weighting
    exponent, from the signal-to-noise of the segment.
    """
    any_valid = valid.any(axis=1)
    t0 = np.where(any_valid, np.where(valid, times, np.inf).min(axis=1), 0.0)
    t1 = np.where(any_valid, np.where(valid, times, -np.inf).max(axis=1), 0.0)
    power = SNR_POWERS[snr_class(slope, t1 - t0, read_noise, gain)]
    return t0, t1, power


def fixsen_weights(times, valid, t0, t1, power):
    """Per-read weights ``|t - mid| / half`` to the row's power (or 1)."""
    mid = 0.5 * (t0 + t1)
    half = np.where(t1 > t0, 0.5 * (t1 - t0), 1.0)
    with np.errstate(invalid="ignore"):
        rel = np.abs((times[None, :] - mid[:, None]) / half[:, None])
        w = np.where(power[:, None] > 0, rel ** power[:, None], 1.0)
    return np.where(valid, w, 0.0)


def complete_weights(times, power):
    """The weights of a ramp with every read valid."""
    return fixsen_weights(times, np.ones((1, times.size), bool), times[:1],
                          times[-1:], np.array([power]))[0]
