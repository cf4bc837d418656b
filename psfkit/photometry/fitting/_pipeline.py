"""
The stages of a photometry run on plain arrays, shared by the classes.

`prepare` turns the user's image into the arrays the fit needs (data minus
background, usable-pixel mask, weights); `detect` and `group_sources` call
the user's finder and grouper; `build_table` writes the results.  The
photometry classes in `psfkit.photometry.fitting.psf_photometry` only sequence
these steps.
"""

from dataclasses import dataclass, replace
import inspect
import warnings

from astropy.table import MaskedColumn, QTable, vstack
import astropy.units as u
import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from ...utils import NoDetectionsWarning, coerce_data, pixel_to_sky
from ._couplings import close_pairs
from ._fit_boxes import nearest_pixel
from ._group_fit import SourceFits, render
from ._interop import call_grouper, celestial_wcs
from .flags import PSFFlags

__all__ = []

#: the parameters every PSF model has
CORE_PARAMS = ("x_0", "y_0", "flux")


@dataclass(frozen=True)
class Prepared:
    """The image as the fit uses it."""

    data: np.ndarray  # background-subtracted, masked pixels set to 0
    raw: np.ndarray  # the image as given (float)
    valid: np.ndarray
    weight: np.ndarray
    has_error: bool
    background: object
    unit: object
    wcs: object = None  # a celestial WCS of the image, or None


@dataclass(frozen=True)
class Sources:
    """
    Sources to fit: ids, reported initial values and starting points.

    ``box_xy`` is where each source's fit box is centred: its first
    position, kept while the source is refitted in later passes (so a
    settled fit stays the exact minimum of the same pixels).  ``settled``
    marks sources whose ``start`` is a converged fit with an unchanged
    neighbourhood, and ``prior`` holds their earlier fits.
    """

    ids: np.ndarray
    theta0: np.ndarray  # reported initial values (n, n_params)
    start: np.ndarray  # starting point of the next fit
    group_id: object  # given group ids or None
    iteration: np.ndarray
    box_xy: np.ndarray  # (n, 2) centre of each fit box
    settled: object = None  # bool (n,) or None
    prior: object = None  # SourceFits of the settled sources, or None
    extra: object = None  # QTable of columns copied to the output, or None


@dataclass(frozen=True)
class Renderer:
    """Draws the model image of fitted sources (picklable)."""

    model: object
    image_shape: tuple
    shape: tuple
    x_col: int
    y_col: int

    def __call__(self, theta):
        return render(self.model, theta, self.image_shape, self.shape,
                      x_col=self.x_col, y_col=self.y_col)


@dataclass
class Stage:
    """The sources of a pass, their groups and fits; renders its model."""

    sources: Sources
    group_id: np.ndarray
    fits: SourceFits
    render: Renderer
    _model: object = None

    def model_image(self):
        if self._model is None:
            self._model = self.render(self.fits.theta)
        return self._model


def prepare(image, mask, error, bkg_estimator):
    """Coerce the image, subtract the background, build the fit weights."""
    arr = coerce_data(image, name="image", mask=mask, error=error,
                      allow_all_masked=True)
    valid = ~arr.mask
    if arr.error is not None and np.any((arr.error <= 0) & valid):
        msg = "error must be positive on every unmasked pixel"
        raise ValueError(msg)
    bkg = estimate_background(bkg_estimator, arr, valid)
    if np.ndim(bkg):
        # pixels where the background map is undefined (a mesh with too few
        # sky pixels) cannot be fitted: they are left out like masked ones
        valid = valid & np.isfinite(bkg)
    # (masked pixels: weight and data 0; one pass each)
    if arr.error is not None:
        weight = np.zeros(valid.shape)
        np.divide(1.0, arr.error, out=weight, where=valid)
    else:
        weight = valid.astype(float)
    data = np.zeros(valid.shape)
    np.subtract(arr.data, bkg, out=data, where=valid)
    return Prepared(data=data, raw=arr.data, valid=valid, weight=weight,
                    has_error=arr.error is not None, background=bkg,
                    unit=arr.unit, wcs=celestial_wcs(arr.wcs))


