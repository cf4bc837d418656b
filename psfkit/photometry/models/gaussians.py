"""
Gaussian PSF models under photutils 3.x's names: sampled at the pixel
centres (``*PSF``) or integrated over the pixels (``*PRF``), circular or
elliptical, the width given as a FWHM (or as sigma for
`CircularGaussianSigmaPRF`).

Parameter names, defaults, fixed parameters, bounds and bounding boxes are
photutils 3.x's, and so are the values (to rounding); psfkit adds the
analytic derivatives and the batched ``evaluate_stack`` of every model.
"""

from astropy.modeling import Parameter
import numpy as np

from ..._numerics.gaussian import FWHM_PER_SIGMA, SIGMA_PER_FWHM
from . import _profiles as profiles
from .analytic import (
    TINY,
    AnalyticPSF,
    IntegratedGaussianPRF,
    check_shape_values,
    gaussian_grid_free,
    scalar,
)

__all__ = ["CircularGaussianPSF", "CircularGaussianPRF",
           "CircularGaussianSigmaPRF", "GaussianPSF", "GaussianPRF"]

_FWHM_DOC = """
    Parameters
    ----------
    flux : float, optional
        The total flux.
    x_0, y_0 : float, optional
        The centre (x = column, y = row; (0, 0) is the centre of the first
        pixel).
    fwhm : float, optional
        The full width at half maximum (pixels); fixed by default.
    bbox_factor : float, optional
        The half size of the bounding box in units of sigma.
    **kwargs
        Other astropy model keywords (``fixed``, ``bounds``, ``name``...).
"""

_ELLIPSE_DOC = """
    Parameters
    ----------
    flux : float, optional
        The total flux.
    x_0, y_0 : float, optional
        The centre.
    x_fwhm, y_fwhm : float, optional
        The full widths at half maximum (pixels) along the model's own
        axes: ``x_fwhm`` along the direction at angle ``theta`` from the +x
        axis, ``y_fwhm`` perpendicular to it.  Fixed by default.
    theta : float, optional
        The counter-clockwise rotation of the ``x_fwhm`` axis from the +x
        axis, in **degrees**.  Fixed by default.
    bbox_factor : float, optional
        The half size of the bounding box in units of sigma.
    **kwargs
        Other astropy model keywords.
"""


class _CircularFWHM(AnalyticPSF):
    """The parameters of the circular Gaussians given by their FWHM."""

    fwhm = Parameter(default=1.0, fixed=True, bounds=(TINY, None),
                     description="full width at half maximum (pixels)")

    def __init__(self, *, flux=1.0, x_0=0.0, y_0=0.0,
                 fwhm=fwhm.default, bbox_factor=5.5, **kwargs):
        check_shape_values(fwhm=fwhm)
        self.bbox_factor = bbox_factor
        super().__init__(flux=flux, x_0=x_0, y_0=y_0, fwhm=fwhm, **kwargs)

    @property
    def sigma(self):
        """The Gaussian standard deviation, ``fwhm / 2.3548``."""
        return self.fwhm * SIGMA_PER_FWHM

    @property
    def amplitude(self):
        """The peak value of the (sampled) Gaussian."""
        return self.flux / (2.0 * np.pi * self.sigma**2)

    def _half_extent(self, factor):
        delta = factor * abs(scalar(self.fwhm)) * SIGMA_PER_FWHM
        return delta, delta


class CircularGaussianPSF(_CircularFWHM):
    __doc__ = r"""
    A circular Gaussian PSF sampled at the pixel centres.

    .. math::

        f(x, y) = \frac{F}{2\pi\sigma^2}
        \exp\left(-\frac{(x - x_0)^2 + (y - y_0)^2}{2\sigma^2}\right),
        \quad \sigma = \mathrm{FWHM} / (2\sqrt{2\ln 2})
    """ + _FWHM_DOC + """
    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.photometry import CircularGaussianPSF
    >>> psf = CircularGaussianPSF(flux=100., x_0=10., y_0=10., fwhm=3.)
    >>> yy, xx = np.mgrid[0:21, 0:21]
    >>> round(float(psf(xx, yy).sum()), 6)
    100.0
    """

    grid_separable = False

    def _compute(self, x, y, flux, x_0, y_0, fwhm, *, jacobian=False):
        return profiles.circular_gaussian(x, y, flux, x_0, y_0, fwhm,
                                         jacobian=jacobian)


