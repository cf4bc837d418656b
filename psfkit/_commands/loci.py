"""``psfkit loci``: LOCI/KLIP PSF subtraction (reference stack or ADI)."""

from pathlib import Path
import time

from astropy.table import Table
import numpy as np

from ..fitsio import read_fits_image, write_fits_image
from ._common import Log, output_path


def _parangs_from_header(header, key, n_frames):
    key = key.upper()
    if key in header and isinstance(header[key], str):
        try:
            values = [float(v) for v in header[key].replace(",", " ").split()]
        except ValueError:
            msg = f"header keyword {key} is not a list of angles: {header[key]!r}"
            raise ValueError(msg) from None
    elif f"{key}1" in header:
        values = [header.get(f"{key}{i + 1}") for i in range(n_frames)]
        if any(v is None for v in values):
            msg = f"header has {key}1 but not {key}1..{key}{n_frames}"
            raise ValueError(msg)
    elif key in header:
        msg = f"header keyword {key} holds one value; {n_frames} angles are needed"
        raise ValueError(msg)
    else:
        msg = (f"--parangs {key!r} is neither a file nor a header keyword "
               f"({key} or {key}1..{key}{n_frames})")
        raise ValueError(msg)
    return np.asarray(values, dtype=float)


def _read_parangs(value, header, n_frames):
    path = Path(value)
    if path.is_file():
        try:
            table = Table.read(path, format="ascii") if path.suffix != ".fits" \
                else Table.read(path)
        except Exception as exc:  # noqa: BLE001 - any reader failure is a user error
            msg = f"{path}: cannot read a table of parallactic angles ({exc})"
            raise ValueError(msg) from None
        name = "parang" if "parang" in table.colnames else table.colnames[0]
        angles = np.asarray(table[name], dtype=float)
    else:
        angles = _parangs_from_header(header, value, n_frames)
    if angles.shape != (n_frames,):
        msg = f"{n_frames} parallactic angles are needed, got {angles.size}"
        raise ValueError(msg)
    return angles


def run(args):
    from .. import fitpsf

    log = Log(args)
    out = output_path(args, args.output, args.target, "_residual.fits",
                      inputs=[args.target, args.refs, args.parangs])
    target, header, _ = read_fits_image(args.target, ndim=(2, 3))
    fitter_class = fitpsf.KLIP if args.method == "klip" else fitpsf.LOCI
    settings = {"klip_modes": args.klip_k} if args.method == "klip" else {}
    t0 = time.perf_counter()
    if target.ndim == 3:
        if args.parangs is None:
            msg = ("a 3-D target is an ADI cube and needs --parangs "
                   "(a table file or a header keyword)")
            raise ValueError(msg)
        parangs = _read_parangs(args.parangs, header, target.shape[0])
        log(f"ADI {args.method.upper()} on {target.shape[0]} frames")
        executor = None
        if args.jobs > 1:
            from concurrent.futures import ProcessPoolExecutor

            executor = ProcessPoolExecutor(args.jobs)
        try:
            result = fitpsf.adi_subtract(target, parangs, fitter_class,
                                         n_delta=args.n_delta, fwhm=args.fwhm,
                                         executor=executor, settings=settings)
        finally:
            if executor is not None:
                executor.shutdown()
        residual = result.image
    else:
        if args.refs is None:
            msg = "a 2-D target needs --refs REFS.fits (a cube of reference images)"
            raise ValueError(msg)
        refs, _, _ = read_fits_image(args.refs, ndim=3)
        if refs.shape[1:] != target.shape:
            msg = (f"the reference images are {refs.shape[1:]} but the target "
                   f"is {target.shape}")
            raise ValueError(msg)
        log(f"{args.method.upper()} with {refs.shape[0]} reference images")
        fitter = fitter_class(refs, bases_axis=0)
        for key, value in settings.items():
            setattr(fitter, key, value)
        residual = fitter.remove_psf(target)
    seconds = time.perf_counter() - t0
    for key in ("NAXIS3", "CRPIX3", "CDELT3", "CRVAL3", "CTYPE3", "CUNIT3"):
        header.remove(key, ignore_missing=True)
    write_fits_image(out, residual, header=header,
                     parameters={"command": "loci", "method": args.method,
                                 "fwhm": args.fwhm, "n_delta": args.n_delta,
                                 "klip_k": args.klip_k},
                     overwrite=args.overwrite,
                     inputs=[args.target, args.refs])
    log(f"wrote {out} in {seconds:.2f} s")
    return 0
