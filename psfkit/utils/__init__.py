"""
Utilities shared by every psfkit subpackage.

- input coercion (`coerce_data`: arrays, masked arrays, Quantities,
  NDData/CCDData) and argument validation (`as_pair`, `check_positive`...);
- warning and error classes, and `warn`, which reports each warning at the
  user's own line;
- the one dialect of options: ``random_state`` (`get_rng`), ``executor``
  (`run_tasks`, `executor_threads`, `executor_workers`,
  `resolve_executor`), ``progress_bar``
  (`progress_bar`), and `renamed_keyword` for former spellings;
- threads (`single_threaded_blas`, `run_chunked`), image tiles
  (`tile_grid`), short reprs of results (`describe`), and labelled image
  panels for figures (`show_image`, `image_region`), and sky positions
  of pixel positions (`pixel_to_sky`).
"""

from .columns import *  # noqa: F401,F403
from .columns import __all__ as _columns_all
from .deprecation import *  # noqa: F401,F403
from .deprecation import __all__ as _dep_all
from .exceptions import *  # noqa: F401,F403
from .exceptions import __all__ as _exc_all
from .figures import *  # noqa: F401,F403
from .figures import __all__ as _figures_all
from .inputs import *  # noqa: F401,F403
from .inputs import __all__ as _inputs_all
from .parallel import *  # noqa: F401,F403
from .parallel import __all__ as _parallel_all
from .progress import *  # noqa: F401,F403
from .progress import __all__ as _progress_all
from .random import *  # noqa: F401,F403
from .random import __all__ as _rng_all
from .reprs import *  # noqa: F401,F403
from .reprs import __all__ as _reprs_all
from .sky import *  # noqa: F401,F403
from .sky import __all__ as _sky_all
from .threads import *  # noqa: F401,F403
from .threads import __all__ as _threads_all
from .tiling import *  # noqa: F401,F403
from .tiling import __all__ as _tiling_all
from .validation import *  # noqa: F401,F403
from .validation import __all__ as _val_all

__all__ = [*_exc_all, *_dep_all, *_columns_all, *_figures_all, *_inputs_all,
           *_parallel_all,
           *_progress_all, *_rng_all, *_reprs_all, *_sky_all, *_threads_all,
           *_tiling_all,
           *_val_all]
