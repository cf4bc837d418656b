"""
PSF models with the standard parameters ``flux``, ``x_0`` and ``y_0``.

- ``analytic``: the seed's `IntegratedGaussianPRF`, and `MoffatPSF` and
  `AiryDiskPSF` (formulas in ``_profiles``);
- ``gaussians``: photutils 3.x's Gaussian family, `CircularGaussianPSF`,
  `CircularGaussianPRF`, `CircularGaussianSigmaPRF`, `GaussianPSF` and
  `GaussianPRF`;
- ``image_models``: `ImagePSF` and the spatially varying `GriddedPSFModel`
  (cubic B-spline interpolation in ``_interpolation``);
- ``gridded_io``: the files of gridded PSFs (WebbPSF/STPSF and STDPSF)
  behind `GriddedPSFModel.read` and `GriddedPSFModel.write`, and
  `STDPSFGrid`;
- ``prepared``: `prepare_psf_model`, any astropy 2-D model as a PSF model;
- ``base``: `PSFModelMixin` and `evaluate_stack`, the batched evaluation
  that the fitting engine uses for every model.

Names, parameters, defaults and values follow photutils 3.x, so the models
work in psfkit's fitting engine and in photutils' ``PSFPhotometry`` alike.
"""

from . import analytic, base, gaussians, gridded_io, image_models, prepared
from .analytic import *  # noqa: F401,F403
from .base import *  # noqa: F401,F403
from .gaussians import *  # noqa: F401,F403
from .gridded_io import *  # noqa: F401,F403
from .image_models import *  # noqa: F401,F403
from .prepared import *  # noqa: F401,F403

__all__ = [*analytic.__all__, *gaussians.__all__, *image_models.__all__,
           *gridded_io.__all__, *prepared.__all__, *base.__all__]
