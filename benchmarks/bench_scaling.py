"""
Benchmark: psfkit on a dask.distributed LocalCluster, 1 worker vs 2.

Three measurements, each on simulated data with known truth:

1. ramps: `fit_ramps` with jump detection and optimal weighting on a dask
   cube, computed in this process without dask (the reference), then on
   clusters of one and two single-threaded worker processes; the ratio
   1 worker / 2 workers is the speed-up.
2. tiled photometry: a crowded field measured in one pass in memory (and by
   photutils' PSFPhotometry, the peer, on the same image), then by
   `tiled_photometry` on one and two workers.
3. bounded memory: a ramp cube generated chunk by chunk on the workers,
   several times larger than each worker's ``memory_limit``, fitted and
   reduced to summary numbers; the workers' peak resident memory is
   printed next to the limit and the size of the cube.

Times are the best of two (in memory) or three (on the cluster) runs: the
machine is shared and contention only ever adds time.  Next to each
cluster time, the compute seconds spent by each worker show how the work
was split; on a busy machine the wall-clock speed-up stays below that
split.  Run:  python benchmarks/bench_scaling.py [--quick]
"""

import argparse
import os
import time
import warnings

from astropy.table import QTable
import dask
import dask.array as da
from distributed import Client, LocalCluster, get_task_stream
import numpy as np

from psfkit.datasets import make_ramp_cube
from psfkit.modelsets import fit_ramps
from psfkit.photometry import (
    DAOPhotPSFPhotometry,
    IntegratedGaussianPRF,
    tiled_photometry,
)

RN, GAIN = 8.0, 2.0
SIGMA = 1.5


def best_of(func, repeat=2):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = func()
        times.append(time.perf_counter() - t0)
    return min(times), out


def timed_on(client, func, repeat=3):
    """Best wall time of ``func`` and the compute seconds per worker then."""
    best, out, busy = np.inf, None, None
    for _ in range(repeat):
        with get_task_stream(client) as stream:
            t0 = time.perf_counter()
            out = func()
            elapsed = time.perf_counter() - t0
        if elapsed < best:
            best, busy = elapsed, {}
            for task in stream.data:
                for ss in task["startstops"]:
                    if ss["action"] == "compute":
                        busy[task["worker"]] = (busy.get(task["worker"], 0.0)
                                                + ss["stop"] - ss["start"])
    return best, out, sorted(busy.values(), reverse=True)


def show(label, elapsed, busy):
    per_worker = " + ".join(f"{b:.2f}" for b in busy)
    print(f"  {label:<30}: {elapsed:7.2f} s   (compute s per worker: "
          f"{per_worker})")


def cluster(n_workers, **kw):
    lc = LocalCluster(n_workers=n_workers, threads_per_worker=1,
                      processes=True, dashboard_address=None, **kw)
    return lc, Client(lc)


def close(lc, client):
    client.close()
    lc.close()


# ----------------------------------------------------------------- ramps
def _ramp_block(block_id, n_reads, ny, nx, rate, jump_fraction=0.0):
    """One chunk of a simulated ramp cube, made where it is needed."""
    seed = 1000 * block_id[1] + block_id[2]
    cube, _ = make_ramp_cube((ny, nx), n_reads, rate=rate, read_noise=RN,
                             gain=GAIN, jump_fraction=jump_fraction,
                             seed=seed, dtype=np.float32)
    return cube


def generated_cube(n_reads, side, chunk, rate, jump_fraction=0.0):
    """A dask ramp cube whose chunks are simulated on the workers."""
    n = side // chunk
    return da.map_blocks(
        lambda block_id=None: _ramp_block(block_id, n_reads, chunk, chunk,
                                          rate, jump_fraction),
        dtype=np.float32, chunks=((n_reads,), (chunk,) * n, (chunk,) * n))


