"""``psfkit photometry``: iterative PSF photometry of a FITS image."""

import time
import warnings

import numpy as np
from scipy.spatial import cKDTree

from .._numerics.gaussian import SIGMA_PER_FWHM
from ..fitsio import check_output_path, read_fits_image, write_fits_image
from ._common import Log, output_path, parse_hdu, show_progress


def _default_fitshape(fwhm):
    half = max(1, int(round(1.5 * fwhm)))
    return 2 * half + 1


def _psf_stars(sources, shape, size, max_stars=100):
    """Bright, isolated detections well inside the image, for the ePSF."""
    x = np.asarray(sources["xcentroid"], dtype=float)
    y = np.asarray(sources["ycentroid"], dtype=float)
    half = size // 2 + 1
    inside = ((x > half) & (x < shape[1] - 1 - half)
              & (y > half) & (y < shape[0] - 1 - half))
    if len(x) > 1:
        dist, _ = cKDTree(np.column_stack([x, y])).query(
            np.column_stack([x, y]), k=2)
        # a neighbour inside the central part of the cutout would bias the
        # stack; fainter wings further out are clipped by the builder
        isolated = dist[:, 1] > 0.75 * size
    else:
        isolated = np.ones(len(x), dtype=bool)
    peak = np.asarray(sources["peak"], dtype=float)
    # the very brightest stars may be saturated: skip the top 2%
    unsaturated = peak < np.percentile(peak, 98) if len(peak) > 20 else True
    keep = np.flatnonzero(inside & isolated & unsaturated)
    keep = keep[np.argsort(-np.asarray(sources["flux"], dtype=float)[keep])]
    return sources[keep[:max_stars]]


def _build_epsf(image, finder, fwhm, log):
    from astropy.table import QTable

    from ..photometry import EPSFBuilder, extract_stars
    from ..utils import PsfkitWarning

    size = 2 * int(round(2.0 * fwhm)) + 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PsfkitWarning)
        sources = finder(image)
        chosen = _psf_stars(sources, image.shape, size)
        if len(chosen) < 5:
            msg = (f"only {len(chosen)} isolated stars were found for an "
                   "empirical PSF (5 are needed); use --psf gaussian")
            raise ValueError(msg)
        catalog = QTable({"x": chosen["xcentroid"], "y": chosen["ycentroid"]})
        stars = extract_stars(image, catalog, size=size)
        # each oversampled grid point needs several stars' pixels near it:
        # with few stars a coarser grid is the better estimate
        oversampling = 4 if len(stars) >= 80 else 2
        epsf, fitted = EPSFBuilder(oversampling=oversampling, maxiters=10,
                                   progress_bar=show_progress())(stars)
    log(f"built an empirical PSF from {len(fitted)} stars")
    return epsf


def _write_plot(path, image, table, residual):
    import matplotlib

    matplotlib.use("Agg")
    from astropy.visualization import ImageNormalize, ZScaleInterval
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 5.2), constrained_layout=True)
    norm = ImageNormalize(image, interval=ZScaleInterval())
    axes[0].imshow(image, origin="lower", cmap="gray", norm=norm)
    axes[0].plot(table["x_fit"], table["y_fit"], "o", mfc="none", mec="tab:red",
                 ms=7, mew=0.8)
    axes[0].set_title(f"image and {len(table)} fitted stars")
    axes[1].imshow(residual, origin="lower", cmap="gray", norm=norm)
    axes[1].set_title("residual")
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _measure(phot, image, jobs, fwhm, fitshape, log):
    """One pass, or overlapping tiles on ``jobs`` processes."""
    if jobs <= 1:
        return phot.run(image)
    from concurrent.futures import ProcessPoolExecutor

    from ..photometry import tiled_photometry

    # the margin covers the fit box, the grouping distance and the PSF wings,
    # so each star near a tile edge is fitted with all of its neighbours
    overlap = int(np.ceil(fitshape + 2.0 * fwhm + 3.0 * fwhm))
    core = max(4 * overlap, int(np.ceil(max(image.shape) / (2 * jobs))))
    log.detail(f"  tiles of {core} px with {overlap} px margins on {jobs} "
               "processes")
    with ProcessPoolExecutor(jobs) as pool:
        return tiled_photometry(image, phot, tile_size=core, overlap=overlap,
                                client=pool)


