"""
Fitting an ePSF to star cutouts: `EPSFFitter`.

This is the step of `~psfkit.photometry.EPSFBuilder` that refits every
star's centre and flux with the current ePSF, as a class of its own
(photutils' ``EPSFFitter``): to measure stars with an ePSF already built,
or to choose how the builder fits them.
"""

import numpy as np

from ...utils import ParamReprMixin, as_pair, check_integer, warn
from ..models._native import native_model
from ._fit import refit_stars, star_pixels
from .stars import EPSFStar, EPSFStars, StarExcludedWarning, check_epsf

__all__ = ["EPSFFitter"]

#: the fitter's own keyword arguments, which the caller may not set
_RESERVED = ("x", "y", "z", "weights")


def check_star_fitter(fitter):
    """
    ``fitter`` if it is `None` or an astropy fitter instance, else a
    `TypeError` that says what was given.
    """
    if fitter is None:
        return None
    if isinstance(fitter, type):
        msg = (f"fitter must be an astropy fitter instance, such as "
               f"{fitter.__name__}(), not the class {fitter.__name__}")
        raise TypeError(msg)
    if not callable(fitter):
        msg = ("fitter must be an astropy fitter instance (TRFLSQFitter(), "
               f"LevMarLSQFitter()...) or None, got {type(fitter).__name__}")
        raise TypeError(msg)
    return fitter


def check_fitter_kwargs(fitter, kwargs):
    """The keyword arguments of the star fits, checked against ``fitter``."""
    reserved = sorted(set(kwargs) & set(_RESERVED))
    if reserved:
        msg = (f"fitter_kwargs may not set {', '.join(reserved)}: the "
               "fitter is given each star's pixels and weights")
        raise TypeError(msg)
    if fitter is None:
        unknown = sorted(set(kwargs) - {"maxiter"})
        if unknown:
            msg = ("with fitter=None (psfkit's batched Levenberg-Marquardt "
                   "fit) the only fitter keyword is maxiter; got "
                   f"{', '.join(unknown)}")
            raise TypeError(msg)
    kwargs = dict(kwargs)
    if "maxiter" in kwargs:
        kwargs["maxiter"] = check_integer("maxiter", kwargs["maxiter"],
                                          minimum=1)
    return kwargs


