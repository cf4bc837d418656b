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
from scipy import special

from ..._numerics import gaussian as _gaussian
from ..._numerics.gaussian import (
    FWHM_PER_SIGMA,
    pixel_integral_1d,
)

__all__ = []

# the integrated Gaussian is shared with the simulators and fitpsf
integrated_gaussian = _gaussian.integrated_gaussian

#: the first zero of the Airy pattern, J1(pi * AIRY_ZERO) = 0
AIRY_ZERO = special.jn_zeros(1, 1)[0] / np.pi


def integrated_gaussian_fwhm(x, y, flux, x_0, y_0, fwhm, *, jacobian=False):
    """`integrated_gaussian` with the width given as a FWHM."""
    value, derivs = integrated_gaussian(x, y, flux, x_0, y_0,
                                        fwhm / FWHM_PER_SIGMA,
                                        jacobian=jacobian)
    if jacobian:
        derivs[3] = derivs[3] / FWHM_PER_SIGMA
    return value, derivs


def circular_gaussian(x, y, flux, x_0, y_0, fwhm, *, jacobian=False):
    """
    Circular Gaussian sampled at the pixel centres, normalised to flux;
    parameters (flux, x_0, y_0, fwhm).
    """
    sigma = fwhm / FWHM_PER_SIGMA
    dx = x - x_0
    dy = y - y_0
    is2 = 1.0 / (sigma * sigma)
    r2 = (dx * dx + dy * dy) * is2
    unit = np.exp(-0.5 * r2) * is2 / (2.0 * np.pi)
    value = flux * unit
    if not jacobian:
        return value, None
    derivs = [unit, value * dx * is2, value * dy * is2,
              value * (r2 - 2.0) / (sigma * FWHM_PER_SIGMA)]
    return value, derivs


def integrated_elliptical_gaussian(x, y, flux, x_0, y_0, x_fwhm, y_fwhm,
                                   theta, *, jacobian=False):
    """
    Elliptical Gaussian "integrated" over the pixel as photutils'
    ``GaussianPRF`` defines it: the product of the 1-D pixel integrals
    along the rotated axes ``u`` and ``v`` (exact for ``theta`` a
    multiple of 90 degrees); parameters (flux, x_0, y_0, x_fwhm, y_fwhm,
    theta), ``theta`` in degrees.
    """
    sx, sy, ct, st, u, v = _rotated(x, y, x_0, y_0, x_fwhm, y_fwhm, theta)
    eu, deu, seu = pixel_integral_1d(u, sx, jacobian)
    ev, dev, sev = pixel_integral_1d(v, sy, jacobian)
    unit = 0.25 * eu * ev
    value = flux * unit
    if not jacobian:
        return value, None
    q = 0.25 * flux
    du = q * deu * ev
    dv = q * eu * dev
    derivs = [unit, -du * ct + dv * st, -du * st - dv * ct,
              q * seu * ev / FWHM_PER_SIGMA, q * eu * sev / FWHM_PER_SIGMA,
              (du * v - dv * u) * (np.pi / 180.0)]
    return value, derivs


def airy_disk(x, y, flux, x_0, y_0, radius, *, jacobian=False):
    """
    Airy disk sampled at the pixel centres, normalised to flux;
    parameters (flux, x_0, y_0, radius), ``radius`` the first dark ring.
    """
    scale = radius / AIRY_ZERO
    dx = x - x_0
    dy = y - y_0
    q = np.pi * np.sqrt(dx * dx + dy * dy) / scale
    small = q < 1e-4
    qs = np.where(small, 1.0, q)
    j1 = special.j1(qs)
    shape = np.where(small, 1.0 - q * q / 8.0, 2.0 * j1 / qs)
    norm = np.pi / (4.0 * scale * scale)
    unit = norm * shape * shape
    value = flux * unit
    if not jacobian:
        return value, None
    # d(shape**2)/dq divided by q: -8 J1 J2 / q**3, -1/2 at q = 0, with
    # J2 = 2 J1 / q - J0 (scipy's j0 and j1 are far faster than jv)
    j2 = 2.0 * j1 / qs - special.j0(qs)
    g = np.where(small, -0.5 + q * q / 12.0, -8.0 * j1 * j2 / qs**3)
    k = (np.pi / scale)**2
    fn = flux * norm
    derivs = [unit, -fn * g * k * dx, -fn * g * k * dy,
              -(fn / radius) * (2.0 * shape * shape + q * q * g)]
    return value, derivs


def _rotated(x, y, x_0, y_0, x_fwhm, y_fwhm, theta):
    """Sigmas, cos/sin of ``theta`` (degrees) and the offsets along the
    ``x_fwhm`` (``u``) and ``y_fwhm`` (``v``) axes."""
    t = np.deg2rad(theta)
    ct = np.cos(t)
    st = np.sin(t)
    dx = x - x_0
    dy = y - y_0
    return (x_fwhm / FWHM_PER_SIGMA, y_fwhm / FWHM_PER_SIGMA, ct, st,
            dx * ct + dy * st, -dx * st + dy * ct)


def elliptical_gaussian(x, y, flux, x_0, y_0, x_fwhm, y_fwhm, theta, *,
                        jacobian=False):
    """
    Elliptical Gaussian sampled at the pixel centres, normalised to flux.

    ``theta`` is the counter-clockwise angle of the x_fwhm axis from the
    +x axis in degrees; parameters in the order
    (flux, x_0, y_0, x_fwhm, y_fwhm, theta).
    """
    sx, sy, ct, st, u, v = _rotated(x, y, x_0, y_0, x_fwhm, y_fwhm, theta)
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
