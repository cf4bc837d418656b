"""
PSF fitter objects: a stack of reference images (the PSF base) plus four
plug-ins that decide how an image is fitted with it.

A fitter splits the image into regions (``regions()``), chooses the bases
for each region (``findbase(region)``), the pixels that drive the fit
(``optregion(region, indpsf)``) and the coefficients of the bases
(``fitpsfcoeff(img, base)``); the PSF of the region is the combination of
the bases with those coefficients.  The plug-ins are plain functions taking
the fitter as ``self``; they are set as class attributes, and can be
replaced on one instance by assigning a function to the attribute.  Every
setting they read is an attribute too, so a configuration is either set on
one fitter that is then used in a loop over images, or written as a subclass
with class attributes and instantiated once per image.
"""

import copy
import types

import astropy.units as u
import numpy as np

from ..utils import ArrayData, coerce_data
from . import findbase as _findbase
from . import fitpsfcoeff as _fitpsfcoeff
from . import optregion as _optregion
from . import regions as _regions
from ._bases import coerce_bases, convert_unit
from ._engine import fit_regions
from .utils import united

__all__ = [
    "BasePSFFitter",
    "SimpleSubtraction",
    "UseAllPixelsSubtraction",
    "LOCI",
    "LOCIAllPixelsSubtraction",
    "KLIP",
]

_PLUGINS = frozenset(("regions", "findbase", "optregion", "fitpsfcoeff"))


