"""
PSF-match one image to another and subtract them (``ImagePsfMatch``).

`ImagePsfMatch` builds a spatially varying PSF-matching kernel from two
astrometrically aligned images of the same shape.  Kernel candidates are
stamps around bright, isolated, unsaturated sources seen in both images
(given by the caller, or found by a coarse detection on the science image);
they are placed in spatial cells and the kernel is solved by the loop of
`~psfkit.diffim.solve_matching_kernel`.  The kernel is then applied to the
whole image, with one FFT convolution per spatial term.
"""

from dataclasses import dataclass
import time

from astropy.nddata import NDData, VarianceUncertainty
import numpy as np
from scipy import ndimage

from ..utils import PsfkitWarning, check_in, check_positive, coerce_data, warn
from . import _select
from .basis import make_kernel_basis
from .candidates import KernelCandidate, SpatialCellSet
from .config import PsfMatchConfig
from .decorrelation import decorrelate_difference
from .solve import NoKernelCandidatesError, solve_matching_kernel
from .warping import align_template

__all__ = ["ImagePsfMatch", "ImageMatchResult", "SubtractionResult"]


@dataclass
class ImageMatchResult:
    """
    The outcome of `ImagePsfMatch.match_images`.

    Attributes
    ----------
    matched_image : `~astropy.nddata.NDData`
        The convolved image ``K * I + bg`` (with ``VarianceUncertainty``
        and mask), on the PSF, flux scale and sky of the other image.
    kernel : `~psfkit.diffim.SpatialKernel`
        The spatially varying kernel (and background model).
    background : `~numpy.ndarray`
        The differential background image.
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
    """

    matched_image: NDData
    kernel: object
    background: np.ndarray
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


