"""
Reading images from FITS files and writing results back, for the command
line and for scripts.

Images are read into an `~astropy.nddata.NDData` with everything the file
says about them: the unit (``BUNIT``), a mask extension (``MASK``, or a
``DQ`` data-quality array where nonzero marks a bad pixel), an uncertainty
extension (``UNCERT`` as `~astropy.nddata.CCDData` writes it, ``ERR`` as a
standard deviation, ``VARIANCE``/``VAR`` or ``IVAR``), the celestial WCS
and the header.  Results are written through `~astropy.nddata.CCDData`'s
own FITS layout (``BUNIT``, a ``MASK`` extension, an ``UNCERT`` extension
whose ``UTYPE`` names the uncertainty class), so that
``CCDData.read(path)`` returns the data with their unit, mask and
uncertainty; every extension also carries the WCS.

astropy's reader is not used for input files because it needs a unit
(most raw FITS files have no ``BUNIT``), looks for image data only in
uncompressed extensions, and knows only its own extension names.

Errors a user can make (a missing, truncated or non-FITS file, an HDU
without image data, a cube where an image is needed, an output that would
overwrite an input or an existing file) raise `FitsInputError` with one
sentence that names the file.
"""

import os
from pathlib import Path
import re
import warnings

from astropy.io import fits
from astropy.nddata import (
    CCDData,
    InverseVariance,
    NDData,
    StdDevUncertainty,
    VarianceUncertainty,
)
import astropy.units as u
from astropy.utils.exceptions import AstropyWarning
from astropy.wcs import WCS, FITSFixedWarning
import numpy as np

from .utils.exceptions import PsfkitError
from .version import __version__

__all__ = ["FitsInputError", "read_fits_nddata", "read_fits_image",
           "write_fits_nddata", "write_fits_image", "check_output_path",
           "check_output_paths", "working_dtype"]

_IMAGE_HDUS = (fits.PrimaryHDU, fits.ImageHDU, fits.CompImageHDU)
#: extensions holding a mask (nonzero = bad pixel), in order of preference
_MASK_EXTENSIONS = ("MASK", "DQ")
#: extensions holding an uncertainty, with the class their values are in
#: (`None`: named by the extension's UTYPE card, as CCDData writes it)
_UNCERTAINTY_EXTENSIONS = {
    "UNCERT": None,
    "ERR": StdDevUncertainty,
    "VARIANCE": VarianceUncertainty,
    "VAR": VarianceUncertainty,
    "IVAR": InverseVariance,
}
_UNCERTAINTY_CLASSES = {cls.__name__: cls for cls in
                        (StdDevUncertainty, VarianceUncertainty, InverseVariance)}
_AUXILIARY = set(_MASK_EXTENSIONS) | set(_UNCERTAINTY_EXTENSIONS)
# the keywords of a WCS (and of SIP distortions); an output's WCS is
# written from its WCS object, so the input's cards must not linger
_WCS_KEY = re.compile(
    r"^(WCSAXES|WCSNAME|CRPIX\d|CRVAL\d|CDELT\d|CTYPE\d|CUNIT\d|CROTA\d|CRDER\d|"
    r"CSYER\d|CD\d_\d|PC\d_\d|PV\d_\d+|PS\d_\d+|LONPOLE|LATPOLE|RADESYS|"
    r"RADECSYS|EQUINOX|(A|B|AP|BP)_(\d_\d|ORDER|DMAX))$")
# cards that describe the input file's layout, not the output's
_STALE_KEY = re.compile(r"^(SIMPLE|XTENSION|BITPIX|NAXIS\d*|EXTEND|PCOUNT|GCOUNT|"
                        r"BZERO|BSCALE|BLANK|CHECKSUM|DATASUM|EXTNAME|EXTVER|"
                        r"BUNIT|UTYPE)$")


class FitsInputError(PsfkitError, ValueError):
    """A FITS file (or an output path) cannot be used as asked."""


