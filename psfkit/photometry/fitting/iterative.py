"""
PSF photometry that looks for new stars in the residual image.

`IterativelySubtractedPSFPhotometry` repeats `BasicPSFPhotometry` on the
residual of each pass; `DAOPhotPSFPhotometry` is the same loop with
DAOFIND, DAOGROUP and an MMM background built from DAOPHOT-style
parameters.
"""

import copy

import numpy as np
from scipy.spatial import cKDTree

from ...utils import Checked, PsfkitWarning, check_positive, progress_bar, warn
from . import _settings as opt
from ._pipeline import (
    Sources,
    converged_duplicates,
    kept_sources,
    merge_stages,
    on_box_edge,
    stack_stages,
    take_columns,
)
from ._settings import model_fwhm
from .basic import BasicPSFPhotometry

__all__ = ["IterativelySubtractedPSFPhotometry", "DAOPhotPSFPhotometry"]

#: safety cap on the iterations of ``niters=None``
MAX_ITERATIONS = 50
#: in mode 'all', with an error array, a residual detection whose flux
#: falls below this many times its error is removed (during the fit, by
#: the error with its neighbours held; after it, by the marginal error)
MIN_SNR = 1.0


class IterativelySubtractedPSFPhotometry(BasicPSFPhotometry):
    """
    PSF photometry that looks for new stars in the residual image.

    After the first pass of `BasicPSFPhotometry`, the finder is run on the
    residual image; stars it finds are added and the photometry repeated,
    until ``niters`` passes are done or nothing new is found.

    Parameters
    ----------
    group_maker, bkg_estimator, psf_model, fitshape
        As for `BasicPSFPhotometry`.
    finder : callable
        The star finder (required).
    niters : int or None, optional
        The number of passes; `None` repeats until nothing new is found
        (at most ``MAX_ITERATIONS`` passes, with a warning at the cap).
    mode : {'all', 'new'}, optional
        ``'all'`` (default) refits every source after each pass, starting
        from the previous fits, so that new stars and their bright
        neighbours are fitted jointly; ``'new'`` fits only the new stars,
        on the residual image, as the classic DAOPHOT loop does.
    fitter, aperture_radius, subshape, progress_bar, executor
        As for `BasicPSFPhotometry`.

    Notes
    -----
    The table has an extra ``iter_detected`` column, the pass in which
    each source was found.  A detection in the residual image closer than
    half the model FWHM (one pixel without ``fwhm``) to a source already
    fitted is the imperfect subtraction of that source, not a new star,
    and is ignored.  In ``'all'`` mode a residual detection is no star
    when its fitted flux is not positive, when it ends within half the
    FWHM of a brighter source (then it duplicates that source), or, with
    an error array, when its flux is below its error: it is dropped and
    its neighbours are refitted without it, in every pass, the last one
    included.  With the default fitter this happens during the fit, as in
    DAOPHOT's ALLSTAR: residual detections are fitted first with the other
    stars held, and removed as soon as they meet a rule (the flux error
    then is the one with the neighbours held, the smallest it can be).
    Without an error array the fit has no noise scale of its own, and the
    signal-to-noise rule is not applied.  Sources found in the first
    pass, or given as initial guesses, are never dropped.

    Each fit box is centred where the source was found, and a fitted
    centre stays inside its box.  In ``'all'`` mode with the default
    fitter, a source whose fit stops on the edge of its box with a
    significant flux (above three times its uncertainty) was held short
    of its star: it gets a box centred on that fit, at the next pass or,
    after the last pass, in a refit (as ALLSTAR's fitting radius follows
    its star).  A faint source on the edge keeps its box and its
    ``AT_BOUND`` flag.

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.table import QTable
    >>> from psfkit.photometry import (IntegratedGaussianPRF, DAOGroup,
    ...     DAOStarFinder, IterativelySubtractedPSFPhotometry)
    >>> psf = IntegratedGaussianPRF(sigma=2.0)
    >>> yy, xx = np.mgrid[0:40, 0:40]
    >>> image = (psf.evaluate(xx, yy, 5000.0, 18.0, 20.0, 2.0)
    ...          + psf.evaluate(xx, yy, 400.0, 23.5, 21.0, 2.0))
    >>> phot = IterativelySubtractedPSFPhotometry(
    ...     DAOGroup(10.0), None, psf, (11, 11),
    ...     finder=DAOStarFinder(threshold=5.0, fwhm=4.7), niters=None)
    >>> tab = phot(image)
    >>> len(tab), tab['iter_detected'].tolist()
    (2, [1, 2])
    >>> print(np.round(tab['flux_fit'].value, 1))
    [5000.  400.]
    """

    _iterative = True
    _repr_params = ("group_maker", "bkg_estimator", "psf_model", "fitshape",
                    "finder", "niters", "mode", "fitter", "aperture_radius",
                    "subshape", "progress_bar", "executor",
                    "extra_output_cols")

    finder = Checked(opt.required_callable)
    niters = Checked(opt.niters)
    mode = Checked(opt.mode)

    def __init__(self, group_maker, bkg_estimator, psf_model, fitshape, *,
                 finder, niters=3, mode="all", fitter=None,
                 aperture_radius=None, subshape=None, progress_bar=False,
                 extra_output_cols=None, executor=None):
        super().__init__(group_maker, bkg_estimator, psf_model, fitshape,
                         finder=finder, fitter=fitter,
                         aperture_radius=aperture_radius, subshape=subshape,
                         progress_bar=progress_bar,
                         extra_output_cols=extra_output_cols,
                         executor=executor)
        self.niters = niters
        self.mode = mode

    def _passes(self):
        limit = MAX_ITERATIONS if self.niters is None else self.niters
        return progress_bar(enabled=self.progress_bar, total=limit,
                            desc="photometry passes", unit="pass")

    def _iterate(self, prep, setup, stage, bar):
        counts = [len(stage.sources.ids)]
        limit = MAX_ITERATIONS if self.niters is None else self.niters
        xy = [setup.x_col, setup.y_col]
        rejected = np.zeros((0, 2))
        capped = True
        while len(counts) < limit:
            if self.mode == "all":
                stage, rejected = self._tidy(prep, setup, stage, rejected)
            residual = np.where(prep.valid, prep.data - stage.model_image(), 0.0)
            new = self._new_sources(prep, setup, stage, residual, rejected,
                                    iteration=len(counts) + 1)
            if new is None:
                capped = False
                break
            counts.append(len(new.ids))
            if self.mode == "all":
                # a residual detection that fitted to no flux is no star;
                # its place is remembered so that it is not found again
                flux = stage.fits.theta[:, setup.flux_col]
                keep = (stage.sources.iteration == 1) | (flux > 0)
                rejected = np.concatenate([rejected,
                                           stage.sources.start[~keep][:, xy]])
                sources = merge_stages(stage, new, keep,
                                       reach=self._warm_reach(setup),
                                       recentre=self._held(setup, stage))
                stage = self._fit_stage(prep, setup, sources)
            else:
                stage = stack_stages(stage, self._fit_stage(prep, setup, new,
                                                           data=residual))
            bar.update()
        if self.mode == "all" and limit > 1:
            stage, _ = self._tidy(prep, setup, stage, rejected, last=True)
        if capped and self.niters is None:
            warn(f"iterative photometry stopped at the cap of "
                 f"{MAX_ITERATIONS} passes with new detections still "
                 "appearing", PsfkitWarning)
        return stage, counts

    def _warm_reach(self, setup):
        """
        How far (pixels, per axis) a change reaches into other fits; `None`
        when refits start afresh (the group fitters refit every group).
        """
        if setup.solver is not None:
            return None
        my, mx = self._model_shape()
        fy, fx = self.fitshape
        return (max(my, fy), max(mx, fx))

    def _min_separation(self):
        fwhm = model_fwhm(self.psf_model)
        return 0.5 * fwhm if fwhm else 1.0

    def _removal(self, sources):
        # in mode 'all' the all-star fit removes residual detections that
        # fit to no flux or onto another star as it goes (ALLSTAR's rule)
        if self.mode != "all" or not np.any(sources.iteration > 1):
            return {}
        return {"removable": sources.iteration > 1,
                "min_separation": self._min_separation(),
                "min_snr": MIN_SNR}

    def _held(self, setup, stage):
        """
        The sources whose fits stopped on the edge of their fit boxes,
        pulled by a star beyond: they get boxes centred on their fits (as
        ALLSTAR's fitting radius follows its star).  No source with the
        group fitters (which refit every group afresh), or with
        ``xy_bounds`` (which limit the moves from the first position).  A
        faint source on the edge is left there: no star pulls it.
        """
        n = len(stage.sources.ids)
        if self._warm_reach(setup) is None or setup.xy_bounds is not None:
            return np.zeros(n, dtype=bool)
        theta = stage.fits.theta
        flux = theta[:, setup.flux_col]
        with np.errstate(invalid="ignore"):
            return (on_box_edge(stage.sources.box_xy,
                                theta[:, [setup.x_col, setup.y_col]],
                                self.fitshape)
                    & (flux > 3.0 * stage.fits.unc[:, setup.flux_col]))

    def _tidy(self, prep, setup, stage, rejected, *, last=False):
        """
        Refit a stage of mode 'all' until it holds no duplicate (at most
        three refits), and, after the ``last`` pass, no fit held on the
        edge of its box (`_held`; earlier passes move those boxes at the
        next pass).

        A refit may move a residual detection onto a star it was not
        fitted with, or fit it to no flux: the earlier source is kept and
        the stage refitted without the later (its place joins
        ``rejected``, so that it is not found again).  Sources the
        all-star fit removed are dropped too; their neighbours were already
        refitted without them.
        """
        reach = self._warm_reach(setup)
        xy = [setup.x_col, setup.y_col]
        for _ in range(3):
            removed = stage.fits.removed
            if removed is None:
                removed = np.zeros(len(stage.sources.ids), dtype=bool)
            refit = converged_duplicates(stage, setup, self._min_separation(),
                                         exclude=removed)
            flux = stage.fits.theta[:, setup.flux_col]
            faint = flux <= 0
            if prep.has_error:
                unc = stage.fits.unc[:, setup.flux_col]
                with np.errstate(invalid="ignore"):
                    faint |= np.isfinite(unc) & (flux < MIN_SNR * unc)
            refit |= (stage.sources.iteration > 1) & faint & ~removed
            drop = refit | removed
            held = self._held(setup, stage) & ~drop
            if not drop.any() and not (last and held.any()):
                break
            rejected = np.concatenate([rejected,
                                       stage.sources.theta0[drop][:, xy]])
            changed = None
            if reach is not None:
                gone = np.where(np.isfinite(stage.fits.theta),
                                stage.fits.theta, stage.sources.start)
                changed = np.concatenate([stage.sources.box_xy[refit],
                                          gone[refit][:, xy]])
            stage = self._fit_stage(prep, setup, kept_sources(
                stage, ~drop, changed_xy=changed, reach=reach, recentre=held))
        return stage, rejected

    def _new_sources(self, prep, setup, stage, residual, rejected, *,
                     iteration):
        found = self._initial_sources(prep, setup, None, image=residual,
                                      iteration=iteration,
                                      first_id=int(stage.sources.ids.max()) + 1)
        if len(found.ids) == 0:
            return None
        min_sep = self._min_separation()
        old = stage.fits.theta[:, [setup.x_col, setup.y_col]]
        old = np.where(np.isfinite(old), old,
                       stage.sources.start[:, [setup.x_col, setup.y_col]])
        old = np.concatenate([old, rejected])
        new = found.start[:, [setup.x_col, setup.y_col]]
        dist, _ = cKDTree(old).query(new, k=1)
        keep = dist >= min_sep
        if not keep.any():
            return None
        first = int(stage.sources.ids.max()) + 1
        return Sources(ids=np.arange(first, first + keep.sum()),
                       theta0=found.theta0[keep], start=found.start[keep],
                       group_id=None, iteration=found.iteration[keep],
                       box_xy=found.box_xy[keep],
                       extra=take_columns(found.extra, keep))


