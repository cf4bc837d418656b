"""``psfkit ramps``: up-the-ramp slopes of an IR detector cube."""

import time

from astropy.nddata import NDData, StdDevUncertainty
import astropy.units as u
import numpy as np

from ..fitsio import read_fits_nddata, write_fits_nddata
from ..utils import PsfkitWarning, warn
from ._common import Log, Outputs, data_unit, default_name, parse_hdu

#: header keywords that give the time between reads, in seconds
#: (JWST's TGROUP and TFRAME, and a generic FRMTIME)
FRAME_TIME_KEYWORDS = ("TGROUP", "TFRAME", "FRMTIME")


def _frame_time(args, header):
    """Seconds between reads, and where that number came from."""
    if args.frame_time is not None:
        return args.frame_time, "--frame-time"
    for key in FRAME_TIME_KEYWORDS:
        value = header.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) \
                and np.isfinite(value) and value > 0:
            return float(value), f"header {key}"
    warn(f"no --frame-time and no {', '.join(FRAME_TIME_KEYWORDS)} in the "
         "header: assuming 1 s between reads", PsfkitWarning)
    return 1.0, "assumed"


def _fit(cube, mask, times, options, log):
    """`fit_ramps` on the whole cube, with its progress bar."""
    from ..modelsets import fit_ramps

    return fit_ramps(cube, times, mask=mask, progress_bar=log.progress,
                     **options)


def run(args):
    from ..modelsets import RAMP_FLAGS, TOO_FEW_READS

    log = Log(args)
    if args.jumps and args.read_noise is None:
        msg = "--jumps needs --read-noise (the jump statistic is scaled by it)"
        raise ValueError(msg)
    with Outputs(args, inputs=[args.cube]) as outputs:
        out, = outputs.check(args.output or default_name(args.cube,
                                                         "_slope.fits"))
        source = read_fits_nddata(args.cube, hdu=parse_hdu(args.hdu), ndim=3)
        cube = source.data
        n_reads = cube.shape[0]
        frame_time, time_source = _frame_time(args, source.meta)
        unit, unit_note = data_unit(source, args.cube)
        slope_unit = unit / u.s
        times = np.arange(n_reads) * frame_time
        log(f"fitting {cube.shape[1]}x{cube.shape[2]} ramps of {n_reads} reads "
            f"{frame_time:g} s apart ({time_source})")
        t0 = time.perf_counter()
        result = _fit(
            cube, source.mask, times,
            {"read_noise": args.read_noise, "gain": args.gain,
             "weighting": "optimal" if args.read_noise else "unweighted",
             "saturation": args.saturation, "detect_jumps": args.jumps,
             "executor": args.jobs}, log)
        seconds = time.perf_counter() - t0
        flags = np.asarray(result.flags)
        for name, bit in RAMP_FLAGS.items():
            log.detail(f"  {name}: {np.count_nonzero(flags & bit)} pixels")
        slope = np.asarray(result.slope, dtype=cube.dtype)
        bad = ~np.isfinite(slope) | ((flags & TOO_FEW_READS) > 0)
        keywords = {
            "BUNIT": (slope_unit.to_string(), f"slope; data unit {unit_note}"),
            "FRMTIME": (frame_time, f"[s] time between reads ({time_source})"),
            "NREADS": (n_reads, "reads per ramp"),
            "WEIGHTNG": ("optimal" if args.read_noise else "unweighted",
                         "read weighting"),
            "NJUMPPIX": (int(np.count_nonzero(flags & RAMP_FLAGS["JUMP_DET"])),
                         "pixels with a jump"),
            "NSATPIX": (int(np.count_nonzero(flags & RAMP_FLAGS["SATURATED"])),
                        "pixels that saturated"),
            "NBADPIX": (int(np.count_nonzero(bad)), "pixels without a slope"),
        }
        if args.read_noise is not None:
            keywords["RDNOISE"] = (args.read_noise, f"[{unit}] read noise")
        keywords["GAIN"] = (args.gain, "electrons per data unit")
        if args.saturation is not None:
            keywords["SATURATE"] = (args.saturation, f"[{unit}] saturation level")
        header = source.meta.copy()
        for key in ("NAXIS3", "CRPIX3", "CDELT3", "CRVAL3", "CTYPE3", "CUNIT3"):
            header.remove(key, ignore_missing=True)
        write_fits_nddata(
            outputs.path(out),
            NDData(slope, unit=slope_unit, mask=bad, wcs=source.wcs,
                   uncertainty=StdDevUncertainty(
                       np.asarray(result.slope_err, dtype=cube.dtype))),
            header=header, keywords=keywords,
            parameters={"command": "ramps", "read_noise": args.read_noise,
                        "gain": args.gain, "frame_time": frame_time,
                        "saturation": args.saturation, "jumps": args.jumps},
            extensions={"FLAGS": flags.astype(np.int16),
                        "N_USED": np.asarray(result.n_used).astype(np.int32)},
            overwrite=True)
    log(f"wrote {out} (slope in {slope_unit}, MASK, UNCERT, FLAGS, N_USED) in "
        f"{seconds:.2f} s")
    return 0
