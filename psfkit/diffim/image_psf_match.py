"""
PSF-match one image to another and subtract them (``ImagePsfMatch``).

`ImagePsfMatch` builds a spatially varying PSF-matching kernel from two
astrometrically aligned images of the same shape.  Kernel candidates are
stamps around bright, isolated, unsaturated sources seen in both images
(given by the caller, or found by a coarse detection on the science image);
they are placed in spatial cells and the kernel is solved by
`~psfkit.diffim.solve_matching_kernel`.  The kernel is then applied to the
whole image, with one FFT convolution per spatial term, strip by strip
(`~psfkit.diffim.SpatialKernel` explains the regrouping).
"""

from dataclasses import dataclass
from functools import cached_property
import time

from astropy.nddata import NDData, VarianceUncertainty
import numpy as np

from ..utils import (
    PsfkitWarning,
    SummaryReprMixin,
    check_bool,
    check_in,
    check_positive,
    copy_meta,
    describe,
    executor_threads,
    progress_bar,
    warn,
)
from . import _select
from ._images import apply_kernel, grown_mask, load_image, robust_std
from .basis import make_kernel_basis
from .candidates import KernelCandidate, SpatialCellSet
from .config import PsfMatchConfig
from .decorrelation import decorrelate_difference
from .solve import NoKernelCandidatesError, solve_matching_kernel
from .warping import align_template

__all__ = ["ImagePsfMatch", "ImageMatchResult", "SubtractionResult"]


@dataclass(frozen=True, repr=False)
class ImageMatchResult(SummaryReprMixin):
    """
    The outcome of `ImagePsfMatch.match_images`.

    Attributes
    ----------
    matched_image : `~astropy.nddata.NDData`
        The convolved image ``K * I + bg`` (with ``VarianceUncertainty``
        and mask), on the PSF, flux scale and sky of the other image, with
        that image's unit, WCS and float type, and a copy of the convolved
        image's meta.
    kernel : `~psfkit.diffim.SpatialKernel`
        The spatially varying kernel (and background model).
    cell_set : `~psfkit.diffim.SpatialCellSet`
        The cells with every candidate, its status and QA statistics.
    candidates : `~astropy.table.QTable`
        ``cell_set.to_table()``.
    convolved : str
        Which image was convolved: ``'template'`` or ``'science'``.
    template_fwhm, science_fwhm : float
        FWHMs used for the basis (given or measured).
    kernel_sum : float
        Kernel sum (flux ratio target / convolved image).
    residual_mean, residual_std : float
        Mean over the used candidates of the mean and standard deviation of
        ``D / sqrt(var)`` with the spatial kernel (ideal 0 and 1).
    n_candidates, n_candidates_used : int
        Candidates made, and used in the final spatial fit.
    condition_number : float
        Scaled condition number of the spatial system.
    n_iterations : int
        Passes of the solve loop.
    timings : dict
        Seconds spent per stage: ``candidates``, ``single_kernels``,
        ``spatial``, ``convolution`` (and ``warp`` when the template was
        warped).
    warped : bool
        Whether the template was resampled onto the science grid first.
    background : `~numpy.ndarray`
        The differential background image (computed when first used).
    """

    matched_image: NDData
    kernel: object
    cell_set: SpatialCellSet
    candidates: object
    convolved: str
    template_fwhm: float
    science_fwhm: float
    kernel_sum: float
    residual_mean: float
    residual_std: float
    n_candidates: int
    n_candidates_used: int
    condition_number: float
    n_iterations: int
    timings: dict
    warped: bool = False

    @cached_property
    def background(self):
        """The differential background image."""
        return self.kernel.background_image()

    def _summary_items(self):
        items = [("matched_image", describe(self.matched_image)),
                 ("kernel", repr(self.kernel)),
                 ("convolved", repr(self.convolved)),
                 ("kernel_sum", describe(self.kernel_sum)),
                 ("candidates", f"{self.n_candidates_used} used of "
                                f"{self.n_candidates}"),
                 ("residual_mean", describe(self.residual_mean)),
                 ("residual_std", describe(self.residual_std)),
                 ("fwhm", f"template {self.template_fwhm:.3g}, science "
                          f"{self.science_fwhm:.3g}"),
                 ("seconds", f"{sum(self.timings.values()):.3g}")]
        if self.warped:
            items.append(("warped", "True"))
        return items


