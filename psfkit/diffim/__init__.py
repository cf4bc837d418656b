"""
Image differencing: PSF-matching kernels solved over spatial cells,
image-to-image and PSF-model-to-PSF-model matching, decorrelation of the
difference and alignment of the images.

The QA displays live in `psfkit.diffim.plotting` (imported on demand, so
that matplotlib stays optional).
"""

from .basis import *  # noqa: F401,F403
from .basis import __all__ as _basis_all
from .candidates import *  # noqa: F401,F403
from .candidates import __all__ as _cand_all
from .config import *  # noqa: F401,F403
from .config import __all__ as _config_all
from .decorrelation import *  # noqa: F401,F403
from .decorrelation import __all__ as _decor_all
from .image_psf_match import *  # noqa: F401,F403
from .image_psf_match import __all__ as _ipm_all
from .model_psf_match import *  # noqa: F401,F403
from .model_psf_match import __all__ as _mpm_all
from .solve import *  # noqa: F401,F403
from .solve import __all__ as _solve_all
from .spatial import *  # noqa: F401,F403
from .spatial import __all__ as _spatial_all
from .tiled import *  # noqa: F401,F403
from .tiled import __all__ as _tiled_all
from .visitors import *  # noqa: F401,F403
from .visitors import __all__ as _visitors_all
from .warping import *  # noqa: F401,F403
from .warping import __all__ as _warping_all

__all__ = [*_config_all, *_basis_all, *_cand_all, *_visitors_all,
           *_spatial_all, *_solve_all, *_ipm_all, *_mpm_all, *_decor_all,
           *_warping_all, *_tiled_all]
