"""
Writing images in `~astropy.nddata.CCDData`'s FITS layout, with psfkit's
version, the results as keywords and the parameters as ``HISTORY``.
"""

import re
import warnings

from astropy.io import fits
from astropy.nddata import CCDData, InverseVariance, NDData, VarianceUncertainty
import astropy.units as u
import numpy as np

from ..version import __version__
from .outputs import check_output_path
from .reading import working_dtype

__all__ = ["write_fits_nddata", "write_fits_image"]

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


def _clean_header(header):
    hdr = fits.Header() if header is None else fits.Header(header, copy=True)
    for key in [k for k in hdr if _STALE_KEY.match(k) or _WCS_KEY.match(k)]:
        hdr.remove(key, ignore_missing=True, remove_all=True)
    return hdr


def _stamped(hdr, keywords, parameters):
    """The header with psfkit's version, the results and the parameters."""
    hdr["PSFKITV"] = (__version__, "psfkit version")
    for key, value in (keywords or {}).items():
        hdr[key] = value
    for key, value in (parameters or {}).items():
        hdr.add_history(f"psfkit {key} = {value}")
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
        # (in the data's float type: an error of 0.4 stays 0.4 beside
        # integer data)
        uncertainty = type(uncertainty)(
            np.asarray(uncertainty.array, dtype=working_dtype(data.dtype)))
    mask = None if image.mask is None else np.asarray(image.mask, dtype=bool)
    hdr = _stamped(_clean_header(header), keywords, parameters)
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
    >>> fits.getheader(p)['HISTORY'][0]
    'psfkit fwhm = 3.0'
    >>> import os; os.remove('example_write.fits')
    """
    path = check_output_path(path, inputs=inputs, overwrite=overwrite)
    hdr = fits.Header() if header is None else header.copy()
    for key in ("BZERO", "BSCALE", "BLANK", "CHECKSUM", "DATASUM"):
        hdr.remove(key, ignore_missing=True, remove_all=True)
    hdr = _stamped(hdr, None, parameters)
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