def estimate_background(est, arr, valid):
    """A scalar or a map of the image shape from any supported estimator."""
    if est is None:
        return 0.0
    # a class (e.g. Background2D itself) is called, an instance is read
    out = None if isinstance(est, type) else getattr(est, "background", None)
    if out is None:
        if not callable(est):
            msg = ("bkg_estimator must be None, a callable or an object "
                   f"with a background map, got {est!r}")
            raise TypeError(msg)
        image = arr.data if arr.unit is None else arr.data * arr.unit
        try:
            out = est(np.ma.MaskedArray(image, mask=~valid))
        except TypeError as exc:
            msg = (f"bkg_estimator could not be called on the image ({exc}); "
                   "give a scalar estimator, a computed Background2D, or a "
                   "callable such as functools.partial(Background2D, "
                   "box_size=32)")
            raise TypeError(msg) from exc
        out = getattr(out, "background", out)
    if isinstance(out, u.Quantity):
        out = out.to_value(arr.unit) if arr.unit is not None else out.value
    out = np.ma.filled(np.ma.asarray(out, dtype=float), np.nan)
    if out.size == 1:
        value = float(out.ravel()[0])
        if not np.isfinite(value):
            msg = "bkg_estimator returned a non-finite background"
            raise ValueError(msg)
        return value
    if out.shape != arr.shape:
        msg = (f"bkg_estimator gave a background of shape {out.shape}; "
               f"expected a scalar or the image shape {arr.shape}")
        raise ValueError(msg)
    return np.array(out)


def detect(finder, image, prep):
    """Run the finder on ``image`` (NoDetectionsWarning silenced)."""
    data = image if prep.unit is None else image * prep.unit
    try:
        takes_mask = "mask" in inspect.signature(finder).parameters
    except (TypeError, ValueError):
        takes_mask = False
    with warnings.catch_warnings():
        # an empty detection is reported once, by the photometry itself
        warnings.simplefilter("ignore", NoDetectionsWarning)
        if takes_mask:
            return finder(data, mask=~prep.valid)
        return finder(data)


def group_sources(group_maker, setup, sources):
    """
    Group ids of the sources: given, from the grouper, or (no grouper)
    those whose fit boxes overlap together.
    """
    if sources.group_id is not None:
        return np.asarray(sources.group_id)
    if group_maker is None:
        return overlapping_boxes(sources.box_xy, setup.fitshape)
    # photutils 3.x groupers take positions, the seed's take a table
    start = sources.start
    return call_grouper(group_maker, start[:, setup.x_col],
                        start[:, setup.y_col], ids=sources.ids,
                        flux=start[:, setup.flux_col],
                        name="group_maker").astype(np.int64)


def overlapping_boxes(box_xy, fitshape):
    """
    Group ids (1, 2, ... in order of first source) joining sources whose
    fit boxes share a pixel, directly or through other sources.

    Without this, fitters that fit group by group would fit two guesses
    for one star (or two blended stars) each on its own, and both would
    claim all the light.
    """
    n = len(box_xy)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    # boxes are centred on pixels; those of shape (ny, nx) overlap when
    # their centres differ by less than nx and ny pixels
    centres = nearest_pixel(box_xy)
    scaled = centres / (np.array(fitshape[::-1], dtype=float) - 0.5)
    pairs = cKDTree(scaled).query_pairs(1.0, p=np.inf, output_type="ndarray")
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])),
                       shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    # renumber by first appearance
    _, first = np.unique(labels, return_index=True)
    order = np.empty(len(first), dtype=np.int64)
    order[np.argsort(first)] = np.arange(1, len(first) + 1)
    return order[labels]


def bounding_box_extent(psf_model):
    """
    The model's 2-D bounding box as ``((ylo, yhi), (xlo, xhi))`` floats, or
    `None` when it has none.
    """
    try:
        box = psf_model.bounding_box
        box = box.bounding_box() if hasattr(box, "bounding_box") else box
        (ylo, yhi), (xlo, xhi) = box
    except (NotImplementedError, TypeError, ValueError, AttributeError):
        # astropy raises NotImplementedError for models without a bounding
        # box; boxes that are not 2-D (or callables of other models) fail
        # the unpacking
        return None
    return (float(ylo), float(yhi)), (float(xlo), float(xhi))