class DAOPhotPSFPhotometry(IterativelySubtractedPSFPhotometry):
    """
    Iterative PSF photometry with DAOPHOT's finder, grouper and background.

    `IterativelySubtractedPSFPhotometry` with a
    `~psfkit.photometry.DAOStarFinder`, a `~psfkit.photometry.DAOGroup`
    and a `~psfkit.photometry.MMMBackground` built from the parameters.

    Parameters
    ----------
    crit_separation : float
        The grouping distance (pixels) of `~psfkit.photometry.DAOGroup`.
    threshold : float
        The detection threshold of `~psfkit.photometry.DAOStarFinder`.
    fwhm : float
        The FWHM (pixels) of the detection kernel.
    psf_model, fitshape
        As for `BasicPSFPhotometry`.
    sigma : float, optional
        The sigma-clipping threshold of the background estimator.
    ratio, theta, sigma_radius, sharplo, sharphi, roundlo, roundhi : float, optional
        Passed to `~psfkit.photometry.DAOStarFinder`.
    fitter, niters, aperture_radius, subshape, mode, progress_bar
        As for `IterativelySubtractedPSFPhotometry`.
    executor, extra_output_cols
        As for `IterativelySubtractedPSFPhotometry`.

    Notes
    -----
    ``crit_separation``, ``threshold`` and ``fwhm`` stay attributes of the
    object: setting one updates the grouper or the finder.

    Examples
    --------
    >>> from psfkit.photometry import DAOPhotPSFPhotometry, IntegratedGaussianPRF
    >>> phot = DAOPhotPSFPhotometry(8.0, 10.0, 4.7, IntegratedGaussianPRF(sigma=2.0),
    ...                             (11, 11))
    >>> phot.niters, type(phot.finder).__name__, type(phot.group_maker).__name__
    (3, 'DAOStarFinder', 'DAOGroup')
    """

    _repr_params = ("crit_separation", "threshold", "fwhm", "psf_model",
                    "fitshape", "sigma", "niters", "mode", "fitter",
                    "aperture_radius", "subshape", "progress_bar",
                    "executor", "extra_output_cols")

    def __init__(self, crit_separation, threshold, fwhm, psf_model, fitshape,
                 *, sigma=3.0, ratio=1.0, theta=0.0, sigma_radius=1.5,
                 sharplo=0.2, sharphi=1.0, roundlo=-1.0, roundhi=1.0,
                 fitter=None, niters=3, aperture_radius=None, subshape=None,
                 mode="all", progress_bar=False, extra_output_cols=None,
                 executor=None):
        from astropy.stats import SigmaClip

        from ..background.estimators import MMMBackground
        from ..detection.finders import DAOStarFinder
        from ..grouping.groupers import DAOGroup

        finder = DAOStarFinder(threshold=threshold, fwhm=fwhm, ratio=ratio,
                               theta=theta, sigma_radius=sigma_radius,
                               sharplo=sharplo, sharphi=sharphi,
                               roundlo=roundlo, roundhi=roundhi)
        super().__init__(DAOGroup(crit_separation),
                         MMMBackground(sigma_clip=SigmaClip(maxiters=10)),
                         psf_model, fitshape, finder=finder, niters=niters,
                         mode=mode, fitter=fitter,
                         aperture_radius=aperture_radius, subshape=subshape,
                         progress_bar=progress_bar,
                         extra_output_cols=extra_output_cols,
                         executor=executor)
        self.sigma = sigma

    @property
    def sigma(self):
        """The sigma-clipping threshold of the background estimator."""
        return self._sigma

    @sigma.setter
    def sigma(self, value):
        from astropy.stats import SigmaClip

        self._sigma = check_positive("sigma", value)
        # the estimator's clipping follows (a copy: the estimator may be
        # shared); one without sigma clipping is left as it is
        clip = getattr(self.bkg_estimator, "sigma_clip", None)
        if isinstance(clip, SigmaClip):
            estimator = copy.copy(self.bkg_estimator)
            estimator.sigma_clip = SigmaClip(sigma=self._sigma,
                                             maxiters=clip.maxiters)
            self.bkg_estimator = estimator

    @property
    def crit_separation(self):
        """The grouping distance (pixels) of the `DAOGroup`."""
        return self.group_maker.crit_separation

    @crit_separation.setter
    def crit_separation(self, value):
        self.group_maker.crit_separation = value

    @property
    def threshold(self):
        """The detection threshold of the `DAOStarFinder`."""
        return self.finder.threshold

    @threshold.setter
    def threshold(self, value):
        self.finder.threshold = value

    @property
    def fwhm(self):
        """The FWHM (pixels) of the `DAOStarFinder` kernel."""
        return self.finder.fwhm

    @fwhm.setter
    def fwhm(self, value):
        self.finder.fwhm = value
