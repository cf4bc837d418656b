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
kernel cannot reach the PSF wings and the matched stars look boxy.
"""

from dataclasses import dataclass, replace
import time

from astropy.modeling import Model
from astropy.nddata import NDData, VarianceUncertainty
import numpy as np
from scipy import ndimage

from ..utils import PsfkitWarning, check_in, check_integer, coerce_data, warn
from ._stamps import convolve_each_valid, crop_valid
from .basis import make_kernel_basis
from .candidates import KernelCandidate, SpatialCellSet
from .config import PsfMatchConfig
from ._images import apply_kernel, grown_mask, load_image
from .solve import solve_matching_kernel

__all__ = ["KernelSizeWarning", "ModelPsfMatch", "ModelMatchResult",
           "realize_psf"]

#: PSF images are padded to at least this many times the kernel size.
PAD_FACTOR = 1.4
#: Kernels larger than this many times ``psf_size // 2`` trigger the check.
MAX_KERNEL_RATIO = 1.5


class KernelSizeWarning(PsfkitWarning):
    """The matching kernel is too large for the PSF images."""


@dataclass
class ModelMatchResult:
    """
    The outcome of `ModelPsfMatch.match`.

    Attributes
    ----------
    matched_image : `~astropy.nddata.NDData`
        ``(K * I) / ksum`` with its ``VarianceUncertainty`` and mask: the
        image on the target PSF, fluxes kept.
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
    timings : dict
        Seconds spent ``realizing`` the PSFs, ``solving`` the kernel and in
        ``convolution``.
    """

    matched_image: NDData
    kernel: object
    cell_set: SpatialCellSet
    candidates: object
    kernel_sum: float
    psf_size: int
    stamp_size: int
    max_psf_residual: float
    timings: dict


def _odd_at_least(value):
    n = int(np.ceil(value - 1e-9))
    return n + 1 - n % 2


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
    if not np.all(np.isfinite(image)):
        msg = f"{name} gives non-finite PSF values at ({x:.1f}, {y:.1f})"
        raise ValueError(msg)
    total = image.sum()
    if not total > 0:
        msg = (f"{name} gives a PSF image with a non-positive sum at "
               f"({x:.1f}, {y:.1f})")
        raise ValueError(msg)
    return image / total


def _pad_to(image, size):
    ny, nx = image.shape
    py, px = size - ny, size - nx
    return np.pad(image, ((py // 2, py - py // 2), (px // 2, px - px // 2)))


def _cell_centres(cell_set):
    """Centres of the cells of the grid grown by one cell on each side."""
    sx, sy = cell_set.size_cell
    xs = [-0.5 - sx / 2] + [0.5 * sum(c.x_range) for c in
                            cell_set.cells[:cell_set.n_cells_x]]
    xs.append(cell_set.cells[cell_set.n_cells_x - 1].x_range[1] + sx / 2)
    ys = [-0.5 - sy / 2] + [0.5 * sum(cell_set.cells[j * cell_set.n_cells_x]
                                      .y_range)
                            for j in range(cell_set.n_cells_y)]
    ys.append(cell_set.cells[-1].y_range[1] + sy / 2)
    gx, gy = np.meshgrid(xs, ys)
    return gx.ravel(), gy.ravel()


class ModelPsfMatch:
    """
    Convolve an image so that its PSF becomes a given target PSF.

    Parameters
    ----------
    config : `~psfkit.diffim.PsfMatchConfig`, optional
        The kernel configuration; by default
        ``PsfMatchConfig(kernel_size=11, spatial_kernel_order=2)``.  Whatever
        is given, the model match uses ``kernel_size`` as is
        (``scale_by_fwhm=False``), turns every clipping step off and fits no
        background.
    on_large_kernel : {'warn', 'raise', 'ignore'}, optional
        What to do when ``kernel_size`` exceeds ``1.5 * (psf_size // 2)``:
        emit a `KernelSizeWarning`, raise ``ValueError``, or go on.

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.photometry import GaussianPSF
    >>> from psfkit.diffim import ModelPsfMatch, PsfMatchConfig
    >>> rng = np.random.default_rng(0)
    >>> image = rng.normal(size=(128, 128))
    >>> matcher = ModelPsfMatch(PsfMatchConfig(kernel_size=11, size_cell_x=64,
    ...                                        size_cell_y=64))
    >>> res = matcher.match(image, GaussianPSF(x_fwhm=3, y_fwhm=3),
    ...                     GaussianPSF(x_fwhm=5, y_fwhm=5))
    >>> abs(res.kernel_sum - 1) < 0.002, res.max_psf_residual < 0.01
    (True, True)
    """

    def __init__(self, config=None, *, on_large_kernel="warn"):
        if config is None:
            config = PsfMatchConfig(kernel_size=11)
        if not isinstance(config, PsfMatchConfig):
            msg = f"config must be a PsfMatchConfig, got {type(config).__name__}"
            raise TypeError(msg)
        self.config = replace(
            config.validate(), scale_by_fwhm=False, single_kernel_clipping=False,
            kernel_sum_clipping=False, spatial_kernel_clipping=False,
            fit_for_background=False, check_condition_number=False)
        self.on_large_kernel = check_in("on_large_kernel", on_large_kernel,
                                        ("warn", "raise", "ignore"))

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

    def match(self, image, image_psf, target_psf, *, variance=None, mask=None,
              psf_size=None):
        """
        Convolve ``image`` from its PSF ``image_psf`` to ``target_psf``.

        Parameters
        ----------
        image : array-like or `~astropy.nddata.NDData`
            The image; an ``NDData`` brings its mask and uncertainty.
        image_psf, target_psf : `~numpy.ndarray`, astropy model or callable
            The PSF of ``image`` and the PSF it should have: a PSF image
            (constant), an astropy 2-D model with ``x_0``/``y_0`` such as the
            psfkit PSF models (`~psfkit.photometry.GriddedPSFModel` for a
            spatially varying PSF), or a callable ``(x, y) -> image``.
        variance : array-like, optional
            The variance of ``image``; by default from its uncertainty, or
            a constant estimated from the image.
        mask : array-like of bool, optional
            Bad pixels of ``image``.
        psf_size : int, optional
            Odd width at which models are realised; by default ``2 *
            kernel_size + 1``.  PSF images given as arrays or by a callable
            keep their size.

        Returns
        -------
        result : `ModelMatchResult`

        Raises
        ------
        ValueError
            For a bad PSF, or with ``on_large_kernel='raise'`` when the
            kernel is much larger than half the PSF images.

        Warns
        -----
        KernelSizeWarning
            When the kernel is much larger than half the PSF images.
        psfkit.utils.PsfkitWarning
            When the target PSF is narrower than the image PSF somewhere
            (by more than 5% in second-moment width): the match would need
            a deconvolution.
        """
        cfg = self.config
        k = cfg.kernel_size
        if psf_size is None:
            psf_size = 2 * k + 1
        psf_size = check_integer("psf_size", psf_size, minimum=3)
        if psf_size % 2 == 0:
            msg = f"psf_size must be odd, got {psf_size}"
            raise ValueError(msg)
        t0 = time.perf_counter()
        if variance is not None:
            var_in = coerce_data(variance, name="variance",
                                 allow_all_masked=True).data
            base = coerce_data(image, name="image", mask=mask)
            if var_in.shape != base.shape:
                msg = (f"variance must have the image's shape {base.shape}, "
                       f"got {var_in.shape}")
                raise ValueError(msg)
            image = NDData(base.data, mask=base.mask, unit=base.unit,
                           uncertainty=VarianceUncertainty(var_in),
                           wcs=base.wcs)
        elif mask is not None:
            base = coerce_data(image, name="image", mask=mask)
            image = NDData(base.data, mask=base.mask, unit=base.unit,
                           wcs=base.wcs, uncertainty=None if base.error is None
                           else VarianceUncertainty(base.error ** 2))
        img = load_image(image, "image", require_noise=False)
        shape = img.data.shape

        cell_set = SpatialCellSet(shape, cfg.size_cell_x, cfg.size_cell_y)
        xs, ys = _cell_centres(cell_set)
        pairs = [(realize_psf(image_psf, x, y, psf_size, name="image_psf"),
                  realize_psf(target_psf, x, y, psf_size, name="target_psf"))
                 for x, y in zip(xs, ys, strict=True)]
        _check_widths(pairs, xs, ys)
        native = min(min(p.shape) for pair in pairs for p in pair)
        largest = max(max(p.shape) for pair in pairs for p in pair)
        self._check_kernel_size(native)
        stamp = max(_odd_at_least(largest), _odd_at_least(PAD_FACTOR * k))
        if stamp <= k:
            stamp = k + 2
        for i, ((p_img, p_tgt), x, y) in enumerate(zip(pairs, xs, ys,
                                                       strict=True)):
            cell_set.insert_candidate(KernelCandidate.from_psfs(
                x, y, _pad_to(p_img, stamp), _pad_to(p_tgt, stamp),
                candidate_id=i))
        # every PSF pair is used: border cells hold their grown neighbours
        n_per_cell = max(len(c.candidates) for c in cell_set.cells)
        solve_cfg = replace(cfg, n_star_per_cell=max(cfg.n_star_per_cell,
                                                     n_per_cell))
        basis, reg = make_kernel_basis(solve_cfg)
        t1 = time.perf_counter()
        solution = solve_matching_kernel(cell_set, basis, solve_cfg,
                                         regularization=reg)
        kernel = solution.kernel
        t2 = time.perf_counter()

        ksum = kernel.kernel_sum
        matched, matched_var = apply_kernel(kernel, img, n_threads=1)
        matched /= ksum
        matched_var /= ksum ** 2
        t3 = time.perf_counter()

        return ModelMatchResult(
            matched_image=NDData(matched, uncertainty=VarianceUncertainty(
                matched_var), mask=grown_mask(img.bad, k), unit=img.unit,
                wcs=img.wcs),
            kernel=kernel, cell_set=cell_set, candidates=cell_set.to_table(),
            kernel_sum=kernel.kernel_sum, psf_size=int(native),
            stamp_size=int(stamp),
            max_psf_residual=_max_psf_residual(cell_set.candidates, kernel),
            timings={"realizing": t1 - t0, "solving": t2 - t1,
                     "convolution": t3 - t2})


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


def _max_psf_residual(candidates, kernel):
    """Largest residual of the matched PSFs, in units of the target peak."""
    x = np.array([c.x for c in candidates])
    y = np.array([c.y for c in candidates])
    kernels = kernel.kernel_image(x, y).reshape(len(x), kernel.kernel_size,
                                                kernel.kernel_size)
    sums = kernels.sum(axis=(1, 2))
    conv = convolve_each_valid(np.stack([c.template for c in candidates]),
                               kernels) / sums[:, None, None]
    target = crop_valid(np.stack([c.science for c in candidates]),
                        kernel.kernel_size)
    peak = target.max(axis=(1, 2))
    return float(np.max(np.abs(conv - target).max(axis=(1, 2)) / peak))
