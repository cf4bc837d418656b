"""
Analytic PSF models with the standard parameters ``flux``, ``x_0`` and
``y_0``: the seed's `IntegratedGaussianPRF`, and photutils 3.x's
`MoffatPSF` and `AiryDiskPSF` (the Gaussian family is in ``gaussians``).

Every model here is an astropy ``Fittable2DModel`` (usable with the astropy
fitters and inside photutils' PSF photometry) with analytic derivatives, a
``bounding_box`` scaled by ``bbox_factor``, and a batched
``evaluate_stack(x, y, params, *, jacobian=False)`` that evaluates many
sources on their own pixel grids in one vectorised call.  The astropy
``evaluate``/``fit_deriv`` and ``evaluate_stack`` share one implementation
per model, the plain-array functions of ``_profiles``.
"""

from astropy.modeling import Fittable2DModel, Parameter
import numpy as np

from ..._numerics.gaussian import integrated_gaussian_grid
from ...utils import check_positive
from . import _profiles as profiles
from .base import PSFModelMixin

__all__ = ["IntegratedGaussianPRF", "MoffatPSF", "AiryDiskPSF"]

#: the smallest positive float32, photutils' lower bound of widths
TINY = float(np.finfo(np.float32).tiny)


def scalar(param):
    """The single value of a parameter (`ValueError` for model sets)."""
    value = np.asarray(getattr(param, "value", param), dtype=float)
    if value.size != 1:
        msg = ("the bounding box needs a single model, got parameter "
               f"values of shape {value.shape}")
        raise ValueError(msg)
    return float(value.ravel()[0])


def check_shape_values(**values):
    """Reject non-positive scalar width parameters at construction."""
    for name, value in values.items():
        if np.ndim(value) == 0 and not hasattr(value, "unit"):
            check_positive(name, value)


def gaussian_grid_free(model, x_cols, y_rows, params, free=None):
    """
    ``_grid_free`` of the integrated Gaussians (parameters flux, x_0, y_0
    and a width ``model._width_per_sigma`` times sigma): values and
    derivatives as outer products of 1-D pixel integrals.
    """
    params = np.asarray(params, dtype=float)
    flux, x_0, y_0, width = (params[:, i, None, None] for i in range(4))
    wanted = () if free is None else tuple(int(i) for i in free)
    scale = model._width_per_sigma
    return integrated_gaussian_grid(
        np.asarray(x_cols, dtype=float), np.asarray(y_rows, dtype=float),
        flux, x_0, y_0, width / scale, wanted, width_scale=scale)


class AnalyticPSF(PSFModelMixin, Fittable2DModel):
    """
    Shared parts of the analytic models: ``bbox_factor`` and the box.

    Subclasses add their shape parameters (after ``flux``, ``x_0``,
    ``y_0``) and give ``_half_extent(factor) -> (half_y, half_x)``.
    """

    flux = Parameter(default=1.0, description="total flux")
    x_0 = Parameter(default=0.0, description="x (column) of the centre")
    y_0 = Parameter(default=0.0, description="y (row) of the centre")

    _default_bbox_factor = 5.5

    @property
    def bbox_factor(self):
        """The multiple (of sigma or FWHM) giving the bounding box."""
        return getattr(self, "_bbox_factor", self._default_bbox_factor)

    @bbox_factor.setter
    def bbox_factor(self, value):
        self._bbox_factor = check_positive("bbox_factor", value)

    def bounding_box(self, factor=None):
        """
        The box around the centre that holds the model.

        Parameters
        ----------
        factor : float, optional
            The size in units of the model's width (see ``bbox_factor``,
            the default).

        Returns
        -------
        bbox : tuple
            ``((y_low, y_high), (x_low, x_high))``.
        """
        factor = self.bbox_factor if factor is None else factor
        half_y, half_x = self._half_extent(factor)
        x0 = scalar(self.x_0)
        y0 = scalar(self.y_0)
        return ((y0 - half_y, y0 + half_y), (x0 - half_x, x0 + half_x))


