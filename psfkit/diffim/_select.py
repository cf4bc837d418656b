"""
Automatic selection of kernel candidates and FWHM measurement.

A coarse detection on the science image (Gaussian-smoothed, local maxima
above ``detection_threshold`` times the smoothed noise) gives peak positions;
each is vetted in *both* images for signal-to-noise, isolation (no brighter
peak inside its stamp), saturation anywhere in its stamp (masked
pixels, or a flat top of equal values: `saturated`) and bad pixels, and
must have its whole stamp inside the image.
Only the detection needs a whole-image pass; everything else works on
small cutouts at the peaks.
"""

from collections import Counter
from collections.abc import Mapping
import os

from astropy.stats import sigma_clipped_stats
from astropy.table import Table
import astropy.units as u
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import ndimage
from scipy.spatial import cKDTree

from .._numerics.gaussian import FWHM_PER_SIGMA
from .._numerics.peaks import border_ok, cutout_indices, local_maxima
from ..utils import InputDataError, find_xy_columns

__all__ = []

_SMOOTH_SIGMA = 1.5
_SMOOTH_RADIUS = int(3.0 * _SMOOTH_SIGMA + 0.5)
# white noise smoothed with a unit-sum Gaussian of width sigma keeps this
# fraction of its standard deviation
_SMOOTH_NOISE = 1.0 / (2.0 * np.sqrt(np.pi) * _SMOOTH_SIGMA)
_MOMENT_HALF = 10


