"""
Angular differential imaging (ADI): PSF subtraction of a sequence taken with
the field rotating, then derotation and combination.

Parallactic angles are in degrees, or an angle `~astropy.units.Quantity` in
any unit.  A source at offset ``(dx, dy)`` from the star in the final
(derotated) image appears in frame ``i`` rotated counter-clockwise by
``parangs[i]`` about the rotation centre; derotating frame ``i`` rotates it
back by ``-parangs[i]``.
"""

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..utils import (
    InputDataError,
    SummaryReprMixin,
    check_in,
    check_integer,
    check_positive,
    coerce_data,
    renamed_keyword,
    resolve_executor,
)
from ..utils import progress_bar as make_progress_bar
from ._geometry import (
    angle_value,
    angle_values,
    check_center,
    frame_angles,
    rotated_enough,
)
from .findbase import rotation_exclusion
from .fitters import BasePSFFitter
from .parallel import run_with_progress
from .utils import united

__all__ = [
    "ADIResult",
    "adi_subtract",
    "classical_adi",
    "derotate_cube",
    "rotation_exclusion_mask",
]


@dataclass(frozen=True, repr=False)
class ADIResult(SummaryReprMixin):
    """
    The result of an ADI reduction.

    Attributes
    ----------
    image : `~numpy.ma.MaskedArray`
        The combined, derotated residual image.
    residuals : `~numpy.ma.MaskedArray`
        The derotated residual of every frame, shape ``(n_frames, ny, nx)``.
    unit : `~astropy.units.UnitBase` or None
        The unit of the input cube (a Quantity's or an NDData's), which
        the residuals share; `None` for plain arrays.

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.fitpsf import ADIResult
    >>> ADIResult(np.ma.zeros((64, 64)), np.ma.zeros((20, 64, 64)))
    ADIResult(
        image=<float64 array (64, 64), 0 masked>,
        residuals=<float64 array (20, 64, 64), 0 masked>,
        n_frames=20,
    )
    """

    image: np.ma.MaskedArray
    residuals: np.ma.MaskedArray
    unit: object = None

    def _summary_items(self):
        items = [(k, str(self.unit)) if k == "unit" else (k, v)
                 for k, v in super()._summary_items()
                 if k != "unit" or self.unit is not None]
        return [*items, ("n_frames", str(int(np.shape(self.residuals)[0])))]

    def image_quantity(self):
        """
        The combined image as a `~astropy.units.Quantity` in the input's
        unit (masked pixels NaN); dimensionless for plain arrays.

        Examples
        --------
        >>> import numpy as np
        >>> import astropy.units as u
        >>> from psfkit.fitpsf import ADIResult
        >>> image = np.ma.MaskedArray([[1.0, 2.0]], mask=[[False, True]])
        >>> ADIResult(image, image[None], unit=u.electron).image_quantity()
        <Quantity [[ 1., nan]] electron>
        """
        import astropy.units as u

        return united(np.ma.getdata(self.image).astype(float),
                      np.ma.getmaskarray(self.image),
                      u.dimensionless_unscaled if self.unit is None
                      else self.unit)


def rotation_exclusion_mask(parangs, target_parang, radius, *, n_delta, fwhm):
    """
    Which frames are rotated enough from a target frame at a radius.

    A frame qualifies if the field rotation between it and the target moves
    a source at ``radius`` by at least ``n_delta * fwhm`` pixels along its
    arc, i.e. ``|delta parang| >= n_delta * fwhm / radius`` (radians).

    Parameters
    ----------
    parangs : array-like or `~astropy.units.Quantity`
        Parallactic angles of the candidate frames (degrees, or an angle
        Quantity).
    target_parang : float or `~astropy.units.Quantity`
        Parallactic angle of the target frame (degrees, or an angle
        Quantity).
    radius : float
        Distance from the rotation centre (pixels).
    n_delta : float
        The minimum displacement in units of the FWHM.
    fwhm : float
        The FWHM of the PSF (pixels).

    Returns
    -------
    ok : `~numpy.ndarray` of bool

    Examples
    --------
    >>> from psfkit.fitpsf import rotation_exclusion_mask
    >>> rotation_exclusion_mask([0, 5, 12, 20], 0, 20, n_delta=1, fwhm=4)
    array([False, False,  True,  True])
    """
    n_delta = check_positive("n_delta", n_delta, strict=False)
    fwhm = check_positive("fwhm", fwhm)
    return rotated_enough(angle_values("parangs", parangs),
                          angle_value("target_parang", target_parang),
                          float(radius),
                          n_delta=n_delta, fwhm=fwhm)


