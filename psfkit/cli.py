"""
The ``psfkit`` command line.

``psfkit photometry``, ``psfkit diffim``, ``psfkit ramps`` and ``psfkit loci``
run psfkit on FITS files; ``psfkit demo`` runs everything on simulated data
and writes a report.  Every output path is checked before any work starts,
and outputs are put in place only when the command succeeds.  A user error
(a missing or unreadable file, a bad argument, an output that exists) is
reported as one line on stderr with exit status 2, and nothing else is
printed; ``--debug`` shows the full traceback instead.  Warnings of a
command that succeeds are printed as one line each.
"""

import argparse
import sys
import warnings

from .version import __version__

__all__ = ["main", "build_parser"]


class _Parser(argparse.ArgumentParser):
    """Reports a usage error in one line, as every other error is."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        msg = f"must be a whole number, got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if value < 1:
        msg = f"must be at least 1, got {value}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _number(text, *, positive, allow_zero=False):
    try:
        value = float(text)
    except ValueError:
        msg = f"must be a number, got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if value != value or value in (float("inf"), float("-inf")):
        msg = f"must be a finite number, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    if positive and (value < 0 or (value == 0 and not allow_zero)):
        want = "non-negative" if allow_zero else "positive"
        msg = f"must be a {want} number, got {text}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _positive(text):
    return _number(text, positive=True)


def _non_negative(text):
    return _number(text, positive=True, allow_zero=True)


def _finite(text):
    return _number(text, positive=False)


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


def _command(sub, common, name, help, description):
    """A subcommand parser with the common options."""
    p = sub.add_parser(name, parents=[common], help=help,
                       description=description)
    p.set_defaults(func=name)
    return p


def _add_hdu(p, help="HDU index or name"):
    p.add_argument("--hdu", default=None, help=help)


def _add_jobs(p, default, help):
    p.add_argument("-j", "--jobs", type=_positive_int, default=default,
                   metavar="N", help=help)


def _add_output(p, metavar, default_name):
    p.add_argument("-o", "--output", default=None, metavar=metavar,
                   help=f"output {default_name}")


def _add_photometry(sub, common):
    p = _command(
        sub, common, "photometry",
        help="PSF photometry of the stars in a FITS image",
        description="Estimate the background, find the stars, optionally "
                    "build an empirical PSF from them, and run iterative PSF "
                    "photometry.  Writes an ECSV catalog (with ra/dec when "
                    "the header has a celestial WCS).")
    p.add_argument("image", metavar="IMAGE.fits")
    _add_hdu(p, "HDU index or name (default: the first with image data)")
    p.add_argument("--fwhm", type=_positive, required=True,
                   help="the FWHM of the stars, in pixels")
    p.add_argument("--threshold", type=_positive, default=5.0, metavar="NSIGMA",
                   help="detection threshold in units of the background RMS "
                        "(default 5)")
    p.add_argument("--psf", choices=("gaussian", "epsf"), default="gaussian",
                   help="PSF model: an integrated Gaussian of the given FWHM, "
                        "or an empirical PSF built from the image's stars")
    p.add_argument("--niters", type=_positive_int, default=2,
                   help="find-fit-subtract iterations (default 2)")
    p.add_argument("--fitshape", type=int, default=None, metavar="N",
                   help="odd size of the fit box (default: about 3 FWHM)")
    _add_jobs(p, 1, "measure the image in overlapping tiles on N processes "
                    "(default 1: one pass)")
    _add_output(p, "catalog.ecsv", "catalog (default: IMAGE_phot.ecsv)")
    p.add_argument("--residual", default=None, metavar="residual.fits",
                   help="also write the residual image")
    p.add_argument("--plot", default=None, metavar="figure.png",
                   help="also write a figure of the image, detections and "
                        "residual")


def _add_diffim(sub, common):
    p = _command(
        sub, common, "diffim",
        help="PSF-matched difference of two FITS images",
        description="Solve a spatially varying PSF-matching kernel between "
                    "a template and a science image and write the "
                    "difference.  Images with different WCSs are first "
                    "warped onto the science pixel grid.")
    p.add_argument("template", metavar="TEMPLATE.fits")
    p.add_argument("science", metavar="SCIENCE.fits")
    _add_hdu(p, "HDU index or name in both files")
    _add_output(p, "difference.fits",
                "difference image (default: SCIENCE_diff.fits)")
    p.add_argument("--convolve", choices=("auto", "template", "science"),
                   default="auto", help="which image to convolve (default auto)")
    p.add_argument("--decorrelate", action="store_true",
                   help="remove the noise correlation the kernel introduces")
    p.add_argument("--plot", default=None, metavar="qa.png",
                   help="also write a QA figure")


def _add_ramps(sub, common):
    p = _command(
        sub, common, "ramps",
        help="fit up-the-ramp slopes of an IR detector cube",
        description="Fit a line to every pixel's non-destructive reads "
                    "(axis 0 of the cube) and write the slope image, its "
                    "uncertainty and flags.")
    p.add_argument("cube", metavar="CUBE.fits")
    _add_hdu(p)
    p.add_argument("--read-noise", type=_non_negative, default=None, metavar="R",
                   help="read noise of one read, in data units (enables "
                        "optimal weighting, uncertainties and jump detection)")
    p.add_argument("--gain", type=_positive, default=1.0, metavar="G",
                   help="gain in electrons per DN (default 1)")
    p.add_argument("--frame-time", type=_positive, default=None, metavar="T",
                   help="seconds between reads (default: the header's "
                        "TGROUP, TFRAME or FRMTIME, else 1 s); slopes are "
                        "per second")
    p.add_argument("--saturation", type=_finite, default=None,
                   help="saturation level, in the cube's unit (BUNIT)")
    p.add_argument("--jumps", action="store_true",
                   help="detect cosmic-ray jumps and fit around them")
    _add_jobs(p, None, "threads fitting chunks of pixels (default: one per "
                       "core)")
    _add_output(p, "slope.fits", "file (default: CUBE_slope.fits)")


def _add_loci(sub, common):
    p = _command(
        sub, common, "loci",
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
    p.add_argument("--fwhm", type=_positive, default=4.0,
                   help="FWHM in pixels (ADI exclusion; default 4)")
    p.add_argument("--n-delta", type=_non_negative, default=1.0,
                   help="ADI exclusion in FWHM (default 1)")
    p.add_argument("--klip-k", type=_positive_int, default=10, metavar="K",
                   help="number of KLIP modes (default 10)")
    _add_jobs(p, 1, "processes for ADI frames (default 1)")
    _add_output(p, "residual.fits", "(default: TARGET_residual.fits)")


def _add_demo(sub, common):
    p = _command(
        sub, common, "demo",
        help="run every capability on simulated data and write a report",
        description="Run every psfkit capability on simulated data and write "
                    "figures and report.html into the output folder.")
    p.add_argument("--quick", action="store_true",
                   help="small simulations, for a smoke test")
    p.add_argument("--outdir", default="psfkit-demo",
                   help="output folder (default: ./psfkit-demo)")


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
    parser = _Parser(
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
        The exit status: 0 on success, 1 when the machine ran out of
        memory, 2 on a user error, 130 when interrupted.
    """
    import importlib

    from .utils.exceptions import PsfkitError

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error
        return exc.code
    if args.command is None:
        parser.print_help()
        return 0
    module = importlib.import_module(f"psfkit._commands.{args.func}")
    prefix = f"psfkit {args.command}"
    if args.debug:
        return module.run(args)
    # warnings are held back: a failed command prints its one error and
    # nothing else, a successful one prints each warning once, in one line
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            status = module.run(args)
        except (PsfkitError, OSError, ValueError, TypeError) as exc:
            print(f"{prefix}: error: {exc}", file=sys.stderr)
            return 2
        except ImportError as exc:  # an optional package that is missing
            print(f"{prefix}: error: {exc}", file=sys.stderr)
            return 2
        except MemoryError:
            print(f"{prefix}: error: out of memory (try a smaller input or "
                  "fewer jobs)", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print(f"{prefix}: interrupted; no output was written",
                  file=sys.stderr)
            return 130
    shown = set()
    for item in caught:
        if issubclass(item.category, (DeprecationWarning,
                                      PendingDeprecationWarning)):
            # about code, not data: left to Python's warning filters
            warnings.warn_explicit(item.message, item.category,
                                   item.filename, item.lineno)
            continue
        text = f"{prefix}: warning: {item.message}"
        if text not in shown and not args.quiet:
            shown.add(text)
            print(text, file=sys.stderr)
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