def model_subshape(psf_model, fitshape):
    """The box for the model image: the bounding box, at least fitshape."""
    shape = fitshape
    box = bounding_box_extent(psf_model)
    if box is None:
        return shape
    (ylo, yhi), (xlo, xhi) = box
    half_y = int(np.ceil((yhi - ylo) / 2.0))
    half_x = int(np.ceil((xhi - xlo) / 2.0))
    if not (0 < half_y < 1000 and 0 < half_x < 1000):
        return shape
    return (max(shape[0], 2 * half_y + 1), max(shape[1], 2 * half_x + 1))


def build_table(prep, setup, stage, *, iterative, extra_cols=()):
    """
    The output table of a run (all columns, also when empty).

    ``extra_cols`` are columns of the finder's (or the initial guesses')
    table copied to the output, before ``flags``.
    """
    names = setup.param_names
    extras = [n for n in extra_names(setup) if not setup.model.fixed[n]]
    free = set(np.asarray(setup.free).tolist())
    # (column of theta, initial, fitted and uncertainty column names); the
    # centre and flux are named by their role, whatever the model calls them
    columns = [(setup.x_col, "x_0", "x_fit", "x_0_unc"),
               (setup.y_col, "y_0", "y_fit", "y_0_unc"),
               (setup.flux_col, "flux_0", "flux_fit", "flux_unc"),
               *[(names.index(p), f"{p}_0", f"{p}_fit", f"{p}_unc")
                 for p in extras]]
    if stage is None:
        npar = len(names)
        ids = np.zeros(0, dtype=np.int64)
        gid = iters = ids
        theta0 = theta = unc = np.zeros((0, npar))
        npix = masked = ids
        qfit = cfit = chi2 = np.zeros(0)
        flags = ids
    else:
        src, fits = stage.sources, stage.fits
        ids, gid, iters = src.ids, stage.group_id, src.iteration
        theta0, theta, unc = src.theta0, fits.theta, fits.unc
        npix, qfit, cfit, chi2 = fits.npix, fits.qfit, fits.cfit, fits.chi2
        masked = fits.n_masked
        flags = fits.flags
    unit = prep.unit

    def col(values, index):
        values = np.asarray(values, dtype=float)
        if unit is not None and index == setup.flux_col:
            return values * unit
        return values

    table = QTable()
    table["id"] = np.asarray(ids, dtype=np.int64)
    table["group_id"] = np.asarray(gid, dtype=np.int64)
    if iterative:
        table["iter_detected"] = np.asarray(iters, dtype=np.int64)
    for i, init, _, _ in columns:
        table[init] = col(theta0[:, i], i)
    for i, _, fit, _ in columns:
        table[fit] = col(theta[:, i], i)
    for i, _, _, err in columns:
        # fixed parameters have no uncertainty, hence no column
        if i in free:
            table[err] = col(unc[:, i], i)
    table["npix_fit"] = np.asarray(npix, dtype=np.int64)
    table["npix_masked"] = np.asarray(masked, dtype=np.int64)
    table["qfit"] = np.asarray(qfit, dtype=float)
    table["cfit"] = np.asarray(cfit, dtype=float)
    if prep.has_error:
        nfree = len(setup.free)
        with np.errstate(invalid="ignore", divide="ignore"):
            dof = np.asarray(npix, dtype=float) - nfree
            table["reduced_chi2"] = np.where(dof > 0, chi2 / dof, np.nan)
    copied = None if stage is None else stage.sources.extra
    taken = [name for name in extra_cols
             if name in table.colnames or name in ("flags", "sky_centroid")]
    if taken:
        msg = (f"extra_output_cols names columns of the results "
               f"({', '.join(taken)}): they would overwrite them; copy the "
               "guesses' columns under other names")
        raise ValueError(msg)
    for name in extra_cols:
        if copied is not None and name in copied.colnames:
            table[name] = copied[name]
        else:
            table[name] = MaskedColumn(np.zeros(len(table)),
                                       mask=np.ones(len(table), bool))
    table["flags"] = np.asarray(flags, dtype=np.int64)
    # quality measures are read, not used in sums: four digits suffice
    for name in ("qfit", "cfit", "reduced_chi2"):
        if name in table.colnames:
            table[name].info.format = ".4g"
    if prep.wcs is not None:
        table["sky_centroid"] = pixel_to_sky(prep.wcs, table["x_fit"],
                                             table["y_fit"])
    return table