def _check_cube(cube, parangs, *, min_frames=1):
    data = coerce_data(cube, name="cube", ndim=3)
    if data.shape[0] < min_frames:
        msg = f"cube must hold at least {min_frames} frames, got {data.shape[0]}"
        raise ValueError(msg)
    return data, frame_angles(parangs, data.shape[0])


def _rotate(image, angle, center, order):
    """Rotate the content of ``image`` counter-clockwise by ``angle``."""
    # output pixel q samples the input at R(-angle) @ (q - centre) + centre;
    # the matrix is written for (row, column) = (y, x) coordinates
    t = -np.deg2rad(angle)
    c, s = np.cos(t), np.sin(t)
    matrix = np.array([[c, s], [-s, c]])
    cyx = np.array([center[1], center[0]])
    offset = cyx - matrix @ cyx
    return ndimage.affine_transform(image, matrix, offset=offset, order=order,
                                    mode="constant", cval=0.0)


def derotate_cube(cube, parangs, *, center=None, order=3):
    """
    Rotate every frame back by its parallactic angle.

    Parameters
    ----------
    cube : array-like, masked array, Quantity or NDData
        ``(n_frames, ny, nx)`` images.  Masked or NaN pixels are masked in
        the output, together with every output pixel whose interpolation
        reaches them (see ``order``), as are pixels rotated in from outside
        the field.
    parangs : array-like or `~astropy.units.Quantity`
        The parallactic angle of each frame (degrees, or an angle
        Quantity).
    center : tuple of float, optional
        ``(x, y)`` of the rotation centre; default the image centre.
    order : int, optional
        The spline order of the interpolation, 0 to 5.  An output pixel
        interpolates the input pixels less than ``(order + 1) / 2`` pixels
        from its position along each axis; it is masked if one of them is
        masked, and for orders above 1, whose spline coefficients couple
        neighbouring pixels, also if a masked pixel is one pixel further
        away.  Masked pixels are given the value of the nearest unmasked
        pixel before interpolating, so that their influence on the
        unmasked outputs beyond is small.

    Returns
    -------
    derotated : `~numpy.ma.MaskedArray` or `~astropy.units.Quantity`
        The derotated frames; for a cube with a unit (a Quantity or an
        NDData), a Quantity in that unit with NaN where masked.

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.fitpsf import derotate_cube
    >>> cube = np.zeros((1, 5, 5))
    >>> cube[0, 2, 4] = 1.0          # (x, y) = (4, 2), right of the centre
    >>> out = derotate_cube(cube, [90.0], order=0)
    >>> [int(v) for v in np.argwhere(out[0] == 1)[0]]   # (row, col)
    [0, 2]
    """
    data, angles = _check_cube(cube, parangs)
    order = check_integer("order", order, minimum=0)
    if order > 5:
        msg = f"order must be a spline order from 0 to 5, got {order}"
        raise ValueError(msg)
    shape = data.shape[1:]
    center = check_center("center", center, shape)
    # a linear interpolation of the masked pixels grown by ``reach`` is
    # non-zero wherever the spline of this order reaches a masked pixel,
    # with one pixel to spare above order 1 (prefiltered coefficients)
    reach = order // 2 + (1 if order > 1 else 0)
    out = np.empty(data.shape)
    mask = np.empty(data.shape, dtype=bool)
    for i in range(data.shape[0]):
        bad = data.mask[i]
        out[i] = _rotate(_fill_nearest(data.data[i], bad), -angles[i], center,
                         order)
        if reach and bad.any():
            bad = ndimage.maximum_filter(bad, size=2 * reach + 1,
                                         mode="constant", cval=False)
        outside = _rotate(np.ones(shape), -angles[i], center, 1) < 0.999
        mask[i] = (_rotate(bad.astype(float), -angles[i], center, 1) > 1e-6) \
            | outside
    return united(out, mask, data.unit)


def _fill_nearest(frame, bad):
    """``frame`` with the ``bad`` pixels set to the nearest good pixel's value."""
    if not bad.any():
        return frame
    if bad.all():
        return np.zeros_like(frame)
    nearest = ndimage.distance_transform_edt(bad, return_distances=False,
                                             return_indices=True)
    return frame[tuple(nearest)]


