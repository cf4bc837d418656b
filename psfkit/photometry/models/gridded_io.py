"""
Files of gridded PSFs: the two FITS layouts that photutils 3.x reads into
its ``GriddedPSFModel``, for `GriddedPSFModel.read` and
`GriddedPSFModel.write`, and `STDPSFGrid`, a whole STDPSF file.

'webbpsf' (written by WebbPSF and STPSF)
    The primary HDU holds a cube ``(n_psf, ny, nx)`` of oversampled PSF
    images.  ``OVERSAMP`` is the oversampling factor, ``NUM_PSFS`` the
    number of images and ``DET_YX0``, ``DET_YX1``... the detector position
    of each image as a string ``'(a, b)'``.  The keyword's name and
    comment announce ``(y, x)``, but photutils reads ``a`` as x, and that
    is what the files of current STPSF and WebbPSF versions hold: they
    store the images re-sorted by photutils (y slowest) beside keywords
    written in the (x slowest) order of the computed positions, which
    swaps the two numbers back for their square grids.  psfkit reads and
    writes the keywords as photutils does.
'stdpsf' (Jay Anderson's ``STDPSF_*.fits`` libraries for HST and JWST)
    The primary HDU holds a cube of PSFs oversampled 4 times, ``NXPSFS``
    by ``NYPSFS`` of them, x varying fastest.  ``IPSFX01``, ``IPSFX02``...
    give the x and ``JPSFY01``... the y of the grid's columns and rows in
    1-based pixels (some files list them in strings: ``IPSFXA5``,
    ``IPSFXB5``..., ``JPSFYA5``...).  A few files hold the grids of several
    detectors side by side (WFPC2, ACS/WFC, WFC3/UVIS, NIRCam's short
    wavelength detectors), which ``detector_id`` selects from.
"""

from collections import namedtuple
import math
import numbers
import os
from pathlib import Path
import re
import warnings

from astropy.io import fits
from astropy.io.fits.verify import VerifyWarning
import numpy as np

from ...fitsio import FitsInputError, check_output_path
from ...utils import PsfkitWarning, warn

__all__ = ["STDPSFGrid"]

#: the format names `GriddedPSFModel.read` accepts ('stpsf' is the newer
#: name of WebbPSF, whose files are the same)
_FORMATS = {"webbpsf": "webbpsf", "stpsf": "webbpsf", "stdpsf": "stdpsf"}

#: the oversampling of every STDPSF library (the files do not say it)
_STDPSF_OVERSAMPLING = 4

# STDPSF files holding several detectors' grids side by side, by their
# (NXPSFS, NYPSFS): the instrument, the detectors along x and y, a
# detector's size in pixels and, for each ``detector_id``, the detector's
# place (counted along x first, from the lower left) and name.
_Mosaic = namedtuple("_Mosaic", "instrument n_x n_y size chips")
_MOSAICS = {
    (6, 6): _Mosaic("HST/WFPC2", 2, 2, 800,
                    {1: (3, "PC"), 2: (2, "WF2"), 3: (0, "WF3"),
                     4: (1, "WF4")}),
    (9, 10): _Mosaic("HST/ACS", 1, 2, 2048, {1: (0, "WFC2"), 2: (1, "WFC1")}),
    (7, 8): _Mosaic("HST/WFC3", 1, 2, 2048,
                    {1: (0, "UVIS2"), 2: (1, "UVIS1")}),
    (20, 10): _Mosaic("JWST/NIRCam", 4, 2, 2048,
                      {1: (0, "A1"), 2: (4, "A2"), 3: (1, "A3"), 4: (5, "A4"),
                       5: (7, "B1"), 6: (3, "B2"), 7: (6, "B3"),
                       8: (2, "B4")}),
}
#: what the detector ids of the two-chip files mean
_CHIP_NOTES = {"WFC2": "the lower chip, FLT extension ('SCI', 1)",
               "WFC1": "the upper chip, FLT extension ('SCI', 2)",
               "UVIS2": "the lower chip, FLT extension ('SCI', 1)",
               "UVIS1": "the upper chip, FLT extension ('SCI', 2)"}
