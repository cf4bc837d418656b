"""
Utilities shared by every psfkit subpackage: input coercion, argument
validation, and the warning and error classes.
"""

from .exceptions import *  # noqa: F401,F403
from .exceptions import __all__ as _exc_all
from .inputs import *  # noqa: F401,F403
from .inputs import __all__ as _inputs_all
from .parallel import *  # noqa: F401,F403
from .parallel import __all__ as _parallel_all
from .random import *  # noqa: F401,F403
from .random import __all__ as _rng_all
from .threads import *  # noqa: F401,F403
from .threads import __all__ as _threads_all
from .validation import *  # noqa: F401,F403
from .validation import __all__ as _val_all

__all__ = [*_exc_all, *_inputs_all, *_parallel_all, *_rng_all, *_threads_all, *_val_all]