def _combine(derotated, combine):
    check_in("combine", combine, ("median", "mean"))
    if combine == "median":
        image = np.ma.median(derotated, axis=0)
    else:
        image = np.ma.mean(derotated, axis=0)
    return np.ma.MaskedArray(np.ma.getdata(image),
                             mask=np.ma.getmaskarray(image))


def classical_adi(cube, parangs, *, center=None, combine="median"):
    """
    Subtract the median frame from every frame, derotate and combine.

    The plain median-PSF subtraction of Marois et al. (2006), the baseline
    that LOCI and KLIP improve on.

    Parameters
    ----------
    cube : array-like or masked array
        ``(n_frames, ny, nx)`` sequence.
    parangs : array-like or `~astropy.units.Quantity`
        Parallactic angles (degrees, or an angle Quantity).
    center : tuple of float, optional
        ``(x, y)`` rotation centre; default the image centre.
    combine : {'median', 'mean'}, optional
        How the derotated residuals are combined.

    Returns
    -------
    result : `ADIResult`
    """
    data, angles = _check_cube(cube, parangs, min_frames=2)
    masked = data.masked()
    resid = masked - np.ma.median(masked, axis=0)
    derot = derotate_cube(resid, angles, center=center)
    return ADIResult(image=_combine(derot, combine), residuals=derot,
                     unit=data.unit)


def _adi_frame(task, shared):
    """Fit frame ``i`` with the other frames as bases; return the residual."""
    masked = shared
    angles, i, fitter_class, config = task
    others = np.r_[0:i, i + 1:masked.shape[0]]
    fitter = fitter_class(masked[others], masked[i], bases_axis=0)
    fitter.base_parangs = angles[others]
    fitter.image_parang = angles[i]
    # near the star few frames are rotated enough; those pixels are simply
    # masked, which is expected in ADI and not worth a warning (settings
    # may override any of these)
    for key, value in config.items():
        setattr(fitter, key, value)
    return fitter.remove_psf()


def _check_rotation(angles, n_delta, fwhm, center, shape):
    """Fail early, and say why, when no frame can serve any other."""
    if n_delta == 0:
        return
    diff = np.deg2rad(angles[:, None] - angles[None, :])
    diff = np.abs(np.angle(np.exp(1j * diff)))
    largest = float(diff.max())
    ny, nx = shape
    rmax = max(np.hypot(x - center[0], y - center[1])
               for x in (0, nx - 1) for y in (0, ny - 1))
    if largest * rmax >= n_delta * fwhm:
        return
    where = (f"only beyond r = {n_delta * fwhm / largest:.3g} pixels"
             if largest > 0 else "nowhere")
    msg = (f"no frame is rotated enough to serve as a reference for another: "
           f"with n_delta={n_delta:g} and fwhm={fwhm:g}, a frame serves at "
           f"radius r only if the parallactic angles differ by at least "
           f"n_delta * fwhm / r radians; the largest difference in parangs is "
           f"{np.rad2deg(largest):.3g} degrees, enough {where}, while the "
           f"field reaches {rmax:.3g} pixels from the centre.  Use a sequence "
           "with more field rotation or a smaller n_delta")
    raise ValueError(msg)


def _check_settings(fitter_class, settings):
    unknown = sorted(k for k in settings if not hasattr(fitter_class, k))
    if unknown:
        msg = (f"settings has keys that are not attributes of "
               f"{fitter_class.__name__}: {', '.join(map(repr, unknown))}")
        raise ValueError(msg)


