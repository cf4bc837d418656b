"""
Star cutouts for building an empirical PSF: `EPSFStar`, `EPSFStars`,
`LinkedEPSFStar` and `extract_stars`.
"""


from typing import NamedTuple

from astropy.coordinates import SkyCoord, UnitSphericalRepresentation
from astropy.nddata import NDData
from astropy.table import QTable
import numpy as np
from scipy.interpolate import griddata
from scipy.spatial import QhullError

from ...utils import (
    PsfkitWarning,
    as_pair,
    coerce_data,
    find_column,
    find_xy_columns,
    renamed_keyword,
    warn,
)
from ..fitting._fit_boxes import nearest_pixel

__all__ = ["EPSFStar", "EPSFStars", "LinkedEPSFStar", "StarExcludedWarning",
           "extract_stars"]


class StarExcludedWarning(PsfkitWarning):
    """Stars were left out (too near the edge, fully masked, or unfit)."""


def _pair_or_default(name, value, default):
    if value is None:
        return default
    arr = np.asarray(value, dtype=float)
    if arr.shape != (2,) or not np.all(np.isfinite(arr)):
        msg = f"{name} must be a finite (x, y) pair, got {value!r}"
        raise ValueError(msg)
    return (float(arr[0]), float(arr[1]))


def check_epsf(epsf):
    """
    A `TypeError` unless ``epsf`` is a model whose only parameters are
    ``flux``, ``x_0`` and ``y_0`` (an ePSF, psfkit's or photutils').
    """
    if tuple(getattr(epsf, "param_names", ())) != ("flux", "x_0", "y_0"):
        msg = ("epsf must be an ImagePSF (or another 2-D model whose only "
               "parameters are flux, x_0 and y_0), got "
               f"{type(epsf).__name__}")
        raise TypeError(msg)


class CutoutBox(NamedTuple):
    """
    Where a cutout lies in its image: the pixels ``ixmin <= x < ixmax``
    and ``iymin <= y < iymax`` (photutils' ``BoundingBox``).
    """

    ixmin: int
    ixmax: int
    iymin: int
    iymax: int

    @property
    def shape(self):
        """The cutout shape ``(ny, nx)``."""
        return (self.iymax - self.iymin, self.ixmax - self.ixmin)

    @property
    def slices(self):
        """The ``(y, x)`` slices of the cutout in its image."""
        return (slice(self.iymin, self.iymax), slice(self.ixmin, self.ixmax))


