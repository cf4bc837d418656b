"""Random-number-generator handling shared by the simulators."""

import numpy as np

__all__ = ["get_rng"]


def get_rng(random_state=None, *, seed=None):
    """
    Return a `numpy.random.Generator` from a seed-like argument.

    Parameters
    ----------
    random_state : int, `numpy.random.Generator`, `numpy.random.RandomState` or None
        An integer seed, an existing generator (used as is), or `None` for
        fresh entropy.
    seed : int, optional
        An alias for ``random_state``; give one or the other.

    Returns
    -------
    rng : `numpy.random.Generator`

    Examples
    --------
    >>> from psfkit.utils import get_rng
    >>> float(get_rng(1).random()) == float(get_rng(seed=1).random())
    True
    """
    if seed is not None:
        if random_state is not None:
            msg = "give random_state or seed, not both"
            raise ValueError(msg)
        random_state = seed
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2**31 - 1))
    return np.random.default_rng(random_state)
