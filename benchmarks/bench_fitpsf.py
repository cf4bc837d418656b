"""
Benchmark of psfkit.fitpsf: LOCI and KLIP on 200x200 images with 30 bases.

The reference is psfsubtraction's algorithm written out plainly (full-image
boolean masks, one ``scipy.ndimage.binary_dilation`` and one
``numpy.linalg.lstsq`` or normal-equation ``numpy.linalg.solve`` per region):
``tests/fitpsf/psfsubtraction_reference.py``, the same code the tests hold
psfkit's ``convention = 'psfsubtraction'`` against.  psfsubtraction itself
cannot be installed here; its published speed on this machine class is
about 3.5 s per 200x200 image with 30 bases.  Everything is timed in the
same run, interleaved, best of several repeats, with one BLAS thread (the
systems are small; threads only contend).

Run:  python benchmarks/bench_fitpsf.py
"""

from pathlib import Path
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

from psfkit.datasets import make_adi_sequence
from psfkit.fitpsf import KLIP, LOCI

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "fitpsf"))
import psfsubtraction_reference as ref  # noqa: E402

EXTERNAL_ANCHOR = 3.5  # s per 200x200 image, 30 bases (psfsubtraction LOCI)
REPEATS = 5


def make_data(size, n_bases, seed=0):
    cube, _, _ = make_adi_sequence(n_frames=n_bases + 1, shape=(size, size),
                                   fwhm=4.0, random_state=seed)
    return cube[1:], cube[0]


def loci(psfbase, convention):
    """psfsubtraction's LOCI defaults: 10 radii, 12 angles, dilation 10."""
    fitter = LOCI(psfbase, bases_axis=0)
    fitter.convention = convention
    fitter.sector_radius_n = 10
    fitter.sector_phi = 12
    fitter.dilation_region = 10
    return fitter


def interleaved(funcs, repeat=REPEATS):
    """Best time of each function, the functions taking turns."""
    best = {name: np.inf for name in funcs}
    out = {}
    for _ in range(repeat):
        for name, func in funcs.items():
            t0 = time.perf_counter()
            out[name] = func()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best, out


def main():
    print(f"psfkit.fitpsf benchmark (best of {REPEATS}, interleaved, one BLAS "
          "thread)")
    psfbase, image = make_data(200, 30)
    images = [image] + [make_data(200, 30, seed=s)[1] for s in (1, 2)]
    yxn = np.ma.MaskedArray(np.moveaxis(psfbase, 0, -1))
    shape = image.shape
    masks = ref.sector_masks(shape, ref.loci_sector_radius(shape, 0, 10), 12)
    compat_loop = loci(psfbase, "psfsubtraction")
    default_loop = loci(psfbase, "psfkit")
    for im in images:
        compat_loop.remove_psf(im)
        default_loop.remove_psf(im)

    with threadpool_limits(1):
        best, out = interleaved({
            "default, new fitter": lambda: loci(psfbase, "psfkit").remove_psf(
                image),
            "default, loop": lambda: [default_loop.remove_psf(im)
                                      for im in images],
            "compat, new fitter": lambda: loci(
                psfbase, "psfsubtraction").remove_psf(image),
            "compat, loop": lambda: [compat_loop.remove_psf(im)
                                     for im in images],
        })
        ref_best, ref_out = interleaved({
            "reference lstsq": lambda: ref.remove_psf(yxn, image, masks)[0],
            "reference solve": lambda: ref.remove_psf(yxn, image, masks,
                                                      solver="solve")[0],
        }, repeat=2)
    best["default, loop"] /= len(images)
    best["compat, loop"] /= len(images)
    t_ref = min(ref_best.values())
    scale = float(np.std(image))
    want = ref_out["reference lstsq"]
    ok = ~want.mask
    diffs = {
        "compat, new fitter": out["compat, new fitter"],
        "compat, loop": out["compat, loop"][0],
        "psfsubtraction's solve": ref_out["reference solve"],
        "default (psfkit geometry)": out["default, new fitter"],
    }
    print(f"\nLOCI as psfsubtraction runs it: 200x200, 30 bases, "
          f"{len(masks)} sectors (sector_radius_n=10, sector_phi=12), "
          "around-region optimisation (dilation 10)")
    for name in ("default, new fitter", "default, loop", "compat, new fitter",
                 "compat, loop"):
        print(f"  psfkit {name:<22s}: {best[name]:7.3f} s/image  "
              f"-> {t_ref / best[name]:6.1f} x the reference, "
              f"{EXTERNAL_ANCHOR / best[name]:5.1f} x psfsubtraction "
              f"(published {EXTERNAL_ANCHOR} s)")
    print(f"  reference loop, lstsq        : {ref_best['reference lstsq']:7.3f}"
          " s/image")
    print(f"  reference loop, normal eqs.  : {ref_best['reference solve']:7.3f}"
          " s/image (psfsubtraction's solver)")
    print("  max |result - reference| / std(image):")
    for name, res in diffs.items():
        d = float(np.max(np.abs(np.ma.getdata(res)[ok] - want.data[ok]))) / scale
        goal = "(expected to differ)" if name.startswith("default") else (
            "OK" if d < 1e-6 else "FAIL (goal < 1e-6)")
        print(f"    {name:<26s}: {d:.1e} {goal}")

    with threadpool_limits(1):
        klip_loop = KLIP(psfbase)
        klip_loop.remove_psf(images[0])
        klip_loop.remove_psf(images[1])
        kbest, _ = interleaved({
            "new fitter": lambda: KLIP(psfbase, image).remove_psf(),
            "loop": lambda: klip_loop.remove_psf(images[2]),
        })
    print("\nKLIP (5 modes), 200x200, 30 bases")
    for name, t in kbest.items():
        print(f"  psfkit, {name:<12s}: {t:7.3f} s/image")

    print("\nGrowth of the cost (psfkit default and psfsubtraction "
          "convention, new fitter per image):")
    with threadpool_limits(1):
        for size in (100, 200, 400):
            b, im = make_data(size, 30)
            t, _ = interleaved({c: (lambda c=c, b=b, im=im: loci(
                b, c).remove_psf(im)) for c in ("psfkit", "psfsubtraction")},
                repeat=3)
            print(f"  {size:4d} x {size:<4d}, 30 bases: "
                  + ", ".join(f"{c} {v:6.3f} s ({v / size**2 * 1e6:.2f} "
                              "us/pixel)" for c, v in t.items()))
        for n in (10, 30, 60):
            b, im = make_data(200, n)
            t, _ = interleaved({c: (lambda c=c, b=b, im=im: loci(
                b, c).remove_psf(im)) for c in ("psfkit", "psfsubtraction")},
                repeat=3)
            print(f"  200 x 200,  {n:2d} bases: "
                  + ", ".join(f"{c} {v:6.3f} s" for c, v in t.items()))


if __name__ == "__main__":
    main()
