"""
Reading FITS images with everything the file says about them: the data in
their own precision, the unit (``BUNIT``), a mask and an uncertainty from
extensions beside the data, the celestial WCS and the header.
"""

from pathlib import Path
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

from ..utils.validation import check_ndim
from .errors import FitsInputError

__all__ = ["read_fits_nddata", "read_fits_image", "working_dtype"]

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


def _drop_degenerate_axes(values, ndim):
    """
    ``values`` without leading length-1 axes beyond the largest accepted
    number of dimensions: a ``(1, ny, nx)`` cube (as radio and IFU images
    often are) is a ``(ny, nx)`` image.  These axes are the last of the
    FITS header, so the WCS of the remaining axes is unchanged.
    """
    largest = int(np.max(ndim))
    while values.ndim > largest and values.shape[0] == 1:
        values = values[0]
    return values


def _check_ndim(data, ndim, path):
    try:
        check_ndim(f"{path}: the image", data, ndim)
    except ValueError as exc:
        raise FitsInputError(str(exc)) from None


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


def _auxiliary(hdul, shape, path, ver=None):
    """
    The mask and uncertainty stored in extensions beside the data; in a
    file of several versions (``EXTVER``: SCI, ERR and DQ of each chip) the
    extensions of the data's own version ``ver``.
    """
    names = {}
    for i, item in enumerate(hdul):
        if not _has_image(item):
            continue
        # the first extension of a name, unless one of the data's version
        # comes later
        if item.name not in names or (
                ver is not None and item.ver == ver
                and hdul[names[item.name]].ver != ver):
            names[item.name] = i
    mask = None
    for name in _MASK_EXTENSIONS:
        if name in names:
            values = _hdu_array(hdul, names[name], path, f"the {name} extension")
            values = _drop_degenerate_axes(values, len(shape))
            _check_shape(values, shape, name, path)
            mask = np.asarray(values) != 0
            break
    uncertainty = None
    for name, cls in _UNCERTAINTY_EXTENSIONS.items():
        if name in names:
            index = names[name]
            values = _hdu_array(hdul, index, path, f"the {name} extension")
            values = _drop_degenerate_axes(values, len(shape))
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
        The accepted number(s) of dimensions of the data.  Leading axes of
        length 1 beyond the largest of them are dropped (a ``(1, ny, nx)``
        cube is read as a ``(ny, nx)`` image, with the celestial WCS of
        its first two axes), in the mask and uncertainty extensions too.

    Returns
    -------
    image : `~astropy.nddata.NDData`
        ``data`` in native byte order as float (see `working_dtype`;
        BZERO/BSCALE applied); ``mask`` from a ``MASK`` or ``DQ`` extension
        (nonzero is bad) or `None`; ``uncertainty`` from an ``UNCERT``,
        ``ERR``, ``VARIANCE``/``VAR`` or ``IVAR`` extension or `None`
        (in a file of several chips, those of the data's own ``EXTVER``);
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
    data, header, (mask, uncertainty) = _read(
        path, hdu, ndim, lambda raw: working_dtype(raw.dtype).newbyteorder("="),
        auxiliary=True)
    unit = _parse_unit(header, path)
    return NDData(data, mask=mask, uncertainty=uncertainty, unit=unit,
                  wcs=_celestial_wcs(header, data.ndim), meta=header)


def _read(path, hdu, ndim, dtype, *, auxiliary):
    """The data (in ``dtype(raw)``), header and, optionally, mask and
    uncertainty of one image HDU."""
    path = Path(path)
    # astropy warns about every non-standard card or padding on the way; a
    # file that cannot be used is reported in one sentence instead
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyWarning)
        hdul = _open(path)
    with hdul, warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyWarning)
        index = _select_hdu(hdul, hdu, path)
        raw = _drop_degenerate_axes(_hdu_array(hdul, index, path), ndim)
        _check_ndim(raw, ndim, path)
        data = np.asarray(raw, dtype=dtype(raw))
        header = hdul[index].header.copy()
        ver = hdul[index].ver if "EXTVER" in hdul[index].header else None
        extra = (_auxiliary(hdul, data.shape, path, ver) if auxiliary
                 else None)
    return data, header, extra


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
        The accepted number(s) of dimensions of the data.  Leading axes of
        length 1 beyond the largest of them are dropped, as in
        `read_fits_nddata`.

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
    data, header, _ = _read(path, hdu, ndim, lambda raw: np.float64,
                            auxiliary=False)
    return data, header, _celestial_wcs(header, data.ndim)
