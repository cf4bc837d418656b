"""
Benchmark psfkit's PSF models and ePSF builder against photutils on the same
simulated data.

Run with ``python benchmarks/bench_psf_models.py`` (``--quick`` for a
smaller run).  Each comparison prints psfkit's time, photutils' time in the
same run, their ratio, and the accuracy of both against the truth.
"""

import argparse
import time
import warnings

from astropy.nddata import NDData
from astropy.table import QTable
import numpy as np

# the ePSF demo's simulated field (Moffat core plus a diffraction-like ring)
from psfkit.demo.epsf import _moffat_ring, _simulate
import psfkit.photometry as pk
from psfkit.photometry import (
    EPSFBuilder,
    ImagePSF,
    IntegratedGaussianPRF,
    extract_stars,
)

try:
    import photutils.psf as pu_psf
except ImportError:  # the comparison columns are then left out
    pu_psf = None


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


def report(name, t_ours, t_peer, extra=""):
    if t_peer is None:
        print(f"{name:<44s} psfkit {t_ours:8.4f} s   (photutils not installed)"
              f"  {extra}")
        return
    print(f"{name:<44s} psfkit {t_ours:8.4f} s   photutils {t_peer:8.4f} s   "
          f"ratio {t_peer / t_ours:6.1f}x  {extra}")


def stack_inputs(n, rng, half=5):
    box_y, box_x = np.mgrid[-half:half + 1, -half:half + 1]
    centers = rng.uniform(20, 2000, (n, 2))
    x = np.rint(centers[:, :1]) + box_x.ravel()
    y = np.rint(centers[:, 1:]) + box_y.ravel()
    return x, y, centers


def bench_integrated_gaussian(n, repeat):
    rng = np.random.default_rng(1)
    x, y, centers = stack_inputs(n, rng)
    sigma = 1.5
    params = np.column_stack([rng.uniform(1e2, 1e4, n), centers,
                              np.full(n, sigma)])
    model = IntegratedGaussianPRF(sigma=sigma)
    t_ours, (values, jac) = best_time(
        lambda: model.evaluate_stack(x, y, params, jacobian=True), repeat)
    t_peer = None
    extra = ""
    if pu_psf is not None:
        peer = pu_psf.CircularGaussianSigmaPRF(sigma=sigma)
        cols = [params[:, i:i + 1] for i in range(4)]

        def run_peer():
            # the peer has no fit_deriv: its fitter takes forward
            # differences, one extra evaluation per parameter
            base = peer.evaluate(x, y, *cols)
            derivs = []
            for i in range(4):
                step = 1.5e-8 * np.maximum(np.abs(cols[i]), 1.0)
                shifted = list(cols)
                shifted[i] = cols[i] + step
                derivs.append((peer.evaluate(x, y, *shifted) - base) / step)
            return base, np.stack(derivs, axis=-1)

        t_peer, (pv, pj) = best_time(run_peer, repeat)
        rel = np.abs(jac - pj).max() / np.abs(jac).max()
        extra = (f"max |value diff| {np.abs(values - pv).max():.1e}, "
                 f"max |jac diff| {rel:.1e} of max (peer: forward diff.)")
    report(f"IntegratedGaussianPRF values+jac {n}x121", t_ours, t_peer, extra)


#: photutils 3.x's model names and the shape of each benchmarked model
NAMED_MODELS = {
    "CircularGaussianPRF": {"fwhm": 2.7},
    "CircularGaussianPSF": {"fwhm": 2.7},
    "GaussianPRF": {"x_fwhm": 3.0, "y_fwhm": 2.2, "theta": 25.0},
    "GaussianPSF": {"x_fwhm": 3.0, "y_fwhm": 2.2, "theta": 25.0},
    "MoffatPSF": {"alpha": 2.0, "beta": 2.5},
    "AiryDiskPSF": {"radius": 2.5},
}


def peer_values_and_jacobian(peer, x, y, params):
    """The peer's values and forward-difference Jacobian (what its fitters
    compute, as its models have no fit_deriv)."""
    cols = [params[:, i:i + 1] for i in range(params.shape[1])]
    base = peer.evaluate(x, y, *cols)
    derivs = []
    for i in range(len(cols)):
        step = 1.5e-8 * np.maximum(np.abs(cols[i]), 1.0)
        shifted = list(cols)
        shifted[i] = cols[i] + step
        derivs.append((peer.evaluate(x, y, *shifted) - base) / step)
    return base, np.stack(derivs, axis=-1)