def copied_columns(table, names):
    """
    The columns ``names`` of a finder's or user's table, to be copied to
    the output (a column the table lacks is fully masked); `None` when no
    column is asked for.
    """
    if not names:
        return None
    out = QTable()
    for name in names:
        if table is not None and name in table.colnames:
            out[name] = table[name]
        else:
            n = 0 if table is None else len(table)
            out[name] = MaskedColumn(np.zeros(n), mask=np.ones(n, bool))
    return out


def take_columns(extra, keep):
    """The rows ``keep`` of copied columns (`None` stays `None`)."""
    return None if extra is None else extra[keep]


def concat_columns(a, b):
    """Copied columns of two sets of sources, one after the other."""
    if a is None or b is None:
        return a if b is None else b
    return vstack([a, b], join_type="outer", metadata_conflicts="silent")


def kept_sources(stage, keep, *, changed_xy=None, reach=None, recentre=None):
    """
    The sources ``keep`` of a fitted stage, starting from their fits.

    With ``changed_xy`` (positions where sources were added or removed)
    the kept sources farther than ``reach`` (per axis, pixels) from all of
    them, and converged, are marked settled.  The sources ``recentre``
    (bool mask) get fit boxes centred on their fits, a change of their
    neighbourhoods.
    """
    src, fits = stage.sources, stage.fits
    fitted = fits.theta
    start = np.where(np.isfinite(fitted), fitted, src.start)
    box_xy = src.box_xy
    if recentre is not None and np.any(recentre & keep):
        moving = recentre & keep
        xy = fitted[:, [stage.render.x_col, stage.render.y_col]]
        box_xy = np.where(moving[:, None], xy, box_xy)
        moved = np.concatenate([src.box_xy[moving], xy[moving]])
        changed_xy = (moved if changed_xy is None
                      else np.concatenate([changed_xy, moved]))
    settled = prior = None
    if changed_xy is not None:
        settled = unchanged_neighbourhood(box_xy, changed_xy, reach)
        settled &= (fits.flags & PSFFlags.NOT_CONVERGED) == 0
        settled = settled[keep]
        prior = fits.subset(keep)
    return Sources(ids=src.ids[keep], theta0=src.theta0[keep],
                   start=start[keep], group_id=None,
                   iteration=src.iteration[keep], box_xy=box_xy[keep],
                   settled=settled, prior=prior,
                   extra=take_columns(src.extra, keep))


