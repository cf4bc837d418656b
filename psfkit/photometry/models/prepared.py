"""
Any astropy 2-D model as a PSF model.

- `prepare_psf_model` wraps it in a model with the standard parameters
  ``flux``, ``x_0`` and ``y_0``;
- `make_psf_model` builds photutils 3.x's compound model, whose centre and
  flux parameters are named by its ``x_name``, ``y_name`` and
  ``flux_name`` attributes.
"""

import copy

from astropy.modeling import Fittable1DModel, Fittable2DModel, Parameter
from astropy.modeling.models import Const2D, Identity
import numpy as np
from scipy import integrate

from ...utils import renamed_keyword
from .base import _FD_STEP, PSFModelMixin

__all__ = ["PreparedPSFModel", "make_psf_model", "prepare_psf_model"]

# composite Gauss-Legendre rule used to integrate over a bounding box
_GL_PANELS = 48
_GL_ORDER = 8
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(_GL_ORDER)


#: points of a model evaluated at once by `_box_integral`
_CHUNK_POINTS = 1 << 20


def _box_integral(func, bbox, *, panels=(_GL_PANELS, _GL_PANELS),
                  order=_GL_ORDER):
    """
    The integral of ``func(x, y)`` over ``bbox = ((ylo, yhi), (xlo, xhi))``
    by composite Gauss-Legendre quadrature: ``panels`` ``(ny, nx)`` equal
    panels along each axis, ``order`` nodes in each.
    """
    nodes, weights = ((_GL_NODES, _GL_WEIGHTS) if order == _GL_ORDER
                      else np.polynomial.legendre.leggauss(order))

    def axis(lo, hi, n):
        edges = np.linspace(lo, hi, n + 1)
        half = 0.5 * np.diff(edges)[:, None]
        mid = 0.5 * (edges[:-1] + edges[1:])[:, None]
        return (mid + half * nodes).ravel(), (half * weights).ravel()

    (ylo, yhi), (xlo, xhi) = bbox
    xn, xw = axis(xlo, xhi, panels[1])
    yn, yw = axis(ylo, yhi, panels[0])
    step = max(1, _CHUNK_POINTS // len(xn))
    total = 0.0
    for i in range(0, len(yn), step):
        values = func(xn[None, :], yn[i:i + step, None])
        total += float(yw[i:i + step] @ np.asarray(values) @ xw)
    return total


def _plane_integral(func, **tolerances):
    """
    The integral of ``func(x, y)`` over the plane (`scipy.integrate.dblquad`
    with ``tolerances``; default: ``epsrel=1e-9``).
    """
    tolerances = tolerances or {"epsabs": 0, "epsrel": 1e-9}
    value, _ = integrate.dblquad(lambda y, x: float(func(x, y)), -np.inf,
                                 np.inf, -np.inf, np.inf, **tolerances)
    return value


def _model_integral(base, func):
    try:
        bbox = base.bounding_box.bounding_box()
    except NotImplementedError:
        bbox = None
    if bbox is not None:
        return _box_integral(func, bbox)
    return _plane_integral(func)


def _check_names(model, **names):
    """Each given name (``x_name='x_mean'``...) is a parameter of model."""
    for label, pname in names.items():
        if pname is not None and pname not in model.param_names:
            msg = (f"{label}={pname!r} is not a parameter of "
                   f"{type(model).__name__} {model.param_names}")
            raise ValueError(msg)


class PreparedPSFModel(PSFModelMixin, Fittable2DModel):
    """
    An astropy 2-D model wrapped as a PSF model (see `prepare_psf_model`).

    The wrapped model's own parameters (other than those named by
    ``x_name``, ``y_name`` and ``flux_name``) are held at their values;
    the wrapper fits ``flux``, ``x_0`` and ``y_0``.  ``xname``, ``yname``
    and ``fluxname`` are the former, deprecated, names of ``x_name``,
    ``y_name`` and ``flux_name``.
    """

    flux = Parameter(default=1.0, description="total flux")
    x_0 = Parameter(default=0.0, description="x (column) of the centre")
    y_0 = Parameter(default=0.0, description="y (row) of the centre")

    @renamed_keyword(xname="x_name", yname="y_name", fluxname="flux_name")
    def __init__(self, base, *, x_name=None, y_name=None, flux_name=None,
                 renormalize=True, **kwargs):
        if getattr(base, "n_inputs", None) != 2 or getattr(
                base, "n_outputs", None) != 1:
            msg = ("model must be a 2-D astropy model (two inputs, one "
                   f"output), got {type(base).__name__}")
            raise TypeError(msg)
        _check_names(base, x_name=x_name, y_name=y_name, flux_name=flux_name)
        base = copy.deepcopy(base)
        self._base = base
        self._names = (x_name, y_name, flux_name)
        self._values = {n: np.asarray(getattr(base, n).value, dtype=float)
                        for n in base.param_names}
        x_init = self._values[x_name] if x_name else 0.0
        y_init = self._values[y_name] if y_name else 0.0
        amplitude = self._values[flux_name] if flux_name else 1.0
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


@renamed_keyword(xname="x_name", yname="y_name", fluxname="flux_name")
def prepare_psf_model(model, *, x_name=None, y_name=None, flux_name=None,
                      renormalize=True):
    """
    Wrap an astropy 2-D model as a PSF model with ``flux``, ``x_0``, ``y_0``.

    Parameters
    ----------
    model : `~astropy.modeling.Fittable2DModel`
        The model.  Its other parameters are held at their current values.
    x_name, y_name : str, optional
        The parameters of ``model`` that give the centre.  If `None` the
        model is shifted instead: ``model(x - x_0, y - y_0)``, so its
        current position is the reference ``(0, 0)``.
    flux_name : str, optional
        A parameter that scales ``model`` linearly (an amplitude).  If
        `None` the model is multiplied by the flux instead.
    renormalize : bool, optional
        If `True` the model is divided by its integral over the plane
        (over its bounding box when it has one), so that ``flux`` is the
        total flux.
    xname, yname, fluxname : str, optional
        Deprecated names of ``x_name``, ``y_name`` and ``flux_name``.

    Returns
    -------
    psf : `PreparedPSFModel`
        A fittable model with ``param_names == ('flux', 'x_0', 'y_0')``,
        initially equal to ``model``.  The position derivatives come from
        central differences.

    See Also
    --------
    make_psf_model : photutils 3.x's compound model of ``model``.

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.modeling.models import Gaussian2D
    >>> from psfkit.photometry import prepare_psf_model
    >>> g = Gaussian2D(amplitude=3.0, x_mean=0, y_mean=0, x_stddev=2,
    ...                y_stddev=1.5)
    >>> psf = prepare_psf_model(g, x_name='x_mean', y_name='y_mean',
    ...                         flux_name='amplitude')
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
    return PreparedPSFModel(model, x_name=x_name, y_name=y_name,
                            flux_name=flux_name, renormalize=renormalize)


class _InverseShift(Fittable1DModel):
    """``x - offset``: a coordinate measured from a fitted position."""

    offset = Parameter(default=0.0, description="the position")

    @staticmethod
    def evaluate(x, offset):
        return x - offset

    @staticmethod
    def fit_deriv(x, offset):
        return [np.broadcast_to(-1.0, np.shape(x))]


def make_psf_model(model, *, x_name=None, y_name=None, flux_name=None,
                   normalize=True, dx=50, dy=50, subsample=100,
                   use_dblquad=False):
    """
    Make photutils 3.x's PSF model of an astropy 2-D model.

    The model is an astropy compound model whose ``x_name``, ``y_name``
    and ``flux_name`` attributes name its centre and flux parameters, as
    photutils' ``make_psf_model`` returns: it works in psfkit's and
    photutils' photometry classes alike.  (`prepare_psf_model` wraps a
    model in one with the standard ``flux``, ``x_0`` and ``y_0``
    parameters instead.)

    Parameters
    ----------
    model : `~astropy.modeling.Fittable2DModel`
        The model (copied).
    x_name, y_name : str, optional
        The parameters of ``model`` giving its centre.  If `None`, the
        model is taken to be centred at 0 along that axis and a position
        parameter is added in front of it (``offset_0`` for x,
        ``offset_1`` for y).
    flux_name : str, optional
        The parameter of ``model`` giving its flux.  If `None`, the model
        is multiplied by a `~astropy.modeling.models.Const2D` whose
        amplitude is the flux.
    normalize : bool, optional
        Divide the model, once, by its integral at its current
        parameters (through a last `~astropy.modeling.models.Const2D`
        factor), so that it integrates to 1 (to the flux parameter's
        value when ``flux_name`` is given).
    dx, dy : int, optional
        The integral is taken over ``x`` within ``(dx - 1) / 2`` of the
        model's centre and ``y`` within ``(dy - 1) / 2``.
    subsample : int, optional
        The number of Gauss-Legendre nodes per pixel along each axis of
        that integral.
    use_dblquad : bool, optional
        Integrate over the whole plane with `scipy.integrate.dblquad`
        instead (much slower, and it may miss a narrow model).

    Returns
    -------
    psf : `~astropy.modeling.CompoundModel`
        The PSF model: ``(x_shift & y_shift) | model``, times the flux and
        normalisation constants as needed; only the centre and flux
        parameters are free.  It also has ``x_0``, ``y_0`` and ``flux``
        attributes that are its centre and flux parameters.

    Raises
    ------
    ValueError
        When a name is not a parameter of ``model``, when ``dx``, ``dy``
        or ``subsample`` is not positive, or when the integral is zero.

    See Also
    --------
    prepare_psf_model

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.modeling.models import Gaussian2D
    >>> from psfkit.photometry import make_psf_model
    >>> psf = make_psf_model(Gaussian2D(x_stddev=2, y_stddev=2),
    ...                      x_name='x_mean', y_name='y_mean')
    >>> psf.x_name, psf.y_name, psf.flux_name
    ('x_mean_2', 'y_mean_2', 'amplitude_3')
    >>> setattr(psf, psf.x_name, 20.0)
    >>> setattr(psf, psf.flux_name, 300.0)
    >>> yy, xx = np.mgrid[-10:30, 0:40]
    >>> round(float(psf(xx, yy).sum()), 3)
    300.0
    """
    _check_names(model, x_name=x_name, y_name=y_name, flux_name=flux_name)
    base = model.copy()
    axes = [Identity(1) if name else _InverseShift(0.0, name=f"{axis}_position")
            for axis, name in (("x", x_name), ("y", y_name))]
    for axis in axes:
        axis.fittable = True
    psf = (axes[0] & axes[1]) | base
    n_axes = len(axes[0].param_names) + len(axes[1].param_names)

    def in_psf(name, default):
        if name is None:
            return default
        return psf.param_names[n_axes + base.param_names.index(name)]

    names = [in_psf(x_name, psf.param_names[0]),
             in_psf(y_name, psf.param_names[len(axes[0].param_names)])]
    if flux_name is None:
        psf = psf * Const2D(1.0, name="flux")
        names.append(psf.param_names[-1])
    else:
        names.append(in_psf(flux_name, None))
    if normalize:
        integral = _psf_integral(psf, names, dx=dx, dy=dy,
                                 subsample=subsample, use_dblquad=use_dblquad)
        if integral == 0:
            msg = "the integral of the model is zero: it cannot be normalized"
            raise ValueError(msg)
        psf = psf * Const2D(1.0 / integral, name="normalization_scaling")
    for name in psf.param_names:
        psf.fixed[name] = name not in names
    psf.x_name, psf.y_name, psf.flux_name = names
    psf.x_0, psf.y_0, psf.flux = (getattr(psf, name) for name in names)
    return psf


def _psf_integral(psf, names, *, dx, dy, subsample, use_dblquad):
    """The integral of a `make_psf_model` model, for its normalisation."""

    def values(x, y):
        out = psf(x, y)
        return getattr(out, "value", out)

    if use_dblquad:
        return _plane_integral(values, epsrel=1.49e-8)
    for label, value in (("dx", dx), ("dy", dy), ("subsample", subsample)):
        if not value > 0:
            msg = f"{label} must be > 0, got {value!r}"
            raise ValueError(msg)
    xc, yc = (float(getattr(psf, name).value) for name in names[:2])
    if not np.isfinite(xc) or not np.isfinite(yc):
        msg = "the model's x and y positions must be finite to normalize it"
        raise ValueError(msg)
    hx, hy = (dx - 1) / 2, (dy - 1) / 2
    if hx <= 0 or hy <= 0:
        msg = f"dx and dy must be > 1, got dx={dx!r}, dy={dy!r}"
        raise ValueError(msg)
    return _box_integral(values, ((yc - hy, yc + hy), (xc - hx, xc + hx)),
                         panels=(max(1, round(2 * hy)), max(1, round(2 * hx))),
                         order=int(subsample))
