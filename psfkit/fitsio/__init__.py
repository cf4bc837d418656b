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

from .errors import FitsInputError
from .outputs import check_output_path, check_output_paths
from .reading import read_fits_image, read_fits_nddata, working_dtype
from .writing import write_fits_image, write_fits_nddata

__all__ = ["FitsInputError", "read_fits_nddata", "read_fits_image",
           "write_fits_nddata", "write_fits_image", "check_output_path",
           "check_output_paths", "working_dtype"]
