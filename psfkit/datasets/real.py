"""
Real images shipped with psfkit, for examples, tests and benchmarks.

Simulations give truth; a real image gives the things simulations leave
out: a PSF that is not quite the model, saturated cores, a crowded centre
where stars blend at every separation, plate artefacts.
"""

from importlib import resources

__all__ = ["load_m13", "m13_path"]


def m13_path():
    """
    The path of the shipped M13 FITS file (see `load_m13`).

    Returns
    -------
    path : `pathlib.Path`
    """
    return resources.files("psfkit").joinpath("data", "m13_dss.fits")


def load_m13():
    """
    A 300 x 300 Digitized Sky Survey image of the globular cluster M13.

    The core of the cluster is crowded (several hundred stars, many of
    them blended, the brightest saturated on the photographic plate); the
    outskirts hold isolated stars on a flat sky of about 113 counts.  The
    FWHM of the stars is about 3.4 pixels.

    Returns
    -------
    image : `~astropy.nddata.NDData`
        The image as float64 counts, with the celestial WCS of the file
        (``image.wcs``) and its header as ``image.meta``.

    Notes
    -----
    The file was extracted from the DSS by the SkyView service
    (NASA/GSFC) and is the one the astropy project ships in its test data
    (``astropy/io/fits/hdu/compressed/tests/data/m13.fits``), copied
    unchanged under astropy's 3-clause BSD licence (its text is in
    ``psfkit/data/LICENSE-astropy.rst``; the origin is described in
    ``psfkit/data/README.rst``).  The DSS is based on photographic data of
    the Oschin and UK Schmidt telescopes, digitised at STScI.

    Examples
    --------
    >>> from psfkit.datasets import load_m13
    >>> image = load_m13()
    >>> image.data.shape, image.data.dtype.name
    ((300, 300), 'float64')
    >>> print(image.wcs.wcs.ctype[0], round(float(image.wcs.wcs.crval[0]), 4))
    RA---TAN 250.4226
    """
    from astropy.io import fits
    from astropy.nddata import NDData
    from astropy.wcs import WCS
    import numpy as np

    with resources.as_file(m13_path()) as path, fits.open(path) as hdul:
        header = hdul[0].header.copy()
        data = np.asarray(hdul[0].data, dtype=np.float64)
    return NDData(data, wcs=WCS(header), meta=header)
