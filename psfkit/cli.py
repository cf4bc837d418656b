"""
The ``psfkit`` command line.

``psfkit photometry``, ``psfkit diffim``, ``psfkit ramps`` and ``psfkit loci``
run psfkit on FITS files; ``psfkit demo`` runs everything on simulated data
and writes a report.  A user error (a missing or unreadable file, a bad
argument, an output that exists) is reported as one line on stderr with exit
status 2; ``--debug`` shows the full traceback instead.
"""

import argparse
import sys

from .version import __version__

__all__ = ["main", "build_parser"]


def _common_options():
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--overwrite", action="store_true",
                        help="replace existing output files (inputs are never "
                             "overwritten)")
    common.add_argument("--debug", action="store_true",
                        help="show the full traceback on errors")
    noise = common.add_mutually_exclusive_group()
    noise.add_argument("-q", "--quiet", action="store_true",
                       help="print nothing but errors")
    noise.add_argument("-v", "--verbose", action="store_true",
                       help="print more detail")
    return common


def _add_photometry(sub, common):
    p = sub.add_parser(
        "photometry", parents=[common],
        help="PSF photometry of the stars in a FITS image",
        description="Estimate the background, find the stars, optionally "
                    "build an empirical PSF from them, and run iterative PSF "
                    "photometry.  Writes an ECSV catalog (with ra/dec when "
                    "the header has a celestial WCS).")
    p.add_argument("image", metavar="IMAGE.fits")
    p.add_argument("--hdu", default=None,
                   help="HDU index or name (default: the first with image data)")
    p.add_argument("--fwhm", type=float, required=True,
                   help="the FWHM of the stars, in pixels")
    p.add_argument("--threshold", type=float, default=5.0, metavar="NSIGMA",
                   help="detection threshold in units of the background RMS "
                        "(default 5)")
    p.add_argument("--psf", choices=("gaussian", "epsf"), default="gaussian",
                   help="PSF model: an integrated Gaussian of the given FWHM, "
                        "or an empirical PSF built from the image's stars")
    p.add_argument("--niters", type=int, default=2,
                   help="find-fit-subtract iterations (default 2)")
    p.add_argument("--fitshape", type=int, default=None, metavar="N",
                   help="odd size of the fit box (default: about 3 FWHM)")
    p.add_argument("-j", "--jobs", type=int, default=1, metavar="N",
                   help="measure the image in overlapping tiles on N "
                        "processes (default 1: one pass)")
    p.add_argument("-o", "--output", default=None, metavar="catalog.ecsv",
                   help="output catalog (default: IMAGE_phot.ecsv)")
    p.add_argument("--residual", default=None, metavar="residual.fits",
                   help="also write the residual image")
    p.add_argument("--plot", default=None, metavar="figure.png",
                   help="also write a figure of the image, detections and "
                        "residual")
    p.set_defaults(func="photometry")


def _add_diffim(sub, common):
    p = sub.add_parser(
        "diffim", parents=[common],
        help="PSF-matched difference of two FITS images",
        description="Solve a spatially varying PSF-matching kernel between "
                    "a template and a science image and write the "
                    "difference.  Images with different WCSs are first "
                    "warped onto the science pixel grid.")
    p.add_argument("template", metavar="TEMPLATE.fits")
    p.add_argument("science", metavar="SCIENCE.fits")
    p.add_argument("--hdu", default=None,
                   help="HDU index or name in both files")
    p.add_argument("-o", "--output", default=None, metavar="difference.fits",
                   help="output difference image (default: SCIENCE_diff.fits)")
    p.add_argument("--convolve", choices=("auto", "template", "science"),
                   default="auto", help="which image to convolve (default auto)")
    p.add_argument("--decorrelate", action="store_true",
                   help="remove the noise correlation the kernel introduces")
    p.add_argument("--plot", default=None, metavar="qa.png",
                   help="also write a QA figure")
    p.set_defaults(func="diffim")


