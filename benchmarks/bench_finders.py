"""
Benchmark psfkit's finders, background estimators and groupers against
photutils 3.x on the same simulated data.

Run with ``python benchmarks/bench_finders.py`` (add ``--quick`` for a
smaller run).  For every comparison it prints psfkit's time, photutils'
time in the same run (best of several repeats, interleaved), their ratio,
and how well the results agree: detection counts, positions matched
between the two catalogues, the centroid error of each against the true
positions, and for the background the largest difference of the maps.
The finders and Background2D also run at two image sizes, to show how the
cost grows.
"""

import argparse
import time
import warnings

from astropy.table import QTable
import numpy as np
from scipy.spatial import cKDTree

from psfkit.datasets import make_gaussian_sources, make_noise_image
from psfkit.photometry import (
    Background2D,
    DAOGroup,
    DAOStarFinder,
    DBSCANGroup,
    IRAFStarFinder,
    LocalBackground,
    MMMBackground,
    SourceGrouper,
    find_peaks,
)

try:
    import photutils.background as pu_bkg
    import photutils.detection as pu_det
    import photutils.psf as pu_psf
except ImportError:  # the comparison columns are then left out
    pu_det = pu_bkg = pu_psf = None

SIGMA = 1.5
FWHM = SIGMA * 2.0 * np.sqrt(2.0 * np.log(2.0))
NOISE = 2.0
SKY = 10.0


def best_time(func, repeat):
    """The best wall-clock time of ``repeat`` calls, and the last result."""
    best = np.inf
    result = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = func()
        best = min(best, time.perf_counter() - t0)
    return best, result


def simulate(shape, nstars, seed):
    """Random Gaussian stars of peak S/N 5-100 on a flat noisy sky."""
    rng = np.random.default_rng(seed)
    amp = rng.uniform(5 * NOISE, 100 * NOISE, nstars)
    truth = QTable({"amplitude": amp,
                    "x_mean": rng.uniform(0, shape[1] - 1, nstars),
                    "y_mean": rng.uniform(0, shape[0] - 1, nstars),
                    "x_stddev": np.full(nstars, SIGMA),
                    "y_stddev": np.full(nstars, SIGMA)})
    image = (make_gaussian_sources(shape, truth)
             + make_noise_image(shape, mean=0.0, stddev=NOISE,
                                random_state=seed))
    return image, truth


def xy(table):
    xcol = "x_centroid" if "x_centroid" in table.colnames else "xcentroid"
    ycol = "y_centroid" if "y_centroid" in table.colnames else "ycentroid"
    return np.column_stack([np.asarray(table[xcol], float),
                            np.asarray(table[ycol], float)])


def isolated_bright(truth, shape):
    """Stars above 20 sigma with no neighbour within 6 FWHM, off the edges."""
    pos = np.column_stack([truth["x_mean"], truth["y_mean"]])
    dist, _ = cKDTree(pos).query(pos, k=2)
    margin = 3 * FWHM
    ok = ((dist[:, 1] > 6 * FWHM) & (truth["amplitude"] > 20 * NOISE)
          & (pos[:, 0] > margin) & (pos[:, 0] < shape[1] - margin)
          & (pos[:, 1] > margin) & (pos[:, 1] < shape[0] - margin))
    return pos[ok]


def centroid_error(found, true_pos):
    dist, _ = cKDTree(found).query(true_pos)
    ok = dist < 1.0
    return ok.mean(), np.sqrt(np.mean(dist[ok]**2))


def time_pair(ours, theirs, repeat):
    """Best times of two calls, interleaved, and their last results."""
    t_ours = t_theirs = np.inf
    res_ours = res_theirs = None
    for _ in range(repeat):
        t, res_ours = best_time(ours, 1)
        t_ours = min(t_ours, t)
        if theirs is not None:
            t, res_theirs = best_time(theirs, 1)
            t_theirs = min(t_theirs, t)
    return t_ours, res_ours, t_theirs, res_theirs


def max_column_difference(ours, theirs):
    """The largest difference of the shared numeric columns (same rows)."""
    if len(ours) != len(theirs):
        return np.nan
    worst = 0.0
    for name in theirs.colnames:
        a = np.asarray(getattr(ours[name], "value", ours[name]), float)
        b = np.asarray(getattr(theirs[name], "value", theirs[name]), float)
        ok = np.isfinite(a) & np.isfinite(b)
        if ok.any():
            worst = max(worst, float(np.max(np.abs(a[ok] - b[ok])
                                            / np.maximum(np.abs(b[ok]), 1))))
    return worst


