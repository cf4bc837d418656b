"""
The shared evaluation path of psfkit's PSF models.

Each model implements one private method, ``_compute(x, y, *params,
jacobian)``, returning the values and (optionally) the list of partial
derivatives in ``param_names`` order.  `PSFModelMixin` derives from it the
astropy ``evaluate`` and ``fit_deriv`` and the batched ``evaluate_stack``
used by the photometry engine, and `evaluate_stack` offers the same batched
interface for any astropy 2-D model.
"""

import numpy as np

__all__ = ["PSFModelMixin", "evaluate_stack"]

# central finite differences: relative step ~ eps**(1/3) balances the
# truncation and the rounding errors
_FD_STEP = np.finfo(float).eps ** (1.0 / 3.0)


def _stack_inputs(x, y, params, n_params):
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    try:
        x, y = np.broadcast_arrays(x, y)
    except ValueError:
        msg = (f"x and y must have the same shape (n_sources, n_pix), got "
               f"{x.shape} and {y.shape}")
        raise ValueError(msg) from None
    if x.ndim != 2:
        msg = (f"x and y must be 2-D arrays of shape (n_sources, n_pix), got "
               f"{x.ndim}-D arrays")
        raise ValueError(msg)
    params = np.asarray(params, dtype=float)
    if params.ndim != 2 or params.shape[1] != n_params:
        msg = (f"params must have shape (n_sources, {n_params}) with columns "
               f"in param_names order, got {params.shape}")
        raise ValueError(msg)
    if params.shape[0] != x.shape[0]:
        msg = (f"params has {params.shape[0]} rows but x and y have "
               f"{x.shape[0]} sources")
        raise ValueError(msg)
    return x, y, params


def _assemble(values, derivs, shape, jacobian):
    values = np.array(np.broadcast_to(values, shape), dtype=float)
    if not jacobian:
        return values
    jac = np.empty((*shape, len(derivs)), dtype=float)
    for i, deriv in enumerate(derivs):
        jac[..., i] = deriv
    return values, jac