def working_dtype(dtype):
    """
    The floating-point type that data of ``dtype`` are processed and
    written in.

    ``float32`` stays ``float32`` and ``float64`` stays ``float64``;
    ``float16`` and integers of up to 16 bits (which ``float32`` holds
    exactly) become ``float32``; wider integers become ``float64``.

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.fitsio import working_dtype
    >>> working_dtype(np.dtype('>i2')), working_dtype(np.dtype('>i4'))
    (dtype('float32'), dtype('float64'))
    """
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return np.dtype(np.float64 if dtype.itemsize >= 8 else np.float32)
    if dtype.kind in "biu" and dtype.itemsize <= 2:
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def _open(path):
    path = Path(path)
    if not path.exists():
        msg = f"{path}: no such file"
        raise FitsInputError(msg)
    if path.is_dir():
        msg = f"{path}: is a folder, not a FITS file"
        raise FitsInputError(msg)
    try:
        return fits.open(path, memmap=False)
    except (OSError, ValueError, TypeError) as exc:
        msg = f"{path}: not a readable FITS file ({exc})"
        raise FitsInputError(msg) from None


def _has_image(hdu):
    return isinstance(hdu, _IMAGE_HDUS) and hdu.header.get("NAXIS", 0) > 0


def _select_hdu(hdul, hdu, path):
    if hdu is None:
        for index, item in enumerate(hdul):
            if _has_image(item) and item.name not in _AUXILIARY:
                return index
        msg = f"{path}: no HDU holds image data"
        raise FitsInputError(msg)
    try:
        index = hdul.index_of(hdu)
    except (KeyError, IndexError):
        index = None
    if index is None or index >= len(hdul):
        msg = f"{path}: there is no HDU {hdu!r} (the file has {len(hdul)})"
        raise FitsInputError(msg)
    if not _has_image(hdul[index]):
        msg = f"{path}: HDU {hdu} holds no image data"
        raise FitsInputError(msg)
    return index


def _hdu_array(hdul, index, path, what="the data"):
    """An HDU's data, with a sentence naming the file if it cannot be read."""
    try:
        data = hdul[index].data
    except (OSError, ValueError, TypeError, IndexError) as exc:
        msg = (f"{path}: {what} of HDU {index} cannot be read: the file is "
               f"truncated or damaged ({exc})")
        raise FitsInputError(msg) from None
    if data is None:
        msg = f"{path}: HDU {index} holds no image data"
        raise FitsInputError(msg)
    return data


def _check_ndim(data, ndim, path):
    allowed = (ndim,) if np.isscalar(ndim) else tuple(ndim)
    if data.ndim not in allowed:
        want = " or ".join(f"{n}-D" for n in allowed)
        msg = (f"{path}: expected a {want} image, got {data.ndim}-D data of "
               f"shape {data.shape}")
        raise FitsInputError(msg)


def _celestial_wcs(header, ndim):
    if ndim < 2:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        try:
            candidate = WCS(header, naxis=2)
        except Exception:  # a malformed WCS is treated as no WCS  # noqa: BLE001
            return None
    return candidate.celestial if candidate.has_celestial else None


def _parse_unit(header, path):
    text = header.get("BUNIT")
    if not isinstance(text, str) or not text.strip():
        return None
    text = text.strip()
    # the spellings astropy's CCDData reader also accepts ('ADU', ...)
    text = CCDData.known_invalid_fits_unit_strings.get(text, text)
    if text.lower() == "adu":
        text = "adu"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", u.UnitsWarning)
            return u.Unit(text)
    except ValueError:
        msg = (f"{path}: BUNIT {text!r} is not a unit astropy can read; "
               "correct the header (for example 'DN / s' or 'electron')")
        raise FitsInputError(msg) from None