@dataclass(frozen=True, repr=False)
class SubtractionResult(ImageMatchResult):
    """
    The outcome of `ImagePsfMatch.subtract_images`: the match, plus the
    difference.

    Attributes
    ----------
    difference : `~astropy.nddata.NDData`
        ``science - template``, PSF-matched and background-subtracted, in
        the flux scale (and unit, WCS, dtype) of the science image, with
        ``VarianceUncertainty``, mask and a copy of the science image's
        meta (a FITS header stays a header).
    difference_std : float
        Robust (MAD) standard deviation of ``difference / sqrt(variance)``
        over the unmasked pixels (ideal 1).
    decorrelation_kernel : `~numpy.ndarray` or None
        With ``decorrelate=True``, the correction kernel the difference (and
        its PSF) was convolved with; see
        `~psfkit.diffim.decorrelate_difference`.
    """

    difference: NDData = None
    difference_std: float = np.nan
    decorrelation_kernel: np.ndarray = None

    def _summary_items(self):
        items = super()._summary_items()
        items.insert(0, ("difference", describe(self.difference)))
        items.insert(5, ("difference_std", describe(self.difference_std)))
        return items




def fitted_size(kernel_size, fwhm):
    """
    Width of the fitted region of a candidate stamp.

    It must hold every pixel the kernel can move light into: the star's
    core (one FWHM in radius holds 94% of a Gaussian's flux) spread by the
    kernel half-width, plus a pixel.  Larger regions only add sky pixels:
    measured on simulated pairs, the kernel sum and the difference noise
    did not change when the region grew to ``2 * kernel_size + 1``, while
    the cost grows with its area.
    """
    reach = kernel_size // 2 + int(np.ceil(max(fwhm, 1.0))) + 1
    return 2 * min(reach, kernel_size) + 1


