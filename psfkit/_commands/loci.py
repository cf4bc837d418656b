"""``psfkit loci``: LOCI/KLIP PSF subtraction (reference stack or ADI)."""

from pathlib import Path
import re
import time

from astropy.nddata import NDData
from astropy.table import Table
import astropy.units as u
import numpy as np

from ..fitsio import read_fits_nddata, write_fits_nddata
from ._common import (
    Log,
    Outputs,
    data_unit,
    default_name,
    jobs_executor,
    masked_output,
)

_FITS_TABLE = (".fits", ".fit", ".fts", ".fits.gz")
_SEPARATORS = re.compile(r"[\s,;]+")


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


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _choose_column(names, path):
    lowered = [str(name).lower() for name in names]
    for wanted in ("parang", "parangs", "pa", "angle"):
        if wanted in lowered:
            return lowered.index(wanted)
    return 0


def _parangs_from_text(path):
    """
    One angle per line, or a table whose column ``parang`` (else the first)
    holds them; an optional first line of column names; ``#`` comments
    and blank lines ignored (so ``numpy.savetxt`` output of either kind,
    CSV and plain lists all read the same).
    """
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        text = line.split("#", 1)[0].strip()
        if text:
            rows.append((number, [f for f in _SEPARATORS.split(text) if f]))
    if not rows:
        msg = f"{path}: holds no parallactic angles"
        raise ValueError(msg)
    column = 0
    if not all(_is_number(field) for field in rows[0][1]):
        column = _choose_column(rows[0][1], path)
        rows = rows[1:]
    angles = []
    for number, fields in rows:
        if column >= len(fields) or not _is_number(fields[column]):
            shown = fields[column] if column < len(fields) else ""
            msg = (f"{path}: line {number} does not hold an angle in column "
                   f"{column + 1}: {shown!r}")
            raise ValueError(msg)
        angles.append(float(fields[column]))
    return np.asarray(angles)


def read_parangs(path):
    """
    Parallactic angles from a file: a FITS or ECSV table (column
    ``parang``, else the first), or text with one angle per line, with or
    without a line of column names.  Plain numbers are degrees; a table
    column with a unit gives a `~astropy.units.Quantity`, which
    `~psfkit.fitpsf.adi_subtract` converts.
    """
    path = Path(path)
    try:
        is_fits = path.name.lower().endswith(_FITS_TABLE)
        with open(path, "rb") as handle:
            is_ecsv = handle.read(7) == b"# %ECSV"
        if is_fits or is_ecsv:
            table = Table.read(path, format="fits" if is_fits else "ascii.ecsv")
            name = table.colnames[_choose_column(table.colnames, path)]
            column = table[name]
            if column.unit is not None:
                return u.Quantity(column, dtype=float)
            return np.asarray(column, dtype=float)
        return _parangs_from_text(path)
    except (OSError, UnicodeDecodeError, TypeError) as exc:
        msg = f"{path}: cannot read a table of parallactic angles ({exc})"
        raise ValueError(msg) from None


def _parangs(value, header, n_frames):
    path = Path(value)
    angles = (read_parangs(path) if path.is_file()
              else _parangs_from_header(header, value, n_frames))
    if angles.shape != (n_frames,):
        msg = (f"{n_frames} parallactic angles are needed (one per frame), "
               f"got {angles.size} from {value}")
        raise ValueError(msg)
    if not np.all(np.isfinite(angles)):
        msg = f"the parallactic angles from {value} include NaN or infinity"
        raise ValueError(msg)
    return angles


def _adi(target, parangs, fitter_class, settings, args, log):
    from .. import fitpsf

    pool = jobs_executor(args.jobs, processes=True)
    try:
        result = fitpsf.adi_subtract(target, parangs, fitter_class,
                                     n_delta=args.n_delta, fwhm=args.fwhm,
                                     executor=pool, settings=settings,
                                     progress_bar=log.progress)
    finally:
        if pool is not None:
            pool.shutdown()
    return result.image