#: the instrument of each detector code of the STDPSF file names
_INSTRUMENTS = {"WFPC2": "HST/WFPC2", "ACSHRC": "HST/ACS", "ACSWFC": "HST/ACS",
                "WFC3UV": "HST/WFC3", "WFC3IR": "HST/WFC3",
                "NIRISS": "JWST/NIRISS", "MIRI": "JWST/MIRI"}
_STDPSF_NAME = re.compile(r"STDPSF_([A-Z0-9]+)_([A-Z0-9]+)", re.IGNORECASE)
_DET_YX = re.compile(r"DET_YX(\d+)")
_PAIR = re.compile(r"\(?\s*([^,()\s]+)\s*,\s*([^,()\s]+)\s*\)?")
#: header keywords that describe a file's layout: never copied from a
#: model's ``meta`` into a file written
_LAYOUT_KEYWORDS = re.compile(
    r"SIMPLE|BITPIX|NAXIS\d*|EXTEND|BSCALE|BZERO|END|NUM_PSFS|OVERSAMP"
    r"|DET_YX\d+|NXPSFS|NYPSFS|IPSFX\w*|JPSFY\w*")
_FITS_KEYWORD = re.compile(r"[A-Z0-9_-]{1,8}")


# ---------------------------------------------------------------------------
# the file


def _input_path(filename):
    """The path of a local file to read, or a clear error."""
    if isinstance(filename, str) and "://" in filename:
        msg = (f"filename must be a local file: psfkit does not download "
               f"({filename!r}); fetch it first, for example with "
               "astropy.utils.data.download_file")
        raise ValueError(msg)
    if not isinstance(filename, str | os.PathLike):
        msg = (f"filename must be a path (str or os.PathLike), got "
               f"{type(filename).__name__}")
        raise TypeError(msg)
    path = Path(filename)
    if not path.exists():
        msg = f"{path}: no such file"
        raise FitsInputError(msg)
    if path.is_dir():
        msg = f"{path}: is a folder, not a FITS file"
        raise FitsInputError(msg)
    return path


def _read_primary(filename):
    """The primary header and data of a file (a PSF cube or image)."""
    path = _input_path(filename)
    # STDPSF files bend the FITS rules (a SIMPLE card out of its columns,
    # no END card in some): astropy reads them with warnings that say
    # nothing about the PSFs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VerifyWarning)
        try:
            with fits.open(path, memmap=False, ignore_missing_end=True) as hdul:
                header = hdul[0].header.copy()
                data = hdul[0].data
        except (OSError, ValueError, TypeError, IndexError) as exc:
            msg = f"{path}: not a readable FITS file ({exc})"
            raise FitsInputError(msg) from None
    if data is None:
        msg = (f"{path}: the primary HDU holds no data; a gridded PSF file "
               "keeps its cube of PSF images there")
        raise FitsInputError(msg)
    return path, header, np.array(data, dtype=float)


def _cube(data, path):
    """The PSF images as a cube; a single 2-D image is a cube of one."""
    if data.ndim == 2:
        data = data[np.newaxis]
    if data.ndim != 3:
        msg = (f"{path}: the primary HDU must hold a cube (n_psf, ny, nx) of "
               f"PSF images, it holds a {data.ndim}-D array")
        raise FitsInputError(msg)
    bad = ~np.isfinite(data)
    if np.any(bad):
        planes = np.flatnonzero(bad.any(axis=(1, 2)))
        msg = (f"{path}: PSF image(s) {planes.tolist()[:10]} hold NaN or "
               "infinite values; a PSF image must be finite everywhere")
        raise FitsInputError(msg)
    return data


def _keyword(header, key, path, what):
    if key not in header:
        msg = f"{path}: header keyword {key} is missing ({what})"
        raise FitsInputError(msg)
    return header[key]