def sky_and_noise(data, bad, name, *, require_noise=True):
    """
    Median sky and noise from a subsample of valid pixels.

    The noise is the MAD-based standard deviation of the differences of
    horizontally adjacent pixels divided by sqrt(2), which a smooth sky
    gradient and the few pixels on stars do not inflate.

    Raises
    ------
    psfkit.utils.InputDataError
        When the image has no valid pixel or, with ``require_noise``, is
        constant (nothing to match).
    """
    step = max(1, int(np.sqrt(data.size / 250_000)))
    sample = data[::step, ::step][~bad[::step, ::step]]
    if sample.size == 0:
        sample = data[~bad]
    if sample.size == 0:
        msg = f"{name} has no valid pixel (all masked or non-finite)"
        raise InputDataError(msg)
    sky = float(np.median(sample))
    rows, rbad = data[::step], bad[::step]
    pair_ok = ~(rbad[:, 1:] | rbad[:, :-1])
    diffs = (rows[:, 1:] - rows[:, :-1])[pair_ok]
    diffs = diffs[::max(1, diffs.size // 100_000)].astype(float)
    noise = 0.0
    if diffs.size:
        # the MAD of sigma-clipped differences: star edges widen the core
        # of the distribution, which clipping removes and MAD alone not
        noise = float(sigma_clipped_stats(diffs, sigma=3.0, maxiters=5,
                                          stdfunc="mad_std")[2]) / np.sqrt(2.0)
    if not noise > 0 and require_noise:
        valid = data[~bad]
        lo, hi = float(valid.min()), float(valid.max())
        if lo == hi:
            msg = (f"{name} is constant (every unmasked pixel is {lo:g}): "
                   "there is nothing to match")
            raise InputDataError(msg)
        # a noiseless image: most neighbours are equal
        noise = float(np.std(diffs)) / np.sqrt(2.0) if diffs.size else 0.0
        noise = noise if noise > 0 else 1e-6 * (hi - lo)
    return sky, noise


def detect_peaks(science, bad, sky, noise, threshold, *, max_peaks):
    """
    Peaks of the smoothed science image, brightest first.

    Returns
    -------
    x, y : `~numpy.ndarray` of int
    snr : `~numpy.ndarray`
        Signal-to-noise ratio of the smoothed image at each peak.
    """
    work = science.astype(np.float32)
    work -= np.float32(sky)
    work[bad] = 0.0
    ndimage.gaussian_filter(work, _SMOOTH_SIGMA, output=work, mode="constant",
                            truncate=3.0)
    work *= np.float32(1.0 / (noise * _SMOOTH_NOISE))
    above = (work >= threshold) & ~bad
    # a peak is at least as high as its four neighbours: a cheap first cut
    # that leaves local_maxima a few pixels per star instead of all of them
    above[1:] &= work[1:] >= work[:-1]
    above[:-1] &= work[:-1] >= work[1:]
    above[:, 1:] &= work[:, 1:] >= work[:, :-1]
    above[:, :-1] &= work[:, :-1] >= work[:, 1:]
    ys, xs = local_maxima(work, np.ones((5, 5), dtype=bool), above)
    snr = work[ys, xs].astype(float)
    order = np.argsort(-snr, kind="stable")[:max_peaks]
    return xs[order], ys[order], snr[order]


def point_snr(data, bad, sky, noise, x, y):
    """The smoothed signal-to-noise ratio of `detect_peaks` at ``(x, y)``."""
    if len(x) == 0:
        return np.zeros(0)
    r = _SMOOTH_RADIUS
    off = np.arange(-r, r + 1, dtype=float)
    g = np.exp(-0.5 * (off / _SMOOTH_SIGMA) ** 2)
    g /= g.sum()
    rows, cols, inside = cutout_indices(data.shape, y, x, r, r)
    values = np.where(inside & ~bad[rows, cols], data[rows, cols] - sky, 0.0)
    return np.einsum("nij,i,j->n", values, g, g) / (noise * _SMOOTH_NOISE)


def positions_from_sources(sources, shape):
    """
    Integer positions from a table or a dict of columns (x/y-like names,
    in pixels; masked rows are dropped) or an (N, 2) array.
    """
    expected = ("sources must be a table, a dict of columns or an (N, 2) "
                "array of (x, y)")
    if isinstance(sources, Mapping):
        sources = Table(dict(sources))
    if isinstance(sources, Table):
        xname, yname = find_xy_columns(sources, name="sources")
        xs = pixel_values(f"sources[{xname!r}]", sources[xname])
        ys = pixel_values(f"sources[{yname!r}]", sources[yname])
    elif isinstance(sources, str | bytes | os.PathLike):
        msg = (f"{expected}, got {type(sources).__name__} {sources!r} (read "
               "a file with astropy.table.Table.read first)")
        raise TypeError(msg)
    else:
        arr = np.asarray(sources, dtype=float)
        if arr.ndim != 2 or arr.shape[1] != 2:
            msg = f"{expected}, got shape {arr.shape}"
            raise ValueError(msg)
        xs, ys = arr[:, 0], arr[:, 1]
    ok = np.isfinite(xs) & np.isfinite(ys)
    xi = np.round(xs[ok]).astype(int)
    yi = np.round(ys[ok]).astype(int)
    ny, nx = shape
    inside = (xi >= 0) & (xi < nx) & (yi >= 0) & (yi < ny)
    return xi[inside], yi[inside]


def pixel_values(name, values):
    """
    ``values`` (a number, an array, a column, masked or a Quantity) as
    floats in pixels; masked entries become NaN.

    Raises
    ------
    astropy.units.UnitsError
        For a unit other than pixels: nothing here knows the pixel scale.
    """
    unit = getattr(values, "unit", None)
    if unit is not None and unit not in (u.pix, u.dimensionless_unscaled):
        msg = (f"{name} must be in pixels (a plain number or u.pix), got "
               f"unit {unit}")
        raise u.UnitsError(msg)
    mask = getattr(values, "mask", None)
    # an astropy Masked quantity keeps its values apart from its mask
    values = getattr(values, "unmasked", values)
    values = np.asarray(getattr(values, "value", values), dtype=float)
    if mask is not None and np.any(mask):
        values = np.where(mask, np.nan, values)
    return values if values.ndim else float(values)


def any_bad(bad, x, y, half):
    """Whether the ``(2 half + 1)**2`` box at each (x, y) (inside the
    image) holds a bad pixel."""
    out = np.zeros(len(x), dtype=bool)
    if not bad.any():
        return out
    for i, (xi, yi) in enumerate(zip(x, y, strict=True)):
        out[i] = bad[yi - half:yi + half + 1, xi - half:xi + half + 1].any()
    return out


def saturated(data, bad, x, y, half):
    """
    Whether the ``(2 half + 1)**2`` box at each (x, y) (inside the image)
    holds a clipped (saturated) star, anywhere in it.

    Two signs, both immune to noise: a pixel at the image's largest valid
    value when at least two pixels reach it (clipping at one level), and a
    top of three or more pixels equal to the box's largest value (clipping
    at a level of its own, such as an amplifier's).  Two equal pixels at
    the top of a box are not enough by themselves: a star centred between
    two pixels of a noiseless image has them.
    """
    out = np.zeros(len(x), dtype=bool)
    if len(x) == 0:
        return out
    top = np.max(data, where=~bad, initial=-np.inf)
    clipped = np.count_nonzero((data == top) & ~bad) >= 2
    windows = sliding_window_view(data, (2 * half + 1, 2 * half + 1))
    batch = 256
    for lo in range(0, len(x), batch):
        sl = slice(lo, lo + batch)
        boxes = windows[y[sl] - half, x[sl] - half].reshape(
            len(x[sl]), -1)
        peak = boxes.max(axis=1)
        flat = np.count_nonzero(boxes == peak[:, None], axis=1) >= 3
        out[lo:lo + batch] = flat | (clipped & (peak == top))
    return out


def _crowded(x, y, snr, radius):
    """Peaks with a brighter peak within ``radius`` (Chebyshev distance)."""
    crowded = np.zeros(len(x), dtype=bool)
    if len(x) < 2:
        return crowded
    pairs = cKDTree(np.column_stack([x, y])).query_pairs(radius, p=np.inf,
                                                         output_type="ndarray")
    if len(pairs):
        i, j = pairs[:, 0], pairs[:, 1]
        crowded[j[snr[i] > snr[j]]] = True
        crowded[i[snr[j] > snr[i]]] = True
    return crowded


def vet_peaks(x, y, snr, *, shape, stamp_size, bad, template, science,
              science_snr, template_snr, threshold, isolation_radius):
    """
    Keep the peaks usable as candidates; count why the others failed.

    Returns
    -------
    keep : ndarray of bool
    reasons : Counter
    """
    half = stamp_size // 2
    reasons = Counter()
    keep = np.ones(len(x), dtype=bool)

    def drop(flag, why):
        new = flag & keep
        if np.any(new):
            reasons[why] += int(np.count_nonzero(new))
        keep[new] = False

    drop(~border_ok(shape, y, x, half, half), "stamp off the image edge")
    idx = np.flatnonzero(keep)
    masked = np.zeros(len(x), dtype=bool)
    masked[idx] = any_bad(bad, x[idx], y[idx], half)
    drop(masked, "masked pixels in the stamp")
    drop(~(science_snr >= threshold), "low signal-to-noise in the science image")
    drop(~(template_snr >= threshold), "low signal-to-noise in the template")
    drop(_crowded(x, y, snr, isolation_radius),
         "not isolated (brighter peak nearby)")
    # last: the only test that reads whole stamps
    idx = np.flatnonzero(keep)
    clipped = np.zeros(len(x), dtype=bool)
    clipped[idx] = (saturated(science, bad, x[idx], y[idx], half)
                    | saturated(template, bad, x[idx], y[idx], half))
    drop(clipped, "saturated (flat top) in the stamp")
    return keep, reasons


def measure_fwhm(data, bad, sky, x, y, *, n_max=100):
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
    h = _MOMENT_HALF
    ok = border_ok(data.shape, y, x, h, h)
    x, y = x[ok][:4 * n_max], y[ok][:4 * n_max]
    clean = ~any_bad(bad, x, y, h)
    x, y = x[clean][:n_max], y[clean][:n_max]
    if len(x) == 0:
        return None
    rows, cols, _ = cutout_indices(data.shape, y, x, h, h)
    stamps = data[rows, cols].astype(float) - sky
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


def reasons_text(reasons):
    """One line summarising a Counter of rejection reasons."""
    return "; ".join(f"{n} x {r}" for r, n in reasons.most_common())
