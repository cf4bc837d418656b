"""
Match an image to a target PSF model (``ModelPsfMatch``).

Where `~psfkit.diffim.ImagePsfMatch` learns the kernel from stars seen in two
images, `ModelPsfMatch` learns it from two PSF *models*: the PSF of the image
and the PSF it should have.  Both are realised at the centre of every
spatial cell (on the cell grid grown by one cell on each side, so the
spatial polynomial is anchored beyond the image edges), each pair becomes a
`~psfkit.diffim.KernelCandidate` of variance 1 with nothing masked, and the
usual solve runs with every clipping step off (a model pair cannot be an
outlier).  The main use is to bring exposures with different PSFs to one
common PSF before coadding them.

The PSF images are fixed-size, and convolving them with the basis loses a
border of ``kernel_size // 2`` pixels, so a kernel much larger than half the
PSF image is poorly constrained: its solution becomes noisy.  Too small a
kernel cannot reach the PSF wings and the matched stars look boxy.  By
default the kernel size and basis are chosen from the PSFs' encircled
energy and checked on a few PSF pairs (`~psfkit.diffim.KernelChoice`
reports the choice); a `PsfMismatchWarning` says when the target cannot be
reached with the largest kernel allowed.
"""

from dataclasses import dataclass, replace
import time

from astropy.modeling import Model
from astropy.nddata import NDData, VarianceUncertainty
import numpy as np

from ..utils import (
    PsfkitWarning,
    SummaryReprMixin,
    check_in,
    check_integer,
    check_positive,
    coerce_data,
    copy_meta,
    describe,
    executor_threads,
    warn,
)
from ._images import (
    apply_kernel,
    check_image_size,
    grown_mask,
    load_image,
    variance_of,
)
from .basis import alard_lupton_basis, make_kernel_basis
from .candidates import KernelCandidate, SpatialCellSet
from .config import PsfMatchConfig
from .kernel_choice import (
    STAMP_ENERGY,
    KernelChoice,
    choose_kernel,
    encircled_radius,
    odd_at_least,
    pad_to,
    psf_residual,
    stamp_size_for,
)
from .solve import solve_matching_kernel

__all__ = ["KernelSizeWarning", "PsfMismatchWarning", "ModelPsfMatch",
           "ModelMatchResult", "KernelChoice", "realize_psf"]

#: PSF images are padded to at least this many times the kernel size.
PAD_FACTOR = 1.4
#: Kernels larger than this many times ``psf_size // 2`` trigger the check.
MAX_KERNEL_RATIO = 1.5


class KernelSizeWarning(PsfkitWarning):
    """The matching kernel is too large for the PSF images."""


class PsfMismatchWarning(PsfkitWarning):
    """The matched PSF misses the target by more than the tolerance."""


@dataclass(frozen=True, repr=False)
class ModelMatchResult(SummaryReprMixin):
    """
    The outcome of `ModelPsfMatch.match`.

    Attributes
    ----------
    matched_image : `~astropy.nddata.NDData`
        ``(K * I) / ksum`` with its ``VarianceUncertainty`` and mask (and
        the input's unit and WCS): the image on the target PSF, fluxes
        kept.
    kernel : `~psfkit.diffim.SpatialKernel`
        The spatially varying matching kernel (no background).
    cell_set : `~psfkit.diffim.SpatialCellSet`
        The cells with the PSF-pair candidates.
    candidates : `~astropy.table.QTable`
        ``cell_set.to_table()``.
    kernel_sum : float
        Kernel sum at the image centre (1 for unit-sum PSFs).
    psf_size : int
        Size of the PSF images before padding (the smaller of the two).
    stamp_size : int
        Size of the padded PSF images used as candidate stamps.
    max_psf_residual : float
        Largest ``|K * P_image / ksum - P_target|`` over all candidates,
        in units of the target PSF's peak, over the region the kernel
        reaches (the valid part of the stamps).
    kernel_choice : `~psfkit.diffim.KernelChoice`
        The kernel size and basis used, and how they were chosen.
    timings : dict
        Seconds spent ``realizing`` the PSFs (and choosing the kernel),
        ``solving`` the kernel and in ``convolution``.
    """

    matched_image: NDData
    kernel: object
    cell_set: SpatialCellSet
    candidates: object
    kernel_sum: float
    psf_size: int
    stamp_size: int
    max_psf_residual: float
    kernel_choice: KernelChoice
    timings: dict

    def _summary_items(self):
        c = self.kernel_choice
        return [("matched_image", describe(self.matched_image)),
                ("kernel", repr(self.kernel)),
                ("kernel_choice", f"{c.method}: {c.kernel_size} px "
                                  f"{c.basis}"),
                ("kernel_sum", describe(self.kernel_sum)),
                ("max_psf_residual", describe(self.max_psf_residual)),
                ("psf_pairs", str(len(self.candidates))),
                ("psf_size", str(self.psf_size)),
                ("stamp_size", str(self.stamp_size)),
                ("seconds", f"{sum(self.timings.values()):.3g}")]


