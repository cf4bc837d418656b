"""
Reading images from FITS files and writing results back, for the command
line and for scripts.

Errors a user can make (a missing file, a file that is not FITS, an HDU
without image data, a cube where an image is needed, an output that would
overwrite an input or an existing file) raise `FitsInputError` with one
sentence that names the file.
"""

from pathlib import Path
import warnings

from astropy.io import fits
from astropy.utils.exceptions import AstropyWarning
from astropy.wcs import WCS, FITSFixedWarning
import numpy as np

from .utils.exceptions import PsfkitError
from .version import __version__

__all__ = ["FitsInputError", "read_fits_image", "write_fits_image",
           "check_output_path"]


class FitsInputError(PsfkitError, ValueError):
    """A FITS file (or an output path) cannot be used as asked."""


def _image_hdus(hdul):
    return [i for i, hdu in enumerate(hdul)
            if isinstance(hdu, (fits.PrimaryHDU, fits.ImageHDU, fits.CompImageHDU))
            and hdu.header.get("NAXIS", 0) > 0]


def read_fits_image(path, *, hdu=None, ndim=2):
    """
    Read image data, header and WCS from a FITS file.

    Parameters
    ----------
    path : str or `~pathlib.Path`
        The FITS file.
    hdu : int or str, optional
        The HDU index or name.  By default the first HDU holding data
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
        If the file is missing or unreadable, the HDU does not exist or
        holds no image, or the data have the wrong number of dimensions.

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
    if not path.exists():
        msg = f"{path}: no such file"
        raise FitsInputError(msg)
    if path.is_dir():
        msg = f"{path}: is a folder, not a FITS file"
        raise FitsInputError(msg)
    # astropy warns about every non-standard card or padding on the way; a
    # file that cannot be used is reported below in one sentence instead
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyWarning)
        return _read_image(path, hdu, ndim)


def _read_image(path, hdu, ndim):
    try:
        hdul = fits.open(path, memmap=False)
    except (OSError, ValueError, TypeError) as exc:
        msg = f"{path}: not a readable FITS file ({exc})"
        raise FitsInputError(msg) from None
    with hdul:
        if hdu is None:
            candidates = _image_hdus(hdul)
            if not candidates:
                msg = f"{path}: no HDU holds image data"
                raise FitsInputError(msg)
            index = candidates[0]
        else:
            try:
                index = hdul.index_of(hdu)
            except (KeyError, IndexError):
                msg = f"{path}: there is no HDU {hdu!r} (the file has {len(hdul)})"
                raise FitsInputError(msg) from None
            if index >= len(hdul):
                msg = f"{path}: there is no HDU {hdu!r} (the file has {len(hdul)})"
                raise FitsInputError(msg)
        chosen = hdul[index]
        if chosen.data is None or not isinstance(
                chosen, (fits.PrimaryHDU, fits.ImageHDU, fits.CompImageHDU)):
            msg = f"{path}: HDU {hdu if hdu is not None else index} holds no image data"
            raise FitsInputError(msg)
        data = np.asarray(chosen.data, dtype=np.float64)
        header = chosen.header.copy()
    allowed = (ndim,) if np.isscalar(ndim) else tuple(ndim)
    if data.ndim not in allowed:
        want = " or ".join(f"{n}-D" for n in allowed)
        msg = (f"{path}: expected a {want} image, got {data.ndim}-D data of "
               f"shape {data.shape}")
        raise FitsInputError(msg)
    wcs = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        try:
            candidate = WCS(header, naxis=2) if data.ndim >= 2 else None
        except Exception:  # a malformed WCS is treated as no WCS  # noqa: BLE001
            candidate = None
    if candidate is not None and candidate.has_celestial:
        wcs = candidate.celestial
    return data, header, wcs


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
        If the output is one of the inputs, exists without ``overwrite``,
        or its folder does not exist.
    """
    path = Path(path)
    for item in inputs:
        if item is not None and Path(item).exists() and path.exists() \
                and path.resolve() == Path(item).resolve():
            msg = f"{path}: refusing to overwrite an input file"
            raise FitsInputError(msg)
    if path.exists() and not overwrite:
        msg = f"{path}: already exists (use --overwrite to replace it)"
        raise FitsInputError(msg)
    if not path.parent.exists():
        msg = f"{path}: the folder {path.parent} does not exist"
        raise FitsInputError(msg)
    return path


def write_fits_image(path, data, *, header=None, parameters=None,
                     overwrite=False, inputs=(), extensions=None):
    """
    Write an image to FITS, recording psfkit's version and parameters.

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
        return data.astype(float).filled(np.nan)
    return np.asarray(data)