def bench_ramps(quick):
    side = 256 if quick else 512
    n_reads, rate = 12, 50.0
    times_s = np.arange(n_reads, dtype=float)
    lazy_cube = generated_cube(n_reads, side, 128, rate, jump_fraction=0.05)
    cube = lazy_cube.compute(scheduler="synchronous")
    kw = dict(read_noise=RN, gain=GAIN, weighting="optimal",
              detect_jumps=True)
    t_mem, ref = best_of(lambda: fit_ramps(cube, times_s, **kw))
    lazy = fit_ramps(lazy_cube, times_s, **kw)
    times, busy = {}, {}
    for n in (1, 2):
        lc, client = cluster(n)
        client.compute(lazy.slope[:1, :1]).result()  # workers import psfkit
        times[n], slope, busy[n] = timed_on(
            client, lambda c=client: c.compute(lazy.slope).result())
        close(lc, client)
        assert np.allclose(slope, ref.slope, rtol=1e-12, equal_nan=True)
    print(f"ramps: {side}x{side} pixels x {n_reads} reads (chunks of "
          "128x128 pixels made on the workers), jumps + optimal weighting")
    print(f"  {'in memory, no dask':<30}: {t_mem:7.2f} s")
    show("dask, 1 worker", times[1], busy[1])
    show("dask, 2 workers", times[2], busy[2])
    print(f"  speed-up 1 -> 2 workers: {times[1] / times[2]:.2f}x wall "
          f"clock; {sum(busy[2]) / max(busy[2]):.2f}x by the split of the "
          "work between the workers")
    err = np.nanmedian(np.abs(ref.slope - rate))
    print(f"  median |slope - truth| = {err:.3f} DN/s (rate {rate}); the "
          "same slopes on every path")


# ------------------------------------------------------------ photometry
def star_field(shape, n_stars, rng):
    psf = IntegratedGaussianPRF(sigma=SIGMA)
    ny, nx = shape
    x = rng.uniform(3, nx - 4, n_stars)
    y = rng.uniform(3, ny - 4, n_stars)
    flux = rng.uniform(1500, 8000, n_stars)
    half = 7
    dy, dx = np.mgrid[-half:half + 1, -half:half + 1]
    cx = np.round(x).astype(int)[:, None] + dx.ravel()
    cy = np.round(y).astype(int)[:, None] + dy.ravel()
    vals = psf.evaluate(cx, cy, flux[:, None], x[:, None], y[:, None], SIGMA)
    ok = (cx >= 0) & (cx < nx) & (cy >= 0) & (cy < ny)
    image = np.bincount((cy * nx + cx)[ok], weights=vals[ok],
                        minlength=nx * ny).reshape(shape)
    image += 20.0 + rng.normal(0.0, 4.0, shape)
    return image, QTable({"x": x, "y": y, "flux": flux})


def peer_time(image, fwhm):
    try:
        from photutils.background import MMMBackground
        from photutils.detection import DAOStarFinder
        from photutils.psf import (
            CircularGaussianPRF,
            PSFPhotometry,
            SourceGrouper,
        )
    except ImportError:
        return None
    psf = CircularGaussianPRF(fwhm=fwhm)
    phot = PSFPhotometry(psf, (7, 7), finder=DAOStarFinder(60.0, fwhm),
                         grouper=SourceGrouper(6.0), aperture_radius=fwhm)
    data = image - MMMBackground()(image)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        phot(data)
    return time.perf_counter() - t0


