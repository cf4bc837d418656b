"""
DAOPHOT-style crowded-field PSF photometry.

The subpackages follow the steps of a photometry run:

- `psfkit.photometry.detection`: star finders (`DAOStarFinder`,
  `IRAFStarFinder`, `find_peaks`);
- `psfkit.photometry.background`: scalar background estimators and
  `Background2D`;
- `psfkit.photometry.grouping`: groupers (`DAOGroup`, `DBSCANGroup`);
- `psfkit.photometry.models`: PSF models (analytic, image and gridded, any
  astropy model through `prepare_psf_model`);
- `psfkit.photometry.epsf`: empirical PSFs built from the image's stars;
- `psfkit.photometry.fitting`: the photometry classes (Basic,
  IterativelySubtracted, DAOPhot), their fitting engine, flags, and tiled
  photometry of large images.

Everything public is importable from ``psfkit.photometry`` itself.
"""

import sys

from . import background, detection, epsf, fitting, grouping, models
from .background import *  # noqa: F401,F403
from .detection import *  # noqa: F401,F403
from .epsf import *  # noqa: F401,F403
from .fitting import *  # noqa: F401,F403
from .grouping import *  # noqa: F401,F403
from .models import *  # noqa: F401,F403

__all__ = [
    *background.__all__,
    *detection.__all__,
    *grouping.__all__,
    *models.__all__,
    *epsf.__all__,
    *fitting.__all__,
]

# Module paths of psfkit 0.1 (``psfkit.photometry.finders`` and so on) keep
# importing: they name the modules that now hold those classes.
for _old, _new in (("finders", detection.finders),
                   ("groupers", grouping.groupers),
                   ("psf_photometry", fitting.psf_photometry),
                   ("tiled", fitting.tiled)):
    sys.modules[f"{__name__}.{_old}"] = _new
del _old, _new
