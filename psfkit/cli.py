"""
The ``psfkit`` command line.

Every subcommand reports a user error (missing file, bad argument) as one
line on stderr with exit status 2; ``--debug`` shows the traceback instead.
"""

import argparse
import sys

from .version import __version__

__all__ = ["main", "build_parser"]


class CommandError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


def _cmd_demo(args):
    from .demo import run_demo

    log = None if args.quiet else print
    run_demo(args.outdir, quick=args.quick, log=log)
    return 0


def build_parser():
    """
    Build the argument parser of the ``psfkit`` command.

    Returns
    -------
    parser : `argparse.ArgumentParser`
    """
    parser = argparse.ArgumentParser(
        prog="psfkit",
        description="Point-spread-function tools for astronomy.")
    parser.add_argument("--version", action="version",
                        version=f"psfkit {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser(
        "demo", help="run every capability on simulated data and write a report",
        description="Run every psfkit capability on simulated data and write "
                    "figures and report.html into the output folder.")
    demo.add_argument("--quick", action="store_true",
                      help="small simulations, for a smoke test")
    demo.add_argument("--outdir", default="psfkit-demo",
                      help="output folder (default: ./psfkit-demo)")
    demo.add_argument("-q", "--quiet", action="store_true",
                      help="print nothing but errors")
    demo.set_defaults(func=_cmd_demo)
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
        The exit status.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except (CommandError, OSError, ValueError, TypeError) as exc:
        if args.debug:
            raise
        print(f"psfkit {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