def run(args):
    from ..photometry import (
        Background2D,
        DAOGroup,
        DAOStarFinder,
        IntegratedGaussianPRF,
        IterativelySubtractedPSFPhotometry,
    )
    from ..utils import check_positive

    log = Log(args)
    fwhm = check_positive("--fwhm", args.fwhm)
    check_positive("--threshold", args.threshold)
    if args.jobs < 1:
        msg = f"-j/--jobs must be at least 1, got {args.jobs}"
        raise ValueError(msg)
    if args.niters < 1:
        msg = f"--niters must be at least 1, got {args.niters}"
        raise ValueError(msg)
    fitshape = args.fitshape or _default_fitshape(fwhm)
    if fitshape < 3 or fitshape % 2 == 0:
        msg = f"--fitshape must be an odd integer >= 3, got {fitshape}"
        raise ValueError(msg)
    inputs = [args.image]
    out = output_path(args, args.output, args.image, "_phot.ecsv", inputs=inputs)
    residual_path = (None if args.residual is None else check_output_path(
        args.residual, inputs=inputs, overwrite=args.overwrite))
    plot_path = (None if args.plot is None else check_output_path(
        args.plot, inputs=inputs, overwrite=args.overwrite))

    data, header, wcs = read_fits_image(args.image, hdu=parse_hdu(args.hdu))
    t0 = time.perf_counter()
    box = int(max(16, min(128, 10 * fwhm), 1))
    box = min(box, *data.shape)
    bkg = Background2D(data, box, method="planar")
    image = data - bkg.background
    rms = float(np.nanmedian(bkg.background_rms))
    log(f"background {np.nanmedian(bkg.background):.4g}, rms {rms:.4g}")
    finder = DAOStarFinder(args.threshold * rms, fwhm)
    if args.psf == "epsf":
        psf_model = _build_epsf(image, DAOStarFinder(20 * rms, fwhm), fwhm, log)
    else:
        psf_model = IntegratedGaussianPRF(sigma=fwhm * SIGMA_PER_FWHM)
    phot = IterativelySubtractedPSFPhotometry(
        DAOGroup(2.0 * fwhm), None, psf_model, (fitshape, fitshape),
        finder=finder, niters=args.niters, progress_bar=show_progress())
    result = _measure(phot, image, args.jobs, fwhm, fitshape, log)
    table = result.table
    seconds = time.perf_counter() - t0
    if wcs is not None and len(table):
        ra, dec = wcs.pixel_to_world_values(np.asarray(table["x_fit"], float),
                                            np.asarray(table["y_fit"], float))
        table["ra"] = ra
        table["dec"] = dec
        table["ra"].unit = "deg"
        table["dec"].unit = "deg"
    table.meta["psfkit_command"] = "photometry"
    table.meta["image"] = str(args.image)
    table.meta["fwhm"] = fwhm
    table.meta["threshold_nsigma"] = args.threshold
    table.meta["psf"] = args.psf
    table.meta["background_rms"] = rms
    table.write(out, format="ascii.ecsv", overwrite=args.overwrite)
    log(f"wrote {out}: {len(table)} stars in {seconds:.2f} s")
    residual = np.asarray(result.residual_image)
    if residual_path is not None:
        write_fits_image(residual_path, residual, header=header,
                         parameters={"command": "photometry", "fwhm": fwhm,
                                     "psf": args.psf},
                         overwrite=args.overwrite, inputs=inputs)
        log(f"wrote {residual_path}")
    if plot_path is not None:
        _write_plot(plot_path, image, table, residual)
        log(f"wrote {plot_path}")
    return 0