def _positive_int(header, key, path, what):
    value = _keyword(header, key, path, what)
    if (isinstance(value, bool) or not isinstance(value, numbers.Real)
            or not math.isfinite(value) or value != int(value) or value < 1):
        msg = f"{path}: {key} must be a positive integer, got {value!r}"
        raise FitsInputError(msg)
    return int(value)


def _identify_format(header):
    """
    The format of a gridded PSF file from its primary header: 'webbpsf',
    'stdpsf' or `None`.
    """
    if "DET_YX0" in header:
        return "webbpsf"
    if "NXPSFS" in header and "NYPSFS" in header:
        return "stdpsf"
    return None


def _format_name(format):
    if format is None:
        return None
    key = format.lower() if isinstance(format, str) else None
    if key not in _FORMATS:
        msg = (f"format must be 'webbpsf' (or 'stpsf'), 'stdpsf' or None, "
               f"got {format!r}")
        raise ValueError(msg)
    return _FORMATS[key]


# ---------------------------------------------------------------------------
# the 'webbpsf' format


def _det_yx(header, key, path):
    text = header[key]
    match = _PAIR.fullmatch(text.strip()) if isinstance(text, str) else None
    try:
        pair = (float(match.group(1)), float(match.group(2)))
    except (AttributeError, ValueError):
        pair = None
    if pair is None or not all(math.isfinite(v) for v in pair):
        msg = (f"{path}: {key} must be a detector position written "
               f"'(a, b)' with two finite numbers, got {text!r}")
        raise FitsInputError(msg)
    return pair


def _webbpsf_contents(header, data, path):
    stack = _cube(data, path)
    n_psf = len(stack)
    if "NUM_PSFS" in header:
        declared = _positive_int(header, "NUM_PSFS", path, "")
        if declared != n_psf:
            msg = (f"{path}: NUM_PSFS = {declared} but the cube holds {n_psf} "
                   f"PSF image(s) (its first axis, NAXIS3)")
            raise FitsInputError(msg)
    oversampling = _positive_int(
        header, "OVERSAMP", path, "the oversampling factor of the PSF images")
    n_keys = sum(1 for key in header if _DET_YX.fullmatch(key))
    if n_keys != n_psf:
        msg = (f"{path}: the header gives {n_keys} position(s) "
               f"(DET_YX keywords) for the {n_psf} PSF image(s) of the cube")
        raise FitsInputError(msg)
    positions = []
    for k in range(n_psf):
        key = f"DET_YX{k}"
        _keyword(header, key, path, f"the detector position of PSF image {k}")
        positions.append(_det_yx(header, key, path))
    xs = {x for x, _ in positions}
    ys = {y for _, y in positions}
    if len(xs) * len(ys) != n_psf or len(set(positions)) != n_psf:
        msg = (f"{path}: the positions DET_YX0..DET_YX{n_psf - 1} must fill "
               f"a rectangular grid, one PSF image at each node; they have "
               f"{len(xs)} distinct x and {len(ys)} distinct y for {n_psf} "
               "PSF image(s)")
        raise FitsInputError(msg)
    meta = _header_meta(header)
    meta["grid_xypos"] = positions
    meta["oversampling"] = oversampling
    return stack, np.array(positions, dtype=float), oversampling, meta


def _header_meta(header):
    """photutils' ``meta`` of a header: lower-case keys, no commentary."""
    header = header.copy(strip=True)
    meta = {}
    for key, value in header.items():
        if key in ("", "COMMENT", "HISTORY"):
            continue
        meta[key.lower()] = value
    return meta


def _fits_value(value):
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real) and math.isfinite(value):
        return float(value)
    if isinstance(value, str) and value.isascii() and value.isprintable():
        return value
    return None