def _auxiliary(hdul, shape, path):
    """The mask and uncertainty stored in extensions beside the data."""
    names = {item.name: i for i, item in enumerate(hdul) if _has_image(item)}
    mask = None
    for name in _MASK_EXTENSIONS:
        if name in names:
            values = _hdu_array(hdul, names[name], path, f"the {name} extension")
            _check_shape(values, shape, name, path)
            mask = np.asarray(values) != 0
            break
    uncertainty = None
    for name, cls in _UNCERTAINTY_EXTENSIONS.items():
        if name in names:
            index = names[name]
            values = _hdu_array(hdul, index, path, f"the {name} extension")
            _check_shape(values, shape, name, path)
            if cls is None:
                utype = hdul[index].header.get("UTYPE", "StdDevUncertainty")
                cls = _UNCERTAINTY_CLASSES.get(utype, StdDevUncertainty)
            uncertainty = cls(np.asarray(values, dtype=working_dtype(values.dtype)))
            break
    return mask, uncertainty


def _check_shape(values, shape, name, path):
    if values.shape != shape:
        msg = (f"{path}: the {name} extension has shape {values.shape} but "
               f"the data have shape {shape}")
        raise FitsInputError(msg)


def read_fits_nddata(path, *, hdu=None, ndim=2):
    """
    Read an image with its mask, uncertainty, unit, WCS and header.

    Parameters
    ----------
    path : str or `~pathlib.Path`
        The FITS file.
    hdu : int or str, optional
        The HDU index or name.  By default the first HDU holding image data
        (compressed image HDUs included) that is not a mask or uncertainty
        extension is used.
    ndim : int or tuple of int, optional
        The accepted number(s) of dimensions of the data.

    Returns
    -------
    image : `~astropy.nddata.NDData`
        ``data`` in native byte order as float (see `working_dtype`;
        BZERO/BSCALE applied); ``mask`` from a ``MASK`` or ``DQ`` extension
        (nonzero is bad) or `None`; ``uncertainty`` from an ``UNCERT``,
        ``ERR``, ``VARIANCE``/``VAR`` or ``IVAR`` extension or `None`;
        ``unit`` from ``BUNIT`` or `None`; ``wcs``, the celestial WCS of
        the header (of the image plane for a cube) or `None`; ``meta``,
        the header of the HDU read.

    Raises
    ------
    FitsInputError
        If the file is missing, unreadable or truncated, the HDU does not
        exist or holds no image, the data have the wrong number of
        dimensions, ``BUNIT`` is not a unit, or a mask or uncertainty
        extension does not match the data.

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.nddata import CCDData, StdDevUncertainty
    >>> from psfkit.fitsio import read_fits_nddata
    >>> ccd = CCDData(np.ones((2, 3), dtype='float32'), unit='electron',
    ...               mask=np.array([[0, 1, 0], [0, 0, 0]], bool),
    ...               uncertainty=StdDevUncertainty(np.full((2, 3), 0.5)))
    >>> ccd.write('example_nd.fits', overwrite=True)
    >>> image = read_fits_nddata('example_nd.fits')
    >>> image.data.dtype, image.unit, int(image.mask.sum())
    (dtype('float32'), Unit("electron"), 1)
    >>> type(image.uncertainty).__name__, float(image.uncertainty.array[0, 0])
    ('StdDevUncertainty', 0.5)
    >>> import os; os.remove('example_nd.fits')
    """
    path = Path(path)
    # astropy warns about every non-standard card or padding on the way; a
    # file that cannot be used is reported in one sentence instead
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyWarning)
        hdul = _open(path)
    with hdul, warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyWarning)
        index = _select_hdu(hdul, hdu, path)
        raw = _hdu_array(hdul, index, path)
        _check_ndim(raw, ndim, path)
        data = np.asarray(raw, dtype=working_dtype(raw.dtype).newbyteorder("="))
        header = hdul[index].header.copy()
        mask, uncertainty = _auxiliary(hdul, data.shape, path)
    unit = _parse_unit(header, path)
    return NDData(data, mask=mask, uncertainty=uncertainty, unit=unit,
                  wcs=_celestial_wcs(header, data.ndim), meta=header)


