"""
PSF models with the standard parameters ``flux``, ``x_0`` and ``y_0``.

- ``analytic``: `IntegratedGaussianPRF`, `GaussianPSF`, `MoffatPSF`
  (formulas in ``_profiles``);
- ``image_models``: `ImagePSF` and the spatially varying `GriddedPSFModel`
  (cubic B-spline interpolation in ``_interpolation``);
- ``prepared``: `prepare_psf_model`, any astropy 2-D model as a PSF model;
- ``base``: `PSFModelMixin` and `evaluate_stack`, the batched evaluation
  that the fitting engine uses for every model.
"""

from . import analytic, base, image_models, prepared
from .analytic import *  # noqa: F401,F403
from .base import *  # noqa: F401,F403
from .image_models import *  # noqa: F401,F403
from .prepared import *  # noqa: F401,F403

__all__ = [*analytic.__all__, *image_models.__all__, *prepared.__all__,
           *base.__all__]