def _write_webbpsf(filename, stack, grid_xypos, index, oversampling, origin,
                  meta, *, overwrite=False):
    """
    Write a PSF grid in the 'webbpsf' format (`GriddedPSFModel.write`).

    The images are written in the order of the grid (y slowest), as
    STPSF writes them, each ``DET_YX`` keyword holding ``'(x, y)'``: the
    order photutils reads.
    """
    osy, osx = oversampling
    if osy != osx:
        msg = (f"oversampling must be the same along both axes to be written "
               f"in the 'webbpsf' format (one OVERSAMP keyword), got (y, x) "
               f"= ({osy}, {osx})")
        raise ValueError(msg)
    ny, nx = stack.shape[-2:]
    centre = ((nx - 1) / 2.0, (ny - 1) / 2.0)
    if tuple(origin) != centre:
        msg = (f"origin must be the image centre {centre} to be written in "
               "the 'webbpsf' format, whose PSFs are centred in their images; "
               f"this model's is {tuple(origin)}")
        raise ValueError(msg)
    path = check_output_path(filename, overwrite=overwrite)
    order = np.asarray(index).ravel()
    hdu = fits.PrimaryHDU(np.ascontiguousarray(stack[order], dtype=float))
    header = hdu.header
    for key, value in (meta or {}).items():
        name = str(key).upper()
        value = _fits_value(value)
        if (value is None or not _FITS_KEYWORD.fullmatch(name)
                or _LAYOUT_KEYWORDS.fullmatch(name)):
            continue
        header[name] = value
    header["NUM_PSFS"] = (len(order), "The total number of fiducial PSFs")
    header["OVERSAMP"] = (int(osx), "Oversampling factor of the PSF images")
    for k, (x, y) in enumerate(np.asarray(grid_xypos, dtype=float)[order]):
        # repr: the shortest text that reads back as the same float
        text = f"({float(x)!r}, {float(y)!r})"
        comment = f"Detector (x, y) of PSF {k}, photutils' order"
        # the comment only where the card leaves room for it
        fits_in = len(text) + len(comment) <= 65
        header[f"DET_YX{k}"] = (text, comment) if fits_in else text
    header["COMMENT"] = ("Written by psfkit: DET_YX<k> holds the detector "
                         "(x, y) of image k, the order photutils reads.")
    hdu.writeto(path, overwrite=overwrite)
    return path


# ---------------------------------------------------------------------------
# the 'stdpsf' format


def _stdpsf_axis(header, path, prefix, count, count_key):
    """The 1-based positions of the grid's columns (IPSFX) or rows (JPSFY)."""
    what = "x positions" if prefix == "IPSFX" else "y positions"
    in_strings = [key for key in header
                  if re.fullmatch(prefix + r"[A-Z]\w*", key)]
    if f"{prefix}01" in header or not in_strings:
        values = [_keyword(header, f"{prefix}{i:02d}", path,
                           f"the {what} of the grid, {count_key} = {count}")
                  for i in range(1, count + 1)]
        keys = f"{prefix}01..{prefix}{count:02d}"
    else:
        # the grid in strings of numbers, in several keywords (NIRCam's
        # short wavelength library: IPSFXA5 IPSFXB5 ...)
        keys = in_strings
        values = []
        for key in keys:
            text = header[key]
            try:
                values.extend(int(item) for item in str(text).split())
            except ValueError:
                msg = (f"{path}: {key} must list whole numbers of pixels, got "
                       f"{text!r}")
                raise FitsInputError(msg) from None
        keys = ", ".join(keys)
        if len(values) != count:
            msg = (f"{path}: {keys} give {len(values)} {what} but "
                   f"{count_key} = {count}")
            raise FitsInputError(msg)
    for key_value in values:
        if (isinstance(key_value, bool) or not isinstance(key_value, numbers.Real)
                or not math.isfinite(key_value)):
            msg = f"{path}: the {what} {keys} must be numbers, got {values!r}"
            raise FitsInputError(msg)
    # 1-based pixels in the file, 0-based here
    return np.array(values, dtype=float) - 1.0, keys