def compare_finders(label, ours, theirs, image, truth, repeat):
    t_ours, cat_ours, t_theirs, cat_theirs = time_pair(
        lambda: ours(image), None if theirs is None else lambda: theirs(image),
        repeat)
    print(f"  {label:<22s} psfkit    {t_ours:8.3f} s  {len(cat_ours):6d} "
          "sources")
    iso = isolated_bright(truth, image.shape)
    rec, rms = centroid_error(xy(cat_ours), iso)
    print(f"  {'':22s}   isolated >20 sigma stars: recovered {rec:.1%}, "
          f"centroid rms {rms:.4f} px")
    if theirs is None:
        return t_ours
    print(f"  {'':22s} photutils {t_theirs:8.3f} s  {len(cat_theirs):6d} "
          f"sources   ratio photutils/psfkit = {t_theirs / t_ours:.1f}x")
    print(f"  {'':22s}   largest relative difference of any column: "
          f"{max_column_difference(cat_ours, cat_theirs):.1e}")
    return t_ours


def bench_finders(shape, nstars, repeat):
    print(f"\nFinders: {shape[0]}x{shape[1]} image, {nstars} stars, "
          f"FWHM {FWHM:.2f} px, threshold 5 sigma, same settings both sides")
    image, truth = simulate(shape, nstars, seed=1)
    thr = 5 * NOISE
    iraf_sep = max(2, int(FWHM * 2.5 + 0.5))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peers = (None, None, None, None)
        if pu_det is not None:
            peers = (pu_det.DAOStarFinder(thr, FWHM, min_separation=0),
                     pu_det.DAOStarFinder(thr, FWHM),
                     pu_det.IRAFStarFinder(thr, FWHM, min_separation=iraf_sep))
            peers = (*peers, lambda: pu_det.find_peaks(image, thr,
                                                       box_size=5))
    times = {}
    times["dao"] = compare_finders(
        "DAOStarFinder", DAOStarFinder(thr, FWHM), peers[0], image, truth,
        repeat)
    compare_finders("DAOStarFinder, 2.5 FWHM",
                    DAOStarFinder(thr, FWHM, min_separation=None), peers[1],
                    image, truth, repeat)
    times["iraf"] = compare_finders("IRAFStarFinder",
                                    IRAFStarFinder(thr, FWHM), peers[2],
                                    image, truth, repeat)
    compare_finders("DAO iterated (psfkit)",
                    DAOStarFinder(thr, FWHM, centroid="iterated"), None,
                    image, truth, repeat)
    compare_finders("IRAF windowed (psfkit)",
                    IRAFStarFinder(thr, FWHM, centroid="windowed"), None,
                    image, truth, repeat)
    t_ours, ours, t_theirs, theirs = time_pair(
        lambda: find_peaks(image, thr, box_size=5), peers[3], repeat)
    line = f"  {'find_peaks':<22s} psfkit    {t_ours:8.3f} s  {len(ours):6d} peaks"
    if peers[3] is not None:
        line += (f"   photutils {t_theirs:8.3f} s   ratio "
                 f"{t_theirs / t_ours:.1f}x   same peaks: "
                 f"{max_column_difference(ours, theirs) == 0}")
    print(line)
    return times