class EPSFStar:
    """
    A cutout of one star, with its centre and flux.

    Parameters
    ----------
    data : array-like, `~numpy.ma.MaskedArray` or `~astropy.nddata.NDData`
        The 2-D cutout, background subtracted.  Masked and non-finite pixels
        are ignored.
    cutout_center : tuple of two float, optional
        The ``(x, y)`` star centre in cutout pixels; the cutout centre by
        default.
    origin : tuple of two int, optional
        The ``(x, y)`` position in the full image of the cutout's first
        pixel.
    flux : float, optional
        The star flux; the sum of the unmasked cutout pixels by default.
    id_label : int, optional
        An identifier carried into results.
    weights : array-like, optional
        The weight of each pixel in the star fits (photutils' name): the
        inverse 1-sigma error; zero, negative or non-finite weights mask
        their pixels.  1 on every unmasked pixel by default;
        `extract_stars` sets them from an NDData's uncertainty.
    wcs_large : WCS, optional
        The WCS of the full image (any object with ``pixel_to_world`` and
        ``world_to_pixel``); `extract_stars` sets it from an NDData's
        ``wcs``.  Stars of one object in several images are linked through
        it (`LinkedEPSFStar`).

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.photometry import EPSFStar
    >>> cutout = np.zeros((5, 5))
    >>> cutout[2, 2] = 10.0
    >>> star = EPSFStar(cutout, origin=(100, 200))
    >>> star.center, star.flux
    ((102.0, 202.0), 10.0)
    """

    def __init__(self, data, *, cutout_center=None, origin=(0, 0), flux=None,
                 id_label=None, weights=None, wcs_large=None):
        arr = coerce_data(data, name="data", ndim=2)
        self._data = arr.data
        self._mask = arr.mask
        if weights is None:
            self._weights = (~self._mask).astype(float)
        else:
            w = np.asarray(weights, dtype=float)
            if w.shape != arr.shape:
                msg = (f"weights must have the shape of the cutout "
                       f"{arr.shape}, got {w.shape}")
                raise ValueError(msg)
            with np.errstate(invalid="ignore"):
                bad = ~(np.isfinite(w) & (w > 0))
            self._mask = self._mask | bad
            self._weights = np.where(self._mask, 0.0, w)
        ny, nx = arr.shape
        self._cutout_center = _pair_or_default(
            "cutout_center", cutout_center, ((nx - 1) / 2.0, (ny - 1) / 2.0))
        self._origin = _pair_or_default("origin", origin, (0.0, 0.0))
        if flux is None:
            flux = float(np.sum(self._data[~self._mask]))
        self._flux = float(flux)
        self.id_label = id_label
        self.wcs_large = wcs_large

    @property
    def data(self):
        """The cutout values."""
        return self._data

    def __array__(self, dtype=None, copy=None):
        """The cutout values, so that ``plt.imshow(star)`` works."""
        if copy is False and dtype not in (None, self._data.dtype):
            msg = "the cutout cannot be converted without a copy"
            raise ValueError(msg)
        out = self._data if dtype is None else self._data.astype(dtype)
        return out.copy() if copy else out

    @property
    def mask(self):
        """`True` where a cutout pixel is ignored."""
        return self._mask

    @property
    def weights(self):
        """The pixels' weights in the star fits (inverse errors; 0 where
        masked)."""
        return self._weights

    @property
    def shape(self):
        """The cutout shape ``(ny, nx)``."""
        return self._data.shape

    @property
    def cutout_center(self):
        """The ``(x, y)`` centre in cutout pixels (settable, as in
        photutils)."""
        return self._cutout_center

    @cutout_center.setter
    def cutout_center(self, value):
        self._cutout_center = _pair_or_default("cutout_center", value,
                                               self._cutout_center)

    @property
    def origin(self):
        """The ``(x, y)`` image position of the cutout's first pixel."""
        return self._origin

    @property
    def center(self):
        """The ``(x, y)`` centre in image pixels."""
        return (self._origin[0] + self._cutout_center[0],
                self._origin[1] + self._cutout_center[1])

    @property
    def flux(self):
        """The star flux."""
        return self._flux

    @property
    def bbox(self):
        """
        The cutout's pixels in the image (photutils' ``bbox``): a named
        tuple ``(ixmin, ixmax, iymin, iymax)``, ends excluded, with
        ``shape`` and ``slices``.
        """
        ix = int(round(self._origin[0]))
        iy = int(round(self._origin[1]))
        ny, nx = self.shape
        return CutoutBox(ix, ix + nx, iy, iy + ny)

    @property
    def slices(self):
        """The ``(y, x)`` slices of the cutout in the image."""
        return self.bbox.slices

    def estimate_flux(self):
        """
        The sum of the cutout, its masked pixels filled in by cubic
        interpolation of the others (`scipy.interpolate.griddata`; the
        nearest pixel's value beyond their convex hull), as photutils
        does.

        Returns
        -------
        flux : float
        """
        good = ~self._mask
        if good.all():
            return float(np.sum(self._data))
        yy, xx = np.indices(self.shape)
        known = np.column_stack([xx[good], yy[good]])
        wanted = np.column_stack([xx[~good], yy[~good]])
        filled = np.full(len(wanted), np.nan)
        if len(known) >= 4:
            try:
                filled = griddata(known, self._data[good], wanted,
                                  method="cubic")
            except QhullError:  # the pixels left lie on one line
                pass
        missing = ~np.isfinite(filled)
        if missing.any():
            filled[missing] = griddata(known, self._data[good],
                                       wanted[missing], method="nearest")
        return float(np.sum(self._data[good]) + np.sum(filled))

    def register_epsf(self, epsf):
        """
        The ePSF at the star's centre and flux, on the cutout's pixels.

        Parameters
        ----------
        epsf : `~psfkit.photometry.ImagePSF`
            The ePSF (or another 2-D model whose only parameters are
            ``flux``, ``x_0`` and ``y_0``; photutils' ``ImagePSF`` too).

        Returns
        -------
        model : ndarray
            The cutout's shape.
        """
        check_epsf(epsf)
        model = epsf.copy()
        model.flux, model.x_0, model.y_0 = (self._flux,
                                            *self._cutout_center)
        yy, xx = np.mgrid[0:self.shape[0], 0:self.shape[1]]
        return np.asarray(model(xx.astype(float), yy.astype(float)),
                          dtype=float)

    def compute_residual_image(self, epsf):
        """
        The cutout minus `register_epsf` (NaN on masked pixels).

        Parameters
        ----------
        epsf : `~psfkit.photometry.ImagePSF`
            The ePSF.

        Returns
        -------
        residual : ndarray
        """
        residual = self._data - self.register_epsf(epsf)
        return np.where(self._mask, np.nan, residual)

    def with_fit(self, cutout_center, flux):
        """
        A copy of the star with a new centre and flux.

        Parameters
        ----------
        cutout_center : tuple of two float
            The new ``(x, y)`` centre in cutout pixels.
        flux : float
            The new flux.

        Returns
        -------
        star : `EPSFStar`
        """
        new = object.__new__(EPSFStar)
        new.__dict__.update(self.__dict__)
        new._cutout_center = (float(cutout_center[0]), float(cutout_center[1]))
        new._flux = float(flux)
        return new

    def __repr__(self):
        return (f"<EPSFStar id={self.id_label} center=({self.center[0]:.3f}, "
                f"{self.center[1]:.3f}) flux={self.flux:.6g} "
                f"shape={self.shape}>")