def _stdpsf_mosaic(nx_grid, ny_grid, xs, ys):
    """The layout of a file holding several detectors' grids, or `None`."""
    mosaic = _MOSAICS.get((nx_grid, ny_grid))
    if mosaic is None:
        return None
    # a grid of one detector that happens to have these numbers of nodes
    # stays within one detector's size
    spans = ((mosaic.n_x > 1 and xs.max() + 1 > mosaic.size)
             or (mosaic.n_y > 1 and ys.max() + 1 > mosaic.size))
    return mosaic if spans else None


def _read_stdpsf_file(path, header, data):
    """Everything in a STDPSF file, every detector's grid together."""
    nx_grid = _positive_int(header, "NXPSFS", path,
                            "the number of columns of the PSF grid")
    ny_grid = _positive_int(header, "NYPSFS", path,
                            "the number of rows of the PSF grid")
    stack = _cube(data, path)
    if len(stack) != nx_grid * ny_grid:
        msg = (f"{path}: NXPSFS x NYPSFS = {nx_grid} x {ny_grid} = "
               f"{nx_grid * ny_grid} PSFs, but the cube holds {len(stack)} "
               "PSF image(s) (its first axis, NAXIS3)")
        raise FitsInputError(msg)
    xs, xkeys = _stdpsf_axis(header, path, "IPSFX", nx_grid, "NXPSFS")
    ys, ykeys = _stdpsf_axis(header, path, "JPSFY", ny_grid, "NYPSFS")
    return {"path": path, "header": header, "data": stack, "nx": nx_grid,
            "ny": ny_grid, "xs": xs, "ys": ys, "xkeys": xkeys,
            "ykeys": ykeys, "mosaic": _stdpsf_mosaic(nx_grid, ny_grid, xs, ys)}


def _stdpsf_name_meta(path):
    """What the file's name says: ``STDPSF_<detector>_<filter>...``."""
    meta = {"STDPSF": str(path)}
    match = _STDPSF_NAME.match(path.name)
    if match:
        code = match.group(1).upper()
        meta["detector"] = code
        meta["filter"] = match.group(2).upper()
        instrument = ("JWST/NIRCam" if code.startswith("NRC")
                      else _INSTRUMENTS.get(code))
        if instrument:
            meta["instrument"] = instrument
    return meta


def _detector_list(mosaic):
    items = []
    for number, (_, chip) in sorted(mosaic.chips.items()):
        note = _CHIP_NOTES.get(chip)
        items.append(f"{number} ({chip}, {note})" if note
                     else f"{number} ({chip})")
    return ", ".join(items)