def bench_background(shape, repeat):
    print(f"\nBackground: {shape[0]}x{shape[1]} image with a sky gradient")
    y, x = np.mgrid[:shape[0], :shape[1]]
    sky = 100.0 + 20.0 * x / shape[1] - 10.0 * y / shape[0]
    stars, _ = simulate(shape, shape[0] * shape[1] // 2000, seed=2)
    image = stars + sky
    t_ours, val, t_t, val_t = time_pair(
        lambda: MMMBackground()(image),
        None if pu_bkg is None else lambda: pu_bkg.MMMBackground()(image),
        repeat)
    line = f"  MMMBackground          psfkit {t_ours:7.3f} s"
    if pu_bkg is not None:
        line += (f"   photutils {t_t:7.3f} s   ratio {t_t / t_ours:.1f}x   "
                 f"values {val:.6f} / {val_t:.6f}")
    print(line)

    def ours():
        bkg = Background2D(image, 64)
        return bkg, bkg.background, bkg.background_rms

    def theirs():
        bkg = pu_bkg.Background2D(image, 64)
        return bkg, bkg.background, bkg.background_rms

    t_ours, res, t_t, res_t = time_pair(
        ours, None if pu_bkg is None else theirs, repeat)
    err = np.abs(res[1] - sky)
    print(f"  Background2D + 2 maps  psfkit {t_ours:7.3f} s   max |error| vs "
          f"true sky {err.max():.3f} (rms {np.sqrt(np.mean(err**2)):.3f})")
    if pu_bkg is not None:
        diff = max(np.abs(res[1] - res_t[1]).max(),
                   np.abs(res[2] - res_t[2]).max())
        print(f"  {'':22s} photutils {t_t:7.3f} s   ratio "
              f"{t_t / t_ours:.1f}x   max |psfkit - photutils| {diff:.1e}")
    t_init, _, t_init_t, _ = time_pair(
        lambda: Background2D(image, 64),
        None if pu_bkg is None else lambda: pu_bkg.Background2D(image, 64),
        repeat)
    line = f"  Background2D (mesh)    psfkit {t_init:7.3f} s"
    if pu_bkg is not None:
        line += f"   photutils {t_init_t:7.3f} s   ratio {t_init_t / t_init:.1f}x"
    print(line)
    t_pl, planar = best_time(lambda: Background2D(image, 64,
                                                  method="planar").background,
                             repeat)
    err = np.abs(planar - sky)
    print(f"  method='planar'        psfkit {t_pl:7.3f} s   max |error| vs true "
          f"sky {err.max():.3f} (rms {np.sqrt(np.mean(err**2)):.3f})")
    rng = np.random.default_rng(4)
    n = 2000
    xs = rng.uniform(0, shape[1] - 1, n)
    ys = rng.uniform(0, shape[0] - 1, n)
    t_ours, loc, t_t, loc_t = time_pair(
        lambda: LocalBackground(6, 12)(image, xs, ys),
        None if pu_bkg is None else
        lambda: pu_bkg.LocalBackground(6, 12)(image, xs, ys), repeat)
    line = f"  LocalBackground {n}  psfkit {t_ours:7.3f} s"
    if pu_bkg is not None:
        line += (f"   photutils {t_t:7.3f} s   ratio {t_t / t_ours:.1f}x   "
                 f"max difference {np.nanmax(np.abs(loc - loc_t)):.1e}")
    print(line)
    return t_init


def bench_groupers(n_compare, n_big, repeat):
    rng = np.random.default_rng(3)
    print(f"\nGroupers: {n_compare} sources (vs photutils), {n_big} (psfkit)")
    side = np.sqrt(n_compare) * 20.0
    x = rng.uniform(0, side, n_compare)
    y = rng.uniform(0, side, n_compare)
    table = QTable({"x_0": x, "y_0": y})
    t_ours, ours, t_t, theirs = time_pair(
        lambda: SourceGrouper(8.0)(x, y),
        None if pu_psf is None else
        lambda: pu_psf.SourceGrouper(min_separation=8.0)(x, y), repeat)
    line = f"  SourceGrouper    psfkit {t_ours:7.3f} s   {ours.max()} groups"
    if pu_psf is not None:
        line += (f"   photutils {t_t:7.3f} s   ratio {t_t / t_ours:.1f}x   "
                 f"same ids: {np.array_equal(ours, theirs)}")
    print(line)
    t_dao, dao = best_time(lambda: DAOGroup(8.0)(table), repeat)
    line = (f"  DAOGroup (table) psfkit {t_dao:7.3f} s   "
            f"{dao['group_id'].max()} groups")
    if pu_psf is not None:
        line += (f"   ratio photutils SourceGrouper/psfkit "
                 f"{t_t / t_dao:.1f}x")
    print(line)

    side = np.sqrt(n_big) * 20.0
    big = QTable({"x_0": rng.uniform(0, side, n_big),
                  "y_0": rng.uniform(0, side, n_big)})
    t_big, res = best_time(lambda: DAOGroup(8.0)(big), 1)
    print(f"  DAOGroup         psfkit {t_big:7.3f} s for {n_big} sources "
          f"({res['group_id'].max()} groups)")
    t_db, res_db = best_time(lambda: DBSCANGroup(8.0)(big), 1)
    print(f"  DBSCANGroup      psfkit {t_db:7.3f} s for {n_big} sources "
          f"(default engine, built-in; as many groups as DAOGroup: "
          f"{res_db['group_id'].max() == res['group_id'].max()})")
    try:
        import sklearn  # noqa: F401
    except ImportError:
        print("  DBSCANGroup      scikit-learn engine: not installed")
    else:
        t_sk, res_sk = best_time(
            lambda: DBSCANGroup(8.0, engine="sklearn")(big), 1)
        same = np.array_equal(res_sk["group_id"], res_db["group_id"])
        print(f"  DBSCANGroup      scikit-learn engine {t_sk:7.3f} s "
              f"(identical groups to the built-in engine: {same}; "
              f"ratio {t_sk / t_db:.1f}x)")


def growth(label, small, large, factor):
    """The exponent of the cost against the pixel count."""
    print(f"  {label}: {large / small:.2f}x the time for {factor:.0f}x the "
          f"pixels (cost ~ N^{np.log(large / small) / np.log(factor):.2f})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="smaller images and source lists")
    args = parser.parse_args()
    repeat = 2 if args.quick else 3
    sizes = ((512, 512), (1024, 1024)) if args.quick else ((2048, 2048),
                                                          (4096, 4096))
    small = bench_finders(sizes[0], sizes[0][0] * sizes[0][1] // 840, repeat)
    large = bench_finders(sizes[1], sizes[1][0] * sizes[1][1] // 840, repeat)
    b_small = bench_background(sizes[0], repeat)
    b_large = bench_background(sizes[1], repeat)
    print("\nGrowth of the cost (4x the pixels and stars):")
    growth("DAOStarFinder", small["dao"], large["dao"], 4)
    growth("IRAFStarFinder", small["iraf"], large["iraf"], 4)
    growth("Background2D mesh", b_small, b_large, 4)
    bench_groupers(2000 if args.quick else 5000,
                   100_000 if args.quick else 1_000_000, repeat)


if __name__ == "__main__":
    main()