class PSFModelMixin:
    """
    Give an astropy model ``evaluate``, ``fit_deriv`` and ``evaluate_stack``
    from its single ``_compute`` method.

    Put it before ``Fittable2DModel`` in the bases so that its
    ``fit_deriv`` replaces the ``None`` of ``Model``.
    """

    def _compute(self, x, y, *params, jacobian=False):  # pragma: no cover
        msg = f"{type(self).__name__} must define _compute"
        raise TypeError(msg)

    def evaluate(self, x, y, *params):
        """Evaluate the model (astropy interface)."""
        return self._compute(x, y, *params, jacobian=False)[0]

    def fit_deriv(self, x, y, *params):
        """
        The partial derivatives with respect to every parameter.

        Returns a list of arrays of the shape of the model values, in
        ``param_names`` order (astropy interface).
        """
        values, derivs = self._compute(x, y, *params, jacobian=True)
        shape = np.broadcast_shapes(np.shape(x), np.shape(y),
                                    np.shape(values))
        return [np.broadcast_to(d, shape) for d in derivs]

    def evaluate_stack(self, x, y, params, *, jacobian=False):
        """
        Evaluate the model for many sources at once.

        Parameters
        ----------
        x, y : array-like
            Pixel coordinates of each source's pixels, shape
            ``(n_sources, n_pix)`` (x = column, y = row, absolute image
            coordinates).
        params : array-like
            The parameters of each source, shape ``(n_sources, n_params)``,
            columns in ``param_names`` order.
        jacobian : bool, optional
            If `True` also return the partial derivatives.

        Returns
        -------
        values : `~numpy.ndarray`
            The model values, shape ``(n_sources, n_pix)``.
        jac : `~numpy.ndarray`
            Only with ``jacobian=True``: the derivatives, shape
            ``(n_sources, n_pix, n_params)``, last axis in ``param_names``
            order (fixed parameters included).
        """
        n_params = len(self.param_names)
        x, y, params = _stack_inputs(x, y, params, n_params)
        cols = [params[:, i:i + 1] for i in range(n_params)]
        values, derivs = self._compute(x, y, *cols, jacobian=jacobian)
        return _assemble(values, derivs, x.shape, jacobian)

    #: Whether `evaluate_grid` is cheaper than `evaluate_stack` on the same
    #: pixels: true for models whose profile is a product of a function of
    #: x and a function of y, evaluated once per column and once per row.
    grid_separable = False

    def evaluate_grid(self, x_cols, y_rows, params, *, jacobian=False):
        """
        Evaluate the model for many sources on row-major pixel grids.

        The same as `evaluate_stack` on the flattened grids, given by their
        column and row coordinates only.  Models whose profile separates in
        x and y (`grid_separable`) then do their expensive work once per
        column and once per row instead of once per pixel.

        Parameters
        ----------
        x_cols : array-like
            Column coordinates, shape ``(n_sources, n_grids, nx)``.
        y_rows : array-like
            Row coordinates, shape ``(n_sources, n_grids, ny)``.
        params : array-like
            Parameters, shape ``(n_sources, n_params)``.
        jacobian : bool, optional
            If `True` also return the partial derivatives.

        Returns
        -------
        values : `~numpy.ndarray`
            Shape ``(n_sources, n_grids * ny * nx)``, each grid row-major.
        jac : `~numpy.ndarray`
            Only with ``jacobian=True``: shape
            ``(n_sources, n_grids * ny * nx, n_params)``.
        """
        xg, yg = grid_to_stack(x_cols, y_rows)
        n, n_grids, _, nx = xg.shape
        ny = yg.shape[2]
        n_params = len(self.param_names)
        params = np.asarray(params, dtype=float)
        if params.shape != (n, n_params) or yg.shape[:2] != (n, n_grids):
            msg = (f"x_cols {xg.shape[:2]}, y_rows {yg.shape[:2]} and params "
                   f"{params.shape} do not describe the same sources")
            raise ValueError(msg)
        cols = [params[:, i, None, None, None] for i in range(n_params)]
        values, derivs = self._compute(xg, yg, *cols, jacobian=jacobian)
        shape = (n, n_grids, ny, nx)
        out = _assemble(values, derivs, shape, jacobian)
        flat = (n, n_grids * ny * nx)
        if not jacobian:
            return out.reshape(flat)
        return out[0].reshape(flat), out[1].reshape(*flat, n_params)

    def _grid_free(self, x_cols, y_rows, params, free=None):
        """
        `evaluate_grid` with only the derivatives by the parameters
        ``free`` (indices into ``param_names``; `None` for the values
        only), as the fitting engines need them.  Models with a cheaper
        way to form a few derivatives override it.
        """
        if free is None:
            return self.evaluate_grid(x_cols, y_rows, params), None
        values, jac = self.evaluate_grid(x_cols, y_rows, params,
                                         jacobian=True)
        return values, jac[..., free]


def grid_to_stack(x_cols, y_rows):
    """
    Broadcastable coordinates of row-major pixel grids.

    ``x_cols`` of shape ``(n, B, nx)`` and ``y_rows`` of shape ``(n, B, ny)``
    describe ``B`` grids per source; the returned arrays of shapes
    ``(n, B, 1, nx)`` and ``(n, B, ny, 1)`` broadcast to the grids' pixels.
    """
    x_cols = np.asarray(x_cols, dtype=float)
    y_rows = np.asarray(y_rows, dtype=float)
    return x_cols[:, :, None, :], y_rows[:, :, :, None]


