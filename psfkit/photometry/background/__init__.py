"""
Background and background-RMS estimation: scalar estimators
(``estimators``) and the spatially varying `Background2D`
(``background_2d``, with its mesh engine in ``_mesh``).
"""

from . import background_2d, estimators
from .background_2d import *  # noqa: F401,F403
from .estimators import *  # noqa: F401,F403

__all__ = [*estimators.__all__, *background_2d.__all__]
