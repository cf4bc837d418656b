"""
photutils 3.x's quick Gaussian fits: `fit_2dgaussian` fits a
`~psfkit.photometry.CircularGaussianPRF` to one or more sources with
`~psfkit.photometry.PSFPhotometry`, and `fit_fwhm` returns their FWHMs.
"""

import warnings

from astropy.table import QTable
import astropy.units as u
import numpy as np

from ...utils import PsfkitWarning, as_pair, warn
from ..models import CircularGaussianPRF
from .fitters import BatchedLMFitter
from .photutils_api import PSFPhotometry

__all__ = ["fit_2dgaussian", "fit_fwhm"]

_NO_FIT_SHAPE = "fit_shape is None"


def _center_of_mass(values, bad):
    """The ``(x, y)`` centre of mass of the good pixels."""
    weights = np.where(bad, 0.0, values)
    yy, xx = np.indices(values.shape)
    total = weights.sum()
    return np.array([(xx * weights).sum() / total,
                     (yy * weights).sum() / total])


def _box_sums(values, xy, fit_shape):
    """The sum of the finite pixels of the fit box around each position."""
    finite = np.where(np.isfinite(values), values, 0.0)
    sums = []
    for x, y in xy:
        row = int(np.ceil(y - fit_shape[0] / 2))
        col = int(np.ceil(x - fit_shape[1] / 2))
        sums.append(finite[max(row, 0):max(row + fit_shape[0], 0),
                           max(col, 0):max(col + fit_shape[1], 0)].sum())
    return np.array(sums)


def fit_2dgaussian(data, *, xypos=None, fwhm=None, fix_fwhm=True,
                   fit_shape=None, mask=None, error=None):
    """
    Fit a circular 2-D Gaussian to one or more sources of an image.

    A `~psfkit.photometry.CircularGaussianPRF` is fitted with
    `~psfkit.photometry.PSFPhotometry`, as photutils 3.x's
    ``fit_2dgaussian`` does.  Non-finite pixels are ignored.

    Parameters
    ----------
    data : 2-D array or `~astropy.units.Quantity`
        The background-subtracted image.
    xypos : array-like of shape (n, 2), optional
        The initial ``(x, y)`` of each source (a list of pairs, an array
        or a `zip`).  Default: one source at the image's centre of mass.
    fwhm : float, optional
        The initial FWHM.  Default: half the mean size of ``fit_shape``.
    fix_fwhm : bool, optional
        Hold the FWHM at its initial value (`True`) or fit it.
    fit_shape : int or tuple of 2 odd int, optional
        The box fitted around each source.  Default (one source only,
        with a warning): the image, less one row or column along an even
        axis, for a cutout of one source.
    mask : 2-D array of bool, optional
        `True` for pixels to ignore.
    error : 2-D array, optional
        The 1-sigma error of each pixel.

    Returns
    -------
    phot : `~psfkit.photometry.PSFPhotometry`
        The photometry, its table in ``phot.results`` (with ``fwhm_fit``
        when the FWHM was fitted).

    Raises
    ------
    ValueError
        When several sources are given without a ``fit_shape``.

    See Also
    --------
    fit_fwhm

    Notes
    -----
    Each source is fitted on its own (`~psfkit.photometry.BatchedLMFitter`),
    its initial flux the sum of the finite pixels of its fit box.  The
    FWHM is kept non-negative.

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.photometry import CircularGaussianPRF, fit_2dgaussian
    >>> yy, xx = np.mgrid[:51, :51]
    >>> star = CircularGaussianPRF(x_0=22.17, y_0=28.87, fwhm=3.123, flux=9.7)
    >>> phot = fit_2dgaussian(star(xx, yy), fix_fwhm=False, fit_shape=7)
    >>> tbl = phot.results
    >>> print(np.round([tbl['x_fit'][0], tbl['y_fit'][0], tbl['fwhm_fit'][0],
    ...                 tbl['flux_fit'][0]], 4))
    [22.17   28.87    3.123   9.7  ]
    """
    values = np.asarray(getattr(data, "value", data), dtype=float)
    if xypos is None:
        bad = ~np.isfinite(values)
        if mask is not None:
            bad |= np.asarray(mask, dtype=bool)
        xypos = _center_of_mass(values, bad)
    if isinstance(xypos, zip):
        xypos = list(xypos)
    xypos = np.atleast_2d(np.asarray(xypos, dtype=float))
    if xypos.ndim != 2 or xypos.shape[1] != 2:
        msg = f"xypos must be (x, y) pairs, got an array of shape {xypos.shape}"
        raise ValueError(msg)
    if fit_shape is None:
        if len(xypos) > 1:
            msg = ("fit_shape is required when fitting multiple sources: "
                   "give a box that suits the size of the sources")
            raise ValueError(msg)
        fit_shape = tuple(s - 1 + s % 2 for s in values.shape)
        warn(f"{_NO_FIT_SHAPE}, so the input data array is taken to be a "
             "cutout of one source; give a fit_shape suited to the sources "
             f"otherwise. Using fit_shape={fit_shape}.", PsfkitWarning)
    else:
        fit_shape = as_pair("fit_shape", fit_shape, lower_bound=(1, True),
                            check_odd=True)
    flux = _box_sums(values, xypos, fit_shape)
    if isinstance(data, u.Quantity):
        flux = flux * data.unit
    if fwhm is None:
        fwhm = np.mean(fit_shape) / 2.0
    init = QTable({"x": xypos[:, 0], "y": xypos[:, 1], "flux": flux,
                   "fwhm": np.full(len(xypos), float(fwhm))})
    model = CircularGaussianPRF(fwhm=fwhm)
    model.fwhm.min = 0.0
    model.fwhm.fixed = fix_fwhm
    # each source on its own, as photutils fits them
    phot = PSFPhotometry(model, fit_shape, fitter=BatchedLMFitter())
    phot(data, mask=mask, error=error, init_params=init)
    return phot


def fit_fwhm(data, *, xypos=None, fwhm=None, fit_shape=None, mask=None,
             error=None):
    """
    Fit the FWHM of one or more sources of an image.

    The sources are fitted by `fit_2dgaussian` with a free FWHM, as
    photutils 3.x's ``fit_fwhm`` does.

    Parameters
    ----------
    data, xypos, fwhm, fit_shape, mask, error
        As for `fit_2dgaussian`.

    Returns
    -------
    fwhm : `~numpy.ndarray`
        The fitted FWHM of each source (positive).

    Warns
    -----
    PsfkitWarning
        When a fit gave a warning: it may not have converged (check
        ``xypos`` and ``fit_shape``).

    See Also
    --------
    fit_2dgaussian

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.photometry import CircularGaussianPRF, fit_fwhm
    >>> yy, xx = np.mgrid[:51, :51]
    >>> star = CircularGaussianPRF(x_0=22.17, y_0=28.87, fwhm=3.123, flux=9.7)
    >>> np.round(fit_fwhm(star(xx, yy), fit_shape=7), 6)
    array([3.123])
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        phot = fit_2dgaussian(data, xypos=xypos, fwhm=fwhm, fix_fwhm=False,
                              fit_shape=fit_shape, mask=mask, error=error)
    shape_warnings = [w for w in caught if _NO_FIT_SHAPE in str(w.message)]
    for w in shape_warnings:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if len(caught) > len(shape_warnings) and not shape_warnings:
        warn("One or more fit(s) may not have converged. Please carefully "
             "check your results. You may need to change the input "
             '"xypos" and "fit_shape" parameters.', PsfkitWarning)
    return np.array(phot.results["fwhm_fit"])
