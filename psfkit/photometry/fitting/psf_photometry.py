"""
The photometry classes of the seed's API, under the module name of 0.1.

`BasicPSFPhotometry` is defined in `psfkit.photometry.fitting.basic`, the
iterative classes in `psfkit.photometry.fitting.iterative`; this module
gathers them, so that ``psfkit.photometry.psf_photometry`` keeps importing.
"""

from .basic import BasicPSFPhotometry
from .fitters import BatchedLMFitter
from .flags import PSFFlags
from .iterative import DAOPhotPSFPhotometry, IterativelySubtractedPSFPhotometry
from .results import PSFPhotometryResult

__all__ = [
    "BasicPSFPhotometry",
    "IterativelySubtractedPSFPhotometry",
    "DAOPhotPSFPhotometry",
]

# the 0.1 module held these too; they stay importable from here
_MOVED = (BatchedLMFitter, PSFPhotometryResult, PSFFlags)
