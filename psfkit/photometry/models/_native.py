"""
photutils' analytic PSF models evaluated by psfkit's own classes.

photutils 3.x and psfkit share the names, parameters and values of the
Gaussian, Moffat and Airy-disk PSF models and of the image models
(``ImagePSF``, ``GriddedPSFModel``).  A photutils model passed to
psfkit's photometry is evaluated pixel by pixel through its ``evaluate``
(and its derivatives by finite differences); psfkit's class of the same
name evaluates whole stacks of fit boxes at once, with analytic
derivatives, separably where the model allows.  `native_model` returns the
psfkit twin of such a model, with the same parameter values, fixed flags
and bounds, so the fitting engine can use it in place of the original.

The twin is used only after it has been checked to give the same values
as the original (to 1e-8 of the peak) at random points over the model's
extent, at the current and at shifted parameters; a model it cannot
reproduce is used as it is.  The image models' twins interpolate with the
not-a-knot splines of photutils' ``RectBivariateSpline`` (not psfkit's
default of an image continued by zeros), so they reproduce photutils'
values whatever the image's border holds.
"""

import numpy as np

from . import analytic, gaussians, image_models

__all__ = []

#: the photutils models with a psfkit twin of the same name and parameters
_ANALYTIC = {cls.__name__: cls for cls in (
    gaussians.CircularGaussianPSF, gaussians.CircularGaussianPRF,
    gaussians.CircularGaussianSigmaPRF, gaussians.GaussianPSF,
    gaussians.GaussianPRF, analytic.MoffatPSF, analytic.AiryDiskPSF)}
_IMAGES = {cls.__name__: cls for cls in (image_models.ImagePSF,
                                         image_models.GriddedPSFModel)}

#: values must agree to this fraction of the model's largest value
_RTOL = 1e-8


def _image_settings(model):
    """The constructor arguments of psfkit's image models from photutils'."""
    kwargs = {"oversampling": model.oversampling,
              "fill_value": model.fill_value}
    if hasattr(model, "grid_xypos"):
        kwargs["grid_xypos"] = model.grid_xypos
    else:
        kwargs["origin"] = model.origin
    return kwargs


def _scalar(param):
    """A parameter's plain float value (None with units or an array)."""
    if param.unit is not None:
        return None
    value = np.asarray(param.value, dtype=float)
    return float(value) if value.ndim == 0 else None


def _twin_of(model):
    """psfkit's class for ``model``, or None when there is none."""
    cls = type(model)
    if not cls.__module__.startswith("photutils."):
        return None
    twin = _ANALYTIC.get(cls.__name__) or _IMAGES.get(cls.__name__)
    if twin is None or tuple(twin.param_names) != tuple(model.param_names):
        return None
    if any(model.tied[n] for n in model.param_names):
        return None  # ties refer to the original model
    return twin


def _reach(model):
    """Half the side of the square the comparison samples (pixels)."""
    data = getattr(model, "data", None)
    if data is None:
        return 4.0
    over = np.broadcast_to(np.asarray(model.oversampling, dtype=float), 2)
    # the whole image, and a pixel of the fill value around it
    return float(np.max(np.shape(data)[-2:][::-1] / over)) / 2.0 + 1.0


def _agrees(model, twin):
    """Whether ``twin`` reproduces ``model`` over the model's extent."""
    names = model.param_names
    base = np.array([_scalar(getattr(model, n)) for n in names])
    # the flux only scales the model: compare unit-flux profiles
    base[names.index("flux")] = 1.0
    ix, iy = names.index("x_0"), names.index("y_0")
    shape = [i for i, n in enumerate(names) if n not in ("flux", "x_0", "y_0")]
    reach = _reach(model)
    pts = np.random.default_rng(0).uniform(-reach, reach, size=(2, 256))
    for shift in (0.0, 0.37):
        params = base.copy()
        params[ix] += shift
        params[iy] -= shift
        # shape parameters (widths, exponents, angle) moved a few per cent
        params[shape] *= 1.0 + 0.1 * shift
        x = params[ix] + pts[0]
        y = params[iy] + pts[1]
        with np.errstate(all="ignore"):
            want = np.asarray(model.evaluate(x, y, *params), dtype=float)
            got = np.asarray(twin.evaluate(x, y, *params), dtype=float)
        scale = np.max(np.abs(want))
        if (not np.all(np.isfinite(want)) or not np.all(np.isfinite(got))
                or scale == 0
                or np.max(np.abs(got - want)) > _RTOL * scale):
            return False
    return True


def native_model(model):
    """
    The psfkit model that evaluates ``model`` fastest.

    Parameters
    ----------
    model : `~astropy.modeling.Fittable2DModel`
        A PSF model.

    Returns
    -------
    model : `~astropy.modeling.Fittable2DModel`
        For photutils' analytic and image PSF models, psfkit's model of the
        same name with the same parameter values, fixed flags and bounds,
        when it evaluates to the same values; otherwise ``model`` itself.

    Examples
    --------
    >>> from psfkit.photometry import CircularGaussianPRF
    >>> from psfkit.photometry.models._native import native_model
    >>> psf = CircularGaussianPRF(fwhm=2.0)
    >>> native_model(psf) is psf
    True
    """
    twin_cls = _twin_of(model)
    if twin_cls is None:
        return model
    names = model.param_names
    kwargs = {n: _scalar(getattr(model, n)) for n in names}
    if any(v is None or not np.isfinite(v) for v in kwargs.values()):
        return model
    try:
        if twin_cls in _IMAGES.values():
            # photutils interpolates its images with scipy's not-a-knot
            # splines: the twin's spline ends the same way
            twin = twin_cls(np.asarray(model.data, dtype=float), **kwargs,
                            **_image_settings(model))._spline_ends(
                                "not-a-knot")
        else:
            if hasattr(model, "bbox_factor"):
                kwargs["bbox_factor"] = model.bbox_factor
            twin = twin_cls(**kwargs)
    except (AttributeError, TypeError, ValueError):
        return model
    for n in names:
        getattr(twin, n).fixed = bool(model.fixed[n])
        getattr(twin, n).bounds = model.bounds[n]
    return twin if _agrees(model, twin) else model
