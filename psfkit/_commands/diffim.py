"""``psfkit diffim``: the PSF-matched difference of two FITS images."""

import time

from astropy.nddata import NDData
import numpy as np

from ..fitsio import check_output_path, read_fits_image, write_fits_image
from ._common import Log, output_path, parse_hdu


def run(args):
    from ..diffim import ImagePsfMatch

    log = Log(args)
    inputs = [args.template, args.science]
    out = output_path(args, args.output, args.science, "_diff.fits", inputs=inputs)
    plot_path = (None if args.plot is None else check_output_path(
        args.plot, inputs=inputs, overwrite=args.overwrite))
    hdu = parse_hdu(args.hdu)
    tdata, _, twcs = read_fits_image(args.template, hdu=hdu)
    sdata, sheader, swcs = read_fits_image(args.science, hdu=hdu)
    if tdata.shape != sdata.shape and (twcs is None or swcs is None):
        msg = (f"the template is {tdata.shape} and the science image "
               f"{sdata.shape}; images of different shapes need a celestial "
               "WCS in both headers to be aligned")
        raise ValueError(msg)
    template = NDData(tdata, wcs=twcs)
    science = NDData(sdata, wcs=swcs)
    options = {"convolve": args.convolve}
    if args.decorrelate:
        options["decorrelate"] = True
    t0 = time.perf_counter()
    result = ImagePsfMatch().subtract_images(template, science, **options)
    seconds = time.perf_counter() - t0
    diff = result.difference
    variance = np.asarray(diff.uncertainty.array)
    mask = (np.zeros(diff.data.shape, bool) if diff.mask is None
            else np.asarray(diff.mask, bool))
    data = np.where(mask, np.nan, diff.data)
    log(f"kernel sum {result.kernel_sum:.5f} from {result.n_candidates_used} "
        f"of {result.n_candidates} candidates; robust std of D/sigma "
        f"{result.difference_std:.3f}")
    log.detail(f"  convolved the {result.convolved}; FWHM template "
               f"{result.template_fwhm:.2f}, science {result.science_fwhm:.2f}")
    write_fits_image(
        out, data, header=sheader,
        parameters={"command": "diffim", "convolve": result.convolved,
                    "decorrelate": args.decorrelate,
                    "kernel_sum": f"{result.kernel_sum:.6f}",
                    "template": args.template},
        overwrite=args.overwrite, inputs=inputs,
        extensions={"VARIANCE": variance, "MASK": mask.astype(np.uint8)})
    log(f"wrote {out} (difference, VARIANCE, MASK) in {seconds:.2f} s")
    if plot_path is not None:
        _write_plot(plot_path, result, template, science)
        log(f"wrote {plot_path}")
    return 0


def _write_plot(path, result, template, science):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..diffim.plotting import plot_subtraction

    fig = plot_subtraction(template, science, result)
    fig.savefig(path, dpi=90)
    plt.close(fig)
