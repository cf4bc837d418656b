"""
Finding stars: DAOFIND (`DAOStarFinder`), IRAF's starfind
(`IRAFStarFinder`) and plain local peaks (`find_peaks`).

The measurements are vectorised over all sources: the shared detection
kernel in ``_kernel``, the peak search in `psfkit._numerics.peaks`, and the
per-source measurements of each finder in ``_daofind``, ``_irafind`` and
``_centroids``.
"""

from . import finders
from .finders import *  # noqa: F401,F403

__all__ = list(finders.__all__)