def _add_ramps(sub, common):
    p = sub.add_parser(
        "ramps", parents=[common],
        help="fit up-the-ramp slopes of an IR detector cube",
        description="Fit a line to every pixel's non-destructive reads "
                    "(axis 0 of the cube) and write the slope image, its "
                    "uncertainty and flags.")
    p.add_argument("cube", metavar="CUBE.fits")
    p.add_argument("--hdu", default=None, help="HDU index or name")
    p.add_argument("--read-noise", type=float, default=None, metavar="R",
                   help="read noise of one read, in data units (enables "
                        "optimal weighting, uncertainties and jump detection)")
    p.add_argument("--gain", type=float, default=1.0, metavar="G",
                   help="gain in electrons per DN (default 1)")
    p.add_argument("--frame-time", type=float, default=1.0, metavar="T",
                   help="time between reads (default 1; slopes are per T)")
    p.add_argument("--saturation", type=float, default=None,
                   help="saturation level in DN")
    p.add_argument("--jumps", action="store_true",
                   help="detect cosmic-ray jumps and fit around them")
    p.add_argument("-j", "--jobs", type=int, default=None, metavar="N",
                   help="threads fitting chunks of pixels (default: one "
                        "per core)")
    p.add_argument("-o", "--output", default=None, metavar="slope.fits",
                   help="output file (default: CUBE_slope.fits)")
    p.set_defaults(func="ramps")


def _add_loci(sub, common):
    p = sub.add_parser(
        "loci", parents=[common],
        help="LOCI/KLIP PSF subtraction for high-contrast imaging",
        description="Subtract the stellar PSF from a target image using a "
                    "stack of reference images (RDI), or from every frame of "
                    "an ADI cube using the other frames (with --parangs).")
    p.add_argument("target", metavar="TARGET.fits",
                   help="a 2-D target image, or a 3-D ADI cube")
    p.add_argument("--refs", default=None, metavar="REFS.fits",
                   help="3-D cube of reference images (RDI mode)")
    p.add_argument("--parangs", default=None, metavar="TABLE|KEYWORD",
                   help="ADI mode: a table file with the parallactic angles "
                        "(degrees, first column or 'parang'), or a header "
                        "keyword listing them")
    p.add_argument("--method", choices=("loci", "klip"), default="loci",
                   help="the PSF fitter (default loci)")
    p.add_argument("--fwhm", type=float, default=4.0,
                   help="FWHM in pixels (ADI exclusion; default 4)")
    p.add_argument("--n-delta", type=float, default=1.0,
                   help="ADI exclusion in FWHM (default 1)")
    p.add_argument("--klip-k", type=int, default=10, metavar="K",
                   help="number of KLIP modes (default 10)")
    p.add_argument("-j", "--jobs", type=int, default=1, metavar="N",
                   help="processes for ADI frames (default 1)")
    p.add_argument("-o", "--output", default=None, metavar="residual.fits",
                   help="output (default: TARGET_residual.fits)")
    p.set_defaults(func="loci")


def _add_demo(sub, common):
    p = sub.add_parser(
        "demo", parents=[common],
        help="run every capability on simulated data and write a report",
        description="Run every psfkit capability on simulated data and write "
                    "figures and report.html into the output folder.")
    p.add_argument("--quick", action="store_true",
                   help="small simulations, for a smoke test")
    p.add_argument("--outdir", default="psfkit-demo",
                   help="output folder (default: ./psfkit-demo)")
    p.set_defaults(func="demo")


def build_parser():
    """
    Build the argument parser of the ``psfkit`` command.

    Returns
    -------
    parser : `argparse.ArgumentParser`

    Examples
    --------
    >>> from psfkit.cli import build_parser
    >>> args = build_parser().parse_args(['ramps', 'cube.fits', '--jumps'])
    >>> args.func, args.jumps
    ('ramps', True)
    """
    parser = argparse.ArgumentParser(
        prog="psfkit",
        description="Point-spread-function tools for astronomy.")
    parser.add_argument("--version", action="version",
                        version=f"psfkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    common = _common_options()
    _add_photometry(sub, common)
    _add_diffim(sub, common)
    _add_ramps(sub, common)
    _add_loci(sub, common)
    _add_demo(sub, common)
    return parser


def main(argv=None):
    """
    Run the ``psfkit`` command line.

    Parameters
    ----------
    argv : list of str, optional
        The arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    status : int
        The exit status: 0 on success, 2 on a user error.
    """
    import importlib

    from .utils.exceptions import PsfkitError

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    module = importlib.import_module(f"psfkit._commands.{args.func}")
    try:
        return module.run(args)
    except (PsfkitError, OSError, ValueError, TypeError) as exc:
        if args.debug:
            raise
        print(f"psfkit {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