class EPSFStars:
    """
    A sequence of `EPSFStar` (and `LinkedEPSFStar`: one object seen in
    several images).

    Parameters
    ----------
    stars : iterable of `EPSFStar` or `LinkedEPSFStar`
        The stars.

    Attributes
    ----------
    meta : dict
        Information added by `~psfkit.photometry.EPSFBuilder`
        (``n_iterations``, ``converged``, ``center_shifts``).

    Notes
    -----
    ``len``, iteration and indexing go over the items given (a linked
    star is one item); ``all_stars`` and the ``*_flat`` attributes go over
    every cutout, the members of linked stars one after the other.
    """

    def __init__(self, stars):
        stars = [_from_photutils(star) for star in stars]
        allowed = (EPSFStar, LinkedEPSFStar)
        if type(self) is not EPSFStars:
            allowed = (EPSFStar,)
        for i, star in enumerate(stars):
            if not isinstance(star, allowed):
                names = " or ".join(t.__name__ for t in allowed)
                msg = (f"{self._arg_name}[{i}] must be an {names}, got "
                       f"{type(star).__name__}")
                raise TypeError(msg)
        self._stars = stars
        self.meta = {}

    _arg_name = "stars"

    def __len__(self):
        return len(self._stars)

    def __iter__(self):
        return iter(self._stars)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return EPSFStars(self._stars[index])
        return self._stars[index]

    def __repr__(self):
        return f"<EPSFStars: {len(self)} stars>"

    @property
    def n_stars(self):
        """The number of stars."""
        return len(self._stars)

    @property
    def all_stars(self):
        """Every cutout, as a list: the members of linked stars in place of
        them (photutils' name)."""
        out = []
        for star in self._stars:
            out.extend(star._stars if isinstance(star, LinkedEPSFStar)
                       else [star])
        return out

    @property
    def all_good_stars(self):
        """The cutouts not excluded from fitting: all of them (psfkit's
        builder leaves failed stars out of its result instead)."""
        return self.all_stars

    @property
    def n_all_stars(self):
        """The number of cutouts (photutils' name)."""
        return len(self.all_stars)

    @property
    def n_good_stars(self):
        """The number of cutouts not excluded from fitting: all of them."""
        return self.n_all_stars

    @property
    def cutout_center_flat(self):
        """The ``(x, y)`` centres in cutout pixels of every cutout, shape
        ``(n_all_stars, 2)``."""
        return np.array([s.cutout_center for s in self.all_stars],
                        dtype=float).reshape(-1, 2)

    @property
    def center_flat(self):
        """The ``(x, y)`` image centres of every cutout, shape
        ``(n_all_stars, 2)``."""
        return np.array([s.center for s in self.all_stars],
                        dtype=float).reshape(-1, 2)

    @property
    def flux(self):
        """The fluxes of every cutout, shape ``(n_all_stars,)``."""
        return np.array([s.flux for s in self.all_stars], dtype=float)

    def to_table(self):
        """
        Every cutout as a row of a table.

        Returns
        -------
        table : `~astropy.table.QTable`
            Columns ``id``, ``x_center``, ``y_center``, ``flux``.
        """
        stars = self.all_stars
        centers = self.center_flat
        return QTable({"id": [s.id_label for s in stars],
                       "x_center": centers[:, 0],
                       "y_center": centers[:, 1],
                       "flux": self.flux})

    def _links(self):
        """
        The linked star of every cutout of `all_stars`: the item's index
        for the members of a `LinkedEPSFStar` of two or more, -1 for the
        others.
        """
        labels = []
        for k, star in enumerate(self._stars):
            if isinstance(star, LinkedEPSFStar):
                labels += [k if len(star) > 1 else -1] * len(star)
            else:
                labels.append(-1)
        return np.array(labels, dtype=np.intp)

    def _rebuild(self, cutouts):
        """
        Stars of the same structure with new cutouts (in `all_stars`
        order; `None` leaves a cutout out, and an item with none left).
        """
        out, k = [], 0
        for star in self._stars:
            if isinstance(star, LinkedEPSFStar):
                members = [c for c in cutouts[k:k + len(star)]
                           if c is not None]
                k += len(star)
                if members:
                    out.append(LinkedEPSFStar(members))
            else:
                if cutouts[k] is not None:
                    out.append(cutouts[k])
                k += 1
        return EPSFStars(out)