class BasePSFFitter:
    """
    Fit the PSF of an image as a combination of reference images.

    The base class uses the simplest plug-ins (one region of all unmasked
    pixels, all bases, least squares); the subclasses choose others.

    Parameters
    ----------
    psfbase : array-like, masked array, NDData or sequence of 2-D images
        The bases: a cube of shape ``(n_bases, ny, nx)`` (the layout of a
        FITS cube) or ``(ny, nx, n_bases)`` (psfsubtraction's layout, as
        `numpy.dstack` makes it), or a sequence of ``(ny, nx)`` images.
        Masked or NaN pixels are never used.  The unit of a Quantity or
        NDData is the fitter's ``unit``.
    image : array-like, masked array, Quantity or NDData, optional
        The ``(ny, nx)`` image to fit; it can also be given to `fit_psf` and
        `remove_psf`.  It must have a unit if and only if the bases have
        one, and is converted to theirs.
    bases_axis : {None, 0, -1}, optional
        The axis of a ``psfbase`` cube that runs over the bases.  `None`
        (default) detects it: from the image shape when ``image`` is given,
        else from the cube, which is read as ``(ny, nx, n_bases)`` when its
        first two sides are equal and the third differs (as ``(40, 40,
        3)``), and as ``(n_bases, ny, nx)`` otherwise.  A cube that fits
        both readings (all sides equal) raises a `ValueError` asking for
        ``bases_axis``.

    Attributes
    ----------
    convention : {'psfkit', 'psfsubtraction'}
        ``'psfkit'`` (default): sector settings in pixels, every pixel
        covered.  ``'psfsubtraction'``: the sector geometry and fitting rules
        of the psfsubtraction package, whose residuals it reproduces (see
        :doc:`/fitpsf/psfsubtraction`).
    rcond : float or None
        Singular-value cut-off of the least-squares solver.
    min_opt_pixels : int or None
        Regions whose optimisation region has fewer usable pixels are not
        fitted (`None`: the number of selected bases).
    warn_skipped : bool
        Whether skipped regions cause a `~psfkit.fitpsf.SkippedRegionWarning`
        (default `True`).
    sector_radius_inner, sector_radius_n, sector_radius, sector_phi, sector_center
        The geometry of the sector regions (`psfkit.fitpsf.regions`);
        ``sector_radius_inner`` is `None` by default, meaning 1 pixel (in
        both conventions); a Quantity in pixels (``5 * u.pix``) is a radius
        in both conventions too.
    dilation_region, around_region_rim
        Settings of the optimisation regions (`psfkit.fitpsf.optregion`).
    optmask : array-like of bool or None
        An image of the image shape, `True` on pixels that must not drive
        any fit (a known companion, a bad column): they are left out of
        every optimisation region, whatever the fitter, and are still
        subtracted where they belong to a region.
    klip_modes : int
        Number of KLIP modes (`psfkit.fitpsf.fitpsfcoeff.klip`).
    base_parangs, image_parang, n_delta, fwhm
        Settings of the ADI base selection
        (`psfkit.fitpsf.findbase.rotation_exclusion`).

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.fitpsf import BasePSFFitter
    >>> rng = np.random.default_rng(1)
    >>> psfbase = rng.normal(size=(3, 10, 10))
    >>> image = 2 * psfbase[0] - psfbase[2]
    >>> fitter = BasePSFFitter(psfbase, image)
    >>> float(abs(fitter.remove_psf()).max()) < 1e-10
    True
    """

    regions = _regions.image_unmasked
    findbase = _findbase.allbases
    optregion = _optregion.all_unmasked
    fitpsfcoeff = _fitpsfcoeff.lstsq

    convention = "psfkit"
    rcond = None
    min_opt_pixels = None
    warn_skipped = True
    sector_radius_inner = None
    sector_radius_n = 10
    sector_radius = None
    sector_phi = 12
    sector_center = None
    dilation_region = 10
    around_region_rim = 0
    optmask = None
    min_number_of_bases = 1
    region_min_size = 1
    klip_modes = 5
    base_parangs = None
    image_parang = None
    n_delta = 1.0
    fwhm = None

    def __init__(self, psfbase, image=None, *, bases_axis=None):
        image_shape = None
        if image is not None:
            image = coerce_data(image, name="image", ndim=2, allow_all_masked=True)
            image_shape = image.shape
        base1d, mask1d, shape, unit = coerce_bases(
            psfbase, bases_axis=bases_axis, image_shape=image_shape)
        # kept to explain a cube read in the other layout (NDData, masked
        # arrays and Quantity all show their shape through .data)
        cube_shape = None if isinstance(psfbase, list | tuple) else np.shape(
            getattr(psfbase, "data", psfbase))
        object.__setattr__(self, "_cube_shape", cube_shape)
        object.__setattr__(self, "_cache", {})
        object.__setattr__(self, "_base1d", base1d)
        object.__setattr__(self, "_base_mask1d", mask1d)
        object.__setattr__(self, "_shape", tuple(int(s) for s in shape))
        object.__setattr__(self, "_unit", unit)
        object.__setattr__(self, "_image", None)
        if image is not None:
            self.image = image

    # -- plug-in binding and configuration ---------------------------------

    def __getattribute__(self, name):
        if name in _PLUGINS:
            inst = object.__getattribute__(self, "__dict__")
            if name in inst:
                func = inst[name]
                if isinstance(func, types.MethodType):
                    return func
                return types.MethodType(func, self)
        return object.__getattribute__(self, name)

    def __setattr__(self, name, value):
        # any change of the configuration invalidates the cached solutions;
        # a new dict keeps copies that share the old one unaffected
        if not name.startswith("_") and name != "image":
            object.__setattr__(self, "_cache", {})
        object.__setattr__(self, name, value)

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_cache"] = {}
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)

    def __copy__(self):
        # shares the cache (unlike pickling): copies made for one fit reuse
        # and extend the solutions of the original
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        return new

    # -- data access for plug-ins ------------------------------------------

    @property
    def cache(self):
        """Scratch dict for plug-ins (emptied on configuration changes,
        never pickled)."""
        return self._cache

    @property
    def image_shape(self):
        """The ``(ny, nx)`` shape of the bases and images."""
        return self._shape

    @property
    def n_bases(self):
        """The number of bases."""
        return self._base1d.shape[1]

    @property
    def unit(self):
        """The unit of the bases, which images and results share (`None`
        for plain arrays)."""
        return self._unit

    @property
    def psfbase(self):
        """The bases as a masked array of shape ``(n_bases, ny, nx)``."""
        data = self._base1d.T.reshape((self.n_bases, *self._shape))
        mask = (np.zeros(data.shape, dtype=bool) if self._base_mask1d is None
                else self._base_mask1d.T.reshape(data.shape))
        return np.ma.MaskedArray(data, mask=mask)

    @property
    def base1d(self):
        """The bases as an ``(n_pix, n_bases)`` array, masked values 0."""
        return self._base1d

    @property
    def base_mask1d(self):
        """``(n_pix, n_bases)`` mask of the bases, or `None` if none is
        masked."""
        return self._base_mask1d

    @property
    def image(self):
        """The image to fit, a masked array in the bases' unit (`None` if
        not set)."""
        if self._image is None:
            return None
        return self._image.masked()

    @image.setter
    def image(self, value):
        if value is None:
            object.__setattr__(self, "_image", None)
            return
        data = value if isinstance(value, ArrayData) else coerce_data(
            value, name="image", ndim=2, allow_all_masked=True)
        if data.shape != self._shape:
            msg = (f"image must have the shape of the bases {self._shape}, "
                   f"got {data.shape}")
            cube = self._cube_shape
            if cube is not None and len(cube) == 3 and tuple(
                    cube[:2] if cube[1:] == self._shape else cube[1:]) == data.shape:
                msg += (f"; the psfbase cube {tuple(cube)} was read with the "
                        f"bases along the other axis: pass bases_axis="
                        f"{-1 if cube[1:] == self._shape else 0} to the fitter")
            raise ValueError(msg)
        data = convert_unit(data, self._unit, name="image", other="psfbase")
        object.__setattr__(self, "_image", data)

    def _require_image(self):
        if self._image is None:
            msg = "no image to fit: give one to this method or set fitter.image"
            raise ValueError(msg)
        return self._image

    @property
    def image1d(self):
        """The image values as a flat array (masked values arbitrary)."""
        return self._require_image().data.ravel()

    @property
    def image_mask1d(self):
        """The flat mask of the image (`True` = do not use)."""
        return self._require_image().mask.ravel()

    # -- fitting -------------------------------------------------------------

    def _bound(self, image):
        """A shallow copy holding ``image``; the fitter itself is unchanged,
        so one fitter can serve several threads."""
        work = copy.copy(self)
        if image is not None:
            work.image = image
        work._require_image()
        return work

    def fit_psf(self, image=None, *, progress_bar=False):
        """
        Fit the PSF of an image.

        Parameters
        ----------
        image : array-like, masked array, Quantity or NDData, optional
            The ``(ny, nx)`` image; default: the fitter's ``image``.
        progress_bar : bool, optional
            Show a progress bar over the regions fitted (sectors, annuli,
            groups of pixels).

        Returns
        -------
        psf : `~numpy.ma.MaskedArray` or `~astropy.units.Quantity`
            The fitted PSF, masked where it could not be fitted (pixels in
            no region, regions skipped for lack of usable pixels, pixels
            where a selected base is masked).  With bases that have a unit,
            a Quantity in that unit with NaN where masked (as
            `~psfkit.fitpsf.ADIResult.image_quantity`).

        Raises
        ------
        astropy.units.UnitsError
            If the image has a unit and the bases not (or the reverse), or
            the units do not convert.

        Warns
        -----
        psfkit.fitpsf.SkippedRegionWarning
            If some regions could not be fitted.
        """
        work = self._bound(image)
        psf, fitted = fit_regions(work, progress_bar=progress_bar)
        return united(psf.reshape(self._shape), ~fitted.reshape(self._shape),
                      self._unit)

    def remove_psf(self, image=None, *, progress_bar=False):
        """
        Subtract the fitted PSF from an image.

        Parameters
        ----------
        image : array-like, masked array, Quantity or NDData, optional
            The ``(ny, nx)`` image; default: the fitter's ``image``.
        progress_bar : bool, optional
            Show a progress bar over the regions fitted, as `fit_psf`
            (`~psfkit.fitpsf.map_remove_psf` and
            `~psfkit.fitpsf.adi_subtract` show one over the images).

        Returns
        -------
        residual : `~numpy.ma.MaskedArray` or `~astropy.units.Quantity`
            Image minus PSF, masked where the image is masked or the PSF
            could not be fitted.  With bases that have a unit, a Quantity
            in that unit with NaN where masked.

        Raises
        ------
        astropy.units.UnitsError
            As `fit_psf`.

        Examples
        --------
        >>> import astropy.units as u
        >>> import numpy as np
        >>> from psfkit.fitpsf import SimpleSubtraction
        >>> psfbase = np.random.default_rng(0).normal(size=(2, 8, 8)) * u.Jy
        >>> image = (3 * psfbase[0] - psfbase[1]).to(u.mJy)
        >>> residual = SimpleSubtraction(psfbase).remove_psf(image)
        >>> residual.unit, bool(abs(residual).max() < 1e-12 * u.Jy)
        (Unit("Jy"), True)
        """
        work = self._bound(image)
        psf, fitted = fit_regions(work, progress_bar=progress_bar)
        data = work._image
        resid = data.data.ravel() - psf
        mask = data.mask.ravel() | ~fitted
        return united(resid.reshape(self._shape), mask.reshape(self._shape),
                      self._unit)

    def __repr__(self):
        return (f"<{type(self).__name__}: {self.n_bases} bases of shape "
                f"{self._shape}>")


