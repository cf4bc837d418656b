"""
PSF models with the standard parameters ``flux``, ``x_0`` and ``y_0``.

Every model here is an astropy ``Fittable2DModel`` (usable with the astropy
fitters) with analytic derivatives, a ``bounding_box`` and a batched
``evaluate_stack(x, y, params, *, jacobian=False)`` that evaluates many
sources on their own pixel grids in one vectorised call.  The astropy
``evaluate``/``fit_deriv`` and ``evaluate_stack`` share one implementation
per model (the plain-array functions of ``_psf_engines`` and
``_interpolation``).  The module-level `evaluate_stack` does the same for
any astropy 2-D model.
"""

from astropy.modeling import Fittable2DModel, Parameter
import numpy as np

from ...utils import check_positive
from . import _profiles as engines
from .base import PSFModelMixin

__all__ = ["IntegratedGaussianPRF", "GaussianPSF", "MoffatPSF"]


def _scalar(param):
    value = np.asarray(getattr(param, "value", param), dtype=float)
    if value.size != 1:
        msg = ("the bounding box needs a single model, got parameter "
               f"values of shape {value.shape}")
        raise ValueError(msg)
    return float(value.ravel()[0])


class IntegratedGaussianPRF(PSFModelMixin, Fittable2DModel):
    r"""
    A circular Gaussian PSF integrated over square unit pixels.

    The value of a pixel is the flux the Gaussian puts inside it:

    .. math::

        f(x, y) = \frac{F}{4}
        \left[\mathrm{erf}\frac{x - x_0 + 1/2}{\sqrt{2}\sigma}
        - \mathrm{erf}\frac{x - x_0 - 1/2}{\sqrt{2}\sigma}\right]
        \left[\mathrm{erf}\frac{y - y_0 + 1/2}{\sqrt{2}\sigma}
        - \mathrm{erf}\frac{y - y_0 - 1/2}{\sqrt{2}\sigma}\right]

    so the model summed over all pixels equals ``flux`` exactly, whatever
    the width.  This is the right model for undersampled stars.

    Parameters
    ----------
    sigma : float, optional
        The Gaussian width in pixels.  Fixed by default (set
        ``model.sigma.fixed = False`` to fit it).
    x_0, y_0 : float, optional
        The centre (x = column, y = row; (0, 0) is the centre of the first
        pixel).
    flux : float, optional
        The total flux.
    **kwargs
        Other astropy model keywords (``fixed``, ``bounds``, ``name``...).

    Notes
    -----
    ``param_names`` is ``('flux', 'x_0', 'y_0', 'sigma')``.  The bounding
    box extends ``factor * sigma`` (default 4) on each side of the centre
    and follows the current ``sigma``, fitted or not.

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.photometry import IntegratedGaussianPRF
    >>> prf = IntegratedGaussianPRF(sigma=1.2, x_0=10.3, y_0=9.8, flux=500)
    >>> yy, xx = np.mgrid[0:21, 0:21]
    >>> round(float(prf(xx, yy).sum()), 6)
    500.0
    >>> round(prf.fwhm, 4)
    2.8258
    >>> bbox = prf.bounding_box.bounding_box()  # ((y_lo, y_hi), (x_lo, x_hi))
    >>> np.round(bbox, 2).tolist()
    [[5.0, 14.6], [5.5, 15.1]]
    """

    flux = Parameter(default=1.0, description="total flux")
    x_0 = Parameter(default=0.0, description="x (column) of the centre")
    y_0 = Parameter(default=0.0, description="y (row) of the centre")
    sigma = Parameter(default=1.0, fixed=True,
                      description="Gaussian width (pixels)")

    def __init__(self, sigma=sigma.default, x_0=x_0.default,
                 y_0=y_0.default, flux=flux.default, **kwargs):
        if np.ndim(sigma) == 0:
            check_positive("sigma", sigma)
        super().__init__(flux=flux, x_0=x_0, y_0=y_0, sigma=sigma, **kwargs)

    grid_separable = True

    def _compute(self, x, y, flux, x_0, y_0, sigma, *, jacobian=False):
        return engines.integrated_gaussian(x, y, flux, x_0, y_0, sigma,
                                           jacobian=jacobian)

    @property
    def fwhm(self):
        """The full width at half maximum, ``2 sqrt(2 ln 2) sigma``."""
        return float(engines.FWHM_PER_SIGMA * abs(_scalar(self.sigma)))

    def bounding_box(self, factor=4.0):
        """
        The box ``factor * sigma`` on each side of the centre.

        Parameters
        ----------
        factor : float, optional
            The half-size in units of ``sigma``.

        Returns
        -------
        bbox : tuple
            ``((y_low, y_high), (x_low, x_high))``.
        """
        delta = factor * abs(_scalar(self.sigma))
        x0 = _scalar(self.x_0)
        y0 = _scalar(self.y_0)
        return ((y0 - delta, y0 + delta), (x0 - delta, x0 + delta))


