"""
LOCI-style PSF fitting and removal for high-contrast imaging, with KLIP and
ADI tools.

The fitters (`psfkit.fitpsf.fitters`) combine a stack of reference images
(the PSF base) region by region to model the PSF of an image; the plug-ins
that decide how live in `psfkit.fitpsf.regions`, `psfkit.fitpsf.optregion`,
`psfkit.fitpsf.findbase` and `psfkit.fitpsf.fitpsfcoeff`, and one engine
(``_engine``, ``_solve``) does the fitting for all of them.  Around them:
angular differential imaging (`psfkit.fitpsf.adi`), signal-to-noise
(`psfkit.fitpsf.significance`), fake companions and contrast curves
(`psfkit.fitpsf.evaluation`), parallel runs (`psfkit.fitpsf.parallel`)
and figures (`psfkit.fitpsf.plotting`, imported on demand: it needs
matplotlib).  ``convention = 'psfsubtraction'`` on a fitter reproduces the
psfsubtraction package.
"""

from . import findbase, fitpsfcoeff, optregion, regions  # noqa: F401
from .adi import *  # noqa: F401,F403
from .adi import __all__ as _adi_all
from .evaluation import *  # noqa: F401,F403
from .evaluation import __all__ as _eval_all
from .fitters import *  # noqa: F401,F403
from .fitters import __all__ as _fitters_all
from .parallel import *  # noqa: F401,F403
from .parallel import __all__ as _parallel_all
from .significance import *  # noqa: F401,F403
from .significance import __all__ as _significance_all
from .utils import *  # noqa: F401,F403
from .utils import __all__ as _utils_all

__all__ = [*_fitters_all, *_parallel_all, *_adi_all, *_significance_all,
           *_eval_all, *_utils_all]