class SimpleSubtraction(BasePSFFitter):
    """
    Fit all unmasked pixels at once with all bases.

    The whole unmasked image is one region and its own optimisation region;
    pixels where any base is masked are not used.
    """

    regions = _regions.image_unmasked
    findbase = _findbase.allbases
    optregion = _optregion.all_unmasked
    fitpsfcoeff = _fitpsfcoeff.lstsq


class UseAllPixelsSubtraction(BasePSFFitter):
    """
    Use every base where it is available.

    Pixels are grouped by the set of bases unmasked at them; each group is
    fitted with those bases, on all pixels where they are all unmasked.
    """

    regions = _regions.group_by_basis
    findbase = _findbase.nonmaskedbases
    optregion = _optregion.all_unmasked
    fitpsfcoeff = _fitpsfcoeff.lstsq


class LOCI(BasePSFFitter):
    """
    Locally optimised combination of images (Lafreniere et al. 2007).

    The image is split into annular sectors; the PSF of each is fitted on
    the ring around it (``dilation_region`` pixels wide, without the sector
    itself) with the bases unmasked on the sector, and subtracted in the
    sector.
    """

    regions = _regions.sectors
    findbase = _findbase.nonmaskedbases
    optregion = _optregion.wrapper_ignore_all_masked(_optregion.around_region)
    fitpsfcoeff = _fitpsfcoeff.lstsq


class LOCIAllPixelsSubtraction(LOCI):
    """
    LOCI with every sector split by the set of bases valid at its pixels.

    Suited to bases with different masks: each part of a sector uses all
    bases available there.
    """

    regions = _regions.sectors_by_basis


class KLIP(BasePSFFitter):
    """
    Karhunen-Loeve image projection (Soummer et al. 2012) in annular sectors.

    In each sector the image is projected on the first ``klip_modes``
    principal components of the bases (after subtracting the mean base) and
    that projection is removed.  Sectors smaller than ``region_min_size``
    (default 40) pixels are merged with their neighbour, and sectors with
    fewer than ``min_opt_pixels`` (default 10) usable pixels are not fitted.
    The sectors start at ``sector_radius_inner = 5 * u.pix``, 5 pixels
    from the centre in either ``convention``.
    """

    regions = _regions.wrapper_min_size(_regions.sectors)
    findbase = _findbase.nonmaskedbases
    optregion = _optregion.wrapper_ignore_all_masked(_optregion.identity)
    fitpsfcoeff = _fitpsfcoeff.klip
    sector_radius_inner = 5 * u.pix
    sector_radius_n = 5
    sector_phi = 4
    region_min_size = 40
    min_opt_pixels = 10