def bench_named_models(n, repeat):
    rng = np.random.default_rng(4)
    x, y, centers = stack_inputs(n, rng)
    for name, shape in NAMED_MODELS.items():
        ours = getattr(pk, name)(**shape)
        params = np.column_stack([rng.uniform(1e2, 1e4, n), centers,
                                  np.tile(list(shape.values()), (n, 1))])
        t_ours, (values, jac) = best_time(
            lambda ours=ours, params=params: ours.evaluate_stack(
                x, y, params, jacobian=True), repeat)
        t_peer = None
        extra = ""
        if pu_psf is not None:
            peer = getattr(pu_psf, name)(**shape)
            t_peer, (pv, pj) = best_time(
                lambda peer=peer, params=params: peer_values_and_jacobian(
                    peer, x, y, params), repeat)
            rel = np.abs(values - pv).max() / np.abs(pv).max()
            extra = (f"max |value diff| {rel:.1e} of peak, jacobian within "
                     f"{np.abs(jac - pj).max() / np.abs(jac).max():.0e} of "
                     "max (peer: forward diff.)")
        report(f"{name} values+jac {n}x121", t_ours, t_peer, extra)


def bench_image_psf(n, repeat):
    rng = np.random.default_rng(2)
    x, y, centers = stack_inputs(n, rng)
    sigma, over = 1.5, 4
    fy, fx = np.mgrid[0:81, 0:81]
    image = np.exp(-((fx - 40) ** 2 + (fy - 40) ** 2)
                   / (2 * (sigma * over) ** 2))
    params = np.column_stack([np.ones(n), centers])
    ours = ImagePSF(image, oversampling=over, normalize=True)
    t_ours, values = best_time(lambda: ours.evaluate_stack(x, y, params),
                               repeat)
    dx = x - centers[:, :1]
    dy = y - centers[:, 1:]
    truth = np.exp(-(dx ** 2 + dy ** 2) / (2 * sigma ** 2)) / (
        2 * np.pi * sigma ** 2)
    extra = f"psfkit err {np.abs(values - truth).max() / truth.max():.1e}"
    t_peer = None
    if pu_psf is not None:
        peer = pu_psf.ImagePSF(image / image.sum() * over ** 2,
                               oversampling=over)
        t_peer, pv = best_time(
            lambda: peer.evaluate(x, y, 1.0, centers[:, :1], centers[:, 1:]),
            repeat)
        extra += f", photutils err {np.abs(pv - truth).max() / truth.max():.1e}"
    report(f"ImagePSF values {n}x121", t_ours, t_peer, extra + " (of peak)")
    t_ours, _ = best_time(
        lambda: ours.evaluate_stack(x, y, params, jacobian=True), repeat)
    t_peer = None
    if pu_psf is not None:
        def run_peer():
            # no fit_deriv in the peer: forward differences in x_0 and y_0
            # (the flux derivative is the unit-flux value itself)
            x0, y0 = centers[:, :1], centers[:, 1:]
            base = peer.evaluate(x, y, 1.0, x0, y0)
            h = 1.5e-8 * np.maximum(np.abs(centers), 1.0)
            ddx = (peer.evaluate(x, y, 1.0, x0 + h[:, :1], y0) - base) / h[:, :1]
            ddy = (peer.evaluate(x, y, 1.0, x0, y0 + h[:, 1:]) - base) / h[:, 1:]
            return base, ddx, ddy

        t_peer, _ = best_time(run_peer, repeat)
    report(f"ImagePSF values+jac {n}x121", t_ours, t_peer,
           "(peer: forward differences)")
    # the same boxes as grids (columns and rows), as the photometry
    # engines evaluate them: one set of spline weights per star
    cols = x.reshape(n, 11, 11)[:, None, 0, :]
    rows = y.reshape(n, 11, 11)[:, None, :, 0]
    t_grid, (gv, gj) = best_time(
        lambda: ours.evaluate_grid(cols, rows, params, jacobian=True), repeat)
    t_stack, (sv, sj) = best_time(
        lambda: ours.evaluate_stack(x, y, params, jacobian=True), repeat)
    report(f"ImagePSF values+jac {n}x121 on grids", t_grid, t_peer,
           f"(psfkit point by point {t_stack:.4f} s, "
           f"{t_stack / t_grid:.1f}x slower; max difference "
           f"{np.abs(gj - sj).max() / np.abs(sj).max():.1e} of the largest)")


def epsf_error(data, over):
    data = data * over ** 2 / data.sum()
    ny, nx = data.shape
    fy, fx = np.mgrid[0:ny, 0:nx]
    truth = _moffat_ring((fx - (nx - 1) / 2) / over, (fy - (ny - 1) / 2) / over)
    truth *= over ** 2 / truth.sum()
    return np.abs(data - truth).max() / truth.max()


