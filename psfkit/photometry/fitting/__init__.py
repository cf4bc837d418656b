"""
PSF photometry: fitting the PSF model to every source of an image.

- ``psf_photometry``: the Basic, IterativelySubtracted and DAOPhot classes,
  thin sequencers of the stages in ``_pipeline``;
- ``_group_fit``: the fitting engine, on the batched Levenberg-Marquardt
  solver of ``_batch_fitter`` (or any astropy fitter, ``_astropy_fit``),
  with fit boxes gathered in ``_fit_boxes`` and initial values read in
  ``_init_guesses``;
- ``flags``: the quality bits of each fit;
- ``tiled``: large images in overlapping tiles, on any executor.
"""

from . import fitters, flags, psf_photometry, results, tiled
from .fitters import *  # noqa: F401,F403
from .flags import *  # noqa: F401,F403
from .psf_photometry import *  # noqa: F401,F403
from .results import *  # noqa: F401,F403
from .tiled import *  # noqa: F401,F403

__all__ = [*psf_photometry.__all__, *fitters.__all__, *results.__all__,
           *tiled.__all__, *flags.__all__]