class ImagePsfMatch:
    """
    Match the PSF of one image to another and subtract them.

    Parameters
    ----------
    config : `~psfkit.diffim.PsfMatchConfig`, optional
        The configuration (default `~psfkit.diffim.PsfMatchConfig()`).

    Notes
    -----
    Inputs are arrays, masked arrays or `~astropy.nddata.NDData` of the same
    shape, already aligned, or ``NDData`` with WCSs, in which case the
    template is first warped onto the science grid when the WCSs differ
    (see ``warp``).  Their uncertainty (any astropy uncertainty
    class) gives the variance; for inputs without one the variance is
    taken as constant, the square of the MAD-based noise of the image (so
    the photon noise of bright stars is not included and their residual
    statistics look worse than they are).  Masked or non-finite pixels are
    never used in candidate stamps, are replaced by the sky before
    convolution, and propagate to the output mask grown by the kernel
    footprint; the ``kernel_size // 2`` border of the output is masked.
    The outputs keep the science image's unit, WCS and floating-point
    type.

    Examples
    --------
    >>> from psfkit.datasets import make_diffim_pair
    >>> from psfkit.diffim import ImagePsfMatch, PsfMatchConfig
    >>> template, science, truth = make_diffim_pair(
    ...     (256, 256), n_stars=300, flux_range=(3e3, 3e5), science_gain=4.0,
    ...     template_gain=16.0, random_state=3)
    >>> config = PsfMatchConfig(size_cell_x=64, size_cell_y=64,
    ...                         kernel_size_min=11)
    >>> result = ImagePsfMatch(config).subtract_images(template, science)
    >>> print(f"kernel sum {result.kernel_sum:.2f} (true {truth.flux_scale})")
    kernel sum 1.20 (true 1.2)
    >>> print(f"robust std of D / sigma {result.difference_std:.2f}")
    robust std of D / sigma 1.01
    """

    def __init__(self, config=None):
        if config is None:
            config = PsfMatchConfig()
        if not isinstance(config, PsfMatchConfig):
            msg = f"config must be a PsfMatchConfig, got {type(config).__name__}"
            raise TypeError(msg)
        self.config = config.validate()

    def __repr__(self):
        return f"ImagePsfMatch(config={self.config!r})"

    def match_images(self, template, science, *, sources=None,
                     template_fwhm=None, science_fwhm=None,
                     convolve="template", warp=None, executor=None,
                     progress_bar=False):
        """
        PSF-match one image of the pair to the other.

        Parameters
        ----------
        template, science : array-like or `~astropy.nddata.NDData`
            The aligned images.
        sources : `~astropy.table.Table`, dict or array-like, optional
            Positions for the kernel candidates in pixels (a table or a
            dict of columns with any of the position names
            `~psfkit.utils.find_xy_columns` accepts, whose masked rows are
            left out, or an ``(N, 2)`` array of ``(x, y)``); by default
            they are detected
            on the science image.  They are vetted like detected sources
            and ranked by their signal-to-noise ratio.
        template_fwhm, science_fwhm : float or `~astropy.units.Quantity`, optional
            FWHMs in pixels (plain numbers or ``u.pix``); measured from the
            candidates when not given.
        convolve : {'template', 'science', 'auto'}, optional
            The image that is convolved; ``'auto'`` picks the one with the
            smaller FWHM.
        warp : bool or None, optional
            Resample the template onto the science pixel grid first
            (Lanczos-3, see `~psfkit.diffim.warp_image`): `None` does so
            only when both are ``NDData`` with WCSs that differ (or
            different shapes), `True` always, `False` never.  The kernel is
            then fitted to the warped template.
        executor : int or `~concurrent.futures.ThreadPoolExecutor`, optional
            Threads for the batched stamp fits and the convolution (by
            default every available core); see `~psfkit.utils.run_tasks`.
        progress_bar : bool, optional
            Show the progress through the four stages.

        Returns
        -------
        result : `ImageMatchResult`

        Raises
        ------
        NoKernelCandidatesError
            When no usable candidate is found or all are rejected.
        psfkit.utils.InputDataError
            When an image has no valid pixel, is constant, or is smaller
            than ``config.kernel_size_min`` on a side.
        """
        return self._run(template, science, sources, template_fwhm,
                         science_fwhm, convolve, subtract=False, warp=warp,
                         executor=executor, show_progress=progress_bar)

    def subtract_images(self, template, science, *, sources=None,
                        template_fwhm=None, science_fwhm=None,
                        convolve="template", warp=None, decorrelate=False,
                        executor=None, progress_bar=False):
        """
        PSF-match the pair and return ``science - template``.

        With the template convolved, ``D = S - (K * T) - bg``.  With the
        science image convolved, ``D = ((K * S) + bg - T) / ksum``: still
        positive for a source brighter in the science image and in its flux
        scale, but on the template's PSF.

        Parameters
        ----------
        template, science : array-like or `~astropy.nddata.NDData`
            The aligned images.
        sources : `~astropy.table.Table`, dict or array-like, optional
            See `match_images`.
        template_fwhm, science_fwhm : float or `~astropy.units.Quantity`, optional
            See `match_images`.
        convolve : {'template', 'science', 'auto'}, optional
            See `match_images`.
        warp : bool or None, optional
            See `match_images`.
        decorrelate : bool, optional
            Remove the noise correlation the convolution put into the
            difference (`~psfkit.diffim.decorrelate_difference`); the
            variance plane and mask are updated accordingly.
        executor : int or `~concurrent.futures.ThreadPoolExecutor`, optional
            See `match_images`.
        progress_bar : bool, optional
            See `match_images`.

        Returns
        -------
        result : `SubtractionResult`

        Raises
        ------
        NoKernelCandidatesError
            When no usable candidate is found or all are rejected.
        psfkit.utils.InputDataError
            When an image has no valid pixel, is constant, or is smaller
            than ``config.kernel_size_min`` on a side.
        """
        return self._run(template, science, sources, template_fwhm,
                         science_fwhm, convolve, subtract=True, warp=warp,
                         decorrelate=decorrelate, executor=executor,
                         show_progress=progress_bar)

    def _candidates(self, timg, simg, sources, fwhms, convolve):
        """Positions, FWHMs, basis and the cell set of candidates."""
        cfg = self.config
        shape = simg.data.shape
        bad = timg.bad | simg.bad
        if sources is None:
            x, y, snr = _select.detect_peaks(
                simg.data, bad, simg.sky, simg.noise, cfg.detection_threshold,
                max_peaks=cfg.max_candidates)
        else:
            x, y = _select.positions_from_sources(sources, shape)
            snr = _select.point_snr(simg.data, bad, simg.sky, simg.noise, x, y)
            order = np.argsort(-snr, kind="stable")
            x, y, snr = x[order], y[order], snr[order]
        if len(x) == 0:
            msg = ("no kernel candidates: no source above "
                   f"{cfg.detection_threshold:g} sigma in the science image"
                   if sources is None else "no kernel candidates: sources is "
                   "empty or entirely outside the image")
            raise NoKernelCandidatesError(msg, n_tried=0)
        t_snr = _select.point_snr(timg.data, bad, timg.sky, timg.noise, x, y)
        template_fwhm, science_fwhm = fwhms
        if template_fwhm is None:
            template_fwhm = _select.measure_fwhm(timg.data, bad, timg.sky, x, y)
        if science_fwhm is None:
            science_fwhm = _select.measure_fwhm(simg.data, bad, simg.sky, x, y)
        if convolve == "auto":
            convolve = ("template" if template_fwhm is None
                        or science_fwhm is None
                        or template_fwhm <= science_fwhm else "science")
        if (template_fwhm and science_fwhm and cfg.scale_by_fwhm
                and cfg.kernel_basis_set == "alard-lupton"):
            wide_first = (template_fwhm > 1.1 * science_fwhm
                          if convolve == "template"
                          else science_fwhm > 1.1 * template_fwhm)
            if wide_first:
                warn(f"the {convolve} image, which is convolved, has the wider "
                     f"PSF (FWHM {template_fwhm:.2f} template, "
                     f"{science_fwhm:.2f} science); matching it needs a "
                     "deconvolution. Consider convolve='auto'.", PsfkitWarning)
        conv, targ = (timg, simg) if convolve == "template" else (simg, timg)
        fw = (template_fwhm, science_fwhm)
        if convolve == "science":
            fw = fw[::-1]
        basis, reg = make_kernel_basis(cfg, convolved_fwhm=fw[0],
                                       target_fwhm=fw[1])
        k = basis.shape[-1]
        stamp = fitted_size(k, max(f or 0.0 for f in fw)) + k - 1
        keep, reasons = _select.vet_peaks(
            x, y, snr, shape=shape, stamp_size=stamp, bad=bad,
            template=timg.data, science=simg.data, science_snr=snr,
            template_snr=t_snr, threshold=cfg.detection_threshold,
            # a fainter neighbour further out in the stamp is matched by
            # the same kernel (saturation is checked over the whole stamp)
            isolation_radius=k)
        if not np.any(keep):
            msg = (f"no kernel candidates: {len(x)} sources tried, none usable "
                   f"with {stamp}x{stamp} stamps; rejected: "
                   f"{_select.reasons_text(reasons)}")
            raise NoKernelCandidatesError(msg, n_tried=len(x), reasons=reasons)
        cell_set = SpatialCellSet(shape, cfg.size_cell_x, cfg.size_cell_y)
        h = stamp // 2
        for i in np.flatnonzero(keep):
            view = (slice(y[i] - h, y[i] + h + 1), slice(x[i] - h, x[i] + h + 1))
            cell_set.insert_candidate(KernelCandidate(
                x=float(x[i]), y=float(y[i]), template=conv.data[view],
                science=targ.data[view],
                template_variance=_stamp_of(conv.variance, view),
                science_variance=_stamp_of(targ.variance, view),
                rating=float(snr[i]), candidate_id=int(i)))
        return cell_set, basis, reg, convolve, (template_fwhm, science_fwhm)

    def _run(self, template, science, sources, template_fwhm, science_fwhm,
             convolve, *, subtract, warp=None, decorrelate=False, executor=None,
             show_progress=False):
        cfg = self.config
        check_in("convolve", convolve, ("template", "science", "auto"))
        decorrelate = check_bool("decorrelate", decorrelate)
        n_threads = executor_threads(executor)
        fwhms = tuple(
            None if value is None
            else check_positive(name, _select.pixel_values(name, value))
            for name, value in (("template_fwhm", template_fwhm),
                                ("science_fwhm", science_fwhm)))
        bar = progress_bar(enabled=show_progress, total=4,
                           desc="ImagePsfMatch", unit="step")
        tw = time.perf_counter()
        template, warped = align_template(template, science, warp)
        t_warp = time.perf_counter() - tw
        t0 = time.perf_counter()
        timg = load_image(template, "template", min_size=cfg.kernel_size_min)
        simg = load_image(science, "science", min_size=cfg.kernel_size_min)
        if timg.data.shape != simg.data.shape:
            msg = (f"template and science must have the same shape, got "
                   f"{timg.data.shape} and {simg.data.shape}")
            raise ValueError(msg)
        cell_set, basis, reg, convolve, fwhms = self._candidates(
            timg, simg, sources, fwhms, convolve)
        conv, targ = (timg, simg) if convolve == "template" else (simg, timg)
        bar.update()
        t1 = time.perf_counter()
        solution = solve_matching_kernel(cell_set, basis, cfg,
                                         regularization=reg,
                                         executor=n_threads)
        kernel = solution.kernel
        bar.update(2)
        t2 = time.perf_counter()
        matched, matched_var = apply_kernel(kernel, conv, n_threads=n_threads,
                                            dtype=targ.data.dtype)
        matched_mask = grown_mask(conv.bad, kernel.kernel_size)
        t3 = time.perf_counter()
        used = cell_set.good_candidates(cfg.n_star_per_cell)
        timings = {"candidates": t1 - t0,
                   "single_kernels": solution.timings["single_kernels"],
                   "spatial": solution.timings["spatial"],
                   "convolution": t3 - t2}
        if warped:
            timings["warp"] = t_warp
        # the matched image is on the flux scale and grid of the image it
        # matches
        common = dict(
            matched_image=NDData(
                matched, uncertainty=VarianceUncertainty(matched_var,
                                                         copy=False),
                mask=matched_mask, unit=targ.unit, wcs=targ.wcs,
                meta=copy_meta(conv.meta)),
            kernel=kernel, cell_set=cell_set, candidates=cell_set.to_table(),
            convolved=convolve,
            template_fwhm=np.nan if fwhms[0] is None else float(fwhms[0]),
            science_fwhm=np.nan if fwhms[1] is None else float(fwhms[1]),
            kernel_sum=kernel.kernel_sum,
            residual_mean=float(np.mean([c.spatial_residual_mean for c in used])),
            residual_std=float(np.mean([c.spatial_residual_std for c in used])),
            n_candidates=len(cell_set.candidates), n_candidates_used=len(used),
            condition_number=solution.condition_number,
            n_iterations=solution.n_iterations, timings=timings,
            warped=warped)
        if not subtract:
            bar.update()
            bar.close()
            return ImageMatchResult(**common)
        ta = time.perf_counter()
        diff, diff_var = _difference(matched, matched_var, targ, convolve,
                                     kernel.kernel_sum)
        diff_mask = matched_mask | targ.bad
        dec_kernel = None
        if decorrelate:
            dec = decorrelate_difference(diff, kernel, simg.variance,
                                         timg.variance, convolved=convolve,
                                         mask=diff_mask)
            diff = dec.difference.data
            diff_var = dec.difference.uncertainty.array
            diff_mask = dec.difference.mask
            dec_kernel = dec.correction_kernel
        diff = diff.astype(simg.data.dtype, copy=False)
        diff_var = diff_var.astype(simg.data.dtype, copy=False)
        timings["convolution"] += time.perf_counter() - ta
        bar.update()
        bar.close()
        return SubtractionResult(
            **common,
            difference=NDData(
                diff, uncertainty=VarianceUncertainty(diff_var, copy=False),
                mask=diff_mask, unit=simg.unit, wcs=simg.wcs,
                meta=copy_meta(simg.meta)),
            difference_std=_difference_std(diff, diff_var, diff_mask),
            decorrelation_kernel=dec_kernel)


def _stamp_of(variance, view):
    return variance if np.ndim(variance) == 0 else variance[view]


def _difference(matched, matched_var, target, convolve, ksum):
    """``S - matched`` (template convolved) or ``(matched - T) / ksum``."""
    if convolve == "template":
        diff = target.data - matched
        diff_var = matched_var + target.variance
    else:
        diff = matched - target.data
        diff /= ksum
        diff_var = matched_var + target.variance
        diff_var /= ksum ** 2
    return diff, diff_var


def _difference_std(diff, variance, mask):
    # a quarter of a million pixels fix the MAD to about 0.2%; more only
    # cost time and memory
    step = max(1, diff.size // 250_000)
    good = ~mask.ravel()[::step]
    # one sample array, worked on in place: on a small image the sample
    # is the whole image, and each temporary would cost an image's size
    z = np.asarray(diff.ravel()[::step][good], dtype=float)
    sigma = np.asarray(np.broadcast_to(variance, diff.shape).ravel()[::step]
                       [good], dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        np.sqrt(sigma, out=sigma)
        z /= sigma
    del sigma
    return robust_std(z, overwrite=True)