def bench_epsf(n):
    rng = np.random.default_rng(3)
    image, x, y = _simulate(n, rng)
    catalog = QTable({"x": x + rng.normal(0, 0.3, n),
                      "y": y + rng.normal(0, 0.3, n)})
    true_xy = np.column_stack([x, y])

    def run_ours():
        stars = extract_stars(image, catalog, size=25)
        return EPSFBuilder(oversampling=4, maxiters=10)(stars)

    t_ours, (epsf, fitted) = best_time(run_ours, 1)
    rms = np.sqrt(np.mean((fitted.center_flat - true_xy) ** 2))
    extra = (f"psfkit: ePSF err {100 * epsf_error(epsf.data, 4):.2f}% of "
             f"peak, centre rms {rms:.4f} px")
    t_peer = None
    if pu_psf is not None:
        def run_peer():
            stars = pu_psf.extract_stars(NDData(image), catalog, size=25)
            builder = pu_psf.EPSFBuilder(oversampling=4, maxiters=10,
                                         progress_bar=False)
            return builder(stars)

        t_peer, result = best_time(run_peer, 1)
        p_epsf, p_stars = result[0], result[1]
        p_xy = np.asarray(p_stars.center_flat)
        # photutils may drop stars; match by nearest truth
        d = np.min(np.hypot(p_xy[:, None, 0] - x[None], p_xy[:, None, 1]
                            - y[None]), axis=1)
        extra += (f"; photutils: ePSF err "
                  f"{100 * epsf_error(p_epsf.data, 4):.2f}% of peak, centre "
                  f"rms {np.sqrt(np.mean(d ** 2) / 2):.4f} px")
    report(f"EPSFBuilder {n} stars, oversampling 4", t_ours, t_peer, extra)


def crowded_field(n, size, rng, *, sigma=1.6, noise=20.0):
    """Gaussian stars at random positions: neighbours fall in the cutouts."""
    x = rng.uniform(15, size - 15, n)
    y = rng.uniform(15, size - 15, n)
    flux = rng.uniform(2e4, 1e5, n)
    yy, xx = np.mgrid[0:size, 0:size]
    image = np.zeros((size, size))
    for x0, y0, f in zip(x, y, flux, strict=True):
        lo_y, lo_x = int(y0) - 12, int(x0) - 12
        box = (slice(lo_y, lo_y + 26), slice(lo_x, lo_x + 26))
        image[box] += IntegratedGaussianPRF(sigma=sigma, x_0=x0, y_0=y0,
                                            flux=f)(xx[box], yy[box])
    image += rng.normal(0, noise, image.shape)
    return image, x, y, flux


def crowded_scores(model, centers, fluxes, x, y, flux, sigma, over):
    """ePSF error (% of peak), median flux ratio and centre rms (px)."""
    data = np.asarray(model.data, dtype=float)
    data = data * over ** 2 / data.sum()
    ny, nx = data.shape
    fy, fx = np.mgrid[0:ny, 0:nx]
    truth = IntegratedGaussianPRF(sigma=sigma).evaluate(
        (fx - (nx - 1) / 2) / over, (fy - (ny - 1) / 2) / over, 1.0, 0.0, 0.0,
        sigma)
    truth *= over ** 2 / truth.sum()
    err = np.abs(data - truth).max() / truth.max()
    d = np.hypot(centers[:, None, 0] - x[None], centers[:, None, 1] - y[None])
    j = np.argmin(d, axis=1)
    return (100 * err, float(np.median(fluxes / flux[j])),
            float(np.sqrt(np.mean(d[np.arange(j.size), j] ** 2))))


def bench_epsf_crowded(n, over):
    """ePSF from stars whose 25-pixel cutouts hold neighbours."""
    rng = np.random.default_rng(2)
    sigma = 1.6
    image, x, y, flux = crowded_field(n, 420, rng, sigma=sigma)
    catalog = QTable({"x": x, "y": y})

    def run_ours():
        stars = extract_stars(image, catalog, size=25)
        return EPSFBuilder(oversampling=over, maxiters=20)(stars)

    t_ours, (epsf, fitted) = best_time(run_ours, 1)
    err, ratio, rms = crowded_scores(epsf, fitted.center_flat,
                                     np.asarray(fitted.flux), x, y, flux,
                                     sigma, over)
    extra = (f"psfkit: ePSF err {err:.2f}% of peak, flux ratio {ratio:.4f}, "
             f"centre rms {rms:.4f} px")
    t_peer = None
    if pu_psf is not None:
        def run_peer():
            stars = pu_psf.extract_stars(NDData(image), catalog, size=25)
            builder = pu_psf.EPSFBuilder(oversampling=over, maxiters=20,
                                         progress_bar=False)
            return builder(stars)

        t_peer, result = best_time(run_peer, 1)
        p_stars = result[1]
        err, ratio, rms = crowded_scores(
            result[0], np.asarray(p_stars.center_flat),
            np.asarray(p_stars.flux), x, y, flux, sigma, over)
        extra += (f"; photutils: ePSF err {err:.2f}% of peak, flux ratio "
                  f"{ratio:.4f}, centre rms {rms:.4f} px")
    report(f"EPSFBuilder crowded {n} stars, oversampling {over}", t_ours,
           t_peer, extra)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n_eval = 2000 if args.quick else 20000
    repeat = 2 if args.quick else 3
    bench_integrated_gaussian(n_eval, repeat)
    bench_named_models(n_eval, repeat)
    bench_image_psf(n_eval, repeat)
    bench_epsf(100 if args.quick else 200)
    for over in (2, 4):
        bench_epsf_crowded(80, over)


if __name__ == "__main__":
    main()
