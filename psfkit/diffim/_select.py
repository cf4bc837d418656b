"""
Automatic selection of kernel candidates and FWHM measurement.

A coarse detection on the science image (Gaussian-smoothed, local maxima
above ``detection_threshold`` times the smoothed noise) gives peak positions;
each is vetted in *both* images for signal-to-noise, isolation (no brighter
peak inside its stamp), saturation (masked pixels, or a flat top of equal
values) and bad pixels, and must have its whole stamp inside the image.
"""

from collections import Counter
import warnings

from astropy.table import Table
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import ndimage

from .._numerics.gaussian import FWHM_PER_SIGMA
from ..photometry import MADStdBackgroundRMS, find_peaks
from ..utils import NoDetectionsWarning

__all__ = []

_SMOOTH_SIGMA = 1.5
_MOMENT_HALF = 10


def sky_and_noise(data, bad):
    """
    Median sky and noise from a subsample of valid pixels.

    The noise is the MAD-based standard deviation of the differences of
    horizontally adjacent pixels divided by sqrt(2), which a smooth sky
    gradient and the few pixels on stars do not inflate.
    """
    step = max(1, int(np.sqrt(data.size / 250_000)))
    rows = data[::step]
    rbad = bad[::step]
    sub = rows[:, ::step][~rbad[:, ::step]]
    sky = float(np.median(sub))
    pair_ok = ~(rbad[:, 1:] | rbad[:, :-1])
    diffs = (rows[:, 1:] - rows[:, :-1])[pair_ok]
    rms = MADStdBackgroundRMS()
    noise = float(rms.calc_background_rms(diffs)) / np.sqrt(2.0)
    return sky, noise


def _smoothed_snr(data, bad, sky, noise):
    filled = np.where(bad, sky, data) - sky
    smooth = ndimage.gaussian_filter(filled, _SMOOTH_SIGMA, truncate=3.0)
    # noise of white noise after smoothing with a unit-sum Gaussian
    return smooth / (noise / (2.0 * np.sqrt(np.pi) * _SMOOTH_SIGMA))


def integral_image(bad):
    """Summed-area table of a boolean image, with a leading zero row and
    column."""
    return np.pad(np.cumsum(np.cumsum(bad, axis=0, dtype=np.int64), axis=1),
                  ((1, 0), (1, 0)))


def _box_count(csum, x, y, half):
    """Number of bad pixels in the (2 half + 1)**2 box around each (x, y),
    from the `integral_image` ``csum``."""
    y0, y1 = y - half, y + half + 1
    x0, x1 = x - half, x + half + 1
    return csum[y1, x1] - csum[y0, x1] - csum[y1, x0] + csum[y0, x0]


def _flat_top(data, x, y):
    """A clipped (saturated) peak has neighbours equal to its maximum."""
    ny, nx = data.shape
    out = np.zeros(len(x), dtype=bool)
    inside = (x >= 1) & (x < nx - 1) & (y >= 1) & (y < ny - 1)
    win = sliding_window_view(data, (3, 3))[y[inside] - 1, x[inside] - 1]
    peak = win.reshape(len(win), -1).max(axis=1)
    out[inside] = np.sum(win.reshape(len(win), -1) == peak[:, None], axis=1) >= 3
    return out


def detect_peaks(science, bad, sky, noise, threshold, *, max_peaks):
    """Peaks of the smoothed science image: ``x``, ``y`` (int) and ``snr``."""
    snr_map = _smoothed_snr(science, bad, sky, noise)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoDetectionsWarning)
        peaks = find_peaks(snr_map, threshold, box_size=5, mask=bad,
                           npeaks=max_peaks)
    if peaks is None or len(peaks) == 0:
        return np.zeros(0, int), np.zeros(0, int), np.zeros(0), snr_map
    x = np.asarray(peaks["x_peak"], dtype=int)
    y = np.asarray(peaks["y_peak"], dtype=int)
    return x, y, snr_map[y, x], snr_map


def positions_from_sources(sources, shape):
    """Integer positions from a table (x/y-like columns) or an (N, 2) array."""
    if isinstance(sources, Table):
        for xname, yname in (("x", "y"), ("xcentroid", "ycentroid"),
                             ("x_peak", "y_peak"), ("x_fit", "y_fit"),
                             ("x_init", "y_init")):
            if xname in sources.colnames and yname in sources.colnames:
                xs = np.asarray(getattr(sources[xname], "value", sources[xname]),
                                dtype=float)
                ys = np.asarray(getattr(sources[yname], "value", sources[yname]),
                                dtype=float)
                break
        else:
            msg = ("sources must have x/y position columns (x, y or xcentroid, "
                   f"ycentroid); got {sources.colnames}")
            raise ValueError(msg)
    else:
        arr = np.asarray(sources, dtype=float)
        if arr.ndim != 2 or arr.shape[1] != 2:
            msg = ("sources must be a table or an (N, 2) array of (x, y), "
                   f"got {arr.shape}")
            raise ValueError(msg)
        xs, ys = arr[:, 0], arr[:, 1]
    ok = np.isfinite(xs) & np.isfinite(ys)
    xi = np.round(xs[ok]).astype(int)
    yi = np.round(ys[ok]).astype(int)
    ny, nx = shape
    inside = (xi >= 0) & (xi < nx) & (yi >= 0) & (yi < ny)
    return xi[inside], yi[inside]