class CircularGaussianPRF(_CircularFWHM):
    __doc__ = r"""
    A circular Gaussian integrated over square unit pixels, its width
    given as a FWHM (`IntegratedGaussianPRF` with ``fwhm`` for ``sigma``).

    The model summed over all pixels equals ``flux`` for any width; it is
    the model for undersampled stars.
    """ + _FWHM_DOC + """
    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.photometry import CircularGaussianPRF
    >>> prf = CircularGaussianPRF(flux=100., x_0=10.2, y_0=9.7, fwhm=1.5)
    >>> yy, xx = np.mgrid[0:21, 0:21]
    >>> round(float(prf(xx, yy).sum()), 6)
    100.0
    >>> prf.param_names
    ('flux', 'x_0', 'y_0', 'fwhm')
    """

    grid_separable = True

    def _compute(self, x, y, flux, x_0, y_0, fwhm, *, jacobian=False):
        return profiles.integrated_gaussian_fwhm(x, y, flux, x_0, y_0, fwhm,
                                                jacobian=jacobian)

    _width_per_sigma = FWHM_PER_SIGMA

    def _grid_free(self, x_cols, y_rows, params, free=None):
        return gaussian_grid_free(self, x_cols, y_rows, params, free)


class CircularGaussianSigmaPRF(IntegratedGaussianPRF):
    """
    A circular Gaussian integrated over square unit pixels, its width
    given as sigma: photutils 3.x's name of `IntegratedGaussianPRF`, with
    keyword-only arguments and photutils' ``bbox_factor`` of 5.5.

    Parameters
    ----------
    flux : float, optional
        The total flux.
    x_0, y_0 : float, optional
        The centre.
    sigma : float, optional
        The Gaussian width (pixels); fixed by default.
    bbox_factor : float, optional
        The half size of the bounding box in units of sigma.
    **kwargs
        Other astropy model keywords.

    Examples
    --------
    >>> from psfkit.photometry import CircularGaussianSigmaPRF
    >>> prf = CircularGaussianSigmaPRF(sigma=1.2)
    >>> prf.param_names, round(prf.fwhm, 4)
    (('flux', 'x_0', 'y_0', 'sigma'), 2.8258)
    """

    sigma = Parameter(default=1.0, fixed=True, bounds=(TINY, None),
                      description="Gaussian width (pixels)")
    _default_bbox_factor = 5.5

    def __init__(self, *, flux=1.0, x_0=0.0, y_0=0.0, sigma=1.0,
                 bbox_factor=5.5, **kwargs):
        super().__init__(sigma=sigma, x_0=x_0, y_0=y_0, flux=flux,
                         bbox_factor=bbox_factor, **kwargs)


class _Elliptical(AnalyticPSF):
    """The parameters of the elliptical Gaussians."""

    x_fwhm = Parameter(default=1.0, fixed=True, bounds=(TINY, None),
                       description="FWHM along the first axis")
    y_fwhm = Parameter(default=1.0, fixed=True, bounds=(TINY, None),
                       description="FWHM along the second axis")
    theta = Parameter(default=0.0, fixed=True,
                      description="rotation (degrees, CCW)")

    def __init__(self, *, flux=1.0, x_0=0.0, y_0=0.0,
                 x_fwhm=x_fwhm.default, y_fwhm=y_fwhm.default,
                 theta=theta.default, bbox_factor=5.5, **kwargs):
        check_shape_values(x_fwhm=x_fwhm, y_fwhm=y_fwhm)
        self.bbox_factor = bbox_factor
        super().__init__(flux=flux, x_0=x_0, y_0=y_0, x_fwhm=x_fwhm,
                         y_fwhm=y_fwhm, theta=theta, **kwargs)

    @property
    def x_sigma(self):
        """The standard deviation along the ``x_fwhm`` axis."""
        return self.x_fwhm * SIGMA_PER_FWHM

    @property
    def y_sigma(self):
        """The standard deviation along the ``y_fwhm`` axis."""
        return self.y_fwhm * SIGMA_PER_FWHM

    @property
    def amplitude(self):
        """The peak value of the (sampled) Gaussian."""
        return self.flux / (2.0 * np.pi * self.x_sigma * self.y_sigma)

    @property
    def fwhm(self):
        """The geometric mean of ``x_fwhm`` and ``y_fwhm`` (same area)."""
        return float(np.sqrt(abs(scalar(self.x_fwhm) * scalar(self.y_fwhm))))

    def _half_extent(self, factor):
        a = factor * abs(scalar(self.x_fwhm)) * SIGMA_PER_FWHM
        b = factor * abs(scalar(self.y_fwhm)) * SIGMA_PER_FWHM
        t = np.deg2rad(scalar(self.theta))
        return (float(np.hypot(a * np.sin(t), b * np.cos(t))),
                float(np.hypot(a * np.cos(t), b * np.sin(t))))


