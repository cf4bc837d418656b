"""
Empirical PSFs built from the stars of an image (Anderson & King 2000).

- ``stars``: `extract_stars`, `EPSFStar`, `EPSFStars`, `LinkedEPSFStar`;
- ``builder``: `EPSFBuilder` (returning an `EPSFBuildResult`), the
  iteration of stacking residuals on the
  oversampled grid (``_stacking``) and refitting the stars (``_fit``);
- ``fitter``: `EPSFFitter`, that refit as a class of its own.
"""

from . import builder, fitter, stars
from .builder import *  # noqa: F401,F403
from .fitter import *  # noqa: F401,F403
from .stars import *  # noqa: F401,F403

__all__ = [*builder.__all__, *fitter.__all__, *stars.__all__]