class LinkedEPSFStar(EPSFStars):
    """
    One star seen in several images: its cutouts, whose centres the ePSF
    builder keeps at one sky position.

    Parameters
    ----------
    stars_list : list of `EPSFStar`
        The cutouts, each with the ``wcs_large`` of its image.

    Notes
    -----
    `~psfkit.photometry.EPSFBuilder` fits every cutout, then moves the
    linked cutouts' centres to the mean of their sky positions (on the
    sphere) at every iteration, as `constrain_centers` does: with ``n``
    images the centre is measured from ``n`` times the pixels.

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.wcs import WCS
    >>> from psfkit.photometry import EPSFStar, LinkedEPSFStar
    >>> def tan_wcs(crpix):
    ...     w = WCS(naxis=2)
    ...     w.wcs.ctype = ['RA---TAN', 'DEC--TAN']
    ...     w.wcs.crval, w.wcs.crpix = [150.0, 2.0], crpix
    ...     w.wcs.cdelt = [-1e-4, 1e-4]
    ...     return w
    >>> a = EPSFStar(np.ones((5, 5)), cutout_center=(2.1, 2.0),
    ...              origin=(10, 10), wcs_large=tan_wcs([1.0, 1.0]))
    >>> b = EPSFStar(np.ones((5, 5)), cutout_center=(2.3, 2.0),
    ...              origin=(20, 10), wcs_large=tan_wcs([11.0, 1.0]))
    >>> star = LinkedEPSFStar([a, b])   # the same sky position: x 12.2, 22.2
    >>> star.constrain_centers()
    >>> np.round(star.center_flat, 6).tolist()
    [[12.2, 12.0], [22.2, 12.0]]
    """

    _arg_name = "stars_list"

    def __init__(self, stars_list):
        if isinstance(stars_list, EPSFStar):
            stars_list = [stars_list]
        super().__init__(stars_list)
        if not self._stars:
            msg = "stars_list is empty: a linked star needs its cutouts"
            raise ValueError(msg)
        for i, star in enumerate(self._stars):
            if star.wcs_large is None:
                msg = (f"stars_list[{i}] has no wcs_large: linked stars "
                       "share one sky position, through the WCS of their "
                       "images")
                raise ValueError(msg)

    def __repr__(self):
        return f"<LinkedEPSFStar: {len(self)} cutouts>"

    @property
    def all_stars(self):
        """The cutouts, as a list."""
        return list(self._stars)

    def _links(self):
        return np.zeros(len(self._stars), dtype=np.intp)

    def constrain_centers(self):
        """
        Move the cutouts' centres to the mean of their sky positions (the
        mean of unit vectors, in ICRS), in place.
        """
        if len(self._stars) < 2:
            return
        centers = link_centers(self._stars, self.cutout_center_flat,
                               self._links())
        for star, center in zip(self._stars, centers, strict=True):
            star.cutout_center = center