def _per_source(func, x, y, cols):
    """
    ``func(x, y, *cols)`` for many sources: at once, with each parameter a
    column of shape (n, 1), or, for models whose ``evaluate`` takes only
    scalar parameters (such as photutils' gridded PSF), one source at a
    time.  Returns an array whose leading axis is the sources (for a
    ``fit_deriv``, a list of such arrays).
    """
    try:
        out = func(x, y, *cols)
        if isinstance(out, list | tuple):
            return [np.broadcast_to(d, x.shape) for d in out]
        return np.broadcast_to(out, x.shape)
    except (IndexError, TypeError, ValueError):
        pass
    rows = [func(x[i], y[i], *(c[i, 0] for c in cols)) for i in range(len(x))]
    if isinstance(rows[0], list | tuple):
        return [np.stack([np.broadcast_to(r[k], x.shape[1:]) for r in rows])
                for k in range(len(rows[0]))]
    return np.stack([np.broadcast_to(r, x.shape[1:]) for r in rows])


def _generic_stack(model, x, y, params, jacobian):
    n_params = len(model.param_names)
    x, y, params = _stack_inputs(x, y, params, n_params)
    cols = [params[:, i:i + 1] for i in range(n_params)]
    values = _per_source(model.evaluate, x, y, cols)
    if not jacobian:
        return np.array(values, dtype=float)
    fit_deriv = getattr(model, "fit_deriv", None)
    if fit_deriv is not None:
        if not getattr(model, "col_fit_deriv", True):
            derivs = np.moveaxis(np.asarray(fit_deriv(x, y, *cols)), -1, 0)
        else:
            derivs = _per_source(fit_deriv, x, y, cols)
        return _assemble(values, list(derivs), x.shape, True)
    derivs = []
    for i in range(n_params):
        step = _FD_STEP * np.maximum(np.abs(cols[i]), 1.0)
        plus = list(cols)
        minus = list(cols)
        plus[i] = cols[i] + step
        minus[i] = cols[i] - step
        derivs.append((_per_source(model.evaluate, x, y, plus)
                       - _per_source(model.evaluate, x, y, minus))
                      / (2.0 * step))
    return _assemble(values, derivs, x.shape, True)


def evaluate_stack(model, x, y, params, *, jacobian=False):
    """
    Evaluate any 2-D model for many sources at once.

    psfkit's PSF models use their own vectorised ``evaluate_stack``.  Any
    other astropy 2-D model is evaluated with each column of ``params``
    broadcast as an ``(n_sources, 1)`` array; its Jacobian comes from its
    ``fit_deriv`` when it has one, otherwise from central finite
    differences.

    Parameters
    ----------
    model : `~astropy.modeling.Fittable2DModel`
        The model.
    x, y : array-like
        Pixel coordinates of each source's pixels, shape
        ``(n_sources, n_pix)``.
    params : array-like
        Parameters of each source, shape ``(n_sources, n_params)``, columns
        in ``model.param_names`` order.
    jacobian : bool, optional
        If `True` also return the partial derivatives.

    Returns
    -------
    values : `~numpy.ndarray`
        Shape ``(n_sources, n_pix)``.
    jac : `~numpy.ndarray`
        Only with ``jacobian=True``: shape ``(n_sources, n_pix, n_params)``.

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.photometry import IntegratedGaussianPRF, evaluate_stack
    >>> model = IntegratedGaussianPRF(sigma=1.5)
    >>> yy, xx = np.mgrid[0:15, 0:15]
    >>> x = np.stack([xx.ravel(), xx.ravel() + 20.0])
    >>> y = np.stack([yy.ravel(), yy.ravel()])
    >>> params = np.array([[100.0, 7.0, 7.0, 1.5], [50.0, 27.2, 6.8, 1.5]])
    >>> values, jac = evaluate_stack(model, x, y, params, jacobian=True)
    >>> values.shape, jac.shape
    ((2, 225), (2, 225, 4))
    >>> np.round(values.sum(axis=1), 3)
    array([100.,  50.])
    """
    if hasattr(model, "evaluate_stack"):
        return model.evaluate_stack(x, y, params, jacobian=jacobian)
    if getattr(model, "n_inputs", None) != 2 or getattr(model, "n_outputs",
                                                        None) != 1:
        msg = ("model must be a 2-D astropy model with two inputs and one "
               f"output, got {type(model).__name__}")
        raise TypeError(msg)
    return _generic_stack(model, x, y, params, jacobian)