def run(args):
    from .. import fitpsf

    log = Log(args)
    inputs = [args.target, args.refs, args.parangs]
    with Outputs(args, inputs=inputs) as outputs:
        out, = outputs.check(args.output or default_name(args.target,
                                                         "_residual.fits"))
        source = read_fits_nddata(args.target, ndim=(2, 3))
        target = (source.data if source.mask is None
                  else np.ma.MaskedArray(source.data, source.mask))
        header = source.meta
        fitter_class = fitpsf.KLIP if args.method == "klip" else fitpsf.LOCI
        settings = {"klip_modes": args.klip_k} if args.method == "klip" else {}
        t0 = time.perf_counter()
        if target.ndim == 3:
            if args.parangs is None:
                msg = ("a 3-D target is an ADI cube and needs --parangs "
                       "(a table file or a header keyword)")
                raise ValueError(msg)
            parangs = _parangs(args.parangs, header, target.shape[0])
            residual = _adi(target, parangs, fitter_class, settings, args, log)
            count = ("NFRAMES", target.shape[0], "ADI frames")
            # (said once the work succeeded: a failed run prints its error
            # line only)
            log(f"ADI {args.method.upper()} on {target.shape[0]} frames")
        else:
            if args.refs is None:
                msg = ("a 2-D target needs --refs REFS.fits (a cube of "
                       "reference images)")
                raise ValueError(msg)
            refs = read_fits_nddata(args.refs, ndim=3)
            if refs.data.shape[1:] != target.shape:
                msg = (f"the reference images are {refs.data.shape[1:]} but "
                       f"the target is {target.shape}")
                raise ValueError(msg)
            ref_data = (refs.data if refs.mask is None
                        else np.ma.MaskedArray(refs.data, refs.mask))
            fitter = fitter_class(ref_data, bases_axis=0)
            for key, value in settings.items():
                setattr(fitter, key, value)
            # a bar over the regions fitted, as the ADI path's over frames
            residual = fitter.remove_psf(target, progress_bar=log.progress)
            count = ("NREFS", refs.data.shape[0], "reference images")
            log(f"{args.method.upper()} with {refs.data.shape[0]} reference "
                "images")
        seconds = time.perf_counter() - t0
        data, bad = masked_output(np.ma.getdata(residual),
                                  np.ma.getmaskarray(residual), source.data.dtype)
        unit, unit_note = data_unit(source, args.target)
        header = header.copy()
        for key in ("NAXIS3", "CRPIX3", "CDELT3", "CRVAL3", "CTYPE3", "CUNIT3"):
            header.remove(key, ignore_missing=True)
        keywords = {"BUNIT": (unit.to_string(), unit_note),
                    "METHOD": (args.method.upper(), "PSF fitter"),
                    count[0]: count[1:],
                    "NMASKED": (int(np.count_nonzero(bad)),
                                "pixels without a residual")}
        if target.ndim == 3:
            keywords["FWHM"] = (args.fwhm, "[pixel] FWHM for the ADI exclusion")
            keywords["NDELTA"] = (args.n_delta, "ADI exclusion in FWHM")
        if args.method == "klip":
            keywords["KLIPK"] = (args.klip_k, "KLIP modes")
        wcs = source.wcs
        if target.ndim == 3:
            # the derotated image is in the sky orientation of no frame:
            # frame 0's celestial WCS would be rotated by its parallactic angle
            wcs = None
            header.add_history("psfkit loci: input WCS dropped (ADI image "
                               "derotated to parang 0)")
        write_fits_nddata(
            outputs.path(out),
            NDData(data, unit=unit, mask=bad, wcs=wcs),
            header=header, keywords=keywords,
            parameters={"command": "loci", "method": args.method,
                        "fwhm": args.fwhm, "n_delta": args.n_delta,
                        "klip_k": args.klip_k},
            overwrite=True)
    log(f"wrote {out} in {seconds:.2f} s")
    return 0
