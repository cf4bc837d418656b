"""
Finding stars: DAOFIND (`DAOStarFinder`), IRAF's starfind
(`IRAFStarFinder`) and plain local peaks (`find_peaks`), with photutils
3.x's definitions, keywords and columns by default.

The measurements are vectorised over all sources: the shared detection
kernel in ``_kernel``, the peak search in `psfkit._numerics.peaks`, the
settings and selection shared by the finders in ``_base``, and the
per-source measurements of each finder in ``_daofind``, ``_irafind`` and
``_centroids``.  The results are `SourceTable` objects (``source_table``).
"""

from . import finders, peaks  # noqa: F401  (the module of find_peaks)
from .finders import *  # noqa: F401,F403
from .source_table import SourceTable

__all__ = [*finders.__all__, "SourceTable"]