def bench_tiled(quick):
    side = 512 if quick else 1024
    n_stars = 600 if quick else 2400
    image, truth = star_field((side, side), n_stars,
                              np.random.default_rng(2))
    fwhm = 2.3548 * SIGMA
    phot = DAOPhotPSFPhotometry(6.0, 60.0, fwhm,
                                IntegratedGaussianPRF(sigma=SIGMA), (7, 7),
                                niters=1)
    t_single, single = best_of(lambda: phot.run(image))
    t_peer = peer_time(image, fwhm)
    kw = dict(tile_size=side // 4, overlap=16)
    t_here, tiled = best_of(lambda: tiled_photometry(image, phot, **kw))
    times, busy = {}, {}
    for n in (1, 2):
        lc, client = cluster(n)
        tiled_photometry(image[:64, :64], phot, tile_size=64, overlap=16,
                         executor=client)  # workers import psfkit
        times[n], res, busy[n] = timed_on(client, lambda c=client: (
            tiled_photometry(image, phot, executor=c, **kw)))
        close(lc, client)
    print(f"\ntiled photometry: {side}x{side} image, {n_stars} stars, "
          f"{len(res.tiles)} tiles of {side // 4}^2 + 16 px overlap")
    print(f"  {'single pass, psfkit':<30}: {t_single:7.2f} s, "
          f"{len(single.table)} stars")
    if t_peer is not None:
        print(f"  {'single pass, photutils (peer)':<30}: {t_peer:7.2f} s   "
              f"ratio peer/psfkit {t_peer / t_single:.1f}")
    print(f"  {'tiled, in this process':<30}: {t_here:7.2f} s")
    show("tiled, dask 1 worker", times[1], busy[1])
    show("tiled, dask 2 workers", times[2], busy[2])
    print(f"  speed-up 1 -> 2 workers: {times[1] / times[2]:.2f}x wall "
          f"clock; {sum(busy[2]) / max(busy[2]):.2f}x by the split of the "
          "work between the workers")
    print(f"  stars: single pass {len(single.table)}, tiled {len(res.table)}"
          f" (truth {len(truth)})")


# ---------------------------------------------------------------- memory
def _start_sampler(dask_worker):
    """Sample this worker's resident memory every 20 ms in a thread."""
    import threading

    import psutil

    proc = psutil.Process()
    state = {"peak": 0, "idle": proc.memory_info().rss, "stop": False}

    def loop():
        while not state["stop"]:
            state["peak"] = max(state["peak"], proc.memory_info().rss)
            time.sleep(0.02)

    dask_worker.rss_sampler = state
    threading.Thread(target=loop, daemon=True).start()


def _stop_sampler(dask_worker):
    state = dask_worker.rss_sampler
    state["stop"] = True
    return state["idle"] / 2**20, state["peak"] / 2**20


def fit_generated_cube(side, n_reads, chunk, rate):
    """Fit a cube made chunk by chunk on the workers; reduce the results."""
    res = fit_ramps(generated_cube(n_reads, side, chunk, rate),
                    read_noise=RN, gain=GAIN)
    pull = (res.slope - rate) / res.slope_err
    return dask.compute(res.slope.mean(), res.slope.std(), pull.std())


def bench_memory(quick):
    n_reads, chunk, rate, limit_mb = 10, 512, 30.0, 400
    sides = (4096,) if quick else (4096, 6144)
    lc, client = cluster(2, memory_limit=f"{limit_mb}MB")
    fit_generated_cube(chunk, n_reads, chunk, rate)  # workers import psfkit
    print(f"\nbounded memory: ramp cubes made and fitted chunk by chunk "
          f"({n_reads} x {chunk} x {chunk} float32 = "
          f"{n_reads * chunk * chunk * 4 / 2**20:.0f} MB per chunk) on 2 "
          f"workers with memory_limit {limit_mb} MB each")
    for side in sides:
        size_mb = n_reads * side * side * 4 / 2**20
        client.run(_start_sampler)
        t0 = time.perf_counter()
        mean, std, pull_std = fit_generated_cube(side, n_reads, chunk, rate)
        elapsed = time.perf_counter() - t0
        rss = client.run(_stop_sampler)
        peaks = ", ".join(f"{idle:.0f} -> {peak:.0f} MB"
                          for idle, peak in rss.values())
        print(f"  cube {n_reads} x {side} x {side} = {size_mb:6.0f} MB "
              f"({size_mb / limit_mb:.1f}x the limit): {elapsed:5.1f} s; "
              f"worker RSS idle -> peak: {peaks}")
        print(f"    mean slope {mean:.3f} (truth {rate}), pull std "
              f"{pull_std:.3f} (1 expected), slope std {std:.3f}")
    close(lc, client)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"{os.cpu_count()} cores; load average before the run: {load} "
          "(other work on the machine lowers the speed-ups)\n")
    bench_ramps(args.quick)
    bench_tiled(args.quick)
    bench_memory(args.quick)


if __name__ == "__main__":
    main()
