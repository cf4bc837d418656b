"""
The elliptical-Gaussian detection kernel shared by the star finders.

DAOFIND and IRAF starfind both smooth the image with a zero-sum,
truncated Gaussian: convolving with it gives, at each pixel, the
least-squares amplitude of a Gaussian of the expected shape sitting on a
flat sky.  The kernel, its footprint and its noise-scaling factor are
built here once per finder.
"""

from dataclasses import dataclass

import numpy as np

from ..._numerics.gaussian import SIGMA_PER_FWHM
from ...utils import check_positive

__all__ = []

#: The largest kernel built (pixels): a kernel this size already needs a
#: FWHM of about 1600 pixels, and each of its arrays takes 32 MB.
MAX_KERNEL_PIXELS = 2**22


@dataclass(frozen=True)
class DetectionKernel:
    """
    A truncated, zero-sum elliptical Gaussian detection kernel.

    Attributes
    ----------
    fwhm, ratio, theta, sigma_radius : float
        The defining parameters (``theta`` in degrees, counter-clockwise).
    sigma_x, sigma_y : float
        The Gaussian standard deviations along the major and minor axes.
    gaussian : ndarray
        The untruncated Gaussian ``exp(-g)`` on the kernel grid.
    footprint : ndarray of bool
        The pixels that belong to the kernel.
    kernel : ndarray
        The zero-sum detection kernel (zero outside the footprint).
    relerr : float
        ``1/sqrt(sum(G**2) - sum(G)**2/npix)``: the factor turning a
        per-pixel noise level into the noise of the convolved image.
    """

    fwhm: float
    ratio: float
    theta: float
    sigma_radius: float
    sigma_x: float
    sigma_y: float
    gaussian: np.ndarray
    footprint: np.ndarray
    kernel: np.ndarray
    relerr: float

    @property
    def shape(self):
        """The ``(ny, nx)`` shape of the kernel (both odd)."""
        return self.kernel.shape

    @property
    def half_size(self):
        """The ``(half_y, half_x)`` half sizes of the kernel."""
        return self.kernel.shape[0] // 2, self.kernel.shape[1] // 2

    @property
    def npix(self):
        """The number of pixels in the footprint."""
        return int(np.count_nonzero(self.footprint))

    def check_fits(self, shape):
        """
        Raise a `ValueError` naming ``fwhm`` if the kernel is larger than
        an image of the given shape.
        """
        if self.shape[0] > shape[0] or self.shape[1] > shape[1]:
            msg = (f"fwhm={self.fwhm:g} (sigma_radius={self.sigma_radius:g}) "
                   f"gives a {self.shape[1]}x{self.shape[0]} detection kernel, "
                   f"larger than the {shape[1]}x{shape[0]} image; use a "
                   "smaller fwhm")
            raise ValueError(msg)

    def marginal_sigma(self, axis):
        """
        The standard deviation of the Gaussian's marginal along an axis.

        Parameters
        ----------
        axis : {'x', 'y'}

        Returns
        -------
        sigma : float
        """
        t = np.deg2rad(self.theta)
        if axis == "x":
            var = (self.sigma_x * np.cos(t))**2 + (self.sigma_y * np.sin(t))**2
        else:
            var = (self.sigma_x * np.sin(t))**2 + (self.sigma_y * np.cos(t))**2
        return float(np.sqrt(var))


def make_detection_kernel(fwhm, *, ratio=1.0, theta=0.0, sigma_radius=1.5):
    """
    Build the DAOFIND detection kernel.

    Parameters
    ----------
    fwhm : float
        The full width at half maximum along the major axis, in pixels.
    ratio : float, optional
        The minor-to-major axis ratio, ``0 < ratio <= 1``.
    theta : float, optional
        The position angle of the major axis, degrees counter-clockwise
        from the +x axis.
    sigma_radius : float, optional
        The truncation radius of the kernel, in units of sigma.

    Returns
    -------
    kernel : `DetectionKernel`
    """
    fwhm = check_positive("fwhm", fwhm)
    ratio = check_positive("ratio", ratio)
    if ratio > 1:
        msg = f"ratio must be in (0, 1], got {ratio}"
        raise ValueError(msg)
    theta = float(theta)
    if not np.isfinite(theta):
        msg = f"theta must be finite, got {theta}"
        raise ValueError(msg)
    theta = theta % 360.0
    sigma_radius = check_positive("sigma_radius", sigma_radius)

    # the operations are photutils', in its order, so that the kernel (and
    # every statistic built on it) is the same to the last bit
    sigma_x = fwhm * SIGMA_PER_FWHM
    sigma_y = sigma_x * ratio
    t = np.deg2rad(theta)
    cos, sin = np.cos(t), np.sin(t)
    a = cos**2 / (2 * sigma_x**2) + sin**2 / (2 * sigma_y**2)
    b = 0.5 * cos * sin * (1.0 / sigma_x**2 - 1.0 / sigma_y**2)
    c = sin**2 / (2 * sigma_x**2) + cos**2 / (2 * sigma_y**2)
    f = sigma_radius**2 / 2.0
    det = a * c - b**2
    half_x = int(max(2.0, np.sqrt(c * f / det)))
    half_y = int(max(2.0, np.sqrt(a * f / det)))
    npix = (2 * half_x + 1) * (2 * half_y + 1)
    if npix > MAX_KERNEL_PIXELS:
        msg = (f"fwhm={fwhm:g} (sigma_radius={sigma_radius:g}) would need a "
               f"{2 * half_x + 1}x{2 * half_y + 1} detection kernel, more than "
               f"{MAX_KERNEL_PIXELS} pixels; use a smaller fwhm")
        raise ValueError(msg)

    x = np.arange(-half_x, half_x + 1, dtype=float)[None, :]
    y = np.arange(-half_y, half_y + 1, dtype=float)[:, None]
    g = a * x**2 + 2.0 * b * x * y + c * y**2
    footprint = (g <= f) | (np.sqrt(x**2 + y**2) <= 2.0)
    gaussian = np.exp(-g)
    npix = np.count_nonzero(footprint)
    truncated = gaussian * footprint
    gsum = truncated.sum()
    denom = (truncated**2).sum() - gsum**2 / npix
    kernel = ((truncated - gsum / npix) / denom) * footprint
    return DetectionKernel(fwhm=fwhm, ratio=ratio, theta=theta,
                           sigma_radius=sigma_radius, sigma_x=sigma_x,
                           sigma_y=sigma_y, gaussian=gaussian,
                           footprint=footprint, kernel=kernel,
                           relerr=float(1.0 / np.sqrt(denom)))
