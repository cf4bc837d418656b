"""Random-number-generator handling: one ``random_state`` argument everywhere."""

import numpy as np

from .deprecation import renamed_keyword

__all__ = ["get_rng"]


@renamed_keyword(seed="random_state")
def get_rng(random_state=None):
    """
    Return a `numpy.random.Generator` from a ``random_state`` argument.

    Every psfkit function that draws random numbers takes
    ``random_state=``: an integer seed (reproducible results), an existing
    generator (used as is, so a sequence of calls continues one stream),
    or `None` for fresh entropy.

    Parameters
    ----------
    random_state : int, `numpy.random.Generator`, `numpy.random.RandomState` or None
        See above.
    seed : int, optional
        Deprecated spelling of ``random_state``.

    Returns
    -------
    rng : `numpy.random.Generator`

    Examples
    --------
    >>> from psfkit.utils import get_rng
    >>> float(get_rng(1).random()) == float(get_rng(1).random())
    True
    """
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**31 - 1))
    if random_state is not None and not isinstance(
            random_state, int | np.integer | np.random.SeedSequence):
        msg = ("random_state must be None, an integer seed or a "
               f"numpy.random.Generator, got {type(random_state).__name__}")
        raise TypeError(msg)
    if isinstance(random_state, bool):
        msg = "random_state must be None, an integer seed or a Generator, got a bool"
        raise TypeError(msg)
    return np.random.default_rng(random_state)