@renamed_keyword(n_threads="executor", client="executor")
def adi_subtract(cube, parangs, fitter_class, *, n_delta, fwhm,
                 combine="median", executor=None, center=None, settings=None,
                 progress_bar=False):
    """
    PSF-subtract an ADI sequence frame by frame, derotate and combine.

    For every frame a fitter of ``fitter_class`` is built on the other
    frames; its ``findbase`` is replaced by
    `~psfkit.fitpsf.findbase.rotation_exclusion`, so each region uses only
    frames in which the field rotated by at least ``n_delta * fwhm`` pixels
    at the region's radius.  The residuals are derotated and combined.
    Regions without enough rotated frames (close to the star) are masked,
    without a warning.

    Parameters
    ----------
    cube : array-like or masked array
        ``(n_frames, ny, nx)`` sequence; NaN or masked pixels are not used.
    parangs : array-like or `~astropy.units.Quantity`
        Parallactic angle of every frame (degrees, or an angle Quantity).
    fitter_class : type
        A `~psfkit.fitpsf.BasePSFFitter` subclass such as
        `~psfkit.fitpsf.LOCI` or `~psfkit.fitpsf.KLIP`.
    n_delta : float
        Minimum displacement of a companion between target and reference
        frames, in units of ``fwhm``.
    fwhm : float
        PSF FWHM in pixels.
    combine : {'median', 'mean'}, optional
        How the derotated residuals are combined.
    executor : optional
        `None`, a number of threads, a `concurrent.futures` executor, a
        dask.distributed ``Client`` or an ipyparallel view (see
        `~psfkit.fitpsf.map_remove_psf`); frames are processed in parallel.
    center : tuple of float, optional
        ``(x, y)`` of the star; default the image centre.  Also used as
        the centre of the sectors.
    settings : dict, optional
        Further fitter attributes (for example ``{'klip_modes': 10}``);
        every key must be an attribute of ``fitter_class``.
    progress_bar : bool, optional
        Show a progress bar over the frames.
    n_threads, client : optional
        Deprecated spellings of ``executor``.

    Returns
    -------
    result : `ADIResult`

    Raises
    ------
    ValueError
        If no frame is rotated enough to serve another anywhere in the
        field, or no region of any frame could be fitted.

    Examples
    --------
    >>> from psfkit.datasets import make_adi_sequence
    >>> from psfkit.fitpsf import KLIP, adi_subtract
    >>> cube, parangs, truth = make_adi_sequence(n_frames=10, shape=(41, 41),
    ...                                          random_state=0)
    >>> res = adi_subtract(cube, parangs, KLIP, n_delta=0.75, fwhm=4.0)
    >>> res
    ADIResult(
        image=<float64 array (41, 41), 16 masked>,
        residuals=<float64 array (10, 41, 41), 3100 masked>,
        n_frames=10,
    )
    """
    if not (isinstance(fitter_class, type)
            and issubclass(fitter_class, BasePSFFitter)):
        msg = (f"fitter_class must be a BasePSFFitter subclass, got "
               f"{fitter_class!r}")
        raise TypeError(msg)
    executor = resolve_executor(executor)
    data, angles = _check_cube(cube, parangs, min_frames=2)
    n_delta = check_positive("n_delta", n_delta, strict=False)
    fwhm = check_positive("fwhm", fwhm)
    check_in("combine", combine, ("median", "mean"))
    n = data.shape[0]
    center = check_center("center", center, data.shape[1:])
    settings = dict(settings or {})
    _check_settings(fitter_class, settings)
    _check_rotation(angles, n_delta, fwhm, center, data.shape[1:])
    config = dict(findbase=rotation_exclusion, n_delta=n_delta, fwhm=fwhm,
                  sector_center=center, warn_skipped=False)
    if settings.get("convention") == "psfsubtraction":
        # that convention reads the centre in array order
        config["sector_center"] = (center[1], center[0])
    config.update(settings)
    # one task per frame; the fitter is built inside the task, so only one
    # (n_frames - 1)-frame base per worker exists at a time
    # the cube is shared: scattered once to each dask worker, not sent with
    # every frame's task
    tasks = [(angles, i, fitter_class, config) for i in range(n)]
    with make_progress_bar(total=n, enabled=progress_bar, desc="ADI frames",
                           unit="frame") as bar:
        residuals = run_with_progress(_adi_frame, tasks, executor,
                                      shared=data.masked(), bar=bar)
    if all(np.ma.getmaskarray(r).all() for r in residuals):
        msg = (f"no region of any of the {n} frames could be fitted: in every "
               "region either no frame is rotated enough (parallactic angles "
               f"differing by n_delta * fwhm / r radians, n_delta={n_delta:g}, "
               f"fwhm={fwhm:g}) or too few pixels are usable; lower n_delta "
               "or check the masks")
        raise InputDataError(msg)
    derot = derotate_cube(np.ma.stack(residuals), angles, center=center)
    return ADIResult(image=_combine(derot, combine), residuals=derot,
                     unit=data.unit)
