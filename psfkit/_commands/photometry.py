"""``psfkit photometry``: iterative PSF photometry of a FITS image."""

import time
import warnings

from astropy.nddata import NDData, StdDevUncertainty
import numpy as np
from scipy.spatial import cKDTree

from .._numerics.gaussian import SIGMA_PER_FWHM
from ..fitsio import read_fits_nddata, write_fits_nddata
from ..version import __version__
from ._common import (
    Log,
    Outputs,
    ProgressExecutor,
    check_figure_path,
    check_min_shape,
    data_unit,
    default_name,
    jobs_executor,
    mask_and_error,
    masked_output,
    parse_hdu,
)


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
    """The empirical PSF of the image's stars and how many were used."""
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
                                   progress_bar=log.progress)(stars)
    return epsf, len(fitted)


def _write_plot(path, image, table, residual, *, unit, wcs, fwhm):
    import matplotlib

    matplotlib.use("Agg")
    from astropy.visualization import ImageNormalize, ZScaleInterval
    import matplotlib.pyplot as plt

    from ..utils import image_region, show_image

    # a crowded field is shown in a cut where each star's marker stays
    # apart from its neighbours' and the residual can be seen around it
    region, where = image_region(image.shape, 512)
    x = np.asarray(table["x_fit"], float)
    y = np.asarray(table["y_fit"], float)
    rows, cols = region
    inside = ((x >= cols.start - 0.5) & (x < cols.stop - 0.5)
              & (y >= rows.start - 0.5) & (y < rows.stop - 0.5))
    projection = {}
    if wcs is not None:
        try:
            from astropy.visualization.wcsaxes import WCSAxes  # noqa: F401
        except ImportError:
            # an astropy too old for the installed matplotlib: pixel axes
            wcs = None
        else:
            projection = {"projection": wcs}
    fig = plt.figure(figsize=(12, 5.4), layout="constrained")
    axes = [fig.add_subplot(1, 2, i + 1, **projection) for i in range(2)]
    norm = ImageNormalize(image[region], interval=ZScaleInterval())
    show_image(axes[0], image, label="background-subtracted data", unit=unit,
               region=region, norm=norm,
               title=f"{np.count_nonzero(inside)} fitted stars in {where}")
    size = float(np.clip(2.0 * fwhm * 72 * 5.0 / (cols.stop - cols.start),
                         2.0, 12.0))
    transform = {} if wcs is None else {"transform": axes[0].get_transform("pixel")}
    axes[0].plot(x[inside], y[inside], "o", mfc="none", mec="tab:red",
                 ms=size, mew=0.6, alpha=0.7, **transform)
    show_image(axes[1], residual, label="residual", unit=unit, region=region,
               norm=norm, title="residual (data - fitted stars), same scale")
    fig.savefig(path, dpi=100)
    plt.close(fig)


#: tiles are measured only where they could make the run this many times
#: faster (a pool of processes costs a few tenths of a second to start)
MIN_TILE_GAIN = 1.25
#: layouts within this fraction of the fastest one count as fast: of them
#: the one with most tiles is taken (crowding varies over an image, and
#: smaller tiles share the work out more evenly)
_TILE_SLACK = 0.05