def _from_photutils(star):
    """
    psfkit's `EPSFStar` (or `LinkedEPSFStar`) for one of photutils'
    (its cutout, masked where its weight is zero, centre, origin, flux, id
    and WCS); anything else as it is.
    """
    module = type(star).__module__ or ""
    if not module.startswith("photutils"):
        return star
    name = type(star).__name__
    if name == "LinkedEPSFStar":
        return LinkedEPSFStar([_from_photutils(s) for s in star.all_stars])
    if name != "EPSFStar":
        return star
    data = np.asarray(star.data, dtype=float)
    weights = getattr(star, "weights", None)
    return EPSFStar(np.ma.MaskedArray(data, mask=~np.isfinite(data)),
                    cutout_center=tuple(star.cutout_center),
                    origin=tuple(star.origin), flux=float(star.flux),
                    id_label=star.id_label, weights=weights,
                    wcs_large=getattr(star, "wcs_large", None))


def link_centers(stars, centers, links):
    """
    Cutout centres moved to one sky position per linked star.

    Parameters
    ----------
    stars : list of `EPSFStar`
        The cutouts (their ``origin`` and ``wcs_large`` are used).
    centers : ndarray, shape (n, 2)
        The ``(x, y)`` cutout centres to constrain.
    links : ndarray of int, shape (n,)
        The linked star of each cutout, -1 for cutouts left as they are
        (unlinked, or excluded).

    Returns
    -------
    centers : ndarray, shape (n, 2)
        Every linked cutout at the mean (on the sphere) of its star's sky
        positions; the others unchanged.
    """
    centers = np.array(centers, dtype=float)
    links = np.asarray(links)
    linked = np.flatnonzero(links >= 0)
    if linked.size == 0:
        return centers
    origins = np.array([stars[i].origin for i in linked], dtype=float)
    xy = origins + centers[linked]
    # the cutouts of one image share a WCS: each WCS converts all of its
    # cutouts at once
    groups = {}
    for k, i in enumerate(linked):
        groups.setdefault(id(stars[i].wcs_large), []).append(k)
    unit = np.empty((len(linked), 3))
    for members in groups.values():
        wcs = stars[linked[members[0]]].wcs_large
        sky = SkyCoord(wcs.pixel_to_world(xy[members, 0], xy[members, 1])).icrs
        unit[members] = sky.represent_as(
            UnitSphericalRepresentation).to_cartesian().xyz.value.T
    label, inverse = np.unique(links[linked], return_inverse=True)
    total = np.zeros((len(label), 3))
    np.add.at(total, inverse, unit)
    mean = SkyCoord(x=total[:, 0], y=total[:, 1], z=total[:, 2],
                    representation_type="cartesian", frame="icrs")
    mean = SkyCoord(mean.represent_as(UnitSphericalRepresentation),
                    frame="icrs")
    for members in groups.values():
        wcs = stars[linked[members[0]]].wcs_large
        px, py = wcs.world_to_pixel(mean[inverse[members]])
        centers[linked[members]] = (np.column_stack([px, py])
                                    - origins[members])
    return centers