def on_box_edge(box_xy, xy, fitshape):
    """
    The sources whose positions ``xy`` lie on the edge of their fit boxes
    (centred on the pixels of ``box_xy``), where the fits bound them.
    """
    centre = nearest_pixel(box_xy)
    reach = np.array([fitshape[1] // 2, fitshape[0] // 2]) + 0.5 - 1e-9
    with np.errstate(invalid="ignore"):
        return np.any(np.abs(xy - centre) >= reach, axis=1)


def unchanged_neighbourhood(box_xy, changed_xy, reach):
    """
    Sources whose boxes lie at least ``reach`` pixels (on some axis) from
    every changed position: their models share no pixel with a change.
    """
    settled = np.ones(len(box_xy), dtype=bool)
    changed_xy = np.asarray(changed_xy, dtype=float).reshape(-1, 2)
    if len(changed_xy) == 0 or len(box_xy) == 0:
        return settled
    ry, rx = reach
    # boxes are centred on pixels: compare pixel centres, scaled so that
    # the per-axis reach becomes one Chebyshev radius
    scale = np.array([1.0 / rx, 1.0 / ry])
    mine = nearest_pixel(box_xy) * scale
    near = cKDTree(nearest_pixel(changed_xy) * scale).query_ball_point(
        mine, r=1.0 - 1e-9, p=np.inf, return_length=True)
    settled[near > 0] = False
    return settled


def merge_stages(stage, new, keep, *, reach=None, recentre=None):
    """
    Fitted sources ``keep`` (as starting points) plus new detections.

    With ``reach`` the kept sources whose neighbourhood neither gains a
    new source nor loses a dropped one are marked settled; ``recentre`` as
    for `kept_sources`.
    """
    changed = None
    if reach is not None:
        src = stage.sources
        gone = np.where(np.isfinite(stage.fits.theta), stage.fits.theta,
                        src.start)
        xy = [stage.render.x_col, stage.render.y_col]
        changed = np.concatenate([new.box_xy, src.box_xy[~keep],
                                  gone[~keep][:, xy]])
    old = kept_sources(stage, keep, changed_xy=changed, reach=reach,
                       recentre=recentre)
    settled = prior = None
    if old.settled is not None:
        settled = np.concatenate([old.settled, np.zeros(len(new.ids), bool)])
        prior = _concat_fits(old.prior, _empty_like(old.prior, len(new.ids)))
    return Sources(ids=np.concatenate([old.ids, new.ids]),
                   theta0=np.concatenate([old.theta0, new.theta0]),
                   start=np.concatenate([old.start, new.start]),
                   group_id=None,
                   iteration=np.concatenate([old.iteration, new.iteration]),
                   box_xy=np.concatenate([old.box_xy, new.box_xy]),
                   settled=settled, prior=prior,
                   extra=concat_columns(old.extra, new.extra))


def _empty_like(fits, n):
    return replace(fits, **{f: np.zeros((n,) + getattr(fits, f).shape[1:],
                                        dtype=getattr(fits, f).dtype)
                            for f in SourceFits.PER_SOURCE})


def _concat_fits(a, b):
    return replace(a, cluster=None, removed=None,
                   **{f: np.concatenate([getattr(a, f), getattr(b, f)])
                      for f in SourceFits.PER_SOURCE})


def converged_duplicates(stage, setup, min_sep, *, exclude=None):
    """
    Sources whose fits converged onto another source's star.

    Sources of different groups are fitted independently, so a spurious
    residual detection can move onto a star fitted in another group, and
    both then claim its light.  Of every pair of fitted centres closer than
    ``min_sep``, the later detection (then the larger id) is returned.
    Sources ``exclude`` (bool mask: already removed) pair with none.
    """
    xy = stage.fits.theta[:, [setup.x_col, setup.y_col]]
    usable = np.all(np.isfinite(xy), axis=1)
    if exclude is not None:
        usable &= ~exclude
    drop = np.zeros(len(xy), dtype=bool)
    a, b = close_pairs(xy, min_sep, usable).T
    it, ids = stage.sources.iteration, stage.sources.ids
    a_later = (it[a] > it[b]) | ((it[a] == it[b]) & (ids[a] > ids[b]))
    drop[np.where(a_later, a, b)] = True
    return drop


def _add_counts(a, b):
    """Two ``{size: count}`` tallies as one."""
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, 0) + v
    return dict(sorted(out.items()))


def stack_stages(old, new):
    """Two passes fitted on successive residuals, as one stage."""

    def cat(a, b):
        return np.concatenate([a, b])

    src = Sources(ids=cat(old.sources.ids, new.sources.ids),
                  theta0=cat(old.sources.theta0, new.sources.theta0),
                  start=cat(old.sources.start, new.sources.start),
                  group_id=None,
                  iteration=cat(old.sources.iteration, new.sources.iteration),
                  box_xy=cat(old.sources.box_xy, new.sources.box_xy),
                  extra=concat_columns(old.sources.extra, new.sources.extra))
    a, b = old.fits, new.fits
    fits = _concat_fits(a, b)
    # the groups and clusters of both passes (each pass fitted its own)
    fits = replace(fits, group_sizes=_add_counts(a.group_sizes, b.group_sizes),
                   cluster=None,
                   cluster_sizes=_add_counts(a.cluster_sizes, b.cluster_sizes))
    gid = cat(old.group_id, new.group_id + old.group_id.max())
    # the fits of each pass were made on the residual of the previous
    # ones, so the model of all of them is the sum of their models
    return Stage(sources=src, group_id=gid, fits=fits, render=old.render)


def extra_names(setup):
    """Model parameters other than position and flux."""
    main = (setup.x_col, setup.y_col, setup.flux_col)
    return [n for i, n in enumerate(setup.param_names) if i not in main]