def tile_plan(shape, jobs, overlap):
    """
    The tiles for measuring an image on ``jobs`` processes.

    Every layout of ``a x b`` cores (``a, b <= 2 * jobs``, at least two
    tiles) is costed by the pixels of its tiles, margins included: the run
    takes about as long as the busiest process, which measures
    ``ceil(n_tiles / jobs)`` of the largest tiles.  Few large tiles waste
    the least on margins; of the layouts within ``_TILE_SLACK`` of the
    fastest, the one with most tiles is taken.

    Parameters
    ----------
    shape : tuple of 2 int
        ``(ny, nx)`` of the image.
    jobs : int
        The number of processes (at least 2).
    overlap : int
        The margin of every tile, in pixels.

    Returns
    -------
    core : tuple of 2 int
        ``(ny, nx)`` of the tiles' cores.
    n_tiles : int
    gain : float
        How many times faster than one pass the tiles can make the run
        (pixels of the image over those of the busiest process).

    Examples
    --------
    >>> from psfkit._commands.photometry import tile_plan
    >>> core, n_tiles, gain = tile_plan((300, 300), 2, 29)
    >>> core, n_tiles, round(gain, 3)   # two halves of 300 x 179 px
    ((300, 150), 2, 1.676)
    """
    ny, nx = shape

    def widest(n, core):
        """The number of tiles along an axis and the widest tile's width:
        inner tiles have two margins, the two outer ones one."""
        k = -(-n // core)
        margins = 2 if k > 2 else (1 if k == 2 else 0)
        return k, min(core + margins * overlap, n)

    plans = []
    for a in range(1, 2 * jobs + 1):
        for b in range(1, 2 * jobs + 1):
            core = (-(-ny // a), -(-nx // b))
            (ky, wy), (kx, wx) = widest(ny, core[0]), widest(nx, core[1])
            n_tiles = ky * kx
            if n_tiles < 2:
                continue
            busiest = -(-n_tiles // jobs) * wy * wx
            plans.append((ny * nx / busiest, n_tiles, core))
    if not plans:
        return (ny, nx), 1, 1.0
    fastest = max(gain for gain, _, _ in plans)
    gain, n_tiles, core = max(
        (p for p in plans if p[0] >= (1.0 - _TILE_SLACK) * fastest),
        key=lambda p: (p[1], p[0]))
    return core, n_tiles, gain


def _measure(phot, image, *, jobs, fwhm, fitshape, mask, error, log):
    """
    One run, or overlapping tiles on ``jobs`` processes (`tile_plan`),
    unless the image is too small for tiles to gain ``MIN_TILE_GAIN``.

    A single run shows the engine's own bars (its passes, and the fits of
    each); with tiles only the bar over the tiles is drawn: each worker
    gets a copy of ``phot`` that draws none.
    """
    if jobs <= 1:
        return phot.run(image, mask=mask, error=error)
    from ..photometry import tiled_photometry

    # the margin covers the fit box, the grouping distance and the PSF wings,
    # so each star near a tile edge is fitted with all of its neighbours
    overlap = int(np.ceil(fitshape + 2.0 * fwhm + 3.0 * fwhm))
    core, n_tiles, gain = tile_plan(image.shape, jobs, overlap)
    if gain < MIN_TILE_GAIN:
        log.detail(f"  one pass: the {image.shape[1]}x{image.shape[0]} image "
                   f"is too small to gain from tiles with {overlap} px "
                   f"margins on {jobs} processes (at best {gain:.2f}x)")
        return phot.run(image, mask=mask, error=error)
    log.detail(f"  {n_tiles} tiles of {core[1]}x{core[0]} px with {overlap} "
               f"px margins on {jobs} processes (at best {gain:.2f}x "
               "faster than one pass)")
    pool = jobs_executor(jobs, processes=True)
    with log.bar(total=n_tiles, desc="tiles", unit="tile") as bar, \
            ProgressExecutor(pool, bar) as executor:
        return tiled_photometry(image, phot, tile_size=core, overlap=overlap,
                                executor=executor, mask=mask, error=error)


def _flags_description():
    """The meaning of the ``flags`` column, for the catalogue."""
    from ..photometry import PSFFlags

    bits = ", ".join(f"{int(flag)} {flag.name}" for flag in PSFFlags)
    return f"bits of psfkit.photometry.PSFFlags: {bits}"


def _with_sky(table, wcs):
    """ICRS ``ra`` and ``dec`` of the fitted positions, in degrees."""
    from ..utils import pixel_to_sky

    sky = pixel_to_sky(wcs, table["x_fit"], table["y_fit"]).icrs
    table["ra"] = sky.ra.deg
    table["dec"] = sky.dec.deg
    for name in ("ra", "dec"):
        table[name].unit = "deg"
    table["ra"].description = "ICRS right ascension of x_fit, y_fit"
    table["dec"].description = "ICRS declination of x_fit, y_fit"


def _with_units(table, unit):
    """Flux columns in the unit of the image (when the engine left none)."""
    for name in table.colnames:
        if name.startswith("flux") and getattr(table[name], "unit", None) is None:
            table[name].unit = unit


def run(args):
    from ..photometry import (
        Background2D,
        DAOGroup,
        DAOStarFinder,
        IntegratedGaussianPRF,
        IterativelySubtractedPSFPhotometry,
    )
    log = Log(args)
    fwhm = args.fwhm
    fitshape = args.fitshape or _default_fitshape(fwhm)
    if fitshape < 3 or fitshape % 2 == 0:
        msg = f"--fitshape must be an odd integer >= 3, got {fitshape}"
        raise ValueError(msg)
    with Outputs(args, inputs=[args.image]) as outputs:
        out, residual_path, plot_path = outputs.check(
            args.output or default_name(args.image, "_phot.ecsv"),
            args.residual, args.plot)
        check_figure_path(plot_path)
        source = read_fits_nddata(args.image, hdu=parse_hdu(args.hdu))
        check_min_shape(source, fitshape, args.image,
                        f"photometry with a {fitshape}x{fitshape} fit box")
        unit, unit_note = data_unit(source, args.image)
        data = source.data
        mask, error, n_no_error, n_nonfinite = mask_and_error(source,
                                                              args.image)
        t0 = time.perf_counter()
        box = int(max(16, min(128, 10 * fwhm), 1))
        box = min(box, *data.shape)
        bkg = Background2D(data, box, mask=mask, method="planar")
        image = data - bkg.background
        rms = float(np.nanmedian(bkg.background_rms))
        # what was found is printed once the measurement has succeeded: a
        # command that fails prints its error line and nothing else
        report = [(log, f"background {np.nanmedian(bkg.background):.4g}, "
                        f"rms {rms:.4g} {unit}")]
        if n_nonfinite:
            report.append((log.detail, f"  masked {n_nonfinite} pixels with "
                                       "a non-finite value"))
        if n_no_error:
            report.append((log.detail, f"  masked {n_no_error} pixels with a "
                                       "zero or non-finite error"))
        finder = DAOStarFinder(args.threshold * rms, fwhm)
        if args.psf == "epsf":
            psf_model, n_psf_stars = _build_epsf(
                image, DAOStarFinder(20 * rms, fwhm), fwhm, log)
            report.append((log, f"built an empirical PSF from {n_psf_stars} "
                                "stars"))
        else:
            psf_model = IntegratedGaussianPRF(sigma=fwhm * SIGMA_PER_FWHM)
        phot = IterativelySubtractedPSFPhotometry(
            DAOGroup(2.0 * fwhm), None, psf_model, (fitshape, fitshape),
            finder=finder, niters=args.niters, progress_bar=log.progress)
        result = _measure(phot, image, jobs=args.jobs, fwhm=fwhm,
                          fitshape=fitshape, mask=mask, error=error, log=log)
        for write, line in report:
            write(line)
        table = result.table
        seconds = time.perf_counter() - t0
        if source.unit is not None:
            # a catalog gets units only from the image's own BUNIT
            _with_units(table, unit)
        if "flags" in table.colnames:
            table["flags"].description = _flags_description()
        if source.wcs is not None and len(table):
            _with_sky(table, source.wcs)
        table.meta.update({
            "psfkit_command": "photometry", "psfkit_version": __version__,
            "image": str(args.image),
            "unit": "none (no BUNIT)" if source.unit is None else str(unit),
            "fwhm": fwhm, "threshold_nsigma": args.threshold, "psf": args.psf,
            "background_rms": rms, "flags": "psfkit.photometry.PSFFlags"})
        table.write(outputs.path(out), format="ascii.ecsv", overwrite=True)
        residual = np.asarray(getattr(result.residual_image, "value",
                                      result.residual_image))
        if residual_path is not None:
            keywords = {
                "BUNIT": (unit.to_string(), unit_note),
                "NSTARS": (len(table), "stars fitted"),
                "FWHM": (fwhm, "[pixel] FWHM of the stars"),
                "PSFMODEL": (args.psf, "PSF model fitted"),
                "BKGRMS": (rms, "median background RMS"),
                "NITERS": (args.niters, "find-fit-subtract iterations")}
            uncertainty = (None if error is None
                           else StdDevUncertainty(error.astype(data.dtype)))
            values, bad = masked_output(residual, mask, data.dtype)
            write_fits_nddata(
                outputs.path(residual_path),
                NDData(values, unit=unit, mask=bad,
                       uncertainty=uncertainty, wcs=source.wcs),
                header=source.meta, keywords=keywords,
                parameters={"command": "photometry", "fwhm": fwhm,
                            "psf": args.psf, "image": args.image},
                overwrite=True)
        if plot_path is not None:
            _write_plot(outputs.path(plot_path), image, table, residual,
                        unit=unit, wcs=source.wcs, fwhm=fwhm)
    log(f"wrote {out}: {len(table)} stars in {seconds:.2f} s")
    for path in (residual_path, plot_path):
        if path is not None:
            log(f"wrote {path}")
    return 0
