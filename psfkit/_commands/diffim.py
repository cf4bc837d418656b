"""``psfkit diffim``: the PSF-matched difference of two FITS images."""

import time

from astropy.nddata import NDData, VarianceUncertainty
import numpy as np

from ..fitsio import read_fits_nddata, write_fits_nddata
from ._common import (
    Log,
    Outputs,
    check_figure_path,
    check_min_shape,
    data_unit,
    default_name,
    masked_output,
    parse_hdu,
)


def _keywords(result, unit, unit_note, args):
    """The results that belong in the header, where programs can read them."""
    return {
        "BUNIT": (unit.to_string(), unit_note),
        "KERNSUM": (float(result.kernel_sum),
                    "kernel sum: science / template flux scale"),
        "DIFFSTD": (float(result.difference_std),
                    "robust std of difference / sigma (ideal 1)"),
        "NCANDS": (int(result.n_candidates), "kernel candidates made"),
        "NCANDUSE": (int(result.n_candidates_used), "kernel candidates used"),
        "CONVOLVD": (result.convolved, "the image convolved by the kernel"),
        "TMPLFWHM": (float(result.template_fwhm), "[pixel] template PSF FWHM"),
        "SCIFWHM": (float(result.science_fwhm), "[pixel] science PSF FWHM"),
        "WARPED": (bool(result.warped), "template resampled onto science grid"),
        "DECORREL": (bool(args.decorrelate), "noise decorrelation applied"),
    }


def run(args):
    from ..diffim import ImagePsfMatch, PsfMatchConfig

    log = Log(args)
    inputs = [args.template, args.science]
    with Outputs(args, inputs=inputs) as outputs:
        out, plot_path = outputs.check(
            args.output or default_name(args.science, "_diff.fits"), args.plot)
        check_figure_path(plot_path)
        hdu = parse_hdu(args.hdu)
        template = read_fits_nddata(args.template, hdu=hdu)
        science = read_fits_nddata(args.science, hdu=hdu)
        smallest = PsfMatchConfig().kernel_size_min
        for path, image in ((args.template, template), (args.science, science)):
            check_min_shape(image, smallest, path, "image differencing")
        if template.data.shape != science.data.shape and (
                template.wcs is None or science.wcs is None):
            msg = (f"the template is {template.data.shape} and the science "
                   f"image {science.data.shape}; images of different shapes "
                   "need a celestial WCS in both headers to be aligned")
            raise ValueError(msg)
        unit, unit_note = data_unit(science, args.science)
        options = {"convolve": args.convolve}
        if args.decorrelate:
            options["decorrelate"] = True
        t0 = time.perf_counter()
        result = ImagePsfMatch().subtract_images(
            template, science, progress_bar=log.progress, **options)
        seconds = time.perf_counter() - t0
        diff = result.difference
        dtype = np.result_type(science.data.dtype, template.data.dtype)
        data, mask = masked_output(diff.data, diff.mask, dtype)
        variance = np.asarray(diff.uncertainty.array, dtype=dtype)
        log(f"kernel sum {result.kernel_sum:.5f} from "
            f"{result.n_candidates_used} of {result.n_candidates} candidates; "
            f"robust std of D/sigma {result.difference_std:.3f}")
        log.detail(f"  convolved the {result.convolved}; FWHM template "
                   f"{result.template_fwhm:.2f}, science "
                   f"{result.science_fwhm:.2f}")
        write_fits_nddata(
            outputs.path(out),
            NDData(data, unit=unit, mask=mask,
                   uncertainty=VarianceUncertainty(variance), wcs=science.wcs),
            header=science.meta, keywords=_keywords(result, unit, unit_note, args),
            parameters={"command": "diffim", "convolve": result.convolved,
                        "decorrelate": args.decorrelate,
                        "template": args.template, "science": args.science},
            overwrite=True)
        if plot_path is not None:
            _write_plot(outputs.path(plot_path), result, template, science,
                        unit=unit)
    log(f"wrote {out} (difference, MASK, UNCERT variance) in {seconds:.2f} s")
    if plot_path is not None:
        log(f"wrote {plot_path}")
    return 0


def _write_plot(path, result, template, science, *, unit):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..diffim.plotting import plot_subtraction

    fig = plot_subtraction(template, science, result)
    fig.suptitle(f"difference in {unit}; kernel sum "
                 f"{result.kernel_sum:.4f}", fontsize=10)
    fig.savefig(path, dpi=90)
    plt.close(fig)