def read_fits_image(path, *, hdu=None, ndim=2):
    """
    Read image data, header and WCS from a FITS file.

    See `read_fits_nddata` for the image with its mask, uncertainty and
    unit.

    Parameters
    ----------
    path : str or `~pathlib.Path`
        The FITS file.
    hdu : int or str, optional
        The HDU index or name.  By default the first HDU holding image data
        (compressed image HDUs included) is used.
    ndim : int or tuple of int, optional
        The accepted number(s) of dimensions of the data.

    Returns
    -------
    data : `~numpy.ndarray`
        The data as native-endian float64 (FITS stores big-endian integers
        and floats; BZERO/BSCALE are applied).
    header : `~astropy.io.fits.Header`
        The header of the HDU read.
    wcs : `~astropy.wcs.WCS` or None
        The celestial WCS of the header, or `None` if it has none.

    Raises
    ------
    FitsInputError
        If the file is missing, unreadable or truncated, the HDU does not
        exist or holds no image, or the data have the wrong number of
        dimensions.

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.io import fits
    >>> from psfkit.fitsio import read_fits_image
    >>> fits.PrimaryHDU(np.arange(6, dtype='>i2').reshape(2, 3)).writeto(
    ...     'example_read.fits', overwrite=True)
    >>> data, header, wcs = read_fits_image('example_read.fits')
    >>> data.dtype, data.shape, wcs is None
    (dtype('float64'), (2, 3), True)
    >>> import os; os.remove('example_read.fits')
    """
    path = Path(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyWarning)
        hdul = _open(path)
    with hdul, warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyWarning)
        index = _select_hdu(hdul, hdu, path)
        raw = _hdu_array(hdul, index, path)
        _check_ndim(raw, ndim, path)
        data = np.asarray(raw, dtype=np.float64)
        header = hdul[index].header.copy()
    return data, header, _celestial_wcs(header, data.ndim)


def _resolved(path):
    """An absolute path with links and ``..`` resolved, existing or not."""
    return Path(os.path.realpath(Path(path).expanduser()))


def check_output_path(path, *, inputs=(), overwrite=False):
    """
    Check that an output path may be written.

    Parameters
    ----------
    path : str or `~pathlib.Path`
        The output file.
    inputs : sequence of str or `~pathlib.Path`, optional
        The input files of the same command: never overwritten, even with
        ``overwrite=True``.
    overwrite : bool, optional
        Whether an existing output may be replaced.

    Returns
    -------
    path : `~pathlib.Path`

    Raises
    ------
    FitsInputError
        If the output is one of the inputs, is a folder, exists without
        ``overwrite``, or its folder does not exist or cannot be written.
    """
    return check_output_paths([path], inputs=inputs, overwrite=overwrite)[0]


def check_output_paths(paths, *, inputs=(), overwrite=False):
    """
    Check that a command's outputs may all be written, before any work.

    Parameters
    ----------
    paths : sequence of str or `~pathlib.Path`
        The output files (`None` entries are skipped).
    inputs : sequence of str or `~pathlib.Path`, optional
        The input files of the same command: never overwritten, even with
        ``overwrite=True``.
    overwrite : bool, optional
        Whether existing outputs may be replaced.

    Returns
    -------
    paths : list of `~pathlib.Path`
        The outputs (`None` kept where given).

    Raises
    ------
    FitsInputError
        If two outputs are the same file, an output is one of the inputs
        or a folder, exists without ``overwrite``, or its folder does not
        exist or cannot be written.

    Examples
    --------
    >>> from psfkit.fitsio import check_output_paths
    >>> check_output_paths(['cat.ecsv', './cat.ecsv'])
    Traceback (most recent call last):
    ...
    psfkit.fitsio.FitsInputError: ./cat.ecsv: the same file as output cat.ecsv
    """
    seen = {}
    input_files = {_resolved(item): item for item in inputs if item is not None}
    checked = []
    for path in paths:
        if path is None:
            checked.append(None)
            continue
        # messages quote the path as the user wrote it ('./a' stays './a')
        shown = os.fspath(path)
        path = Path(path)
        real = _resolved(path)
        if real in input_files:
            msg = f"{shown}: refusing to overwrite an input file"
            raise FitsInputError(msg)
        if real in seen:
            msg = f"{shown}: the same file as output {seen[real]}"
            raise FitsInputError(msg)
        seen[real] = shown
        if path.is_dir():
            msg = f"{shown}: is a folder; give a file name"
            raise FitsInputError(msg)
        if path.exists() and not overwrite:
            msg = f"{shown}: already exists (use --overwrite to replace it)"
            raise FitsInputError(msg)
        folder = real.parent
        if not folder.is_dir():
            msg = f"{shown}: the folder {path.parent} does not exist"
            raise FitsInputError(msg)
        if not os.access(folder, os.W_OK | os.X_OK):
            msg = f"{shown}: the folder {path.parent} is not writable"
            raise FitsInputError(msg)
        checked.append(path)
    return checked


