"""
`PSFPhotometryResult`: the immutable outcome of one photometry run.

The table is built at once; the model and residual images are rendered on
first access (a large image with many stars need not pay for them when
only the catalogue is wanted) and are read-only.  Results pickle, so
``run()`` can return them from worker processes.
"""

from dataclasses import dataclass, field
import functools

from astropy.table import QTable
import numpy as np

from ...utils import SummaryReprMixin, describe
from .flags import PSFFlags

__all__ = ["PSFPhotometryResult"]


class ReadOnlyDict(dict):
    """A dict that refuses changes (and, unlike a mappingproxy, pickles)."""

    def _read_only(self, *args, **kwargs):
        msg = "the diagnostics of a result are read-only"
        raise TypeError(msg)

    __setitem__ = __delitem__ = _read_only
    clear = pop = popitem = setdefault = update = _read_only

    def __reduce__(self):
        return (type(self), (dict(self),))


class LazyImages:
    """
    Renders the model and residual images of a run once, when asked.

    Parameters
    ----------
    raw : ndarray
        The image as given (float).
    background : float or ndarray
    unit : `~astropy.units.UnitBase` or None
    renderer : callable or None
        ``renderer(theta)`` draws the model image; `None` for no source.
    theta : ndarray or None
        The fitted parameters.
    model : ndarray, optional
        The model image, when it was rendered already.
    """

    def __init__(self, raw, background, unit, renderer, theta, model=None):
        self.raw, self.background, self.unit = raw, background, unit
        self.renderer, self.theta = renderer, theta
        self._model = model
        self._done = None

    def __call__(self):
        if self._done is None:
            if self._model is not None:
                model = np.array(self._model)
            elif self.renderer is None:
                model = np.zeros(self.raw.shape)
            else:
                model = np.array(self.renderer(self.theta))
            residual = self.raw - self.background - model
            for arr in (model, residual):
                arr.setflags(write=False)
            if self.unit is not None:
                model, residual = model * self.unit, residual * self.unit
            self._done = (model, residual)
        return self._done


@dataclass(frozen=True, repr=False)
class PSFPhotometryResult(SummaryReprMixin):
    """
    The immutable outcome of one photometry run.

    Attributes
    ----------
    table : `~astropy.table.QTable`
        One row per source (see `~psfkit.photometry.BasicPSFPhotometry`
        for the columns).
    background : float, `~numpy.ndarray` or `~astropy.units.Quantity`
        The subtracted background (scalar or map).
    diagnostics : mapping
        Read-only summary of the fit: ``n_sources``, ``n_groups``,
        ``group_sizes`` (size: count), ``fitter``, ``n_not_converged``,
        ``median_fit_iterations``, ``n_flagged``, ``iterations``,
        ``detections_per_iteration`` and, for the all-star fitter,
        ``n_clusters`` and ``largest_cluster`` (clusters of stars coupled
        strongly enough to be solved together).
    model_image : `~numpy.ndarray` or `~astropy.units.Quantity`
        The sum of the fitted PSFs (without background), each over its
        ``subshape`` box; computed on first access, read-only.
    residual_image : `~numpy.ndarray` or `~astropy.units.Quantity`
        ``image - background - model_image``; computed on first access,
        read-only.

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.table import QTable
    >>> from psfkit.photometry import BasicPSFPhotometry, IntegratedGaussianPRF
    >>> psf = IntegratedGaussianPRF(sigma=1.5)
    >>> yy, xx = np.mgrid[0:30, 0:40]
    >>> image = psf.evaluate(xx, yy, 800.0, 20.2, 14.7, 1.5)
    >>> phot = BasicPSFPhotometry(None, None, psf, 7)
    >>> phot.run(image, init_guesses=QTable({'x': [20.0], 'y': [15.0]}))
    PSFPhotometryResult(
        table=<QTable: 1 rows, 16 columns>,
        flags=none,
        background=0,
        image_shape=(30, 40),
        fitter=SparseLMFitter(maxiters=100, tol=1e-06, min_coupling=0.02),
        clusters=1 (largest: 1 stars),
        iterations=1,
    )
    """

    table: QTable
    background: object
    diagnostics: dict
    _images: object = field(default=None, repr=False, compare=False)

    @functools.cached_property
    def model_image(self):
        return self._images()[0]

    @functools.cached_property
    def residual_image(self):
        return self._images()[1]

    def _summary_items(self):
        flags = np.asarray(self.table["flags"], dtype=np.int64)
        counts = [f"{flag.name}: {int(np.count_nonzero(flags & flag))}"
                  for flag in PSFFlags if np.any(flags & flag)]
        diag = self.diagnostics
        items = [("table", describe(self.table)),
                 ("flags", "; ".join(counts) if counts else "none"),
                 ("background", describe(self.background)),
                 ("image_shape", describe(tuple(self._images.raw.shape))),
                 ("fitter", diag.get("fitter", "?"))]
        if "largest_cluster" in diag and diag["n_sources"]:
            items.append(("clusters", f"{diag['n_clusters']} (largest: "
                                      f"{diag['largest_cluster']} stars)"))
        items.append(("iterations", describe(diag.get("iterations", 0))))
        return items


def make_result(table, prep, stage, counts, fitter):
    """
    The `PSFPhotometryResult` of a run.

    Parameters
    ----------
    table : `~astropy.table.QTable`
    prep : the prepared image (data, background, unit)
    stage : the last fitted stage, or `None` without sources
    counts : sequence of int
        The sources found in each pass.
    fitter : the photometry object's fitter
    """
    from .fitters import BatchedLMFitter, SparseLMFitter

    unit = prep.unit
    if stage is None:
        images = LazyImages(prep.raw, prep.background, unit, None, None)
    else:
        # (the model image of the last pass may be rendered already)
        images = LazyImages(prep.raw, prep.background, unit, stage.render,
                            stage.fits.theta, model=stage._model)
    bkg = prep.background if unit is None else prep.background * unit
    flags = np.asarray(table["flags"])
    fits = None if stage is None else stage.fits
    diag = {
        "n_sources": len(table),
        "n_groups": 0 if stage is None else len(np.unique(stage.group_id)),
        "group_sizes": {} if fits is None else fits.group_sizes,
        "fitter": (repr(fitter)
                   if isinstance(fitter, SparseLMFitter | BatchedLMFitter)
                   else type(fitter).__name__),
        "n_not_converged": int(np.count_nonzero(flags
                                                & PSFFlags.NOT_CONVERGED)),
        "median_fit_iterations": (float(np.median(fits.niter))
                                  if fits is not None and len(fits.niter)
                                  else 0.0),
        "n_flagged": int(np.count_nonzero(flags)),
        "iterations": len(counts),
        "detections_per_iteration": tuple(counts),
    }
    if isinstance(fitter, SparseLMFitter):
        sizes = {} if fits is None else fits.cluster_sizes
        diag["n_clusters"] = int(sum(sizes.values()))
        diag["largest_cluster"] = max(sizes, default=0)
    return PSFPhotometryResult(table=table, background=bkg,
                               diagnostics=ReadOnlyDict(diag),
                               _images=images)