def _position_params(model):
    names = model.param_names
    for xname, yname in (("x_0", "y_0"), ("x_mean", "y_mean")):
        if xname in names and yname in names:
            return xname, yname
    msg = (f"a PSF model must have x_0/y_0 (or x_mean/y_mean) parameters; "
           f"{type(model).__name__} has {names}")
    raise TypeError(msg)


def realize_psf(psf, x, y, size, *, name="psf"):
    """
    The image of a PSF at ``(x, y)``, centred on the middle pixel.

    A model is evaluated on pixels at integer offsets from ``(x, y)`` with
    its centre at ``(x, y)``, so the PSF sits on the central pixel of the
    image whatever the sub-pixel position; a spatially varying model gives
    its PSF for ``(x, y)``.

    Parameters
    ----------
    psf : `~numpy.ndarray`, astropy model or callable
        A PSF image (constant over the image, returned as is), an astropy
        2-D model with ``x_0``/``y_0`` (or ``x_mean``/``y_mean``) such as
        the psfkit PSF models (a `~psfkit.photometry.GriddedPSFModel` gives
        the PSF at ``(x, y)``), or a callable ``(x, y) -> image``.
    x, y : float
        The position in the image.
    size : int
        Odd width of the image made from a model.
    name : str, optional
        The argument name used in error messages.

    Returns
    -------
    image : `~numpy.ndarray`
        The PSF image, normalised to unit sum.

    Examples
    --------
    >>> from psfkit.photometry import GaussianPSF
    >>> from psfkit.diffim import realize_psf
    >>> img = realize_psf(GaussianPSF(x_fwhm=3, y_fwhm=3), 10.0, 20.0, 15)
    >>> img.shape, round(float(img.sum()), 6), int(img.argmax())
    ((15, 15), 1.0, 112)
    """
    if isinstance(psf, Model):
        xname, yname = _position_params(psf)
        # evaluate with the position replaced, leaving the model untouched
        # (cheaper than copying it for every cell)
        params = [np.ravel(getattr(psf, n).value)[0] for n in psf.param_names]
        params[psf.param_names.index(xname)] = float(x)
        params[psf.param_names.index(yname)] = float(y)
        half = size // 2
        offs = np.arange(-half, half + 1, dtype=float)
        # the stamp's pixels are at integer offsets from (x, y), so the PSF
        # is centred on the stamp; a GriddedPSFModel picks its PSF at (x, y)
        xx, yy = np.broadcast_arrays(float(x) + offs[None, :],
                                     float(y) + offs[:, None])
        image = np.asarray(psf.evaluate(xx, yy, *params), dtype=float)
    elif callable(psf) and not isinstance(psf, np.ndarray):
        image = np.asarray(psf(float(x), float(y)), dtype=float)
    else:
        try:
            image = np.asarray(psf, dtype=float)
        except (TypeError, ValueError):
            msg = (f"{name} must be a 2-D array, a PSF model or a callable "
                   f"(x, y) -> image, got {type(psf).__name__}")
            raise TypeError(msg) from None
    if image.ndim != 2 or min(image.shape) < 3:
        msg = (f"{name} must give a 2-D PSF image of at least 3x3 pixels, got "
               f"shape {image.shape}")
        raise ValueError(msg)
    if image.shape[0] % 2 == 0 or image.shape[1] % 2 == 0:
        msg = (f"{name} gives a PSF image of {image.shape[0]}x{image.shape[1]} "
               "pixels: an even size has no central pixel, so its centre lies "
               "between pixels and matching it would shift the image by half "
               "a pixel. Give an odd-sized image centred on its middle pixel "
               "(resample it, or trim one row or column if the PSF is centred "
               "on pixel n // 2)")
        raise ValueError(msg)
    if not np.all(np.isfinite(image)):
        msg = f"{name} gives non-finite PSF values at ({x:.1f}, {y:.1f})"
        raise ValueError(msg)
    total = image.sum()
    if not total > 0:
        msg = (f"{name} gives a PSF image with a non-positive sum at "
               f"({x:.1f}, {y:.1f})")
        raise ValueError(msg)
    return image / total