@dataclass
class SubtractionResult(ImageMatchResult):
    """
    The outcome of `ImagePsfMatch.subtract_images`: the match, plus the
    difference.

    Attributes
    ----------
    difference : `~astropy.nddata.NDData`
        ``science - template``, PSF-matched and background-subtracted, in
        the flux scale of the science image, with ``VarianceUncertainty``
        and mask.
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


def _prepare(image, name):
    arr = coerce_data(image, name=name)
    data = arr.data
    bad = arr.mask.copy()
    sky, noise = _select.sky_and_noise(data, bad)
    if arr.error is not None:
        var = arr.error ** 2
        bad |= ~(var > 0)
    else:
        var = np.full(data.shape, noise ** 2)
    filled = np.where(bad, sky, data)
    if bad.any():
        step = max(1, int(np.sqrt(data.size / 250_000)))
        sub = var[::step, ::step][~bad[::step, ::step]]
        var = np.where(bad, np.median(sub) if sub.size else 1.0, var)
    return arr, filled, var, bad, sky, noise


def _robust_std(values):
    # a million values fix the MAD to ~0.1%; more only cost time
    values = values[::max(1, values.size // 1_000_000)]
    values = values[np.isfinite(values)]
    if values.size == 0:
        return np.nan
    return float(1.482602218505602 * np.median(np.abs(values - np.median(values))))


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
    >>> abs(result.kernel_sum / truth.flux_scale - 1) < 0.01
    True
    >>> abs(result.difference_std - 1) < 0.1
    True
    """

    def __init__(self, config=None):
        if config is None:
            config = PsfMatchConfig()
        if not isinstance(config, PsfMatchConfig):
            msg = f"config must be a PsfMatchConfig, got {type(config).__name__}"
            raise TypeError(msg)
        self.config = config.validate()

    def match_images(self, template, science, *, sources=None,
                     template_fwhm=None, science_fwhm=None,
                     convolve="template", warp=None):
        """
        PSF-match one image of the pair to the other.

        Parameters
        ----------
        template, science : array-like or `~astropy.nddata.NDData`
            The aligned images.
        sources : `~astropy.table.Table` or array-like, optional
            Positions for the kernel candidates (``x``/``y`` or
            ``xcentroid``/``ycentroid`` columns, or an ``(N, 2)`` array of
            ``(x, y)``); by default they are detected on the science image.
            They are vetted like detected sources and ranked by their
            signal-to-noise ratio.
        template_fwhm, science_fwhm : float, optional
            FWHMs in pixels; measured from the candidates when not given.
        convolve : {'template', 'science', 'auto'}, optional
            The image that is convolved; ``'auto'`` picks the one with the
            smaller FWHM.
        warp : bool or None, optional
            Resample the template onto the science pixel grid first
            (Lanczos-3, see `~psfkit.diffim.warp_image`): `None` does so
            only when both are ``NDData`` with WCSs that differ (or
            different shapes), `True` always, `False` never.  The kernel is
            then fitted to the warped template.

        Returns
        -------
        result : `ImageMatchResult`

        Raises
        ------
        NoKernelCandidatesError
            When no usable candidate is found or all are rejected.
        """
        return self._run(template, science, sources, template_fwhm,
                         science_fwhm, convolve, subtract=False, warp=warp)

    def subtract_images(self, template, science, *, sources=None,
                        template_fwhm=None, science_fwhm=None,
                        convolve="template", warp=None, decorrelate=False):
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
        sources : `~astropy.table.Table` or array-like, optional
            See `match_images`.
        template_fwhm, science_fwhm : float, optional
            See `match_images`.
        convolve : {'template', 'science', 'auto'}, optional
            See `match_images`.
        warp : bool or None, optional
            See `match_images`.
        decorrelate : bool, optional
            Remove the noise correlation the convolution put into the
            difference (`~psfkit.diffim.decorrelate_difference`); the
            variance plane and mask are updated accordingly.

        Returns
        -------
        result : `SubtractionResult`

        Raises
        ------
        NoKernelCandidatesError
            When no usable candidate is found or all are rejected.
        """
        return self._run(template, science, sources, template_fwhm,
                         science_fwhm, convolve, subtract=True, warp=warp,
                         decorrelate=decorrelate)

    def _run(self, template, science, sources, template_fwhm, science_fwhm,
             convolve, *, subtract, warp=None, decorrelate=False):
        cfg = self.config
        check_in("convolve", convolve, ("template", "science", "auto"))
        if not isinstance(decorrelate, bool):
            msg = f"decorrelate must be True or False, got {decorrelate!r}"
            raise TypeError(msg)
        tw = time.perf_counter()
        template, warped = align_template(template, science, warp)
        t_warp = time.perf_counter() - tw
        template_fwhm = check_positive("template_fwhm", template_fwhm,
                                       allow_none=True)
        science_fwhm = check_positive("science_fwhm", science_fwhm,
                                      allow_none=True)
        t0 = time.perf_counter()
        tarr, t_img, t_var, t_bad, t_sky, t_noise = _prepare(template, "template")
        sarr, s_img, s_var, s_bad, s_sky, s_noise = _prepare(science, "science")
        if t_img.shape != s_img.shape:
            msg = (f"template and science must have the same shape, got "
                   f"{t_img.shape} and {s_img.shape}")
            raise ValueError(msg)
        shape = s_img.shape
        bad = t_bad | s_bad

        # candidate positions and their signal-to-noise ratios
        t_snr_map = _select._smoothed_snr(t_img, bad, t_sky, t_noise)
        if sources is None:
            x, y, snr, s_snr_map = _select.detect_peaks(
                s_img, bad, s_sky, s_noise, cfg.detection_threshold,
                max_peaks=cfg.max_candidates)
        else:
            s_snr_map = _select._smoothed_snr(s_img, bad, s_sky, s_noise)
            x, y = _select.positions_from_sources(sources, shape)
            snr = s_snr_map[y, x]
        bad_sum = _select.integral_image(bad)
        order = np.argsort(-snr, kind="stable")
        x, y, snr = x[order], y[order], snr[order]
        if len(x) == 0:
            msg = ("no kernel candidates: no source above "
                   f"{cfg.detection_threshold:g} sigma in the science image"
                   if sources is None else "no kernel candidates: sources is "
                   "empty or entirely outside the image")
            raise NoKernelCandidatesError(msg, n_tried=0)

        if template_fwhm is None:
            template_fwhm = _select.measure_fwhm(t_img, bad, t_sky, x, y,
                                                 bad_sum=bad_sum)
        if science_fwhm is None:
            science_fwhm = _select.measure_fwhm(s_img, bad, s_sky, x, y,
                                                bad_sum=bad_sum)
        if convolve == "auto":
            convolve = ("template" if template_fwhm is None or science_fwhm is None
                        or template_fwhm <= science_fwhm else "science")
        if (template_fwhm and science_fwhm and cfg.scale_by_fwhm
                and cfg.kernel_basis_set == "alard-lupton"):
            wide_first = (template_fwhm > 1.1 * science_fwhm
                          if convolve == "template"
                          else science_fwhm > 1.1 * template_fwhm)
            if wide_first:
                warn(
                    f"the {convolve} image, which is convolved, has the wider "
                    f"PSF (FWHM {template_fwhm:.2f} template, "
                    f"{science_fwhm:.2f} science); matching it needs a "
                    "deconvolution. Consider convolve='auto'.", PsfkitWarning)
        if convolve == "template":
            conv = (t_img, t_var, t_bad, t_sky)
            targ = (s_img, s_var, s_bad)
            fwhms = (template_fwhm, science_fwhm)
        else:
            conv = (s_img, s_var, s_bad, s_sky)
            targ = (t_img, t_var, t_bad)
            fwhms = (science_fwhm, template_fwhm)
        basis, reg = make_kernel_basis(cfg, convolved_fwhm=fwhms[0],
                                       target_fwhm=fwhms[1])
        k = basis.shape[-1]
        # fitted region (2k + 1)**2; the convolved stamp adds k // 2 per side
        stamp = 3 * k
        keep, reasons = _select.vet_peaks(
            x, y, snr, shape=shape, stamp_size=stamp, bad_sum=bad_sum,
            template=t_img, science=s_img, science_snr=s_snr_map,
            template_snr=t_snr_map, threshold=cfg.detection_threshold,
            isolation_radius=k)
        if not np.any(keep):
            msg = (f"no kernel candidates: {len(x)} sources tried, none usable "
                   f"with {stamp}x{stamp} stamps; rejected: "
                   f"{_select.reasons_text(reasons)}")
            raise NoKernelCandidatesError(msg, n_tried=len(x), reasons=reasons)
        xk, yk, rk = x[keep], y[keep], snr[keep]
        stamps = [_select.extract_stamps(a, xk, yk, stamp)
                  for a in (conv[0], targ[0], conv[1], targ[1])]
        cell_set = SpatialCellSet(shape, cfg.size_cell_x, cfg.size_cell_y)
        for i in range(len(xk)):
            cell_set.insert_candidate(KernelCandidate(
                x=float(xk[i]), y=float(yk[i]), template=stamps[0][i],
                science=stamps[1][i], template_variance=stamps[2][i],
                science_variance=stamps[3][i], rating=float(rk[i]),
                candidate_id=i))
        t1 = time.perf_counter()

        solution = solve_matching_kernel(cell_set, basis, cfg,
                                         regularization=reg)
        kernel = solution.kernel
        t2 = time.perf_counter()

        matched = kernel.convolve(conv[0])
        background = kernel.background_image()
        matched += background
        matched_var = kernel.convolve_variance(conv[1])
        grown = ndimage.maximum_filter(conv[2], size=k, mode="constant")
        edge = np.ones(shape, dtype=bool)
        h = k // 2
        edge[h:shape[0] - h, h:shape[1] - h] = False
        matched_mask = grown | edge
        t3 = time.perf_counter()

        used = cell_set.good_candidates(cfg.n_star_per_cell)
        timings = {"candidates": t1 - t0,
                   "single_kernels": solution.timings["single_kernels"],
                   "spatial": solution.timings["spatial"],
                   "convolution": t3 - t2}
        if warped:
            timings["warp"] = t_warp
        # the matched image is on the flux scale of the image it matches
        unit = (sarr if convolve == "template" else tarr).unit
        common = dict(
            matched_image=NDData(matched, uncertainty=VarianceUncertainty(
                matched_var), mask=matched_mask, unit=unit),
            kernel=kernel, background=background, cell_set=cell_set,
            candidates=cell_set.to_table(), convolved=convolve,
            template_fwhm=(np.nan if template_fwhm is None
                           else float(template_fwhm)),
            science_fwhm=np.nan if science_fwhm is None else float(science_fwhm),
            kernel_sum=kernel.kernel_sum,
            residual_mean=float(np.mean([c.spatial_residual_mean for c in used])),
            residual_std=float(np.mean([c.spatial_residual_std for c in used])),
            n_candidates=len(cell_set.candidates), n_candidates_used=len(used),
            condition_number=solution.condition_number,
            n_iterations=solution.n_iterations, timings=timings,
            warped=warped)
        if not subtract:
            return ImageMatchResult(**common)

        ta = time.perf_counter()
        if convolve == "template":
            diff = s_img - matched
            diff_var = s_var + matched_var
        else:
            ksum = kernel.kernel_sum_image()
            diff = (matched - t_img) / ksum
            diff_var = (t_var + matched_var) / ksum ** 2
        diff_mask = matched_mask | targ[2]
        dec_kernel = None
        if decorrelate:
            dec = decorrelate_difference(diff, kernel, s_var, t_var,
                                         convolved=convolve, mask=diff_mask)
            diff = dec.difference.data
            diff_var = dec.difference.uncertainty.array
            diff_mask = dec.difference.mask
            dec_kernel = dec.correction_kernel
        with np.errstate(invalid="ignore", divide="ignore"):
            z = diff / np.sqrt(diff_var)
        timings["convolution"] += time.perf_counter() - ta
        return SubtractionResult(
            **common,
            difference=NDData(diff, uncertainty=VarianceUncertainty(diff_var),
                              mask=diff_mask, unit=sarr.unit),
            difference_std=_robust_std(z[~diff_mask]),
            decorrelation_kernel=dec_kernel)
