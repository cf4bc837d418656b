"""Helpers shared by the subcommands: output names, logging, progress."""

from pathlib import Path
import sys

from ..fitsio import check_output_path


class Log:
    """Prints progress unless ``--quiet``; details only with ``--verbose``."""

    def __init__(self, args):
        self.quiet = getattr(args, "quiet", False)
        self.verbose = getattr(args, "verbose", False)

    def __call__(self, message):
        if not self.quiet:
            print(message)

    def detail(self, message):
        if self.verbose and not self.quiet:
            print(message)


def output_path(args, given, source, suffix, *, inputs):
    """The output path: ``given``, or ``<source stem><suffix>`` in the cwd."""
    if given is None:
        stem = Path(source).name
        for ext in (".fits.gz", ".fits.fz", ".fits", ".fit", ".fts"):
            if stem.lower().endswith(ext):
                stem = stem[: -len(ext)]
                break
        given = f"{stem}{suffix}"
    return check_output_path(given, inputs=inputs, overwrite=args.overwrite)


def show_progress():
    """Progress bars only on an interactive terminal (never in CI logs)."""
    return sys.stderr.isatty()


def parse_hdu(value):
    """An ``--hdu`` value: an integer index or an HDU name."""
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return value
