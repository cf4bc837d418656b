"""
Input checks shared by the fitters, the ADI tools and the evaluation tools.

`coerce` is `psfkit.utils.coerce_data` plus one check that fitpsf needs:
fitpsf does not weight by uncertainties, so an `~astropy.nddata.NDData`
uncertainty matters only if it is invalid, and then it must say so.  A
negative variance (or standard deviation, or inverse variance) would
otherwise turn into NaN errors that mask every pixel, and the user would
read "every value is masked" about data that are fine.
"""

from astropy.nddata import NDData
import numpy as np

from ..utils import coerce_data

__all__ = []


def check_uncertainty(value, name):
    """Raise if an NDData ``value`` carries a negative uncertainty."""
    if not isinstance(value, NDData) or value.uncertainty is None:
        return
    unc = value.uncertainty
    arr = np.asarray(unc.array, dtype=float)
    n_bad = int(np.count_nonzero(arr < 0))
    if n_bad:
        kind = type(unc).__name__
        msg = (f"{name}.uncertainty ({kind}) holds {n_bad} negative "
               f"value(s), which no {kind} can have; fitpsf does not use "
               "uncertainties, so fix them or leave the uncertainty out")
        raise ValueError(msg)


def coerce(value, *, name, ndim, allow_all_masked=False):
    """`~psfkit.utils.coerce_data` after `check_uncertainty`."""
    check_uncertainty(value, name)
    return coerce_data(value, name=name, ndim=ndim,
                       allow_all_masked=allow_all_masked)
