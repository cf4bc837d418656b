"""
Empirical PSFs built from the stars of an image.

`extract_stars` cuts the stars out of a background-subtracted image and
`EPSFBuilder` combines them into an oversampled effective PSF (ePSF) in the
manner of Anderson & King (2000): each iteration stacks the residuals of
all the flux-normalised star pixels onto the oversampled grid, adds them to
the ePSF and smooths it, recentres and renormalises the ePSF, and refits the
centre and flux of every star with it, until the centres stop moving.
"""


from dataclasses import dataclass, field

from astropy.stats import SigmaClip
import numpy as np

from ...utils import (
    ParamReprMixin,
    SummaryReprMixin,
    as_pair,
    check_integer,
    check_positive,
    warn,
)
from ..models._interpolation import spline_coefficients
from ..models._profiles import integrated_gaussian
from ..models.image_models import ImagePSF
from ._fit import fit_boxes, fit_stars, refit_stars, star_pixels
from ._stacking import (
    ResidualStack,
    recenter,
    resolve_smoothing_kernel,
    smooth,
)
from .fitter import (
    EPSFFitter,
    check_fitter_kwargs,
    check_star_fitter,
    fit_half,
)
from .stars import EPSFStar, EPSFStars, StarExcludedWarning, link_centers

__all__ = ["EPSFBuilder", "EPSFBuildResult"]

# stacking passes per build iteration, and the relative ePSF change that
# ends them early
_STACK_PASSES = 8
_STACK_TOL = 1e-4
# clipping iterations of each grid cell's residuals (photutils' default)
_CLIP_MAXITERS = 10


class _GaussianStackModel:
    """Integrated Gaussian ``(flux, x_0, y_0, sigma)`` for `fit_stars`."""

    @staticmethod
    def evaluate_stack(x, y, params, *, jacobian=False):
        cols = [params[:, i:i + 1] for i in range(4)]
        values, derivs = integrated_gaussian(x, y, *cols, jacobian=jacobian)
        if not jacobian:
            return values
        return values, np.stack(derivs, axis=-1)