def _catalog_positions(catalog, wcs, *, sky_only=False):
    """
    The ``(x, y, ids)`` of a catalogue's stars: from its x and y columns,
    else from its ``skycoord`` column through the image's ``wcs``.  With
    ``sky_only`` the sky positions are used whatever other columns there
    are, and a position the WCS cannot place (NaN) is kept: that star is
    not in the image.
    """
    names = getattr(catalog, "colnames", None)
    if names is None:
        msg = ("catalogs must be tables with star positions (columns x/y, "
               "x_0/y_0, x_centroid/y_centroid..., or skycoord), got "
               f"{type(catalog).__name__}")
        raise TypeError(msg)
    xname = find_column(catalog, "x", name="catalogs", required=False)
    yname = find_column(catalog, "y", name="catalogs", required=False)
    sky = sky_only or ((xname is None or yname is None)
                       and "skycoord" in names)
    if sky:
        if wcs is None:
            msg = ("a catalogue with sky positions (skycoord) needs an "
                   "image with a WCS: give data as NDData with a wcs")
            raise ValueError(msg)
        x, y = wcs.world_to_pixel(catalog["skycoord"])
    else:
        xname, yname = find_xy_columns(catalog, name="catalogs")
        x, y = (getattr(catalog[n], "value", catalog[n])
                for n in (xname, yname))
    x, y = (np.atleast_1d(np.ma.filled(np.ma.asarray(v, dtype=float),
                                       np.nan)) for v in (x, y))
    bad = ~(np.isfinite(x) & np.isfinite(y))
    if not sky and bad.any():
        # (a sky position the WCS cannot place is off the image instead)
        rows = np.flatnonzero(bad)[:10].tolist()
        msg = ("catalogs positions must be finite: rows "
               f"{rows} are masked or not finite")
        raise ValueError(msg)
    ids = (np.asarray(catalog["id"]) if "id" in names
           else np.arange(1, len(x) + 1))
    return x, y, ids


def _catalog_fluxes(catalog, n):
    """The ``flux`` column of a catalogue (NaN where masked), or `None`."""
    if "flux" not in getattr(catalog, "colnames", ()):
        return None
    flux = getattr(catalog["flux"], "value", catalog["flux"])
    return np.broadcast_to(np.ma.filled(np.ma.asarray(flux, dtype=float),
                                        np.nan), (n,))


def _is_image_list(data):
    """Whether ``data`` is a list of images rather than one image."""
    return isinstance(data, list | tuple) and len(data) > 0 and all(
        isinstance(d, NDData) or (isinstance(d, np.ndarray) and d.ndim == 2)
        for d in data)


def _pairs(data, catalogs):
    """
    The (image, catalogue) pairs of the inputs, and whether the stars are
    linked (one sky catalogue for several images).
    """
    if (isinstance(data, list | tuple) and data
            and not _is_image_list(data)
            and any(isinstance(d, NDData | np.ndarray) for d in data)):
        # a list that holds images, but not only 2-D ones
        for i, d in enumerate(data):
            if not (isinstance(d, NDData)
                    or (isinstance(d, np.ndarray) and d.ndim == 2)):
                what = (f"a {d.ndim}-D array" if isinstance(d, np.ndarray)
                        else type(d).__name__)
                msg = (f"data[{i}] must be a 2-D image (an array or "
                       f"NDData), got {what}")
                raise TypeError(msg)
    images = list(data) if _is_image_list(data) else [data]
    tables = (list(catalogs) if isinstance(catalogs, list | tuple)
              else [catalogs])
    if len(tables) == 1 and len(images) > 1:
        if "skycoord" not in getattr(tables[0], "colnames", ()):
            msg = (f"one catalogue for {len(images)} images must give sky "
                   "positions in a skycoord column (its stars are then "
                   "linked across the images); give one catalogue per "
                   "image otherwise")
            raise ValueError(msg)
        return [(image, tables[0]) for image in images], True
    if len(tables) != len(images):
        msg = (f"give one catalogue per image, or one catalogue with sky "
               f"positions for all: {len(images)} image(s) and "
               f"{len(tables)} catalogue(s) were given")
        raise ValueError(msg)
    return list(zip(images, tables, strict=True)), False


