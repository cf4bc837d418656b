"""
One linear model fitted to many independent data sets at once, and
up-the-ramp fitting of IR detector cubes.

- `LinearModelSetFitter` (module ``fitter``): a drop-in astropy fitter for
  linear model sets, vectorised over the models, with masks, per-model
  weights and uncertainties (module ``uncertainties``); dask arrays are
  fitted chunk by chunk (``_dask``).
- `cube_to_model_set` / `model_set_to_cube` (module ``shapes``): the
  reshaping between a data cube and a model set.
- `fit_ramps` (module ``ramps``) and its flags (module ``flags``):
  up-the-ramp slopes with saturation, jumps, optimal weighting and exact
  uncertainties; the engines are the private ``_ramp_*`` modules and
  ``_jumps``.
- Figures of ramp fits (module ``plotting``, needs matplotlib).

Both fitters share one batched least-squares engine (``_solve``) and the
input checks of ``_inputs``.
"""

from . import fitter, plotting, ramps, shapes, uncertainties
from .fitter import *  # noqa: F401,F403
from .plotting import *  # noqa: F401,F403
from .ramps import *  # noqa: F401,F403
from .shapes import *  # noqa: F401,F403
from .uncertainties import *  # noqa: F401,F403

__all__ = [*fitter.__all__, *shapes.__all__, *ramps.__all__,
           *uncertainties.__all__, *plotting.__all__]