def _initial_centers(pixels, offsets, shapes, centers, fluxes, half):
    """
    Refine the catalogue centres with a Gaussian fit to each star.

    Errors in the starting centres that differ between stars are averaged
    per pixel phase into the first ePSF, where the centre/ePSF degeneracy
    lets them decay only slowly; a symmetric model fit makes them small
    from the start.
    """
    x, y, data, weight = fit_boxes(pixels, offsets, shapes, centers, half)
    half_xy = np.asarray(half, dtype=float)[::-1]
    peak = np.max(np.where(weight > 0, data, -np.inf), axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        sigma = np.sqrt(fluxes / (2 * np.pi * peak))
    sigma = np.where(np.isfinite(sigma),
                     np.clip(sigma, 0.5, 2.0 * half_xy.max()), 1.0)
    start = np.column_stack([fluxes, centers, sigma])
    fitted, ok = fit_stars(_GaussianStackModel, x, y, data, weight, start)
    ok &= np.all(np.abs(fitted[:, 1:3] - centers) < half_xy, axis=1)
    ok &= (fitted[:, 0] > 0) & (fitted[:, 3] > 0)
    return np.where(ok[:, None], fitted[:, 1:3], centers)


def _is_epsf_fitter(fitter):
    """Whether ``fitter`` is an `EPSFFitter` (psfkit's or photutils')."""
    return isinstance(fitter, EPSFFitter) or (
        type(fitter).__name__ == "EPSFFitter"
        and all(hasattr(fitter, a)
                for a in ("fitter", "fit_boxsize", "fitter_kwargs")))


def _resolve_clip(sigma_clip):
    """The ``sigma_clip`` option and its form for `ResidualStack`."""
    if sigma_clip is None:
        return None, None
    if isinstance(sigma_clip, SigmaClip):
        lower = check_positive("sigma_clip.sigma_lower",
                               sigma_clip.sigma_lower)
        upper = check_positive("sigma_clip.sigma_upper",
                               sigma_clip.sigma_upper)
        # (astropy keeps maxiters=None, clipping to convergence, as inf)
        maxiters = (_CLIP_MAXITERS if sigma_clip.maxiters is None
                    or not np.isfinite(sigma_clip.maxiters)
                    else max(int(sigma_clip.maxiters), 1))
        return sigma_clip, (lower, upper, maxiters)
    sigma = check_positive("sigma_clip", sigma_clip)
    return sigma, (sigma, sigma, _CLIP_MAXITERS)


@dataclass(frozen=True, repr=False)
class EPSFBuildResult(SummaryReprMixin):
    """
    The result of `EPSFBuilder` (photutils 3.x's class).

    It unpacks as ``epsf, fitted_stars = result``, so code written for the
    seed's pair keeps working.

    Attributes
    ----------
    epsf : `~psfkit.photometry.ImagePSF`
        The ePSF, normalised to unit flux.
    fitted_stars : `EPSFStars`
        The stars used, with their fitted centres and fluxes (linked
        stars stay linked, their cutouts at one sky position).
    iterations : int
        The build iterations run.
    converged : bool
        Whether the star centres stopped moving (``center_accuracy``).
    final_center_accuracy : float
        The largest centre change of the last iteration (pixels).
    n_excluded_stars : int
        The cutouts dropped because their fit failed.
    excluded_star_indices : list of int
        Their indices in the input stars' ``all_stars`` (the input's own
        order unless it holds linked stars).
    center_shifts : list of float
        The largest centre change of every iteration.
    """

    epsf: object
    fitted_stars: object
    iterations: int
    converged: bool
    final_center_accuracy: float
    n_excluded_stars: int
    excluded_star_indices: list = field(default_factory=list)
    center_shifts: list = field(default_factory=list)

    def __iter__(self):
        return iter((self.epsf, self.fitted_stars))

    def __getitem__(self, index):
        return (self.epsf, self.fitted_stars)[index]

    def __len__(self):
        return 2

    def _summary_items(self):
        return [("epsf", f"<ImagePSF {self.epsf.data.shape}, oversampling "
                         f"{self.epsf.oversampling}>"),
                ("fitted_stars", f"<{len(self.fitted_stars)} stars>"),
                ("iterations", str(self.iterations)),
                ("converged", str(self.converged)),
                ("final_center_accuracy", f"{self.final_center_accuracy:.3g}"),
                ("n_excluded_stars", str(self.n_excluded_stars))]


class EPSFBuilder(ParamReprMixin):
    """
    Build an effective PSF (ePSF) from star cutouts (Anderson & King 2000).

    Parameters
    ----------
    oversampling : int or tuple of two int, optional
        The ePSF oversampling factor, or ``(y, x)`` factors.
    maxiters : int, optional
        The maximum number of build iterations.
    recentering_maxiters : int, optional
        The maximum number of centroid iterations when recentring the ePSF
        in each build iteration.
    smoothing_kernel : {'quartic', 'quadratic'}, 2-D array or None, optional
        The kernel that smooths the ePSF after each stacking pass: the 5x5
        least-squares polynomial smoother of degree 4 or 2, a user array
        (odd sizes), or `None` for no smoothing.
    progress_bar : bool, optional
        Show a progress bar over the iterations (needs ``tqdm``).
    shape : int or tuple of two int, optional
        The ePSF grid shape; by default ``oversampling * cutout size + 1``
        (made odd), covering the largest cutout.
    fit_boxsize : int, optional
        The odd size (detector pixels) of the box around each star used to
        fit its centre and flux, and of the box in which the ePSF centroid
        is measured.
    center_accuracy : float, optional
        Convergence: the build stops when no star centre moves by more than
        this (pixels) between iterations.
    sigma_clip : float, `~astropy.stats.SigmaClip` or None, optional
        The residuals falling in one grid cell are averaged after those
        farther than this many standard deviations from the cell's median
        are rejected.  The standard deviation expected of each residual is
        measured robustly over all the cells at the same distance from the
        centre and scaled by its star's noise level, so that a neighbour's
        light is rejected even in cells of a few residuals, and a faint
        star's pixels are not rejected for their own noise.  A
        ``SigmaClip`` gives its ``sigma_lower``, ``sigma_upper`` and
        ``maxiters``; `None` gives the plain mean.
    fit_shape : int, optional
        photutils 3.x's name of ``fit_boxsize``.
    recentering_boxsize : int or tuple of two int, optional
        The odd box (detector pixels) in which the ePSF centroid is
        measured; ``fit_boxsize`` by default.
    fitter_maxiters : int, optional
        The iteration limit of the star fits (psfkit's batched
        Levenberg-Marquardt fit; its own default when `None`).
    fitter : None, astropy fitter or `EPSFFitter`, optional
        How the stars are fitted: `None` for psfkit's batched solver (all
        stars at once), an astropy fitter instance (star by star), or an
        `EPSFFitter` (psfkit's or photutils'), which also sets the fit
        box.
    recentering_func : callable, optional
        The centroid of the ePSF, called as ``recentering_func(box)`` on
        the oversampled ePSF in the recentring box and returning its
        ``(x, y)`` in box pixels (photutils' ``centroid_com``,
        ``centroid_quadratic``...); `None`: the centre of mass, which is
        what photutils' default ``centroid_com`` measures.

    Notes
    -----
    Before the first iteration the catalogue centres are refined by an
    integrated-Gaussian fit.  Each iteration then (1) evaluates the current
    ePSF at every star pixel, relative to the star centre, and subtracts it
    from the flux-normalised pixel value; (2) assigns each residual to the
    nearest point of the oversampled grid and takes, per grid point, the
    mean of the residuals that lie within ``sigma_clip`` standard
    deviations of their median (all stars and pixels at once; the standard
    deviation expected of each residual from its distance to the centre
    and its star's noise); grid points that fewer than a quarter of the
    typical number of residuals reach (the grid's edges) are left as they
    are, since a lone residual cannot be checked against others; (3) adds
    that mean to the ePSF and smooths the sum, repeating (1)-(3) with the
    star centres held until the ePSF settles;
    (4) shifts the ePSF so that its centroid is the grid centre and
    normalises it so that ``data.sum() / oversampling**2 == 1``; (5) refits
    every star's centre and flux with the new ePSF (a batched
    Levenberg-Marquardt on the fit boxes).  Masked cutout pixels take part
    in no step.  Stars whose fit fails or leaves the cutout are dropped
    with a `StarExcludedWarning`.

    References
    ----------
    Anderson, J., & King, I. R. 2000, PASP, 112, 1360

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.table import QTable
    >>> from psfkit.photometry import (EPSFBuilder, IntegratedGaussianPRF,
    ...                                extract_stars)
    >>> rng = np.random.default_rng(0)
    >>> yy, xx = np.mgrid[0:200, 0:200]
    >>> cx = np.repeat(np.arange(20, 200, 20), 9) + rng.uniform(-.5, .5, 81)
    >>> cy = np.tile(np.arange(20, 200, 20), 9) + rng.uniform(-.5, .5, 81)
    >>> image = np.zeros((200, 200))
    >>> for x0, y0 in zip(cx, cy):
    ...     image += IntegratedGaussianPRF(sigma=1.5, x_0=x0, y_0=y0,
    ...                                    flux=1e4)(xx, yy)
    >>> stars = extract_stars(image, QTable({'x': cx, 'y': cy}), size=15)
    >>> result = EPSFBuilder(oversampling=2, maxiters=5)(stars)
    >>> result.converged, result.n_excluded_stars
    (True, 0)
    >>> epsf, fitted = result
    >>> epsf.data.shape
    (31, 31)
    >>> bool(np.abs(fitted.center_flat - np.column_stack([cx, cy])).max() < 0.01)
    True
    """

    _repr_params = ("oversampling", "shape", "smoothing_kernel", "sigma_clip",
                    "recentering_func", "recentering_boxsize",
                    "recentering_maxiters",
                    "center_accuracy", "fit_boxsize", "fitter",
                    "fitter_maxiters",
                    "maxiters", "progress_bar")
    _repr_changed_only = True

    def __init__(self, *, oversampling=4, maxiters=10, recentering_maxiters=20,
                 smoothing_kernel="quartic", progress_bar=False, shape=None,
                 fit_boxsize=5, center_accuracy=1e-3, sigma_clip=4.0,
                 fit_shape=None, recentering_boxsize=None, fitter_maxiters=None,
                 fitter=None, recentering_func=None):
        self.oversampling = as_pair("oversampling", oversampling,
                                    lower_bound=(1, True))
        self.maxiters = check_integer("maxiters", maxiters, minimum=1)
        self.recentering_maxiters = check_integer(
            "recentering_maxiters", recentering_maxiters, minimum=1)
        self.smoothing_kernel = smoothing_kernel
        self._kernel = resolve_smoothing_kernel(smoothing_kernel)
        self.progress_bar = bool(progress_bar)
        self.shape = (None if shape is None
                      else as_pair("shape", shape, check_odd=True))
        self.fitter = fitter
        self.fit_boxsize, self._fit_box = self._resolve_fit_box(
            fitter, fit_boxsize, fit_shape)
        self.recentering_boxsize = (
            None if recentering_boxsize is None
            else as_pair("recentering_boxsize", recentering_boxsize,
                         check_odd=True))
        self.fitter_maxiters = check_integer("fitter_maxiters",
                                             fitter_maxiters, minimum=1,
                                             allow_none=True)
        self._star_fitter, self._fit_options = self._resolve_fitter(
            fitter, self.fitter_maxiters)
        self.center_accuracy = check_positive("center_accuracy",
                                              center_accuracy)
        self.sigma_clip, self._clip = _resolve_clip(sigma_clip)
        if recentering_func is not None and not callable(recentering_func):
            msg = ("recentering_func must be a centroid function "
                   "(f(data) -> (x, y)) or None, got "
                   f"{type(recentering_func).__name__}")
            raise TypeError(msg)
        self.recentering_func = recentering_func

    def __call__(self, stars):
        """Build the ePSF; see `build_epsf`."""
        return self.build_epsf(stars)

    @property
    def fit_shape(self):
        """The fit box ``(ny, nx)`` (photutils 3.x's name), `None` for the
        whole cutout."""
        return self._fit_box

    @staticmethod
    def _resolve_fit_box(fitter, fit_boxsize, fit_shape):
        """
        ``fit_boxsize`` as shown (an int for a square box) and the box
        ``(ny, nx)`` used (`None`: the whole cutout), from the builder's
        two names for it or an `EPSFFitter`'s.
        """
        if fit_shape is not None:
            if fit_boxsize != 5:
                msg = ("fit_boxsize and fit_shape are two names for the same "
                       "box; give only one of them")
                raise TypeError(msg)
            fit_boxsize = fit_shape
        if _is_epsf_fitter(fitter):
            if fit_shape is not None or fit_boxsize != 5:
                msg = ("the fit box comes from the EPSFFitter given as "
                       "fitter (its fit_boxsize); do not give fit_boxsize "
                       "or fit_shape too")
                raise TypeError(msg)
            fit_boxsize = fitter.fit_boxsize
        if fit_boxsize is None:
            return None, None
        box = as_pair("fit_boxsize", fit_boxsize, lower_bound=(3, True),
                      check_odd=True)
        return (box[0] if box[0] == box[1] else box), box

    @staticmethod
    def _resolve_fitter(fitter, fitter_maxiters):
        """The astropy fitter of the star fits (`None`: psfkit's batched
        solver) and its keyword arguments."""
        if _is_epsf_fitter(fitter):
            star_fitter = check_star_fitter(fitter.fitter)
            options = check_fitter_kwargs(star_fitter,
                                          dict(fitter.fitter_kwargs))
            if fitter_maxiters is not None:
                if "maxiter" in options:
                    msg = ("fitter_maxiters and the EPSFFitter's maxiter "
                           "both set the iteration limit; give only one")
                    raise TypeError(msg)
                options["maxiter"] = fitter_maxiters
            return star_fitter, options
        star_fitter = check_star_fitter(fitter)
        options = ({} if fitter_maxiters is None
                   else {"maxiter": fitter_maxiters})
        return star_fitter, options

    def _recentering_half(self):
        """
        The ``(y, x)`` half-sizes, in oversampled grid pixels, of the box
        in which the ePSF centroid is measured: ``recentering_boxsize``
        detector pixels (the fit box, or 5, by default) on each axis.
        """
        box = self.recentering_boxsize
        if box is None:
            box = (5, 5) if self._fit_box is None else self._fit_box
        osy, osx = self.oversampling
        return ((box[0] // 2) * osy, (box[1] // 2) * osx)

    def _grid_shape(self, stars):
        if self.shape is not None:
            return self.shape
        size = np.max([s.shape for s in stars], axis=0)
        shape = np.asarray(self.oversampling) * size + 1
        return tuple(int(n + 1 - n % 2) for n in shape)

    def _iterations(self):
        steps = range(self.maxiters)
        if not self.progress_bar:
            return steps
        try:
            from tqdm.auto import tqdm
        except ImportError:
            msg = "progress_bar=True needs the tqdm package"
            raise ImportError(msg) from None
        return tqdm(steps, desc="EPSFBuilder")

    def build_epsf(self, stars):
        """
        Build the ePSF from the stars.

        Parameters
        ----------
        stars : `EPSFStars` or list of `EPSFStar`
            The star cutouts (from `extract_stars`).

        Returns
        -------
        result : `EPSFBuildResult`
            The ePSF (normalised to unit flux, with this builder's
            oversampling) and the stars used, with their fitted centres and
            fluxes; it unpacks as ``epsf, fitted_stars``.  The stars'
            ``meta`` also holds ``n_iterations``, ``converged`` and
            ``center_shifts``.

        Warns
        -----
        StarExcludedWarning
            For stars dropped because their fit failed.
        """
        if isinstance(stars, EPSFStar):
            stars = [stars]
        stars = stars if isinstance(stars, EPSFStars) else EPSFStars(stars)
        if len(stars) == 0:
            msg = "stars is empty: at least one star is needed"
            raise ValueError(msg)
        # every cutout is fitted; those of one linked star are then moved
        # to their mean sky position
        flat = stars.all_stars
        links = stars._links()
        shape = self._grid_shape(flat)
        origin = ((shape[1] - 1) / 2.0, (shape[0] - 1) / 2.0)
        osy, osx = self.oversampling
        pixels, offsets, shapes = star_pixels(flat)
        centers = np.array([s.cutout_center for s in flat], dtype=float)
        fluxes = np.array([s.flux for s in flat], dtype=float)
        use = np.isfinite(fluxes) & (fluxes > 0)
        half = fit_half(self._fit_box, shapes)
        centers[use] = _initial_centers(pixels, offsets[use], shapes[use],
                                        centers[use], fluxes[use], half)
        centers = link_centers(flat, centers, np.where(use, links, -1))
        epsf = np.zeros(shape)
        coef = None
        shifts = []
        converged = False
        for _ in self._iterations():
            if not np.any(use):
                break
            # with the star centres held, the stacked ePSF converges in a
            # few passes; the star/ePSF degeneracy is then broken early
            stack = ResidualStack(shape, origin, self.oversampling, pixels,
                                  centers, fluxes, use, clip=self._clip)
            for _ in range(_STACK_PASSES):
                mean, _count = stack(coef)
                new = smooth(epsf + mean, self._kernel)
                change = np.abs(new - epsf).max()
                epsf = new
                coef = spline_coefficients(epsf)
                if change <= _STACK_TOL * np.abs(epsf).max():
                    break
            epsf, _shift = recenter(epsf, origin, self._recentering_half(),
                                    maxiters=self.recentering_maxiters,
                                    centroid=self.recentering_func)
            total = epsf.sum()
            if not total > 0:
                msg = ("the ePSF has no positive flux: check that the "
                       "cutouts are background subtracted and hold stars")
                raise ValueError(msg)
            epsf *= osx * osy / total
            coef = spline_coefficients(epsf)
            model = ImagePSF(epsf, oversampling=self.oversampling,
                             origin=origin, normalize=False)
            idx = np.flatnonzero(use)
            fitted, ok = refit_stars(model, pixels, offsets[idx],
                                     shapes[idx], centers[idx], fluxes[idx],
                                     half, fitter=self._star_fitter,
                                     options=self._fit_options)
            use[idx[~ok]] = False
            good = idx[ok]
            before = centers[good]
            centers[good] = fitted[ok, 1:]
            fluxes[good] = fitted[ok, 0]
            centers = link_centers(flat, centers, np.where(use, links, -1))
            moved = np.hypot(*(centers[good] - before).T)
            shifts.append(float(moved.max()) if moved.size else 0.0)
            if moved.size and shifts[-1] < self.center_accuracy:
                converged = True
                break
        if not np.any(use):
            msg = "no star could be fitted: the ePSF cannot be built"
            raise ValueError(msg)
        if not np.all(use):
            ids = [str(flat[i].id_label) for i in np.flatnonzero(~use)]
            warn(f"{len(ids)} star(s) were excluded: no positive flux, "
                          f"or their fit failed (ids: {', '.join(ids[:10])})",
                          StarExcludedWarning)
        epsf_model = ImagePSF(epsf, oversampling=self.oversampling,
                              origin=origin, normalize=True)
        fitted_stars = stars._rebuild([
            star.with_fit(centers[i], fluxes[i]) if use[i] else None
            for i, star in enumerate(flat)])
        fitted_stars.meta.update(n_iterations=len(shifts), converged=converged,
                                 center_shifts=shifts)
        excluded = [int(i) for i in np.flatnonzero(~use)]
        return EPSFBuildResult(
            epsf=epsf_model, fitted_stars=fitted_stars, iterations=len(shifts),
            converged=converged,
            final_center_accuracy=shifts[-1] if shifts else float("nan"),
            n_excluded_stars=len(excluded), excluded_star_indices=excluded,
            center_shifts=shifts)
