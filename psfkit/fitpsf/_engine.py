"""
The region-by-region fitting engine behind every fitter.

For each region it asks the plug-ins for the bases and the optimisation
region, drops unusable pixels, solves for the coefficients and evaluates the
PSF.  Solvers that expose ``prepare`` (see `psfkit.fitpsf.fitpsfcoeff`) are
solved once per distinct (bases, optimisation region) pair, in the scaled
units of `psfkit.fitpsf._solve` so that no data scale overflows; the
solution is kept in the fitter's cache, and from the second image on it is
turned into an explicit ``(n_use, n_pix)`` operator, so later images cost
one gather and one matrix-vector product per region.
"""

from collections.abc import Sized

import numpy as np

from .._numerics.linalg import pow2
from ..utils import progress_bar as make_progress_bar
from ..utils import warn
from ..utils.threads import single_threaded_blas
from ._sectors import convention_of
from ._solve import ScaledSystem, solve_scaled, too_extreme
from .optregion import optmask_indices
from .utils import SkippedRegionWarning, base_indices, region_to_indices

__all__ = []


def _gather(base, rows, cols, n_bases):
    if cols.size == n_bases:
        return base[rows]
    return base[rows][:, cols]


def _solve_key(func, fitter, ind, opt):
    # a cheap summary of the optimisation region; the entry keeps the
    # region itself, compared on every hit, so summaries that collide
    # cannot mix up two regions (hashing every index cost more than a
    # region's solve)
    config = tuple(getattr(fitter, name, None)
                   for name in getattr(func, "config", ()))
    summary = (opt.size, int(opt[0]), int(opt[-1]), int(opt.sum())) \
        if opt.size else (0,)
    return ("solve", id(func), repr(config), ind.tobytes(), summary)


def _check_count(coeff, n):
    coeff = np.asarray(coeff, dtype=float).ravel()
    if coeff.shape != (n,):
        msg = f"fitpsfcoeff returned {coeff.size} coefficients for {n} bases"
        raise ValueError(msg)
    return coeff


def _region_psf(fitter, plugin, ind, opt, reg, img1d):
    """
    The fitted PSF on the pixels ``reg``.

    With a ``prepare``-able solver the PSF is ``(B[reg] @ w) * st``, where
    ``w`` are the coefficients for the image divided by its scale ``st``;
    evaluating it in that order keeps the coefficients representable even
    when bases and image differ by hundreds of orders of magnitude.
    """
    base = fitter.base1d
    n_bases = fitter.n_bases
    func = getattr(plugin, "__func__", plugin)
    prepare = getattr(func, "prepare", None)
    t = img1d[opt]
    if prepare is None:
        coeff = _check_count(plugin(t, _gather(base, opt, ind, n_bases)),
                             ind.size)
        return _gather(base, reg, ind, n_bases) @ coeff
    scaling = getattr(func, "scaling", None)
    refine = getattr(func, "refine", False)
    cache = fitter.cache
    key = _solve_key(func, fitter, ind, opt)
    entry = cache.get(key)
    if entry is not None and not np.array_equal(entry[4], opt):
        entry = None
    if entry is None:
        b = _gather(base, opt, ind, n_bases)
        if scaling is None:
            system = None
            op, offset = prepare(fitter, b.T @ b, opt.size)
            coeff = op @ (b.T @ t)
            if refine:
                coeff = refine_solution(op, b, t, coeff)
            w, st = (coeff if offset is None else coeff + offset), 1.0
        else:
            system = ScaledSystem(b, scaling)
            op, offset = prepare(fitter, system.gram, opt.size)
            w, st = solve_scaled(system, op, offset, t, refine=refine)
        cache[key] = [op, offset,
                      None if system is None else system.detached(), None, opt]
    else:
        op, offset, system, full, _ = entry
        if full is None:
            full = _operator(fitter, op, offset, system, opt, ind, refine)
            entry[3] = full
        matrix, w0 = full
        st = 1.0
        if system is not None and system.scaling == "common":
            st = system.image_scale(t)
            w = matrix @ (t / st)
        else:
            with np.errstate(over="ignore", under="ignore", invalid="ignore"):
                w = matrix @ t
            if system is not None and too_extreme(w, t):
                st = float(pow2(np.max(np.abs(t), initial=0.0)))
                w = matrix @ (t / st)
        if w0 is not None:
            w = w + w0
    return (_gather(base, reg, ind, n_bases) @ w) * st


