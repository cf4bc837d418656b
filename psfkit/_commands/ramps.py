"""``psfkit ramps``: up-the-ramp slopes of an IR detector cube."""

import time

import numpy as np

from ..fitsio import read_fits_image, write_fits_image
from ._common import Log, output_path, parse_hdu


def run(args):
    from ..modelsets import RAMP_FLAGS, fit_ramps

    log = Log(args)
    out = output_path(args, args.output, args.cube, "_slope.fits",
                      inputs=[args.cube])
    if args.jobs is not None and args.jobs < 1:
        msg = f"-j/--jobs must be at least 1, got {args.jobs}"
        raise ValueError(msg)
    if args.jumps and args.read_noise is None:
        msg = "--jumps needs --read-noise (the jump statistic is scaled by it)"
        raise ValueError(msg)
    cube, header, _ = read_fits_image(args.cube, hdu=parse_hdu(args.hdu), ndim=3)
    n_reads = cube.shape[0]
    times = np.arange(n_reads) * args.frame_time
    log(f"fitting {cube.shape[1]}x{cube.shape[2]} ramps of {n_reads} reads")
    t0 = time.perf_counter()
    result = fit_ramps(cube, times, read_noise=args.read_noise, gain=args.gain,
                       weighting="optimal" if args.read_noise else "unweighted",
                       saturation=args.saturation, detect_jumps=args.jumps,
                       executor=args.jobs)
    seconds = time.perf_counter() - t0
    flags = np.asarray(result.flags)
    for name, bit in RAMP_FLAGS.items():
        log.detail(f"  {name}: {np.count_nonzero(flags & bit)} pixels")
    for key in ("NAXIS3", "CRPIX3", "CDELT3", "CRVAL3", "CTYPE3", "CUNIT3"):
        header.remove(key, ignore_missing=True)
    header["BUNIT"] = (f"{header.get('BUNIT', 'DN')}/frame", "slope unit")
    write_fits_image(
        out, result.slope, header=header,
        parameters={"command": "ramps", "read_noise": args.read_noise,
                    "gain": args.gain, "frame_time": args.frame_time,
                    "saturation": args.saturation, "jumps": args.jumps},
        overwrite=args.overwrite, inputs=[args.cube],
        extensions={"SLOPE_ERR": result.slope_err,
                    "FLAGS": flags.astype(np.int16),
                    "N_USED": np.asarray(result.n_used).astype(np.int16)})
    log(f"wrote {out} (slope, SLOPE_ERR, FLAGS, N_USED) in {seconds:.2f} s")
    return 0
