"""
DAOPHOT-style crowded-field PSF photometry: star finders, background
estimators, groupers, PSF models and the Basic, IterativelySubtracted and
DAOPhot photometry classes.
"""

from . import background, epsf, finders, groupers, models, psf_photometry, tiled
from .background import *  # noqa: F401,F403
from .epsf import *  # noqa: F401,F403
from .finders import *  # noqa: F401,F403
from .groupers import *  # noqa: F401,F403
from .models import *  # noqa: F401,F403
from .psf_photometry import *  # noqa: F401,F403
from .tiled import *  # noqa: F401,F403

__all__ = [
    *background.__all__,
    *finders.__all__,
    *groupers.__all__,
    *models.__all__,
    *epsf.__all__,
    *psf_photometry.__all__,
    *tiled.__all__,
]