def _operator(fitter, op, offset, system, opt, ind, refine):
    """The explicit ``(n_use, n_pix)`` map from image values to ``w``."""
    if system is None:
        b = _gather(fitter.base1d, opt, ind, fitter.n_bases)
        full = op @ b.T
        if refine:
            full = refine_pseudo_inverse(full, b)
        return full, offset
    system = system.attached(_gather(fitter.base1d, opt, ind, fitter.n_bases))
    full = system.pseudo_inverse(op)
    if refine:
        # one Newton-Schulz step X <- 2X - X bs X towards pinv(bs)
        xb = system.times_bases(full)
        full = 2.0 * full - xb @ full
    scale = system.scale
    return full / scale[:, None], None if offset is None else offset / scale


def refine_solution(gram_pinv, base, t, coeff):
    """
    One step of iterative refinement of a normal-equations solution.

    Forming ``B.T @ B`` squares the condition number; one correction
    computed from the residual in the data space brings the coefficients
    to the accuracy of an orthogonal (QR/SVD) least-squares solver.
    """
    return coeff + gram_pinv @ (base.T @ (t - base @ coeff))


def refine_pseudo_inverse(pinv, base):
    """One Newton-Schulz step ``X <- 2X - X B X`` towards ``pinv(B)``."""
    return 2.0 * pinv - (pinv @ base) @ pinv


def fit_regions(fitter, *, progress_bar=False):
    """
    Fit with BLAS single-threaded; see `_fit_regions`.
    """
    with single_threaded_blas():
        return _fit_regions(fitter, progress_bar=progress_bar)


def _fit_regions(fitter, *, progress_bar=False):
    """
    Fit the PSF of ``fitter``'s current image region by region.

    ``progress_bar`` shows a bar over the regions, advanced as each is
    done (skipped ones too); its total is known when the regions plug-in
    returns a sequence, as the built-in ones do except ``pixel_by_pixel``
    (a generator's regions are counted without a total).

    Returns
    -------
    psf : `~numpy.ndarray`
        Flat PSF, zero where nothing was fitted.
    fitted : `~numpy.ndarray` of bool
        Flat mask of the pixels whose PSF was fitted.
    """
    shape = fitter.image_shape
    npix = int(np.prod(shape))
    n_bases = fitter.n_bases
    img1d = fitter.image1d
    imask = fitter.image_mask1d
    if not imask.any():
        imask = None
    bmask = fitter.base_mask1d
    # pixels that drive no fit (the user's optmask)
    left_out = optmask_indices(fitter)
    psf = np.zeros(npix)
    fitted = np.zeros(npix, dtype=bool)
    min_pix = getattr(fitter, "min_opt_pixels", None)
    # psfsubtraction fits a region only with more pixels than coefficients
    extra = 1 if convention_of(fitter) == "psfsubtraction" else 0
    plugin = fitter.fitpsfcoeff
    n_regions = 0
    skipped = []
    regions = fitter.regions()
    total = len(regions) if isinstance(regions, Sized) else None
    with make_progress_bar(regions, enabled=progress_bar, total=total,
                           desc="PSF regions", unit="region") as bar:
        for region in bar:
            reg = region_to_indices(region, shape, name="region")
            if reg.size == 0 or (imask is not None and imask[reg].all()):
                # nothing to fit here: the residual is masked anyway
                continue
            n_regions += 1
            ind = base_indices(fitter.findbase(reg), n_bases,
                               name="findbase result")
            if ind.size == 0:
                skipped.append(reg.size)
                continue
            opt = region_to_indices(fitter.optregion(reg, ind), shape,
                                    name="optregion")
            if imask is not None:
                opt = opt[~imask[opt]]
            if left_out is not None:
                opt = opt[~left_out[opt]]
            if bmask is not None:
                opt = opt[~bmask[opt][:, ind].any(axis=1)]
            need = ind.size + extra if min_pix is None else max(int(min_pix), 1)
            if opt.size < need:
                skipped.append(reg.size)
                continue
            psf[reg] = _region_psf(fitter, plugin, ind, opt, reg, img1d)
            if bmask is None:
                fitted[reg] = True
            else:
                fitted[reg] = ~bmask[reg][:, ind].any(axis=1)
    if skipped and getattr(fitter, "warn_skipped", True):
        msg = (f"{len(skipped)} of {n_regions} regions ({sum(skipped)} "
               "pixels) had too few usable pixels or bases and were not "
               "fitted; they are masked in the result")
        warn(msg, SkippedRegionWarning)
    return psf, fitted
