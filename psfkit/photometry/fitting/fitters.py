"""
The fitters of the PSF photometry classes.

A fitter object only configures how the photometry classes fit; the
numerical work happens in the engine (`psfkit.photometry.fitting._engine`).

- `SparseLMFitter` (the default) fits every star of the image together,
  each with all its neighbours, as DAOPHOT's ALLSTAR does: the cost grows
  about linearly with the number of stars whatever the crowding, and no
  grouping is needed.
- `BatchedLMFitter` fits the grouper's groups independently, all groups
  of an image at once in stacked dense systems.
- Any astropy fitter instance fits the groups one by one.
"""

from ...utils import ParamReprMixin, check_integer, check_positive

__all__ = ["SparseLMFitter", "BatchedLMFitter"]


class SparseLMFitter(ParamReprMixin):
    """
    Levenberg-Marquardt on all stars of an image at once (the default).

    Every star is fitted on its fit box together with every neighbour
    whose model reaches into it, whatever the grouping: the model of the
    image is the sum of all stars' models, fitted to the union of their
    fit boxes.  The normal matrix is sparse (one block per star and per
    coupled pair of stars) and is solved cluster by cluster of coupled
    stars, stacked dense solves for small clusters and a sparse
    factorisation for large ones, so a crowded cluster core of hundreds of
    blended stars costs about as much per star as isolated stars do.

    Parameters
    ----------
    maxiters : int, optional
        The maximum number of iterations; clusters still moving then are
        flagged ``NOT_CONVERGED``.
    tol : float, optional
        A cluster of stars has converged when a further Gauss-Newton step
        would lower its chi-square by less than ``tol`` times its reduced
        chi-square (the remaining step is about ``sqrt(tol)`` of the
        uncertainties).
    min_coupling : float, optional
        Two stars enter the normal matrix together when the normalised
        overlap of their model derivatives exceeds this; weaker pairs
        still see each other through the residual image (the fit
        converges to the same joint minimum), which keeps the matrix
        sparse.

    Notes
    -----
    This is the design of DAOPHOT's ALLSTAR (Stetson 1987, 1994) and of
    crowdsource (Schlafly et al. 2018): all stars at once, no group size
    limit.  The uncertainties are marginal over each star's neighbours
    (from the inverse of its cluster's normal matrix), so blends get the
    larger errors their correlation implies.

    Examples
    --------
    >>> from psfkit.photometry import SparseLMFitter
    >>> SparseLMFitter(tol=1e-8)
    SparseLMFitter(maxiters=100, tol=1e-08, min_coupling=0.02)
    """

    _repr_params = ("maxiters", "tol", "min_coupling")

    def __init__(self, *, maxiters=100, tol=1e-6, min_coupling=0.02):
        self.maxiters = check_integer("maxiters", maxiters, minimum=1)
        self.tol = check_positive("tol", tol)
        self.min_coupling = check_positive("min_coupling", min_coupling)
        if self.min_coupling >= 1:
            msg = f"min_coupling must be below 1, got {min_coupling}"
            raise ValueError(msg)


class BatchedLMFitter(ParamReprMixin):
    """
    Batched Levenberg-Marquardt over the grouper's groups.

    Each group is fitted on its own, on the union of its members' fit
    boxes, ignoring stars of other groups; groups of equal size are stacked
    and every iteration solves all their normal equations in one batched
    linear solve, using the model's analytic derivatives.  The cost of a
    group grows with the cube of its size: prefer the default
    `SparseLMFitter` in crowded fields.

    Parameters
    ----------
    maxiters : int, optional
        The maximum number of iterations; groups still moving then are
        flagged ``NOT_CONVERGED``.
    tol : float, optional
        A group has converged when a further Gauss-Newton step would lower
        its chi-square by less than ``tol`` times its reduced chi-square,
        i.e. when the remaining step is about ``sqrt(tol)`` of the
        parameter uncertainties.

    Examples
    --------
    >>> from psfkit.photometry import BatchedLMFitter
    >>> BatchedLMFitter(maxiters=50)
    BatchedLMFitter(maxiters=50, tol=1e-06)
    """

    _repr_params = ("maxiters", "tol")

    def __init__(self, *, maxiters=100, tol=1e-6):
        self.maxiters = check_integer("maxiters", maxiters, minimum=1)
        self.tol = check_positive("tol", tol)