def fit_half(fit_boxsize, shapes):
    """Half the fit box, ``(hy, hx)``; `None` covers the largest cutout."""
    if fit_boxsize is None:
        return tuple(int(n) for n in np.max(shapes, axis=0))
    return (fit_boxsize[0] // 2, fit_boxsize[1] // 2)


class EPSFFitter(ParamReprMixin):
    """
    Fit an ePSF to stars: the centre and flux of each star.

    photutils' class of the same name, with psfkit's fast default: all
    stars fitted at once by a batched Levenberg-Marquardt solver.  Give it
    to `~psfkit.photometry.EPSFBuilder` as ``fitter`` to choose how the
    builder refits the stars, or call it to measure stars with an ePSF.

    Parameters
    ----------
    fitter : astropy fitter instance or None, optional
        `None` (default): psfkit's batched solver, all stars at once.  An
        astropy fitter (``TRFLSQFitter()``, ``LevMarLSQFitter()``...)
        fits the stars one by one (slower; the same least-squares problem,
        for fitters that bring something of their own).
    fit_boxsize : int, tuple of two int or None, optional
        The odd size, at least 3, of the box (``(ny, nx)`` for a tuple)
        around each star's centre whose pixels are fitted; `None` fits
        the whole cutout.
    **fitter_kwargs
        More keyword arguments of the fitter (``maxiter``...; with
        ``fitter=None`` only ``maxiter``).

    Notes
    -----
    photutils 3.0 deprecates passing an ``EPSFFitter`` to its
    ``EPSFBuilder`` in favour of the builder's ``fitter``, ``fit_shape``
    and ``fitter_maxiters``; psfkit's builder takes either form.

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.table import QTable
    >>> from psfkit.photometry import (EPSFFitter, ImagePSF,
    ...                                IntegratedGaussianPRF, extract_stars)
    >>> yy, xx = np.mgrid[0:60, 0:60]
    >>> truth = [(15.3, 20.6, 900.0), (40.8, 35.1, 1500.0)]
    >>> image = sum(IntegratedGaussianPRF(sigma=1.5, flux=f, x_0=x, y_0=y)(xx, yy)
    ...             for x, y, f in truth)
    >>> stars = extract_stars(image, QTable({'x': [15, 41], 'y': [21, 35]}),
    ...                       size=11)
    >>> py, px = np.mgrid[-28:29, -28:29] / 4  # an ePSF oversampled 4 times
    >>> epsf = ImagePSF(IntegratedGaussianPRF(sigma=1.5)(px, py), oversampling=4)
    >>> fitted = EPSFFitter(fit_boxsize=7)(epsf, stars)
    >>> np.round(fitted.center_flat, 3)
    array([[15.3, 20.6],
           [40.8, 35.1]])
    >>> np.round(fitted.flux, 1)
    array([ 900., 1500.])
    """

    _repr_params = ("fitter", "fit_boxsize")
    _repr_changed_only = True

    def __init__(self, *, fitter=None, fit_boxsize=5, **fitter_kwargs):
        self.fitter = check_star_fitter(fitter)
        self._box = (None if fit_boxsize is None
                     else as_pair("fit_boxsize", fit_boxsize,
                                  lower_bound=(3, True), check_odd=True))
        #: the box as given: an int for a square box
        self.fit_boxsize = (self._box[0] if self._box is not None
                            and self._box[0] == self._box[1] else self._box)
        self.fitter_kwargs = check_fitter_kwargs(self.fitter, fitter_kwargs)

    def _summary_items(self, *, changed_only=False):
        items = super()._summary_items(changed_only=changed_only)
        return items + [(k, repr(v)) for k, v in self.fitter_kwargs.items()]

    def __call__(self, epsf, stars):
        """
        Fit the ePSF to the stars.

        Parameters
        ----------
        epsf : `~psfkit.photometry.ImagePSF`
            The ePSF (or another 2-D model with the parameters ``flux``,
            ``x_0`` and ``y_0`` only; photutils' ``ImagePSF`` too).
        stars : `EPSFStars` or list of `EPSFStar`
            The star cutouts, their centres and fluxes the starting point.

        Returns
        -------
        fitted_stars : `EPSFStars`
            The stars with their fitted centres and fluxes, in the same
            order.  A star whose fit failed (too few pixels, no positive
            flux, a centre off its cutout, a fitter error) keeps its
            starting values; ``fitted_stars.meta['fit_failed']`` lists
            their indices (in ``all_stars``).  Each cutout of a linked
            star is fitted on its own; `LinkedEPSFStar.constrain_centers`
            (which `EPSFBuilder` calls) brings them to one sky position.

        Warns
        -----
        StarExcludedWarning
            When a star's fit failed.
        """
        if isinstance(stars, EPSFStar):
            stars = [stars]
        stars = stars if isinstance(stars, EPSFStars) else EPSFStars(stars)
        check_epsf(epsf)
        if len(stars) == 0:
            fitted = EPSFStars([])
            fitted.meta["fit_failed"] = []
            return fitted
        flat = stars.all_stars
        pixels, offsets, shapes = star_pixels(flat)
        centers = np.array([s.cutout_center for s in flat], dtype=float)
        fluxes = np.array([s.flux for s in flat], dtype=float)
        # psfkit's twin of a photutils model evaluates whole stacks at once
        model = epsf if self.fitter is not None else native_model(epsf)
        result, ok = refit_stars(model, pixels, offsets, shapes, centers,
                                 fluxes, fit_half(self._box, shapes),
                                 fitter=self.fitter,
                                 options=self.fitter_kwargs)
        ok &= np.isfinite(fluxes)
        fitted = stars._rebuild([
            star.with_fit(result[i, 1:], result[i, 0]) if ok[i] else star
            for i, star in enumerate(flat)])
        failed = [int(i) for i in np.flatnonzero(~ok)]
        fitted.meta["fit_failed"] = failed
        if failed:
            ids = [str(flat[i].id_label) for i in failed]
            warn(f"the fit of {len(failed)} star(s) failed; they keep their "
                 f"starting centres and fluxes (ids: {', '.join(ids[:10])})",
                 StarExcludedWarning)
        return fitted
