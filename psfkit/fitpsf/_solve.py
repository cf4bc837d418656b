"""
Scale-safe solution of one region's coefficients.

The coefficients come from the Gram matrix ``B^T B`` of the bases on the
optimisation region.  Formed from raw values, it overflows for data of
order 1e155 and underflows to zero for data of order 1e-155, so that a fit
raises or silently subtracts nothing.  Here the bases and the image are
first divided by powers of two near their norms (exact in floating point),
the system is solved in those units and the PSF is rescaled at the end;
results then scale exactly with the data for any power-of-two factor, and
to rounding for any other, over the whole floating-point range.

How far a solver may be rescaled is its business, declared by the
``scaling`` attribute of a ``fitpsfcoeff`` plug-in:

``'columns'``
    Each base and the image get their own scale (least squares does not
    depend on the scale of its columns).
``'common'``
    One scale for all bases and the image (KLIP subtracts the mean base
    from the image, so the two must keep their relative scale).

The Gram matrix is formed from the raw values when its diagonal lies safely
inside the floating-point range (the common case, which costs nothing
extra); otherwise the values are rescaled first.
"""

import copy

import numpy as np

from .._numerics.linalg import pow2

__all__ = []

# a diagonal of B^T B in this range is free of overflow and of underflow
# that matters (squares below it are lost only relative to it)
_SAFE_LO, _SAFE_HI = 2.0 ** -700, 2.0 ** 700


class ScaledSystem:
    """
    The normal equations of one region in units where nothing overflows.

    With ``D`` the diagonal matrix of ``scale`` the bases in those units are
    ``bs = B / D``; ``gram`` is ``bs^T bs``.  ``work`` is the array the
    products are formed from (``B`` itself, or ``B`` divided by powers of
    two when its raw Gram matrix would not be representable) and
    ``work_scale`` what remains to divide it by, ``bs = work / work_scale``
    (`None` for 1).

    With ``'columns'`` scaling the Gram matrix is left in the units of
    ``work``: the pseudo-inverse equilibrates it by its diagonal, with
    factors that scale exactly with the data, so results do not depend on
    whether the bases were rescaled.  ``'common'`` scaling brings the
    largest diagonal element near 1, the unit KLIP's image must share.

    Parameters
    ----------
    base : `~numpy.ndarray`
        ``(n_pix, n_use)`` bases on the optimisation region.
    scaling : {'columns', 'common'}
        See the module description.
    """

    def __init__(self, base, scaling):
        self.scaling = scaling
        self.pre = None
        work = base
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            # an overflow or underflow here is detected just below
            gram = work.T @ work
        if not _safe(gram, work):
            if scaling == "columns":
                self.pre = pow2(np.max(np.abs(base), axis=0))
            else:
                self.pre = np.full(base.shape[1], pow2(np.max(np.abs(base))))
            work = base / self.pre
            gram = work.T @ work
        self.work = work
        if scaling == "columns":
            self.work_scale = None
            self.scale = np.ones(base.shape[1]) if self.pre is None else self.pre
            self.gram = gram
            return
        top = pow2(np.sqrt(np.diag(gram).max(initial=0.0)))
        self.work_scale = np.full(base.shape[1], top)
        self.scale = self.work_scale if self.pre is None \
            else self.pre * self.work_scale
        self.gram = gram / (top * top)

    def detached(self):
        """A copy without the (large) bases, to keep in a cache."""
        new = copy.copy(self)
        new.work = None
        new.gram = None
        return new

    def attached(self, base):
        """A copy working on ``base`` again (the bases it was built from)."""
        new = copy.copy(self)
        new.work = base if self.pre is None else base / self.pre
        return new

    def image_scale(self, t):
        """
        The common scale of bases and image (``'common'`` scaling only).

        KLIP subtracts the mean base from the image, which must therefore
        keep the bases' scale.
        """
        return float(self.scale[0])

    def bt(self, x):
        """``bs^T x``."""
        out = self.work.T @ x
        return out if self.work_scale is None else out / self.work_scale

    def b(self, y):
        """``bs @ y``."""
        return self.work @ (y if self.work_scale is None else y / self.work_scale)

    def pseudo_inverse(self, op):
        """``op @ bs^T``, the operator from scaled image values to scaled
        coefficients."""
        if self.work_scale is not None:
            op = op / self.work_scale[None, :]
        return op @ self.work.T

    def times_bases(self, x):
        """``x @ bs`` for a matrix ``x`` of ``n_pix`` columns."""
        out = x @ self.work
        return out if self.work_scale is None else out / self.work_scale[None, :]


def _safe(gram, work):
    """
    Whether a Gram matrix formed from raw values can be trusted.

    Its diagonal decides: off-diagonal terms are bounded by the diagonal
    (Cauchy-Schwarz), and the data hold no NaN (masked values are zeros).
    """
    diag = gram.diagonal()
    lo, hi = diag.min(), diag.max()
    if lo >= _SAFE_LO and hi <= _SAFE_HI:
        return True
    if not hi <= _SAFE_HI:
        return False
    # a zero diagonal is a zero column, or squares that underflowed
    zero = diag == 0
    live = diag[~zero]
    return bool(np.all(live >= _SAFE_LO) and not np.any(work[:, zero]))


def too_extreme(values, image):
    """
    Whether coefficients computed from ``image`` left the safe range
    (overflow, or close to underflow, which may have zeroed them).

    Least squares is linear in the image: scaling the image by a power of
    two changes nothing but a final factor, so it is rescaled only when the
    numbers computed from it leave this range.
    """
    with np.errstate(invalid="ignore"):
        top = np.max(np.abs(values), initial=0.0)
    if not top <= _SAFE_HI:
        return True
    return top < _SAFE_LO and bool(np.any(image))


def solve_scaled(system, op, offset, t, *, refine):
    """
    Coefficients of the bases for the image values ``t``, in safe units.

    In scaled units ``c = op @ bs^T ts + offset`` with ``ts = t / st``,
    followed by one step of iterative refinement from the residual if
    ``refine`` (which restores the accuracy that forming ``bs^T bs`` loses
    when ``op`` is its pseudo-inverse).

    Returns
    -------
    w : `~numpy.ndarray`
        ``c / scale``: the coefficients of the raw bases for ``ts``; the
        PSF is ``(B @ w) * st``.
    st : float
        The image scale (1 unless the image needed rescaling).
    """
    if system.scaling == "common":
        return _solve_at(system, op, offset, t, system.image_scale(t), refine)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        w, st = _solve_at(system, op, offset, t, 1.0, refine)
    if too_extreme(w, t):
        st = float(pow2(np.max(np.abs(t), initial=0.0)))
        w, st = _solve_at(system, op, offset, t, st, refine)
    return w, st


def _solve_at(system, op, offset, t, st, refine):
    ts = t / st if st != 1.0 else t
    coeff = op @ system.bt(ts)
    if refine:
        coeff = coeff + op @ system.bt(ts - system.b(coeff))
    if offset is not None:
        coeff = coeff + offset
    return coeff / system.scale, st