def _stdpsf_contents(path, header, data, detector_id):
    grid = _read_stdpsf_file(path, header, data)
    path, mosaic = grid["path"], grid["mosaic"]
    xs, ys, stack = grid["xs"], grid["ys"], grid["data"]
    nx_grid, ny_grid = grid["nx"], grid["ny"]
    meta = _stdpsf_name_meta(path)
    if mosaic is None:
        if detector_id is not None:
            warn(f"detector_id={detector_id!r} is ignored: {path} holds the "
                 "PSF grid of a single detector", PsfkitWarning)
        cols, rows = np.arange(nx_grid), np.arange(ny_grid)
    else:
        n_det = len(mosaic.chips)
        if detector_id is None:
            msg = (f"detector_id is required: {path} holds the PSF grids of "
                   f"{n_det} {mosaic.instrument} detectors side by side; "
                   f"give one of {_detector_list(mosaic)}")
            raise ValueError(msg)
        if (isinstance(detector_id, bool)
                or not isinstance(detector_id, numbers.Integral)
                or int(detector_id) not in mosaic.chips):
            msg = (f"detector_id must be one of {_detector_list(mosaic)} for "
                   f"this {mosaic.instrument} file, got {detector_id!r}")
            raise ValueError(msg)
        place, chip = mosaic.chips[int(detector_id)]
        nx_det, ny_det = nx_grid // mosaic.n_x, ny_grid // mosaic.n_y
        bx, by = place % mosaic.n_x, place // mosaic.n_x
        cols = np.arange(bx * nx_det, (bx + 1) * nx_det)
        rows = np.arange(by * ny_det, (by + 1) * ny_det)
        xs = xs - bx * mosaic.size
        ys = ys - by * mosaic.size
        meta.update(instrument=mosaic.instrument, detector=chip,
                    detector_id=int(detector_id))
    xs, ys = xs[cols], ys[rows]
    for values, keys in ((xs, grid["xkeys"]), (ys, grid["ykeys"])):
        if np.any(np.diff(values) <= 0):
            msg = (f"{path}: the grid positions {keys} must increase, got "
                   f"{(values + 1).tolist()} (1-based)")
            raise FitsInputError(msg)
    planes = (rows[:, np.newaxis] * nx_grid + cols[np.newaxis, :]).ravel()
    yy, xx = np.meshgrid(ys, xs, indexing="ij")
    positions = np.column_stack([xx.ravel(), yy.ravel()])
    meta.update(grid_xypos=[tuple(p) for p in positions.tolist()],
                oversampling=_STDPSF_OVERSAMPLING, nxpsfs=len(cols),
                nypsfs=len(rows))
    return stack[planes], positions, _STDPSF_OVERSAMPLING, meta


def _read_gridded(filename, *, format=None, detector_id=None):
    """
    The contents of a gridded PSF file for `GriddedPSFModel.read`.

    Returns
    -------
    stack, grid_xypos, oversampling, meta
    """
    fmt = _format_name(format)
    path, header, data = _read_primary(filename)
    if fmt is None:
        fmt = _identify_format(header)
        if fmt is None:
            msg = (f"{path}: not a gridded PSF file that psfkit recognises: "
                   "its header has neither DET_YX0 (the 'webbpsf' format) "
                   "nor NXPSFS and NYPSFS (the 'stdpsf' format)")
            raise FitsInputError(msg)
    if fmt == "stdpsf":
        return _stdpsf_contents(path, header, data, detector_id)
    if detector_id is not None:
        msg = (f"detector_id applies to the 'stdpsf' format only; {path} is "
               "read in the 'webbpsf' format")
        raise ValueError(msg)
    return _webbpsf_contents(header, data, path)


