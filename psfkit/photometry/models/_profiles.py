"""
Plain-array math of the analytic PSF models.

Every engine takes pixel coordinates ``x`` and ``y`` and the model
parameters as arrays that broadcast against each other, and returns
``(values, derivs)``: the model values and, when ``jacobian`` is true, a
list with the partial derivative of the values with respect to each
parameter, in the order of the model's ``param_names`` (otherwise
``None``).  The astropy-facing models in `psfkit.photometry.models` call
these functions for ``evaluate``, ``fit_deriv`` and ``evaluate_stack``
alike, so there is one implementation of each formula.
"""

import numpy as np

from ..._numerics import gaussian as _gaussian
from ..._numerics.gaussian import FWHM_PER_SIGMA

__all__ = []

# the integrated Gaussian is shared with the simulators and fitpsf
integrated_gaussian = _gaussian.integrated_gaussian


def elliptical_gaussian(x, y, flux, x_0, y_0, x_fwhm, y_fwhm, theta, *,
                        jacobian=False):
    """
    Elliptical Gaussian sampled at the pixel centres, normalised to flux.

    ``theta`` is the counter-clockwise angle of the x_fwhm axis from the
    +x axis in degrees; parameters in the order
    (flux, x_0, y_0, x_fwhm, y_fwhm, theta).
    """
    sx = x_fwhm / FWHM_PER_SIGMA
    sy = y_fwhm / FWHM_PER_SIGMA
    t = np.deg2rad(theta)
    ct = np.cos(t)
    st = np.sin(t)
    dx = x - x_0
    dy = y - y_0
    u = dx * ct + dy * st
    v = -dx * st + dy * ct
    isx2 = 1.0 / (sx * sx)
    isy2 = 1.0 / (sy * sy)
    unit = np.exp(-0.5 * (u * u * isx2 + v * v * isy2)) / (
        2.0 * np.pi * np.abs(sx * sy))
    value = flux * unit
    if not jacobian:
        return value, None
    ux = u * isx2
    vy = v * isy2
    derivs = [
        unit,
        value * (ux * ct - vy * st),
        value * (ux * st + vy * ct),
        value * (u * ux - 1.0) / (sx * FWHM_PER_SIGMA),
        value * (v * vy - 1.0) / (sy * FWHM_PER_SIGMA),
        -value * u * v * (isx2 - isy2) * (np.pi / 180.0),
    ]
    return value, derivs


def moffat(x, y, flux, x_0, y_0, alpha, beta, *, jacobian=False):
    """
    Circular Moffat profile sampled at the pixel centres, normalised to flux.

    ``flux (beta - 1) / (pi alpha^2) (1 + r^2/alpha^2)^-beta``; parameters
    in the order (flux, x_0, y_0, alpha, beta).
    """
    dx = x - x_0
    dy = y - y_0
    ia2 = 1.0 / (alpha * alpha)
    r2a = (dx * dx + dy * dy) * ia2
    q = 1.0 + r2a
    unit = (beta - 1.0) * ia2 / np.pi * q ** (-beta)
    value = flux * unit
    if not jacobian:
        return value, None
    common = 2.0 * beta * ia2 / q
    derivs = [
        unit,
        value * common * dx,
        value * common * dy,
        value * (2.0 / alpha) * (beta * r2a / q - 1.0),
        value * (1.0 / (beta - 1.0) - np.log(q)),
    ]
    return value, derivs


def moffat_fwhm(alpha, beta):
    """The FWHM of a Moffat profile."""
    return 2.0 * np.abs(alpha) * np.sqrt(2.0 ** (1.0 / beta) - 1.0)