def _cut_out(image, x, y, ids, ny, nx, flux=None):
    """
    The stars of one image, and which ones were left out (edge, mask).

    Each cutout is centred on the pixel holding its star (``i + 0.5``
    belongs to pixel ``i``, as with astropy's ``overlap_slices`` and
    photutils); a position that is not finite (off the WCS's sky) or
    absurdly far is off the image.
    """
    hx, hy = nx // 2, ny // 2
    ix, iy = nearest_pixel(x), nearest_pixel(y)
    inside = ((ix - hx >= 0) & (ix + hx < image.shape[1])
              & (iy - hy >= 0) & (iy + hy < image.shape[0]))
    rows = iy[inside, None, None] + np.arange(-hy, hy + 1)[None, :, None]
    cols = ix[inside, None, None] + np.arange(-hx, hx + 1)[None, None, :]
    cutouts = image.data[rows, cols]
    masks = image.mask[rows, cols]
    weights = None
    if image.error is not None:
        with np.errstate(divide="ignore"):
            weights = 1.0 / np.asarray(image.error, dtype=float)[rows, cols]
    usable = np.zeros(len(x), dtype=bool)
    usable[inside] = ~np.all(masks, axis=(1, 2))
    stars = []
    for k, i in enumerate(np.flatnonzero(inside)):
        if not usable[i]:
            continue
        x0 = ix[i] - hx
        y0 = iy[i] - hy
        given = None if flux is None or not np.isfinite(flux[i]) else flux[i]
        stars.append(EPSFStar(np.ma.MaskedArray(cutouts[k], mask=masks[k]),
                              cutout_center=(x[i] - x0, y[i] - y0),
                              origin=(x0, y0), flux=given,
                              id_label=ids[i].item(),
                              weights=None if weights is None else weights[k],
                              wcs_large=image.wcs))
    return stars, ~inside, inside & ~usable


@renamed_keyword(catalog="catalogs")
def extract_stars(data, catalogs=None, *, size=(11, 11)):
    """
    Cut out the stars of a catalogue for building an ePSF.

    Parameters
    ----------
    data : array-like, `~astropy.nddata.NDData`, or list of them
        The background-subtracted image, or a list of images.  Masked and
        non-finite pixels are carried into the cutouts as masked.
    catalogs : `~astropy.table.Table` or list of `~astropy.table.Table`
        The stars of the image, or one catalogue per image of a list:
        positions in columns ``x``/``y`` (or any name
        `~psfkit.utils.find_column` accepts: ``x_0``, ``x_centroid``...),
        or sky positions in a ``skycoord`` column
        (`~astropy.coordinates.SkyCoord`) for an `~astropy.nddata.NDData`
        image with a ``wcs``; an ``id`` column is kept (ids are the row
        numbers, from 1, otherwise).  One catalogue with a ``skycoord``
        column for a list of NDData images links the stars: each is cut
        out of every image it lies in, through the image's WCS, and a star
        cut out of two images or more is a `LinkedEPSFStar` (as in
        photutils).
    size : int or tuple of two int, optional
        The odd cutout size, or ``(ny, nx)`` (11 by 11 by default, as in
        photutils).  Each cutout is centred on the pixel holding the
        star (a star at ``i + 0.5`` is in pixel ``i``, as in photutils).
    catalog : `~astropy.table.Table`, optional
        Deprecated name of ``catalogs``.

    Returns
    -------
    stars : `EPSFStars`
        One star per usable catalogue row, image after image (linked
        stars: one item per catalogue row, in its order).

    Raises
    ------
    ValueError
        When the numbers of images and catalogues differ (except for one
        sky catalogue), when a catalogue has sky positions only and its
        image no WCS, or when linked images have no WCS.

    Warns
    -----
    StarExcludedWarning
        For stars whose cutout would extend beyond the image or has no
        unmasked pixel; they are left out (linked stars: those cut out
        of no image).

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.table import QTable
    >>> from psfkit.photometry import extract_stars
    >>> image = np.zeros((50, 50))
    >>> image[20, 30] = 5.0
    >>> stars = extract_stars(image, QTable({'x': [30.2], 'y': [19.9]}),
    ...                       size=11)
    >>> stars[0].shape, stars[0].cutout_center, stars[0].origin
    ((11, 11), (5.199999999999999, 4.899999999999999), (25.0, 15.0))

    Several images, one catalogue each:

    >>> other = np.roll(image, 5, axis=1)
    >>> stars = extract_stars([image, other],
    ...                       [QTable({'x': [30.2], 'y': [19.9]}),
    ...                        QTable({'x': [35.2], 'y': [19.9]})], size=11)
    >>> stars.center_flat
    array([[30.2, 19.9],
           [35.2, 19.9]])
    """
    if catalogs is None:
        msg = "extract_stars() missing its argument 'catalogs'"
        raise TypeError(msg)
    ny, nx = as_pair("size", size, check_odd=True)
    pairs, linked = _pairs(data, catalogs)
    if linked:
        return _linked_stars(pairs, ny, nx)
    stars, edge_ids, masked_ids = [], [], []
    for data_i, catalog_i in pairs:
        image = coerce_data(data_i, name="data", ndim=2)
        x, y, ids = _catalog_positions(catalog_i, image.wcs)
        got, edge, masked = _cut_out(image, x, y, ids, ny, nx,
                                     _catalog_fluxes(catalog_i, len(x)))
        stars += got
        edge_ids += ids[edge].tolist()
        masked_ids += ids[masked].tolist()
    _warn_excluded(edge_ids, masked_ids, ny, nx)
    return EPSFStars(stars)


