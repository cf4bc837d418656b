"""
Automatic kernel size and basis for matching one PSF model to another.

The matching kernel ``K`` must carry the target PSF ``T`` out to where its
wings stop mattering, starting from the image PSF ``P``: by the addition
of second moments, a kernel of radius ``sqrt(r_T**2 - r_P**2)`` does that,
``r`` being the radii enclosing a fraction ``encircled_energy`` of each
PSF's flux.  The Alard-Lupton basis then gets Gaussians spaced from the
core width (``sqrt(sigma_T**2 - sigma_P**2)`` from the FWHMs) to the
kernel's edge.  Each option is tried on a few PSF pairs (the image centre
and corners) with a constant kernel, in order of cost: the first whose
worst residual stays within ``margin * tolerance`` of the target peak is
chosen, else the best one.  Wider kernels and more Gaussians are tried in
turn, up to the largest kernel allowed.
"""

from dataclasses import dataclass, replace

import numpy as np

from .._numerics.gaussian import FWHM_PER_SIGMA
from ..utils import SummaryReprMixin
from ._stamps import convolve_each_valid, crop_valid
from .basis import alard_lupton_basis
from .candidates import KernelCandidate

__all__ = ["KernelChoice"]

#: fraction of the PSF flux whose radius sets the kernel size
ENCIRCLED_ENERGY = 0.99
#: fraction of the target flux the fitted region of the PSF stamps holds
STAMP_ENERGY = 0.999
#: a probe residual below this fraction of the tolerance is accepted (the
#: spatial model adds its own interpolation error)
MARGIN = 0.6
#: options whose PSF pairs' systems are worse conditioned than this
#: fraction of ``max_spatial_condition_number`` are not used (the spatial
#: system is one to two orders of magnitude worse than its candidates')
COND_FRACTION = 0.1
# the bases tried at each kernel size, cheapest first
_LADDER = ((3, (4, 2, 2)), (4, (4, 2, 2, 2)), (4, (4, 4, 4, 4)))


@dataclass(frozen=True, repr=False)
class KernelChoice(SummaryReprMixin):
    """
    The kernel `~psfkit.diffim.ModelPsfMatch` used, and why.

    Attributes
    ----------
    method : str
        ``'auto'`` (chosen from the PSFs) or ``'config'`` (as configured).
    kernel_size : int
        Width of the kernel.
    basis : str
        ``'alard-lupton'`` or ``'delta-function'``.
    sig_gauss, deg_gauss : tuple
        Gaussian widths and polynomial degrees of an Alard-Lupton basis.
    encircled_energy : float
        The fraction of flux whose radius sets the kernel size.
    image_radius, target_radius : float
        The radii (pixels) enclosing it for the image PSF and the target
        PSF at the image centre.
    stamp_size : int
        Width of the PSF stamps the kernel is fitted on.
    probe_residual : float
        Worst ``|K * P - T|`` over the probe PSF pairs with a constant
        kernel, in units of the target peak (NaN when not probed).
    n_tried : int
        Options tried before this one was chosen.
    """

    method: str
    kernel_size: int
    basis: str
    sig_gauss: tuple
    deg_gauss: tuple
    encircled_energy: float
    image_radius: float
    target_radius: float
    stamp_size: int
    probe_residual: float = np.nan
    n_tried: int = 0


def odd_at_least(value):
    """The smallest odd integer not below ``value``."""
    n = int(np.ceil(value - 1e-9))
    return n + 1 - n % 2


def encircled_radius(image, fraction):
    """Radius about the centroid enclosing ``fraction`` of the image flux."""
    ny, nx = image.shape
    w = np.clip(image, 0, None)
    total = w.sum()
    yy, xx = np.mgrid[0:ny, 0:nx]
    xc, yc = (w * xx).sum() / total, (w * yy).sum() / total
    r = np.hypot(xx - xc, yy - yc).ravel()
    order = np.argsort(r, kind="stable")
    cum = np.cumsum(w.ravel()[order]) / total
    i = int(np.searchsorted(cum, fraction))
    return float(r[order][min(i, r.size - 1)])


def fwhm_of(image):
    """FWHM from the area above half the peak (a circle of that area)."""
    area = np.count_nonzero(image >= 0.5 * image.max())
    return float(2.0 * np.sqrt(area / np.pi))


def gaussian_ladder(n, sigma_core, half_width, min_sigma):
    """``n`` widths spaced geometrically from the core to the kernel edge
    (too close a spacing is caught by the conditioning test)."""
    lo = max(min_sigma, 0.5 * sigma_core)
    hi = max(half_width / 2.0, 2.0 * lo)
    return tuple(float(s) for s in np.geomspace(lo, hi, n))