def vet_peaks(x, y, snr, *, shape, stamp_size, bad_sum, template, science,
              science_snr, template_snr, threshold, isolation_radius):
    """
    Keep the peaks usable as candidates; count why the others failed.

    Returns
    -------
    keep : ndarray of bool
    reasons : Counter
    """
    ny, nx = shape
    half = stamp_size // 2
    reasons = Counter()
    keep = np.ones(len(x), dtype=bool)

    def drop(flag, why):
        new = flag & keep
        if np.any(new):
            reasons[why] += int(np.count_nonzero(new))
        keep[new] = False

    drop((x < half) | (x >= nx - half) | (y < half) | (y >= ny - half),
         "stamp off the image edge")
    idx = np.flatnonzero(keep)
    masked = np.zeros(len(x), dtype=bool)
    masked[idx] = _box_count(bad_sum, x[idx], y[idx], half) > 0
    drop(masked, "masked pixels in the stamp")
    drop(_flat_top(science, x, y) | _flat_top(template, x, y),
         "saturated (flat top)")
    drop(~(science_snr[y, x] >= threshold),
         "low signal-to-noise in the science image")
    drop(~(template_snr[y, x] >= threshold),
         "low signal-to-noise in the template")
    # isolation: no brighter peak inside the fitted region
    order = np.argsort(-snr)
    xs, ys, ss = x[order], y[order], snr[order]
    crowded = np.zeros(len(x), dtype=bool)
    for rank in range(1, len(order)):
        near = ((np.abs(xs[:rank] - xs[rank]) <= isolation_radius)
                & (np.abs(ys[:rank] - ys[rank]) <= isolation_radius)
                & (ss[:rank] > ss[rank]))
        crowded[order[rank]] = bool(np.any(near))
    drop(crowded, "not isolated (brighter peak nearby)")
    return keep, reasons


def measure_fwhm(data, bad, sky, x, y, *, n_max=100, bad_sum=None):
    """
    Median FWHM from adaptive Gaussian-weighted second moments.

    The first ``n_max`` sources (callers pass them brightest first) whose
    window has no bad pixel are measured.

    The weight width is iterated to ``sigma_w**2 = 2 * (weighted moment)``,
    at which point an exact Gaussian of width ``sigma`` gives
    ``sigma**2 = 2 * moment`` (minus the 1/12 pixel variance).

    Returns
    -------
    fwhm : float or None
        `None` if no star could be measured.
    """
    ny, nx = data.shape
    h = _MOMENT_HALF
    ok = (x >= h) & (x < nx - h) & (y >= h) & (y < ny - h)
    x, y = x[ok], y[ok]
    if bad_sum is None:
        bad_sum = integral_image(bad)
    clean = _box_count(bad_sum, x, y, h) == 0
    x, y = x[clean][:n_max], y[clean][:n_max]
    if len(x) == 0:
        return None
    filled = np.where(bad, sky, data) - sky
    stamps = sliding_window_view(filled, (2 * h + 1, 2 * h + 1))[y - h, x - h]
    off = np.arange(-h, h + 1, dtype=float)
    yy, xx = np.meshgrid(off, off, indexing="ij")
    sigma_w = np.full(len(x), 2.0)
    cx = np.zeros(len(x))
    cy = np.zeros(len(x))
    moment = np.full(len(x), np.nan)
    for _ in range(20):
        w = np.exp(-0.5 * ((xx - cx[:, None, None]) ** 2
                           + (yy - cy[:, None, None]) ** 2)
                   / sigma_w[:, None, None] ** 2) * stamps
        tot = w.sum(axis=(1, 2))
        good = tot > 0
        tot = np.where(good, tot, 1.0)
        cx = np.clip((w * xx).sum(axis=(1, 2)) / tot, -2, 2)
        cy = np.clip((w * yy).sum(axis=(1, 2)) / tot, -2, 2)
        mxx = (w * (xx - cx[:, None, None]) ** 2).sum(axis=(1, 2)) / tot
        myy = (w * (yy - cy[:, None, None]) ** 2).sum(axis=(1, 2)) / tot
        moment = np.where(good, 0.5 * (mxx + myy), np.nan)
        sigma_w = np.clip(np.sqrt(np.abs(2.0 * np.nan_to_num(moment, nan=2.0))),
                          0.5, h / 2.0)
    sigma2 = 2.0 * moment - 1.0 / 12.0
    sigma2 = sigma2[np.isfinite(sigma2) & (sigma2 > 0)]
    if sigma2.size == 0:
        return None
    return float(FWHM_PER_SIGMA * np.sqrt(np.median(sigma2)))


def extract_stamps(image, x, y, stamp_size):
    """``(n, S, S)`` copies of the stamps centred on integer ``(x, y)``."""
    half = stamp_size // 2
    view = sliding_window_view(image, (stamp_size, stamp_size))
    return np.array(view[y - half, x - half])


def reasons_text(reasons):
    """One line summarising a Counter of rejection reasons."""
    return "; ".join(f"{n} x {r}" for r, n in reasons.most_common())