class GaussianPSF(PSFModelMixin, Fittable2DModel):
    r"""
    An elliptical Gaussian PSF sampled at the pixel centres.

    .. math::

        f(x, y) = \frac{F}{2\pi\sigma_x\sigma_y}
        \exp\left[-\frac{u^2}{2\sigma_x^2} - \frac{v^2}{2\sigma_y^2}\right],
        \quad
        u = \Delta x\cos\theta + \Delta y\sin\theta,\;
        v = -\Delta x\sin\theta + \Delta y\cos\theta

    with ``sigma_x = x_fwhm / (2 sqrt(2 ln 2))`` and likewise for y.  The
    pixel sum equals ``flux`` to 1e-7 when both FWHMs exceed about 2.2
    pixels (to 1e-3 at 1.5 pixels); use `IntegratedGaussianPRF` for
    narrower, undersampled stars.

    Parameters
    ----------
    flux : float, optional
        The total flux.
    x_0, y_0 : float, optional
        The centre.
    x_fwhm, y_fwhm : float, optional
        The full widths at half maximum (pixels) along the model's own
        axes: ``x_fwhm`` along the direction at angle ``theta`` from the +x
        axis, ``y_fwhm`` perpendicular to it.
    theta : float, optional
        The counter-clockwise rotation of the ``x_fwhm`` axis from the +x
        axis, in **degrees**.
    **kwargs
        Other astropy model keywords.

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

    flux = Parameter(default=1.0, description="total flux")
    x_0 = Parameter(default=0.0, description="x (column) of the centre")
    y_0 = Parameter(default=0.0, description="y (row) of the centre")
    x_fwhm = Parameter(default=1.0, description="FWHM along the first axis")
    y_fwhm = Parameter(default=1.0, description="FWHM along the second axis")
    theta = Parameter(default=0.0, description="rotation (degrees, CCW)")

    def __init__(self, flux=flux.default, x_0=x_0.default, y_0=y_0.default,
                 x_fwhm=x_fwhm.default, y_fwhm=y_fwhm.default,
                 theta=theta.default, **kwargs):
        for name, value in (("x_fwhm", x_fwhm), ("y_fwhm", y_fwhm)):
            if np.ndim(value) == 0:
                check_positive(name, value)
        super().__init__(flux=flux, x_0=x_0, y_0=y_0, x_fwhm=x_fwhm,
                         y_fwhm=y_fwhm, theta=theta, **kwargs)

    def _compute(self, x, y, flux, x_0, y_0, x_fwhm, y_fwhm, theta, *,
                 jacobian=False):
        return engines.elliptical_gaussian(x, y, flux, x_0, y_0, x_fwhm,
                                           y_fwhm, theta, jacobian=jacobian)

    @property
    def fwhm(self):
        """The geometric mean of ``x_fwhm`` and ``y_fwhm`` (same area)."""
        return float(np.sqrt(abs(_scalar(self.x_fwhm) * _scalar(self.y_fwhm))))

    def bounding_box(self, factor=5.5):
        """
        The box enclosing the ``factor``-sigma ellipse.

        Parameters
        ----------
        factor : float, optional
            The half-size in units of the standard deviations.

        Returns
        -------
        bbox : tuple
            ``((y_low, y_high), (x_low, x_high))``.
        """
        sx = abs(_scalar(self.x_fwhm)) / engines.FWHM_PER_SIGMA
        sy = abs(_scalar(self.y_fwhm)) / engines.FWHM_PER_SIGMA
        t = np.deg2rad(_scalar(self.theta))
        dx = factor * np.hypot(sx * np.cos(t), sy * np.sin(t))
        dy = factor * np.hypot(sx * np.sin(t), sy * np.cos(t))
        x0 = _scalar(self.x_0)
        y0 = _scalar(self.y_0)
        return ((y0 - dy, y0 + dy), (x0 - dx, x0 + dx))


class MoffatPSF(PSFModelMixin, Fittable2DModel):
    r"""
    A circular Moffat PSF sampled at the pixel centres, normalised to flux.

    .. math::

        f(x, y) = F\,\frac{\beta - 1}{\pi\alpha^2}
        \left(1 + \frac{(x - x_0)^2 + (y - y_0)^2}{\alpha^2}\right)^{-\beta}

    The integral over the plane is ``flux`` for any ``beta > 1``; the
    wings fall as ``r**(-2 beta)``, so a box must be large to hold all of
    the flux when ``beta`` is small.

    Parameters
    ----------
    flux : float, optional
        The total flux.
    x_0, y_0 : float, optional
        The centre.
    alpha : float, optional
        The core width (pixels).
    beta : float, optional
        The power index; must be greater than 1.
    **kwargs
        Other astropy model keywords.

    Notes
    -----
    ``fwhm = 2 alpha sqrt(2**(1/beta) - 1)``.  The bounding box is the
    circle-enclosing square holding all but 1e-4 of the flux (set by
    ``tol``).

    Examples
    --------
    >>> from psfkit.photometry import MoffatPSF
    >>> psf = MoffatPSF(flux=1, alpha=2.0, beta=3.0)
    >>> round(psf.fwhm, 4)
    2.0393
    >>> round(float(psf(0, 0)), 6)  # (beta - 1) / (pi alpha**2)
    0.159155
    """

    flux = Parameter(default=1.0, description="total flux")
    x_0 = Parameter(default=0.0, description="x (column) of the centre")
    y_0 = Parameter(default=0.0, description="y (row) of the centre")
    alpha = Parameter(default=1.0, description="core width (pixels)")
    beta = Parameter(default=2.5, description="power index (> 1)")

    def __init__(self, flux=flux.default, x_0=x_0.default, y_0=y_0.default,
                 alpha=alpha.default, beta=beta.default, **kwargs):
        if np.ndim(alpha) == 0:
            check_positive("alpha", alpha)
        if np.ndim(beta) == 0 and not beta > 1:
            msg = f"beta must be greater than 1 for a finite flux, got {beta}"
            raise ValueError(msg)
        super().__init__(flux=flux, x_0=x_0, y_0=y_0, alpha=alpha, beta=beta,
                         **kwargs)

    def _compute(self, x, y, flux, x_0, y_0, alpha, beta, *, jacobian=False):
        return engines.moffat(x, y, flux, x_0, y_0, alpha, beta,
                              jacobian=jacobian)

    @property
    def fwhm(self):
        """The full width at half maximum (pixels)."""
        return float(engines.moffat_fwhm(_scalar(self.alpha),
                                         _scalar(self.beta)))

    def bounding_box(self, tol=1e-4):
        """
        The square holding the circle outside which ``tol`` of the flux lies.

        Parameters
        ----------
        tol : float, optional
            The fraction of the flux left outside the circle.

        Returns
        -------
        bbox : tuple
            ``((y_low, y_high), (x_low, x_high))``.
        """
        alpha = abs(_scalar(self.alpha))
        beta = _scalar(self.beta)
        # enclosed fraction within r is 1 - (1 + r^2/alpha^2)^(1 - beta)
        radius = alpha * np.sqrt(tol ** (1.0 / (1.0 - beta)) - 1.0)
        x0 = _scalar(self.x_0)
        y0 = _scalar(self.y_0)
        return ((y0 - radius, y0 + radius), (x0 - radius, x0 + radius))
