"""``psfkit demo``: every capability on simulated data, with a report."""

from ..demo import run_demo


def run(args):
    log = None if args.quiet else print
    run_demo(args.outdir, quick=args.quick, log=log, overwrite=args.overwrite)
    return 0