def _cell_centres(cell_set):
    """
    The cell centres, and a ring of points on the image boundary.

    The boundary points anchor the spatial polynomial at the edges, so it
    never extrapolates inside the image; they sit on the edge, not beyond
    it, where a gridded PSF model is only held constant.
    """
    ny, nx = cell_set.shape
    xs = [-0.5] + [0.5 * sum(c.x_range) for c in
                   cell_set.cells[:cell_set.n_cells_x]] + [nx - 0.5]
    ys = [-0.5] + [0.5 * sum(cell_set.cells[j * cell_set.n_cells_x].y_range)
                   for j in range(cell_set.n_cells_y)] + [ny - 0.5]
    gx, gy = np.meshgrid(xs, ys)
    return gx.ravel(), gy.ravel()


class ModelPsfMatch:
    """
    Convolve an image so that its PSF becomes a given target PSF.

    Parameters
    ----------
    config : `~psfkit.diffim.PsfMatchConfig`, optional
        The configuration of the solve (cells, spatial order...); by
        default ``PsfMatchConfig(kernel_size=11)``.  Whatever is given, the
        model match turns every clipping step off, fits no background and
        regularises a delta-function basis relative to the normal matrix
        (``lambda_type='relative'``: ``lambda = lambda_scaling * trace(M)
        / trace(H)``): the stamps are unit-sum PSFs of unit variance, on
        a scale no absolute ``lambda_value`` can be set for.
    kernel : {'auto', 'config'}, optional
        ``'auto'`` chooses the kernel size and an Alard-Lupton basis from
        the PSFs' encircled energy, checked on PSF pairs at the image
        centre and corners (at most ``config.kernel_size_max`` pixels, and
        within the limit the PSF images set); ``'config'`` uses
        ``config.kernel_size`` and the configured basis as they are.
    tolerance : float, optional
        The largest acceptable ``|K * P - T|`` of the matched PSF, in units
        of the target's peak: the automatic choice aims below it, and a
        `PsfMismatchWarning` is emitted when the final match misses it.
    on_large_kernel : {'warn', 'raise', 'ignore'}, optional
        With ``kernel='config'``, what to do when ``kernel_size`` exceeds
        ``1.5 * (psf_size // 2)``: emit a `KernelSizeWarning`, raise
        ``ValueError``, or go on.

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.photometry import GaussianPSF
    >>> from psfkit.diffim import ModelPsfMatch, PsfMatchConfig
    >>> rng = np.random.default_rng(0)
    >>> image = rng.normal(size=(128, 128))
    >>> matcher = ModelPsfMatch(PsfMatchConfig(size_cell_x=64, size_cell_y=64))
    >>> res = matcher.match(image, GaussianPSF(x_fwhm=3, y_fwhm=3),
    ...                     GaussianPSF(x_fwhm=5, y_fwhm=5))
    >>> print(f"kernel sum {res.kernel_sum:.2f}, worst PSF residual "
    ...       f"{100 * res.max_psf_residual:.1f}% of the peak")
    kernel sum 1.00, worst PSF residual 0.1% of the peak
    >>> res.kernel_choice.kernel_size, res.kernel_choice.basis
    (11, 'alard-lupton')
    """

    def __init__(self, config=None, *, kernel="auto", tolerance=0.01,
                 on_large_kernel="warn"):
        if config is None:
            config = PsfMatchConfig(kernel_size=11)
        if not isinstance(config, PsfMatchConfig):
            msg = f"config must be a PsfMatchConfig, got {type(config).__name__}"
            raise TypeError(msg)
        self.config = replace(
            config.validate(), scale_by_fwhm=False, single_kernel_clipping=False,
            kernel_sum_clipping=False, spatial_kernel_clipping=False,
            fit_for_background=False, check_condition_number=False,
            lambda_type="relative")
        self.kernel = check_in("kernel", kernel, ("auto", "config"))
        self.tolerance = check_positive("tolerance", tolerance)
        self.on_large_kernel = check_in("on_large_kernel", on_large_kernel,
                                        ("warn", "raise", "ignore"))

    def __repr__(self):
        return (f"ModelPsfMatch(config={self.config!r}, kernel={self.kernel!r}, "
                f"tolerance={self.tolerance:g})")

    def _check_kernel_size(self, psf_size):
        k = self.config.kernel_size
        limit = MAX_KERNEL_RATIO * (psf_size // 2)
        if k <= limit or self.on_large_kernel == "ignore":
            return
        largest = int(np.floor(limit))
        largest = max(1, largest - (1 - largest % 2))
        msg = (f"kernel_size {k} is much larger than psf_size // 2 = "
               f"{psf_size // 2} (PSF images of {psf_size} pixels; limit "
               f"{limit:g}): the kernel is poorly constrained and its solution "
               f"noisy. Use kernel_size <= {largest} or "
               "larger PSF images (psf_size).")
        if self.on_large_kernel == "raise":
            raise ValueError(msg)
        warn(msg, KernelSizeWarning)

    def match(self, image, image_psf=None, target_psf=None, *, variance=None,
              mask=None, psf_size=None, executor=None):
        """
        Convolve ``image`` from its PSF ``image_psf`` to ``target_psf``.

        Parameters
        ----------
        image : array-like or `~astropy.nddata.NDData`
            The image; an ``NDData`` brings its mask, uncertainty, unit,
            WCS and (as the default ``image_psf``) its ``psf``.
        image_psf, target_psf : `~numpy.ndarray`, astropy model or callable
            The PSF of ``image`` and the PSF it should have: a PSF image
            (constant, odd-sized and centred on its middle pixel), an
            astropy 2-D model with ``x_0``/``y_0`` such as the psfkit PSF
            models (`~psfkit.photometry.GriddedPSFModel` for a spatially
            varying PSF), or a callable ``(x, y) -> image``.  Without
            ``image_psf`` the ``psf`` of an ``NDData`` image is used.
        variance : array-like, optional
            The variance of ``image``; by default from its uncertainty, or
            a constant estimated from the image.
        mask : array-like of bool, optional
            Bad pixels of ``image``.
        psf_size : int, optional
            Odd width at which models are realised; by default large enough
            for the target's wings around the kernel (``kernel='auto'``)
            or ``2 * kernel_size + 1``.  PSF images given as arrays or by a
            callable keep their size.
        executor : int or `~concurrent.futures.ThreadPoolExecutor`, optional
            Threads for the batched fits and the convolution.

        Returns
        -------
        result : `ModelMatchResult`

        Raises
        ------
        ValueError
            For a bad PSF (an even-sized PSF image, which would shift the
            image by half a pixel, included), or with
            ``on_large_kernel='raise'`` when the kernel is much larger than
            half the PSF images.
        psfkit.utils.InputDataError
            When the image is smaller than the matching kernel on a side.

        Warns
        -----
        PsfMismatchWarning
            When the matched PSF differs from the target by more than
            ``tolerance`` of its peak somewhere (the kernel allowed cannot
            reach the target).
        KernelSizeWarning
            With ``kernel='config'``, when the kernel is much larger than
            half the PSF images.
        psfkit.utils.PsfkitWarning
            When the target PSF is narrower than the image PSF somewhere
            (by more than 5% in second-moment width): the match would need
            a deconvolution.
        """
        cfg = self.config
        n_threads = executor_threads(executor)
        if image_psf is None:
            image_psf = getattr(image, "psf", None)
            if image_psf is None:
                msg = ("image_psf is required (or an NDData image with a "
                       "psf)")
                raise TypeError(msg)
        if target_psf is None:
            msg = "target_psf is required: the PSF the image should have"
            raise TypeError(msg)
        if psf_size is not None:
            psf_size = check_integer("psf_size", psf_size, minimum=3)
            if psf_size % 2 == 0:
                msg = f"psf_size must be odd, got {psf_size}"
                raise ValueError(msg)
        t0 = time.perf_counter()
        img = load_image(_with_extras(image, variance, mask), "image",
                         require_noise=False)
        shape = img.data.shape
        cell_set = SpatialCellSet(shape, cfg.size_cell_x, cfg.size_cell_y)
        if self.kernel == "auto":
            choice, basis, reg, psf_size = self._auto_kernel(
                image_psf, target_psf, shape, psf_size)
        else:
            choice, basis, reg, psf_size = self._config_kernel(
                image_psf, target_psf, shape, psf_size)
        k = choice.kernel_size
        check_image_size(shape, "image", k, f"the {k}-pixel matching kernel")
        xs, ys = _cell_centres(cell_set)
        pairs = [(realize_psf(image_psf, x, y, psf_size, name="image_psf"),
                  realize_psf(target_psf, x, y, psf_size, name="target_psf"))
                 for x, y in zip(xs, ys, strict=True)]
        _check_widths(pairs, xs, ys)
        native = min(min(p.shape) for pair in pairs for p in pair)
        if self.kernel == "config":
            self._check_kernel_size(native)
        stamp = max(choice.stamp_size,
                    stamp_size_for(k, pairs, choice.target_radius), k + 2)
        stamp = odd_at_least(max(stamp, PAD_FACTOR * k))
        choice = replace(choice, stamp_size=stamp)
        for i, ((p_img, p_tgt), x, y) in enumerate(zip(pairs, xs, ys,
                                                       strict=True)):
            cell_set.insert_candidate(KernelCandidate.from_psfs(
                x, y, pad_to(p_img, stamp), pad_to(p_tgt, stamp),
                candidate_id=i))
        # every PSF pair is used: border cells hold the boundary points
        n_per_cell = max(len(c.candidates) for c in cell_set.cells)
        solve_cfg = replace(cfg, n_star_per_cell=max(cfg.n_star_per_cell,
                                                     n_per_cell))
        if all(_same_pair(pair, pairs[0]) for pair in pairs[1:]):
            # the same PSFs everywhere: one constant kernel is the answer
            # (a spatial model would only add degenerate unknowns)
            solve_cfg = replace(solve_cfg, spatial_kernel_order=0)
        t1 = time.perf_counter()
        solution = solve_matching_kernel(cell_set, basis, solve_cfg,
                                         regularization=reg,
                                         executor=n_threads)
        kernel = solution.kernel
        t2 = time.perf_counter()
        ksum = kernel.kernel_sum
        matched, matched_var = apply_kernel(kernel, img, n_threads=n_threads)
        matched /= ksum
        matched_var /= ksum ** 2
        t3 = time.perf_counter()
        residual = self._final_residual(kernel, cell_set, image_psf,
                                        target_psf, psf_size, stamp)
        if residual > self.tolerance:
            warn(f"the matched PSF differs from the target by "
                 f"{100 * residual:.2g}% of its peak (tolerance "
                 f"{100 * self.tolerance:.2g}%) with a {k}-pixel "
                 f"{choice.basis} kernel; allow a larger kernel "
                 "(config.kernel_size_max, larger PSF images) or choose a "
                 "wider target PSF", PsfMismatchWarning)
        return ModelMatchResult(
            matched_image=NDData(matched, uncertainty=VarianceUncertainty(
                matched_var, copy=False), mask=grown_mask(img.bad, k), unit=img.unit,
                wcs=img.wcs, meta=copy_meta(img.meta)),
            kernel=kernel, cell_set=cell_set, candidates=cell_set.to_table(),
            kernel_sum=ksum, psf_size=int(native), stamp_size=int(stamp),
            max_psf_residual=residual, kernel_choice=choice,
            timings={"realizing": t1 - t0, "solving": t2 - t1,
                     "convolution": t3 - t2})

    @staticmethod
    def _final_residual(kernel, cell_set, image_psf, target_psf, psf_size,
                        stamp):
        """Worst residual of the matched PSF over the image: at the cell
        centres inside it and at its corners and edge midpoints (the outer
        ring of cells only anchors the spatial model)."""
        ny, nx = cell_set.shape
        inside = [c for c in cell_set.candidates
                  if -0.5 <= c.x <= nx - 0.5 and -0.5 <= c.y <= ny - 0.5]
        extra = [(x, y) for x in (0.0, (nx - 1) / 2, nx - 1.0)
                 for y in (0.0, (ny - 1) / 2, ny - 1.0)]
        inside += [KernelCandidate.from_psfs(
            x, y, pad_to(realize_psf(image_psf, x, y, psf_size), stamp),
            pad_to(realize_psf(target_psf, x, y, psf_size), stamp))
            for x, y in extra]
        return psf_residual(inside, kernel.kernel_image(
            np.array([c.x for c in inside]), np.array([c.y for c in inside])))

    def _probe_pairs(self, image_psf, target_psf, shape, size):
        """PSF pairs at the image centre and corners (fewer if constant)."""
        ny, nx = shape
        xs = [(nx - 1) / 2, 0.0, nx - 1.0, 0.0, nx - 1.0]
        ys = [(ny - 1) / 2, 0.0, 0.0, ny - 1.0, ny - 1.0]
        pairs, px, py = [], [], []
        for x, y in zip(xs, ys, strict=True):
            pair = (realize_psf(image_psf, x, y, size, name="image_psf"),
                    realize_psf(target_psf, x, y, size, name="target_psf"))
            if any(_same_pair(pair, seen) for seen in pairs):
                continue
            pairs.append(pair)
            px.append(x)
            py.append(y)
        return pairs, px, py

    def _auto_kernel(self, image_psf, target_psf, shape, psf_size):
        cfg = self.config
        given = psf_size is not None
        if not given:
            psf_size = _wing_size(target_psf, shape, cfg.kernel_size_max)
        pairs, px, py = self._probe_pairs(image_psf, target_psf, shape,
                                          psf_size)
        native = min(min(p.shape) for pair in pairs for p in pair)
        limit = cfg.kernel_size_max
        if not _is_model(image_psf) or not _is_model(target_psf):
            limit = min(limit, int(MAX_KERNEL_RATIO * (native // 2)))
        limit = max(3, limit - (1 - limit % 2))
        choice = choose_kernel(pairs, px, py, cfg, tolerance=self.tolerance,
                               max_kernel_size=limit)
        basis = alard_lupton_basis(choice.kernel_size, choice.sig_gauss,
                                   choice.deg_gauss)
        if _is_model(image_psf) and _is_model(target_psf) and not given:
            # models are realised at the size the choice needs, unless the
            # caller said which
            psf_size = choice.stamp_size
        return choice, basis, None, psf_size

    def _config_kernel(self, image_psf, target_psf, shape, psf_size):
        cfg = self.config
        k = cfg.kernel_size
        if psf_size is None:
            psf_size = 2 * k + 1
        ny, nx = shape
        p_img = realize_psf(image_psf, (nx - 1) / 2, (ny - 1) / 2, psf_size,
                            name="image_psf")
        p_tgt = realize_psf(target_psf, (nx - 1) / 2, (ny - 1) / 2, psf_size,
                            name="target_psf")
        basis, reg = make_kernel_basis(cfg)
        al = cfg.kernel_basis_set == "alard-lupton"
        choice = KernelChoice(
            method="config", kernel_size=k, basis=cfg.kernel_basis_set,
            sig_gauss=cfg.alard_sig_gauss if al else (),
            deg_gauss=cfg.alard_deg_gauss if al else (),
            encircled_energy=STAMP_ENERGY,
            image_radius=encircled_radius(p_img, STAMP_ENERGY),
            target_radius=encircled_radius(p_tgt, STAMP_ENERGY),
            stamp_size=odd_at_least(max(p_img.shape + p_tgt.shape)))
        return choice, basis, reg, psf_size


def _same_pair(a, b):
    return all(p.shape == q.shape and np.array_equal(p, q)
               for p, q in zip(a, b, strict=True))


def _is_model(psf):
    return isinstance(psf, Model)


def _wing_size(target_psf, shape, max_kernel):
    """Odd size holding the target's wings (``STAMP_ENERGY`` of its flux)
    around the largest kernel; a fixed PSF image keeps its own."""
    if not _is_model(target_psf):
        return 2 * max_kernel + 1
    ny, nx = shape
    size = 65
    while True:
        probe = realize_psf(target_psf, (nx - 1) / 2, (ny - 1) / 2, size,
                            name="target_psf")
        radius = encircled_radius(probe, STAMP_ENERGY)
        if radius < size // 2 - 2 or size > 250:
            break
        size = 2 * size + 1
    return odd_at_least(max_kernel + 2 * np.ceil(radius))


def _with_extras(image, variance, mask):
    """The image as NDData with the separately given variance and mask."""
    if variance is None and mask is None:
        return image
    base = coerce_data(image, name="image", mask=mask, dtype=None)
    var = variance_of(base, variance)
    unc = None if var is None else VarianceUncertainty(var, copy=False)
    return NDData(base.data, mask=base.mask, unit=base.unit, wcs=base.wcs,
                  uncertainty=unc, meta=base.meta)


def _moment_width(image):
    """RMS radius over sqrt(2) (the sigma of a circular Gaussian)."""
    ny, nx = image.shape
    yy, xx = np.mgrid[0:ny, 0:nx]
    w = np.clip(image, 0, None)
    w = w / w.sum()
    xc, yc = (w * xx).sum(), (w * yy).sum()
    return float(np.sqrt((w * ((xx - xc) ** 2 + (yy - yc) ** 2)).sum() / 2))


def _check_widths(pairs, xs, ys):
    """Warn when the target PSF is narrower than the image PSF somewhere."""
    ratios = np.array([_moment_width(p_img) / _moment_width(p_tgt)
                       for p_img, p_tgt in pairs])
    worst = int(np.argmax(ratios))
    if ratios[worst] > 1.05:
        warn(
            f"the target PSF is narrower than the image PSF at "
            f"({xs[worst]:.0f}, {ys[worst]:.0f}) (second-moment widths "
            f"{_moment_width(pairs[worst][1]):.2f} and "
            f"{_moment_width(pairs[worst][0]):.2f} pixels): matching it "
            "needs a deconvolution, which the kernel can only approximate. "
            "Choose a target PSF wider than every image PSF.", PsfkitWarning)