def _linked_stars(pairs, ny, nx):
    """
    The stars of one sky catalogue in several images: a `LinkedEPSFStar`
    for each star cut out of two images or more, an `EPSFStar` for one
    cut out of one; stars cut out of no image are left out.
    """
    per_star = None
    excluded = None
    for i, (data_i, catalog) in enumerate(pairs):
        image = coerce_data(data_i, name=f"data[{i}]", ndim=2)
        if image.wcs is None:
            msg = (f"data[{i}] has no WCS: the stars of one sky catalogue "
                   "are found in each image through its WCS (give NDData "
                   "images with a wcs)")
            raise ValueError(msg)
        x, y, ids = _catalog_positions(catalog, image.wcs, sky_only=True)
        if per_star is None:
            per_star = [[] for _ in ids]
            excluded = {"edge": np.ones(len(ids), dtype=bool),
                        "masked": np.zeros(len(ids), dtype=bool)}
        got, edge, masked = _cut_out(image, x, y, ids, ny, nx,
                                     _catalog_fluxes(catalog, len(x)))
        for row, star in zip(np.flatnonzero(~edge & ~masked), got,
                             strict=True):
            per_star[row].append(star)
        excluded["edge"] &= edge
        excluded["masked"] |= masked
    stars, edge_ids, masked_ids = [], [], []
    for row, members in enumerate(per_star):
        if len(members) > 1:
            stars.append(LinkedEPSFStar(members))
        elif members:
            stars.append(members[0])
        elif excluded["edge"][row]:
            edge_ids.append(ids[row].item())
        else:
            masked_ids.append(ids[row].item())
    _warn_excluded(edge_ids, masked_ids, ny, nx)
    return EPSFStars(stars)


def _warn_excluded(edge_ids, masked_ids, ny, nx):
    """A `StarExcludedWarning` listing the stars left out, if any."""
    if edge_ids or masked_ids:
        left = [*edge_ids, *masked_ids]
        more = " ..." if len(left) > 10 else ""
        warn(f"{len(edge_ids)} star(s) off the image or too near its edge "
             f"for a {ny}x{nx} cutout and {len(masked_ids)} fully masked "
             "star(s) "
             f"were excluded (ids: {', '.join(map(str, left[:10]))}{more})",
             StarExcludedWarning)
