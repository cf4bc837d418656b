"""
Background and background-RMS estimation: scalar estimators
(``estimators``), the spatially varying `Background2D` (``background_2d``,
with photutils' mesh in ``_boxes``, psfkit's planar mesh in ``_mesh`` and
the clipping of all boxes at once in ``_sorted_clip``), and the
`LocalBackground` of each source in an annulus (``local_background``).
"""

from . import background_2d, estimators, local_background
from .background_2d import *  # noqa: F401,F403
from .estimators import *  # noqa: F401,F403
from .local_background import *  # noqa: F401,F403

__all__ = [*estimators.__all__, *background_2d.__all__,
           *local_background.__all__]