class IntegratedGaussianPRF(AnalyticPSF):
    r"""
    A circular Gaussian PSF integrated over square unit pixels (the seed's
    model; photutils 3.x calls it `CircularGaussianSigmaPRF`).

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
    bbox_factor : float, optional
        The half size of the bounding box in units of ``sigma`` (4, as in
        the seed).
    **kwargs
        Other astropy model keywords (``fixed``, ``bounds``, ``name``...).

    Notes
    -----
    ``param_names`` is ``('flux', 'x_0', 'y_0', 'sigma')``.  The bounding
    box follows the current ``sigma``, fitted or not.

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

    sigma = Parameter(default=1.0, fixed=True,
                      description="Gaussian width (pixels)")

    #: the profile depends on |sigma| only (the parameter is unbounded, as
    #: in the seed): photometry reports fitted widths positive
    _sign_free_params = ("sigma",)
    _default_bbox_factor = 4.0
    grid_separable = True

    def __init__(self, sigma=sigma.default, x_0=0.0,
                 y_0=0.0, flux=1.0, *, bbox_factor=4.0,
                 **kwargs):
        check_shape_values(sigma=sigma)
        self.bbox_factor = bbox_factor
        super().__init__(flux=flux, x_0=x_0, y_0=y_0, sigma=sigma, **kwargs)

    def _compute(self, x, y, flux, x_0, y_0, sigma, *, jacobian=False):
        return profiles.integrated_gaussian(x, y, flux, x_0, y_0, sigma,
                                           jacobian=jacobian)

    #: the width parameter over the Gaussian's sigma
    _width_per_sigma = 1.0

    def _grid_free(self, x_cols, y_rows, params, free=None):
        return gaussian_grid_free(self, x_cols, y_rows, params, free)

    @property
    def fwhm(self):
        """The full width at half maximum, ``2 sqrt(2 ln 2) sigma``."""
        return float(profiles.FWHM_PER_SIGMA * abs(scalar(self.sigma)))

    def _half_extent(self, factor):
        delta = factor * abs(scalar(self.sigma))
        return delta, delta


class MoffatPSF(AnalyticPSF):
    r"""
    A circular Moffat PSF sampled at the pixel centres, normalised to flux
    (photutils 3.x's model).

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
        The core width (pixels); fixed by default.
    beta : float, optional
        The power index, greater than 1; fixed by default.
    bbox_factor : float, optional
        The half size of the bounding box in units of the FWHM.
    **kwargs
        Other astropy model keywords.

    Notes
    -----
    ``fwhm = 2 alpha sqrt(2**(1/beta) - 1)``.  Defaults, fixed parameters,
    bounds and bounding box are photutils 3.x's; the values equal its
    ``MoffatPSF`` to rounding.

    Examples
    --------
    >>> from psfkit.photometry import MoffatPSF
    >>> psf = MoffatPSF(flux=1, alpha=2.0, beta=3.0)
    >>> round(psf.fwhm, 4)
    2.0393
    >>> round(float(psf(0, 0)), 6)  # (beta - 1) / (pi alpha**2)
    0.159155
    """

    alpha = Parameter(default=1.0, fixed=True, bounds=(TINY, None),
                      description="core width (pixels)")
    beta = Parameter(default=2.0, fixed=True, bounds=(1.0, None),
                     description="power index (> 1)")

    _default_bbox_factor = 10.0

    def __init__(self, *, flux=1.0, x_0=0.0, y_0=0.0,
                 alpha=alpha.default, beta=beta.default, bbox_factor=10.0,
                 **kwargs):
        check_shape_values(alpha=alpha)
        if np.ndim(beta) == 0 and not beta > 1:
            msg = f"beta must be greater than 1 for a finite flux, got {beta}"
            raise ValueError(msg)
        self.bbox_factor = bbox_factor
        super().__init__(flux=flux, x_0=x_0, y_0=y_0, alpha=alpha, beta=beta,
                         **kwargs)

    def _compute(self, x, y, flux, x_0, y_0, alpha, beta, *, jacobian=False):
        return profiles.moffat(x, y, flux, x_0, y_0, alpha, beta,
                              jacobian=jacobian)

    @property
    def fwhm(self):
        """The full width at half maximum (pixels)."""
        return float(profiles.moffat_fwhm(scalar(self.alpha),
                                         scalar(self.beta)))

    def _half_extent(self, factor):
        delta = factor * self.fwhm
        return delta, delta


class AiryDiskPSF(AnalyticPSF):
    r"""
    An Airy disk sampled at the pixel centres, normalised to flux
    (photutils 3.x's model).

    .. math::

        f(r) = \frac{\pi F}{4 a^2}
        \left[\frac{2 J_1(\pi r / a)}{\pi r / a}\right]^2,
        \quad a = R / R_z

    with ``R`` the ``radius`` of the first dark ring and ``R_z = 1.2197``
    the first zero of ``J_1(\pi x)``; the integral over the plane is
    ``flux``.

    Parameters
    ----------
    flux : float, optional
        The total flux.
    x_0, y_0 : float, optional
        The centre.
    radius : float, optional
        The radius of the first dark ring (pixels); fixed by default.
    bbox_factor : float, optional
        The half size of the bounding box in units of the FWHM.
    **kwargs
        Other astropy model keywords.

    Examples
    --------
    >>> from psfkit.photometry import AiryDiskPSF
    >>> psf = AiryDiskPSF(flux=1.0, radius=3.0)
    >>> round(psf.fwhm, 4)
    2.531
    >>> round(float(psf(3.0, 0.0)), 12)  # the first dark ring
    0.0
    """

    radius = Parameter(default=1.0, fixed=True, bounds=(TINY, None),
                       description="radius of the first dark ring (pixels)")

    _default_bbox_factor = 10.0

    def __init__(self, *, flux=1.0, x_0=0.0, y_0=0.0,
                 radius=radius.default, bbox_factor=10.0, **kwargs):
        check_shape_values(radius=radius)
        self.bbox_factor = bbox_factor
        super().__init__(flux=flux, x_0=x_0, y_0=y_0, radius=radius, **kwargs)

    def _compute(self, x, y, flux, x_0, y_0, radius, *, jacobian=False):
        return profiles.airy_disk(x, y, flux, x_0, y_0, radius,
                                 jacobian=jacobian)

    @property
    def fwhm(self):
        """The full width at half maximum (pixels): ``0.8437 radius``."""
        # the half-maximum radius of (2 J1(q) / q)**2 is q = 1.6163...
        return float(2.0 * 1.616339948310703 * scalar(self.radius)
                     / profiles.AIRY_ZERO / np.pi)

    def _half_extent(self, factor):
        delta = factor * self.fwhm
        return delta, delta
