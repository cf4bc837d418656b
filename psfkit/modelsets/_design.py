"""
Design matrices of astropy linear models.

The columns come from the model's own ``fit_deriv`` (the derivative of a
linear model with respect to each parameter does not depend on the
parameter values), evaluated on coordinates mapped from the model's domain
to its window exactly as astropy's linear fitter maps them.  Models without
``fit_deriv`` are evaluated with unit parameter vectors instead.  Fixed
parameters are removed from the design; their contribution (different for
every model of a set) is returned separately so it can be subtracted from
the data.
"""

from dataclasses import dataclass

from astropy.modeling.utils import poly_map_domain
import numpy as np

__all__ = []


@dataclass
class Design:
    """A model's design matrix split into free and fixed columns."""

    A: np.ndarray            # (K, P_free)
    free: list               # names of the free parameters
    fixed: list              # names of the fixed parameters
    A_fixed: np.ndarray      # (K, P_fixed)
    p_fixed: np.ndarray      # (N, P_fixed) values of the fixed parameters
    implicit: np.ndarray | None  # (K,) terms the model adds by itself


def check_linear_model(model):
    """Raise a clear error unless ``model`` can be fitted linearly."""
    name = type(model).__name__
    if hasattr(model, "submodel_names") or getattr(model, "n_submodels", 1) > 1:
        msg = (f"model must be a simple (not compound) linear model, got a "
               f"compound model {name}")
        raise ValueError(msg)
    if not getattr(model, "linear", False):
        msg = (f"{name} is not linear in its parameters; LinearModelSetFitter "
               "fits linear models only (use a non-linear fitter for it)")
        raise ValueError(msg)
    if model.n_outputs != 1 or model.n_inputs not in (1, 2):
        msg = (f"{name} has {model.n_inputs} inputs and {model.n_outputs} "
               "outputs; only 1-D and 2-D models with one output can be fitted")
        raise ValueError(msg)
    tied = [p for p, t in model.tied.items() if t is not False]
    if tied:
        msg = f"tied parameters are not supported ({name}: {', '.join(tied)})"
        raise ValueError(msg)
    bounded = [p for p, b in model.bounds.items() if b != (None, None)]
    if bounded:
        msg = (f"bounds cannot be honoured by a linear fit ({name}: "
               f"{', '.join(bounded)}); fix the parameters or remove the bounds")
        raise ValueError(msg)
    for pname in model.param_names:
        if getattr(model, pname).value.size != len(model):
            msg = f"{name} has a non-scalar parameter {pname}; not supported"
            raise ValueError(msg)


def map_domains(model, coords):
    """
    Map coordinates from domain to window, filling unset domains in place.

    As astropy's linear fitter does, a domain left as `None` is set to the
    range of the coordinates and a window left as `None` to ``(-1, 1)``.
    """
    if model.n_inputs == 1:
        pairs = [("domain", "window")]
    else:
        pairs = [("x_domain", "x_window"), ("y_domain", "y_window")]
    out = []
    for (dom, win), c in zip(pairs, coords, strict=False):
        if not hasattr(model, dom):
            out.append(c)
            continue
        if getattr(model, dom) is None:
            setattr(model, dom, (float(c.min()), float(c.max())))
        if getattr(model, win) is None:
            setattr(model, win, (-1.0, 1.0))
        out.append(poly_map_domain(c, getattr(model, dom), getattr(model, win)))
    return out


def _param_values(model, pname):
    return np.asarray(getattr(model, pname).value, dtype=float).reshape(-1)


def _full_design(model, coords, like):
    K = coords[0].size
    first = [_param_values(like, p)[0] for p in model.param_names]
    if model.fit_deriv is not None:
        mapped = map_domains(model, coords)
        d = np.asarray(model.fit_deriv(*mapped, *first), dtype=float)
        if model.col_fit_deriv:
            d = d.reshape(len(model.param_names), -1).T
        d = d.reshape(K, -1)
    else:
        # no analytic derivative: a linear model evaluated with a unit
        # parameter vector is the corresponding column of its design
        map_domains(model, coords)
        cols = []
        n_par = len(model.param_names)
        for k in range(n_par):
            unit = [np.array([1.0 if i == k else 0.0]) for i in range(n_par)]
            cols.append(np.broadcast_to(
                np.asarray(model.evaluate(*coords, *unit), dtype=float)
                .reshape(-1), (K,)))
        d = np.stack(cols, axis=1)
    if d.shape != (K, len(model.param_names)):
        msg = (f"{type(model).__name__} gave a design matrix of shape "
               f"{d.shape}; expected {(K, len(model.param_names))}")
        raise ValueError(msg)
    return d


def build_design(model, coords, like=None):
    """
    Return the `Design` of ``model`` on flattened coordinates.

    ``model`` is modified in place only to fill unset domains/windows.
    Parameter values are read from ``like`` (default ``model``), a model
    with the same parameters: the fitter builds the design of a copy whose
    free parameters are not filled in yet.
    """
    like = model if like is None else like
    full = _full_design(model, coords, like)
    if not np.all(np.isfinite(full)):
        msg = (f"the design matrix of {type(model).__name__} is not finite "
               "at the given coordinates")
        raise ValueError(msg)
    names = list(model.param_names)
    fixed = [p for p in names if model.fixed[p]]
    free = [p for p in names if not model.fixed[p]]
    ifree = [names.index(p) for p in free]
    ifix = [names.index(p) for p in fixed]
    p_fixed = (np.stack([_param_values(like, p) for p in fixed], axis=1)
               if fixed else np.zeros((len(model), 0)))
    implicit = model.sum_of_implicit_terms(*coords)
    if implicit is not None:
        implicit = np.broadcast_to(np.asarray(implicit, dtype=float).ravel(),
                                   (coords[0].size,))
    return Design(A=full[:, ifree], free=free, fixed=fixed,
                  A_fixed=full[:, ifix], p_fixed=p_fixed, implicit=implicit)
