"""
Simulated data with known truth: images of stars and noise, and one
simulator for each psfkit capability; and a real crowded image
(`load_m13`).
"""

from . import adi, diffim, gaussians, noise, ramps, real
from .adi import *  # noqa: F401,F403
from .diffim import *  # noqa: F401,F403
from .gaussians import *  # noqa: F401,F403
from .noise import *  # noqa: F401,F403
from .ramps import *  # noqa: F401,F403
from .real import *  # noqa: F401,F403

__all__ = [
    *gaussians.__all__,
    *noise.__all__,
    *ramps.__all__,
    *diffim.__all__,
    *adi.__all__,
    *real.__all__,
]
