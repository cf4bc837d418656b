"""
`prepare_psf_model`: any astropy 2-D model as a PSF model with the standard
parameters ``flux``, ``x_0`` and ``y_0``.
"""

import copy

from astropy.modeling import Fittable2DModel, Parameter
import numpy as np
from scipy import integrate

from .base import _FD_STEP, PSFModelMixin

__all__ = ["PreparedPSFModel", "prepare_psf_model"]

# composite Gauss-Legendre rule used to integrate over a bounding box
_GL_PANELS = 48
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(8)


def _box_integral(func, bbox):
    (ylo, yhi), (xlo, xhi) = bbox

    def axis(lo, hi):
        edges = np.linspace(lo, hi, _GL_PANELS + 1)
        half = 0.5 * np.diff(edges)[:, None]
        mid = 0.5 * (edges[:-1] + edges[1:])[:, None]
        return ((mid + half * _GL_NODES).ravel(),
                (half * _GL_WEIGHTS).ravel())

    xn, xw = axis(xlo, xhi)
    yn, yw = axis(ylo, yhi)
    values = func(xn[None, :], yn[:, None])
    return float(yw @ values @ xw)


def _model_integral(base, func):
    try:
        bbox = base.bounding_box.bounding_box()
    except NotImplementedError:
        bbox = None
    if bbox is not None:
        return _box_integral(func, bbox)
    value, _ = integrate.dblquad(lambda y, x: float(func(x, y)), -np.inf,
                                 np.inf, -np.inf, np.inf, epsabs=0,
                                 epsrel=1e-9)
    return value


class PreparedPSFModel(PSFModelMixin, Fittable2DModel):
    """
    An astropy 2-D model wrapped as a PSF model (see `prepare_psf_model`).

    The wrapped model's own parameters (other than those named by
    ``xname``, ``yname`` and ``fluxname``) are held at their values; the
    wrapper fits ``flux``, ``x_0`` and ``y_0``.
    """

    flux = Parameter(default=1.0, description="total flux")
    x_0 = Parameter(default=0.0, description="x (column) of the centre")
    y_0 = Parameter(default=0.0, description="y (row) of the centre")

    def __init__(self, base, *, xname=None, yname=None, fluxname=None,
                 renormalize=True, **kwargs):
        if getattr(base, "n_inputs", None) != 2 or getattr(
                base, "n_outputs", None) != 1:
            msg = ("model must be a 2-D astropy model (two inputs, one "
                   f"output), got {type(base).__name__}")
            raise TypeError(msg)
        for label, pname in (("xname", xname), ("yname", yname),
                             ("fluxname", fluxname)):
            if pname is not None and pname not in base.param_names:
                msg = (f"{label}={pname!r} is not a parameter of "
                       f"{type(base).__name__} {base.param_names}")
                raise ValueError(msg)
        base = copy.deepcopy(base)
        self._base = base
        self._names = (xname, yname, fluxname)
        self._values = {n: np.asarray(getattr(base, n).value, dtype=float)
                        for n in base.param_names}
        x_init = self._values[xname] if xname else 0.0
        y_init = self._values[yname] if yname else 0.0
        amplitude = self._values[fluxname] if fluxname else 1.0
        self._norm = 1.0
        if renormalize:
            self._norm = _model_integral(
                base, lambda x, y: self._unit(x, y, x_init, y_init))
            if not np.isfinite(self._norm) or self._norm <= 0:
                msg = (f"the integral of the model is {self._norm}; it "
                       "cannot be renormalised")
                raise ValueError(msg)
        kwargs.setdefault("flux", amplitude * self._norm)
        kwargs.setdefault("x_0", x_init)
        kwargs.setdefault("y_0", y_init)
        super().__init__(**kwargs)

    @property
    def base_model(self):
        """A copy of the wrapped model."""
        return copy.deepcopy(self._base)

    @property
    def fwhm(self):
        """
        The FWHM: the value set on this model, else the ``fwhm`` of the
        wrapped model (`AttributeError` if neither).
        """
        given = getattr(self, "_fwhm_given", None)
        if given is not None:
            return given
        return float(self._base.fwhm)

    @fwhm.setter
    def fwhm(self, value):
        # a FWHM attached by hand (a number or an astropy Parameter, as
        # photutils 1.x users do) sizes the photometry's apertures
        self._fwhm_given = value

    def _base_params(self, x_0, y_0, amplitude):
        xname, yname, fluxname = self._names
        params = dict(self._values)
        if xname:
            params[xname] = x_0
        if yname:
            params[yname] = y_0
        if fluxname:
            params[fluxname] = amplitude
        return [params[n] for n in self._base.param_names]

    def _unit(self, x, y, x_0, y_0):
        """The wrapped model for unit amplitude, before renormalising."""
        xname, yname, _ = self._names
        xs = x if xname else x - x_0
        ys = y if yname else y - y_0
        return self._base.evaluate(xs, ys, *self._base_params(x_0, y_0, 1.0))

    def _compute(self, x, y, flux, x_0, y_0, *, jacobian=False):
        unit = self._unit(x, y, x_0, y_0) / self._norm
        if not jacobian:
            return flux * unit, None
        derivs = [unit]
        for axis, center in enumerate((x_0, y_0)):
            step = _FD_STEP * np.maximum(np.abs(center), 1.0)
            shifted = [x_0, y_0]
            shifted[axis] = center + step
            plus = self._unit(x, y, *shifted)
            shifted[axis] = center - step
            minus = self._unit(x, y, *shifted)
            derivs.append(flux * (plus - minus) / (2.0 * step * self._norm))
        return flux * unit, derivs


def prepare_psf_model(model, *, xname=None, yname=None, fluxname=None,
                      renormalize=True):
    """
    Wrap an astropy 2-D model as a PSF model with ``flux``, ``x_0``, ``y_0``.

    Parameters
    ----------
    model : `~astropy.modeling.Fittable2DModel`
        The model.  Its other parameters are held at their current values.
    xname, yname : str, optional
        The parameters of ``model`` that give the centre.  If `None` the
        model is shifted instead: ``model(x - x_0, y - y_0)``, so its
        current position is the reference ``(0, 0)``.
    fluxname : str, optional
        A parameter that scales ``model`` linearly (an amplitude).  If
        `None` the model is multiplied by the flux instead.
    renormalize : bool, optional
        If `True` the model is divided by its integral over the plane
        (over its bounding box when it has one), so that ``flux`` is the
        total flux.

    Returns
    -------
    psf : `PreparedPSFModel`
        A fittable model with ``param_names == ('flux', 'x_0', 'y_0')``,
        initially equal to ``model``.  The position derivatives come from
        central differences.

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.modeling.models import Gaussian2D
    >>> from psfkit.photometry import prepare_psf_model
    >>> g = Gaussian2D(amplitude=3.0, x_mean=0, y_mean=0, x_stddev=2,
    ...                y_stddev=1.5)
    >>> psf = prepare_psf_model(g, xname='x_mean', yname='y_mean',
    ...                         fluxname='amplitude')
    >>> psf.param_names
    ('flux', 'x_0', 'y_0')
    >>> round(float(psf.flux.value), 4)  # 2 pi sigma_x sigma_y amplitude
    56.5487
    >>> psf.flux = 10.0
    >>> psf.x_0, psf.y_0 = 20.0, 15.0
    >>> yy, xx = np.mgrid[0:30, 0:40]
    >>> round(float(psf(xx, yy).sum()), 5)
    10.0
    """
    return PreparedPSFModel(model, xname=xname, yname=yname,
                            fluxname=fluxname, renormalize=renormalize)