class STDPSFGrid:
    """
    A whole STDPSF file: the PSF images and the grid of every detector in
    it.

    STDPSF files are Jay Anderson's libraries of empirical PSFs for HST
    and JWST (``STDPSF_<detector>_<filter>.fits``): a cube of PSF images
    oversampled 4 times on a rectangular grid of detector positions.  A
    few files hold several detectors' grids side by side (WFPC2, ACS/WFC,
    WFC3/UVIS, NIRCam's short wavelength detectors); this class keeps them
    all, in the file's coordinates, while
    ``GriddedPSFModel.read(filename, format='stdpsf', detector_id=...)``
    makes the PSF model of one detector.

    Parameters
    ----------
    filename : str or `os.PathLike`
        The STDPSF file (a local file: psfkit does not download).

    Attributes
    ----------
    data : `~numpy.ndarray`
        The PSF images, shape ``(n_psf, ny, nx)``, as in the file.
    grid_xypos : `~numpy.ndarray`
        The ``(x, y)`` position of each image, shape ``(n_psf, 2)``, in
        0-based pixels of the file's frame (``(0, 0)`` is the centre of the
        first pixel; the file's 1-based header values minus 1).  Files of
        several detectors repeat positions where their grids meet.
    oversampling : `~numpy.ndarray`
        ``(4, 4)``: the ``(y, x)`` oversampling of every STDPSF library.
    meta : dict
        ``grid_shape`` (the rows and columns of the grid), ``grid_xypos``,
        ``oversampling``, ``STDPSF`` (the file), and the ``detector``,
        ``filter`` and ``instrument`` read from the file's name when it
        follows the STDPSF pattern.

    Raises
    ------
    psfkit.fitsio.FitsInputError
        When the file is missing or unreadable, a header keyword is
        missing (naming it) or the cube disagrees with the header.

    See Also
    --------
    GriddedPSFModel.read

    Examples
    --------
    A small synthetic library: a 3 x 2 grid of Gaussian PSFs whose width
    grows with x, written as STDPSF files are:

    >>> import os, tempfile
    >>> import numpy as np
    >>> from astropy.io import fits
    >>> from psfkit.photometry import STDPSFGrid
    >>> yy, xx = np.mgrid[-20:21, -20:21] / 4.0  # detector pixels
    >>> widths = [1.0, 1.2, 1.4] * 2  # x fastest, then y
    >>> cube = np.array([np.exp(-(xx**2 + yy**2) / (2 * w**2)) for w in widths])
    >>> hdu = fits.PrimaryHDU(cube)
    >>> hdu.header['NXPSFS'], hdu.header['NYPSFS'] = 3, 2
    >>> for i, x in enumerate([1, 1025, 2049], start=1):
    ...     hdu.header[f'IPSFX{i:02d}'] = x
    >>> for i, y in enumerate([1, 2049], start=1):
    ...     hdu.header[f'JPSFY{i:02d}'] = y
    >>> tmp = tempfile.TemporaryDirectory()
    >>> filename = os.path.join(tmp.name, 'STDPSF_NRCA1_F150W.fits')
    >>> hdu.writeto(filename)
    >>> grid = STDPSFGrid(filename)
    >>> grid.meta['grid_shape'], grid.meta['detector'], grid.meta['filter']
    ((2, 3), 'NRCA1', 'F150W')
    >>> grid.grid_xypos[:4]
    array([[   0.,    0.],
           [1024.,    0.],
           [2048.,    0.],
           [   0., 2048.]])
    >>> tmp.cleanup()
    """

    def __init__(self, filename):
        grid = _read_stdpsf_file(*_read_primary(filename))
        self._path = grid["path"]
        self._mosaic = grid["mosaic"]
        self.data = grid["data"]
        yy, xx = np.meshgrid(grid["ys"], grid["xs"], indexing="ij")
        self.grid_xypos = np.column_stack([xx.ravel(), yy.ravel()])
        self.oversampling = np.array([_STDPSF_OVERSAMPLING] * 2)
        meta = {"grid_shape": (grid["ny"], grid["nx"]),
                "grid_xypos": [tuple(p) for p in self.grid_xypos.tolist()],
                "oversampling": _STDPSF_OVERSAMPLING}
        meta.update(_stdpsf_name_meta(self._path))
        self.meta = meta

    @property
    def grid_shape(self):
        """The number of grid rows and columns ``(NYPSFS, NXPSFS)``."""
        return self.meta["grid_shape"]

    @property
    def detector_ids(self):
        """
        The ``detector_id`` values of a file of several detectors (for
        `GriddedPSFModel.read`), ``{id: name}``; empty for one detector.
        """
        if self._mosaic is None:
            return {}
        return {number: chip for number, (_, chip)
                in sorted(self._mosaic.chips.items())}

    def __repr__(self):
        lines = [f"<{type(self).__module__}.{type(self).__name__}>",
                 f"STDPSF: {self._path}"]
        for key in ("instrument", "detector", "filter"):
            if key in self.meta:
                lines.append(f"{key.capitalize()}: {self.meta[key]}")
        lines += [f"Grid_shape: {self.grid_shape}",
                  f"Number of PSFs: {len(self.data)}",
                  f"PSF shape (oversampled pixels): {self.data.shape[1:]}",
                  f"Oversampling: {self.oversampling}"]
        if self._mosaic is not None:
            lines.append(f"Detectors (detector_id): {self.detector_ids}")
        return "\n".join(lines)

    __str__ = __repr__
