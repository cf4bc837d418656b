"""
Parameter uncertainties of fitted model sets, in astropy's form.

astropy's fitters attach ``model.cov_matrix`` and ``model.stds`` to a
fitted model: one ``Covariance`` and one ``StandardDeviations`` object for a
single model, a list of them (one per model) for a model set.  A list of
millions of Python objects would cost more than the fit itself, so for
model sets `LinearModelSetFitter` attaches sequences that hold the
covariance matrices as one ``(n_models, n_free, n_free)`` array and build
astropy's object for a model only when it is asked for: indexing, ``len``
and iteration behave as astropy's lists do, and the whole array is there
for vectorised work (``cov_matrix.cov_matrix``, ``stds.stds``).
"""

from collections.abc import Sequence

from astropy.modeling.fitting import Covariance, StandardDeviations
import numpy as np

__all__ = ["ModelSetCovariances", "ModelSetStds"]


class _PerModel(Sequence):
    """A sequence of per-model astropy objects built on demand."""

    _item_class = None

    def __init__(self, cov, param_names):
        self._cov = cov
        self.param_names = list(param_names)

    def __len__(self):
        return self._cov.shape[0]

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(len(self))[index]]
        index = int(index)
        if not -len(self) <= index < len(self):
            msg = (f"model index {index} is out of range for a set of "
                   f"{len(self)} models")
            raise IndexError(msg)
        return self._item_class(np.asarray(self._cov[index]),
                                self.param_names)

    def __repr__(self):
        names = ", ".join(self.param_names)
        return (f"<{type(self).__name__} of {len(self)} models, "
                f"parameters ({names})>")


class ModelSetCovariances(_PerModel):
    """
    The covariance matrix of the free parameters of every model of a set.

    Item ``n`` is astropy's ``Covariance`` object of model ``n`` (what
    astropy's fitters put in their list), built when it is asked for.

    Attributes
    ----------
    cov_matrix : ndarray, shape (n_models, n_free, n_free)
        Every covariance matrix at once.
    param_names : list of str
        The free parameters, in the order of the matrices.

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.modeling import models
    >>> from psfkit.modelsets import LinearModelSetFitter
    >>> x = np.arange(5.0)
    >>> y = np.array([x + 1.0, 2.0 * x]) + [[0.1, -0.1, 0.0, 0.1, -0.1]]
    >>> fitted = LinearModelSetFitter(calc_uncertainties=True)(
    ...     models.Polynomial1D(1, n_models=2), x, y)
    >>> fitted.cov_matrix
    <ModelSetCovariances of 2 models, parameters (c0, c1)>
    >>> fitted.cov_matrix.cov_matrix.shape
    (2, 2, 2)
    >>> print(f"{fitted.stds[1]['c1']:.4f}")
    0.0346
    """

    _item_class = Covariance

    @property
    def cov_matrix(self):
        return self._cov


class ModelSetStds(_PerModel):
    """
    The standard deviations of the free parameters of every model of a set.

    Item ``n`` is astropy's ``StandardDeviations`` object of model ``n``
    (`None` for a parameter whose variance is not positive, as astropy
    reports it).

    Attributes
    ----------
    stds : ndarray, shape (n_models, n_free)
        Every standard deviation at once (NaN where the variance is not
        positive).
    param_names : list of str
        The free parameters.
    """

    _item_class = StandardDeviations

    def __init__(self, cov, param_names, stds=None):
        super().__init__(cov, param_names)
        if stds is None:
            with np.errstate(invalid="ignore"):
                stds = np.sqrt(np.diagonal(cov, axis1=1, axis2=2))
        # astropy reports no std (None) where the variance is not positive
        self._stds = np.where(stds > 0, stds, np.nan)

    @property
    def stds(self):
        return self._stds


def attach_uncertainties(model, cov, free_names, stds=None):
    """
    Set ``model.cov_matrix``, ``model.stds`` and the free parameters'
    ``std`` as astropy's fitters do.

    A single model gets astropy's ``Covariance`` and
    ``StandardDeviations``; a model set gets `ModelSetCovariances` and
    `ModelSetStds`.  ``cov`` is ``(n_models, n_free, n_free)``; ``stds``,
    if given, the square roots of its diagonals (not computed again).
    """
    if len(model) == 1:
        # astropy's setter also gives each free parameter its ``std``
        model.cov_matrix = Covariance(np.asarray(cov[0]), list(free_names))
        model.stds = StandardDeviations(np.asarray(cov[0]), list(free_names))
        return
    stds = ModelSetStds(cov, free_names, stds)
    # astropy's ``cov_matrix`` setter takes a model set's covariances as a
    # list and walks it in Python to give each parameter a list of stds;
    # the sequence is stored where that property keeps its value, and
    # each parameter's ``std`` is one array over the models (NaN where
    # astropy's list holds None)
    model._cov_matrix = ModelSetCovariances(cov, free_names)
    model.stds = stds
    values = stds.stds
    for j, name in enumerate(free_names):
        getattr(model, name).std = values[:, j]
