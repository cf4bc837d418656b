"""
PSF photometry: fitting the PSF model to every source of an image.

- ``basic`` (`BasicPSFPhotometry`) and ``iterative``
  (`IterativelySubtractedPSFPhotometry`, `DAOPhotPSFPhotometry`), gathered
  in ``psf_photometry``: thin sequencers of the stages in ``_pipeline``,
  with their options checked by ``_settings``;
- ``photutils_api`` and ``photutils_iterative``: photutils 3.x's
  `PSFPhotometry` and `IterativePSFPhotometry` on the same engine (inputs
  checked in ``_photutils_inputs``, tables written by
  ``_photutils_columns``, photutils' objects accepted through
  ``_interop``);
- ``fitters``: `SparseLMFitter` (the default) and `BatchedLMFitter`;
- ``results``: `PSFPhotometryResult`;
- ``_engine``: the one entry point of the fitting engine, ``fit_image``
  (plain arrays in, per-source fits out), dispatching to
- ``_allstar`` (every star with all its neighbours: geometry in
  ``_geometry``, couplings and clusters in ``_couplings``, block solves and
  covariances in ``_block_system``) or to ``_group_fit`` (group by group:
  the batched solver of ``_batch_fitter`` or any astropy fitter,
  ``_astropy_fit``), with fit boxes gathered in ``_fit_boxes`` and initial
  values read in ``_init_guesses``; ``_parts`` cuts an image's fit into
  parts for the workers of an ``executor=``;
- ``flags``: the quality bits of each fit;
- ``tiled``: large images in overlapping tiles, on any executor;
- ``gaussian_fits``: photutils 3.x's `fit_2dgaussian` and `fit_fwhm`;
- ``simulation``: photutils 3.x's `make_psf_model_image`.
"""

from . import (
    fitters,
    flags,
    gaussian_fits,
    photutils_api,
    photutils_iterative,
    psf_photometry,
    results,
    simulation,
    tiled,
)
from .fitters import *  # noqa: F401,F403
from .flags import *  # noqa: F401,F403
from .gaussian_fits import *  # noqa: F401,F403
from .photutils_api import *  # noqa: F401,F403
from .photutils_iterative import *  # noqa: F401,F403
from .psf_photometry import *  # noqa: F401,F403
from .results import *  # noqa: F401,F403
from .simulation import *  # noqa: F401,F403
from .tiled import *  # noqa: F401,F403

__all__ = [*psf_photometry.__all__, *photutils_api.__all__,
           *photutils_iterative.__all__, *fitters.__all__, *results.__all__,
           *tiled.__all__, *flags.__all__, *gaussian_fits.__all__,
           *simulation.__all__]
