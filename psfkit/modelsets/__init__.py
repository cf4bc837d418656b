"""
One linear model fitted to many independent data sets at once, and
up-the-ramp fitting of IR detector cubes.
"""

from . import fitter, ramps, shapes
from .fitter import *  # noqa: F401,F403
from .ramps import *  # noqa: F401,F403
from .shapes import *  # noqa: F401,F403

__all__ = [*fitter.__all__, *shapes.__all__, *ramps.__all__]