def _clean_header(header):
    hdr = fits.Header() if header is None else fits.Header(header, copy=True)
    for key in [k for k in hdr if _STALE_KEY.match(k) or _WCS_KEY.match(k)]:
        hdr.remove(key, ignore_missing=True, remove_all=True)
    return hdr


def _uncertainty_unit(uncertainty, unit):
    if unit is None or unit == u.dimensionless_unscaled:
        return None
    if isinstance(uncertainty, VarianceUncertainty):
        return unit ** 2
    if isinstance(uncertainty, InverseVariance):
        return unit ** -2
    return unit


def write_fits_nddata(path, image, *, header=None, keywords=None,
                      parameters=None, extensions=None, overwrite=False,
                      inputs=()):
    """
    Write an image with its unit, mask, uncertainty and WCS to FITS.

    The layout is `~astropy.nddata.CCDData`'s (``BUNIT``, ``MASK`` and
    ``UNCERT`` extensions, ``UTYPE`` naming the uncertainty class), so
    ``CCDData.read(path)`` returns it whole; every extension carries the
    WCS too, and ``UNCERT`` its own ``BUNIT``.  The data keep their dtype.

    Parameters
    ----------
    path : str or `~pathlib.Path`
        The output file.
    image : `~astropy.nddata.NDData` or array-like
        The image; an NDData contributes its mask, uncertainty (standard
        deviation, variance or inverse variance), unit and WCS.
    header : `~astropy.io.fits.Header`, optional
        A header to start from (for example the input's).  Its WCS cards
        are replaced by those of the image's WCS.
    keywords : dict, optional
        Header keywords to set, name to value or ``(value, comment)``:
        results such as a kernel sum belong here.
    parameters : dict, optional
        Parameters to record as ``HISTORY`` cards.
    extensions : dict, optional
        Further images to write as named image extensions after the
        others, name to array.
    overwrite : bool, optional
        Whether an existing file may be replaced.
    inputs : sequence of path, optional
        Input files that must never be overwritten.

    Returns
    -------
    path : `~pathlib.Path`

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.nddata import CCDData, NDData, VarianceUncertainty
    >>> from psfkit.fitsio import write_fits_nddata
    >>> image = NDData(np.zeros((4, 4), 'float32'), unit='electron / s',
    ...                uncertainty=VarianceUncertainty(np.ones((4, 4))),
    ...                mask=np.eye(4, dtype=bool))
    >>> p = write_fits_nddata('example_nd_out.fits', image,
    ...                       keywords={'KERNSUM': (1.2, 'kernel sum')})
    >>> ccd = CCDData.read(p)
    >>> ccd.unit, type(ccd.uncertainty).__name__, int(ccd.mask.sum())
    (Unit("electron / s"), 'VarianceUncertainty', 4)
    >>> ccd.data.dtype.name, ccd.header['KERNSUM']
    ('float32', 1.2)
    >>> import os; os.remove('example_nd_out.fits')
    """
    path = check_output_path(path, inputs=inputs, overwrite=overwrite)
    if not isinstance(image, NDData):
        image = NDData(_plain(image))
    data = _plain(image.data)
    with warnings.catch_warnings():
        # a comment too long for its card is shortened: that is all right
        warnings.simplefilter("ignore", fits.verify.VerifyWarning)
        hdul = _to_hdulist(image, data, header, keywords, parameters,
                           extensions)
        hdul.writeto(path, overwrite=overwrite)
    return path