class GaussianPSF(_Elliptical):
    __doc__ = r"""
    An elliptical Gaussian PSF sampled at the pixel centres.

    .. math::

        f(x, y) = \frac{F}{2\pi\sigma_x\sigma_y}
        \exp\left[-\frac{u^2}{2\sigma_x^2} - \frac{v^2}{2\sigma_y^2}\right],
        \quad
        u = \Delta x\cos\theta + \Delta y\sin\theta,\;
        v = -\Delta x\sin\theta + \Delta y\cos\theta

    with ``sigma_x = x_fwhm / (2 sqrt(2 ln 2))`` and likewise for y.  The
    pixel sum equals ``flux`` to 1e-7 when both FWHMs exceed about 2.2
    pixels (to 1e-3 at 1.5 pixels); use `GaussianPRF` for narrower,
    undersampled stars.
    """ + _ELLIPSE_DOC + """
    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.photometry import GaussianPSF
    >>> psf = GaussianPSF(flux=10, x_0=20, y_0=20, x_fwhm=4, y_fwhm=2.5,
    ...                   theta=30)
    >>> yy, xx = np.mgrid[0:41, 0:41]
    >>> round(float(psf(xx, yy).sum()), 6)
    10.0
    >>> round(psf.fwhm, 4)
    3.1623
    """

    def _compute(self, x, y, flux, x_0, y_0, x_fwhm, y_fwhm, theta, *,
                 jacobian=False):
        return profiles.elliptical_gaussian(x, y, flux, x_0, y_0, x_fwhm,
                                           y_fwhm, theta, jacobian=jacobian)


class GaussianPRF(_Elliptical):
    __doc__ = r"""
    An elliptical Gaussian integrated over the pixels along its own axes.

    The value is the product of the 1-D pixel integrals of the Gaussian
    along the rotated axes ``u`` and ``v`` (see `GaussianPSF`):

    .. math::

        f = \frac{F}{4}
        \left[\mathrm{erf}\frac{u + 1/2}{\sqrt{2}\sigma_x}
        - \mathrm{erf}\frac{u - 1/2}{\sqrt{2}\sigma_x}\right]
        \left[\mathrm{erf}\frac{v + 1/2}{\sqrt{2}\sigma_y}
        - \mathrm{erf}\frac{v - 1/2}{\sqrt{2}\sigma_y}\right]

    This is photutils' definition: the exact pixel integral when ``theta``
    is a multiple of 90 degrees, an integral over a pixel rotated with
    the Gaussian otherwise.
    """ + _ELLIPSE_DOC + """
    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.photometry import GaussianPRF
    >>> prf = GaussianPRF(flux=10, x_0=20.3, y_0=19.8, x_fwhm=2, y_fwhm=1.2)
    >>> yy, xx = np.mgrid[0:41, 0:41]
    >>> round(float(prf(xx, yy).sum()), 6)
    10.0
    """

    def _compute(self, x, y, flux, x_0, y_0, x_fwhm, y_fwhm, theta, *,
                 jacobian=False):
        return profiles.integrated_elliptical_gaussian(
            x, y, flux, x_0, y_0, x_fwhm, y_fwhm, theta, jacobian=jacobian)