def pad_to(image, size):
    """Pad an odd-sized image with zeros to ``size`` (odd), centred."""
    ny, nx = image.shape
    py, px = size - ny, size - nx
    return np.pad(image, ((py // 2, py - py // 2), (px // 2, px - px // 2)))


def psf_residual(candidates, kernels):
    """Worst ``|K * P / sum(K) - T|`` over the candidates' valid regions,
    in units of each target's peak."""
    kernels = np.asarray(kernels)
    k = kernels.shape[-1]
    sums = kernels.sum(axis=(1, 2))
    conv = convolve_each_valid(np.stack([c.template for c in candidates]),
                               kernels) / sums[:, None, None]
    target = crop_valid(np.stack([c.science for c in candidates]), k)
    peak = target.max(axis=(1, 2))
    return float(np.max(np.abs(conv - target).max(axis=(1, 2)) / peak))


def stamp_size_for(kernel_size, pairs, target_radius):
    """Stamps hold every PSF image and the target's wings around the
    kernel's reach."""
    largest = max(max(p.shape) for pair in pairs for p in pair)
    return max(odd_at_least(largest),
               odd_at_least(kernel_size + 2 * np.ceil(target_radius)))


def _probe(pairs, xs, ys, basis, config, size):
    """Worst residual of constant kernels fitted to the probe pairs."""
    from .solve import fit_single_kernels

    cands = [KernelCandidate.from_psfs(x, y, pad_to(p, size), pad_to(t, size))
             for (p, t), x, y in zip(pairs, xs, ys, strict=True)]
    fit_single_kernels(cands, basis, config)
    cond = max(c.condition_number for c in cands)
    return psf_residual(cands, [c.kernel for c in cands]), cond


def choose_kernel(pairs, xs, ys, config, *, tolerance, max_kernel_size):
    """
    Choose the kernel size and basis for the probe PSF pairs.

    Parameters
    ----------
    pairs : list of tuple of `~numpy.ndarray`
        ``(image_psf, target_psf)`` images (odd, centred) at the probe
        positions ``xs``, ``ys``; the first is the image centre.
    config : `~psfkit.diffim.PsfMatchConfig`
        The model-matching configuration (clipping off, no background).
    tolerance : float
        The largest acceptable residual, in units of the target peak.
    max_kernel_size : int
        The largest kernel allowed (odd).

    Returns
    -------
    choice : `KernelChoice`
    """
    image_psf, target_psf = pairs[0]
    r_img = encircled_radius(image_psf, ENCIRCLED_ENERGY)
    r_tgt = encircled_radius(target_psf, ENCIRCLED_ENERGY)
    r_stamp = encircled_radius(target_psf, STAMP_ENERGY)
    s_img = fwhm_of(image_psf) / FWHM_PER_SIGMA
    s_tgt = fwhm_of(target_psf) / FWHM_PER_SIGMA
    sigma_core = np.sqrt(max(s_tgt ** 2 - s_img ** 2, 0.0))
    half = np.sqrt(max(r_tgt ** 2 - r_img ** 2, 0.0))
    k0 = min(max(odd_at_least(2 * np.ceil(half) + 1), 5), max_kernel_size)
    sizes = list(range(k0, max_kernel_size + 1, 4)) or [max_kernel_size]
    if sizes[-1] != max_kernel_size and max_kernel_size - sizes[-1] >= 2:
        sizes.append(max_kernel_size)
    solve_cfg = replace(config, kernel_basis_set="alard-lupton",
                        scale_by_fwhm=False, fit_for_background=False,
                        single_kernel_clipping=False)
    best = None
    n_tried = 0
    for k in sizes:
        size = stamp_size_for(k, pairs, r_stamp)
        options = [(gaussian_ladder(n, sigma_core, k // 2,
                                    config.alard_min_sig), degrees)
                   for n, degrees in _LADDER]
        # the configured widths as the last resort at each size
        options.append((config.alard_sig_gauss, config.alard_deg_gauss))
        for sigmas, degrees in options:
            try:
                basis = alard_lupton_basis(k, sigmas, degrees)
            except ValueError:
                continue
            n_tried += 1
            resid, cond = _probe(pairs, xs, ys, basis, solve_cfg, size)
            if not cond <= COND_FRACTION * config.max_spatial_condition_number:
                # the spatial system would be too degenerate to solve
                continue
            option = KernelChoice(
                method="auto", kernel_size=k, basis="alard-lupton",
                sig_gauss=tuple(sigmas), deg_gauss=tuple(degrees),
                encircled_energy=ENCIRCLED_ENERGY, image_radius=r_img,
                target_radius=r_tgt, stamp_size=size, probe_residual=resid,
                n_tried=n_tried)
            if best is None or resid < best.probe_residual:
                best = option
            if resid <= MARGIN * tolerance:
                return option
    if best is None:
        # nothing well conditioned: the plainest basis at the first size
        k = sizes[0]
        sigmas = gaussian_ladder(1, sigma_core, k // 2, config.alard_min_sig)
        basis = alard_lupton_basis(k, sigmas, (4,))
        size = stamp_size_for(k, pairs, r_stamp)
        resid, _ = _probe(pairs, xs, ys, basis, solve_cfg, size)
        return KernelChoice(
            method="auto", kernel_size=k, basis="alard-lupton",
            sig_gauss=sigmas, deg_gauss=(4,),
            encircled_energy=ENCIRCLED_ENERGY, image_radius=r_img,
            target_radius=r_tgt, stamp_size=size, probe_residual=resid,
            n_tried=n_tried + 1)
    return replace(best, n_tried=n_tried)