def _to_hdulist(image, data, header, keywords, parameters, extensions):
    unit = image.unit if image.unit is not None else u.dimensionless_unscaled
    uncertainty = image.uncertainty
    if uncertainty is not None:
        # a plain NDUncertainty subclass instance, detached from the input
        uncertainty = type(uncertainty)(
            np.asarray(uncertainty.array, dtype=data.dtype))
    mask = None if image.mask is None else np.asarray(image.mask, dtype=bool)
    hdr = _clean_header(header)
    hdr["PSFKITV"] = (__version__, "psfkit version")
    for key, value in (keywords or {}).items():
        hdr[key] = value
    for key, value in (parameters or {}).items():
        hdr.add_history(f"psfkit {key} = {value}")
    ccd = CCDData(data, unit=unit, mask=mask, uncertainty=uncertainty,
                  wcs=image.wcs, meta=hdr)
    hdul = ccd.to_hdu(hdu_mask="MASK", hdu_uncertainty="UNCERT",
                      wcs_relax=True)
    wcs_cards = None if image.wcs is None else image.wcs.to_header(relax=True)
    for name, values in (extensions or {}).items():
        hdul.append(fits.ImageHDU(_plain(values), name=name))
    for ext in hdul[1:]:
        if wcs_cards is not None:
            ext.header.extend(wcs_cards, useblanks=False, update=True)
        if ext.name == "UNCERT":
            ext_unit = _uncertainty_unit(uncertainty, image.unit)
            if ext_unit is not None:
                ext.header["BUNIT"] = ext_unit.to_string()
    return hdul


def write_fits_image(path, data, *, header=None, parameters=None,
                     overwrite=False, inputs=(), extensions=None):
    """
    Write an image to FITS, recording psfkit's version and parameters.

    See `write_fits_nddata` for an image with its unit, mask and
    uncertainty.

    Parameters
    ----------
    path : str or `~pathlib.Path`
        The output file.
    data : array-like
        The image; masked values are written as NaN.
    header : `~astropy.io.fits.Header`, optional
        A header to start from (for example the input's, to keep its WCS).
    parameters : dict, optional
        Parameters to record as ``HISTORY`` cards.
    overwrite : bool, optional
        Whether an existing file may be replaced.
    inputs : sequence of path, optional
        Input files that must never be overwritten.
    extensions : dict, optional
        Further images to write as named image extensions after the
        primary HDU, name to array (masked values become NaN).

    Returns
    -------
    path : `~pathlib.Path`

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.io import fits
    >>> from psfkit.fitsio import write_fits_image
    >>> p = write_fits_image('example_write.fits', np.zeros((4, 4)),
    ...                      parameters={'fwhm': 3.0}, overwrite=True)
    >>> fits.getheader(p)['PSFKITV'] == __import__('psfkit').__version__
    True
    >>> import os; os.remove('example_write.fits')
    """
    path = check_output_path(path, inputs=inputs, overwrite=overwrite)
    hdr = fits.Header() if header is None else header.copy()
    for key in ("BZERO", "BSCALE", "BLANK", "CHECKSUM", "DATASUM"):
        hdr.remove(key, ignore_missing=True, remove_all=True)
    hdr["PSFKITV"] = (__version__, "psfkit version")
    for key, value in (parameters or {}).items():
        hdr.add_history(f"psfkit {key} = {value}")
    hdus = [fits.PrimaryHDU(data=_plain(data), header=hdr)]
    for name, image in (extensions or {}).items():
        hdus.append(fits.ImageHDU(data=_plain(image), name=name))
    fits.HDUList(hdus).writeto(path, overwrite=overwrite)
    return path


def _plain(data):
    if isinstance(data, np.ma.MaskedArray):
        return data.astype(np.result_type(data.dtype, np.float32)).filled(np.nan)
    if isinstance(data, u.Quantity):
        return data.value
    return np.asarray(data)
