"""
Star cutouts for building an empirical PSF: `EPSFStar`, `EPSFStars` and
`extract_stars`.
"""


from typing import NamedTuple

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

__all__ = ["EPSFStar", "EPSFStars", "StarExcludedWarning", "extract_stars"]


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
                 id_label=None):
        arr = coerce_data(data, name="data", ndim=2)
        self._data = arr.data
        self._mask = arr.mask
        ny, nx = arr.shape
        self._cutout_center = _pair_or_default(
            "cutout_center", cutout_center, ((nx - 1) / 2.0, (ny - 1) / 2.0))
        self._origin = _pair_or_default("origin", origin, (0.0, 0.0))
        if flux is None:
            flux = float(np.sum(arr.data[~arr.mask]))
        self._flux = float(flux)
        self.id_label = id_label

    @property
    def data(self):
        """The cutout values."""
        return self._data

    @property
    def mask(self):
        """`True` where a cutout pixel is ignored."""
        return self._mask

    @property
    def shape(self):
        """The cutout shape ``(ny, nx)``."""
        return self._data.shape

    @property
    def cutout_center(self):
        """The ``(x, y)`` centre in cutout pixels."""
        return self._cutout_center

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
    A sequence of `EPSFStar`.

    Parameters
    ----------
    stars : iterable of `EPSFStar`
        The stars.

    Attributes
    ----------
    meta : dict
        Information added by `~psfkit.photometry.EPSFBuilder`
        (``n_iterations``, ``converged``, ``center_shifts``).
    """

    def __init__(self, stars):
        stars = list(stars)
        for i, star in enumerate(stars):
            if not isinstance(star, EPSFStar):
                msg = (f"stars[{i}] must be an EPSFStar, got "
                       f"{type(star).__name__}")
                raise TypeError(msg)
        self._stars = stars
        self.meta = {}

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
        """Every star, as a list (photutils' name; psfkit has no linked
        stars)."""
        return list(self._stars)

    @property
    def all_good_stars(self):
        """The stars not excluded from fitting: every star held (psfkit's
        builder leaves failed stars out of its result instead)."""
        return list(self._stars)

    @property
    def n_all_stars(self):
        """The number of stars (photutils' name)."""
        return len(self._stars)

    @property
    def n_good_stars(self):
        """The number of stars not excluded from fitting: all of them."""
        return len(self._stars)

    @property
    def cutout_center_flat(self):
        """The ``(x, y)`` centres in cutout pixels, shape ``(n_stars, 2)``."""
        return np.array([s.cutout_center for s in self._stars],
                        dtype=float).reshape(-1, 2)

    @property
    def center_flat(self):
        """The ``(x, y)`` image centres, shape ``(n_stars, 2)``."""
        return np.array([s.center for s in self._stars],
                        dtype=float).reshape(-1, 2)

    @property
    def flux(self):
        """The fluxes, shape ``(n_stars,)``."""
        return np.array([s.flux for s in self._stars], dtype=float)

    def to_table(self):
        """
        The stars as a table.

        Returns
        -------
        table : `~astropy.table.QTable`
            Columns ``id``, ``x_center``, ``y_center``, ``flux``.
        """
        centers = self.center_flat
        return QTable({"id": [s.id_label for s in self._stars],
                       "x_center": centers[:, 0],
                       "y_center": centers[:, 1],
                       "flux": self.flux})


def _catalog_positions(catalog, wcs):
    """
    The ``(x, y, ids)`` of a catalogue's stars: from its x and y columns,
    else from its ``skycoord`` column through the image's ``wcs``.
    """
    names = getattr(catalog, "colnames", None)
    if names is None:
        msg = ("catalogs must be tables with star positions (columns x/y, "
               "x_0/y_0, x_centroid/y_centroid..., or skycoord), got "
               f"{type(catalog).__name__}")
        raise TypeError(msg)
    xname = find_column(catalog, "x", name="catalogs", required=False)
    yname = find_column(catalog, "y", name="catalogs", required=False)
    if (xname is None or yname is None) and "skycoord" in names:
        if wcs is None:
            msg = ("a catalogue with sky positions (skycoord) needs an "
                   "image with a WCS: give data as NDData with a wcs")
            raise ValueError(msg)
        x, y = wcs.world_to_pixel(catalog["skycoord"])
    else:
        xname, yname = find_xy_columns(catalog, name="catalogs")
        x, y = (getattr(catalog[n], "value", catalog[n])
                for n in (xname, yname))
    x = np.atleast_1d(np.asarray(x, dtype=float))
    y = np.atleast_1d(np.asarray(y, dtype=float))
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        msg = "catalogs positions must be finite"
        raise ValueError(msg)
    ids = (np.asarray(catalog["id"]) if "id" in names
           else np.arange(1, len(x) + 1))
    return x, y, ids


def _is_image_list(data):
    """Whether ``data`` is a list of images rather than one image."""
    return isinstance(data, list | tuple) and len(data) > 0 and all(
        isinstance(d, NDData) or (isinstance(d, np.ndarray) and d.ndim == 2)
        for d in data)


def _pairs(data, catalogs):
    """The (image, catalogue) pairs of the inputs."""
    images = list(data) if _is_image_list(data) else [data]
    tables = (list(catalogs) if isinstance(catalogs, list | tuple)
              else [catalogs])
    if len(tables) != len(images):
        msg = (f"give one catalogue per image: {len(images)} image(s) and "
               f"{len(tables)} catalogue(s) were given (psfkit does not "
               "link the stars of one sky catalogue across images)")
        raise ValueError(msg)
    return list(zip(images, tables, strict=True))


def _cut_out(image, x, y, ids, ny, nx):
    """The stars of one image, and which ones were left out (edge, mask)."""
    hx, hy = nx // 2, ny // 2
    ix = np.round(x).astype(np.intp)
    iy = np.round(y).astype(np.intp)
    inside = ((ix - hx >= 0) & (ix + hx < image.shape[1])
              & (iy - hy >= 0) & (iy + hy < image.shape[0]))
    rows = iy[inside, None, None] + np.arange(-hy, hy + 1)[None, :, None]
    cols = ix[inside, None, None] + np.arange(-hx, hx + 1)[None, None, :]
    cutouts = image.data[rows, cols]
    masks = image.mask[rows, cols]
    usable = np.zeros(len(x), dtype=bool)
    usable[inside] = ~np.all(masks, axis=(1, 2))
    stars = []
    for k, i in enumerate(np.flatnonzero(inside)):
        if not usable[i]:
            continue
        x0 = ix[i] - hx
        y0 = iy[i] - hy
        stars.append(EPSFStar(np.ma.MaskedArray(cutouts[k], mask=masks[k]),
                              cutout_center=(x[i] - x0, y[i] - y0),
                              origin=(x0, y0), id_label=ids[i].item()))
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
        numbers, from 1, otherwise).
    size : int or tuple of two int, optional
        The odd cutout size, or ``(ny, nx)`` (11 by 11 by default, as in
        photutils).  Each cutout is centred on the pixel nearest to the
        star.
    catalog : `~astropy.table.Table`, optional
        Deprecated name of ``catalogs``.

    Returns
    -------
    stars : `EPSFStars`
        One star per usable catalogue row, image after image.

    Raises
    ------
    ValueError
        When the numbers of images and catalogues differ (one sky
        catalogue is not linked across several images, as photutils'
        ``LinkedEPSFStar`` would be), or when a catalogue has sky
        positions only and its image no WCS.

    Warns
    -----
    StarExcludedWarning
        For stars whose cutout would extend beyond the image or has no
        unmasked pixel; they are left out.

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
    stars, edge_ids, masked_ids = [], [], []
    for data_i, catalog_i in _pairs(data, catalogs):
        image = coerce_data(data_i, name="data", ndim=2)
        x, y, ids = _catalog_positions(catalog_i, image.wcs)
        got, edge, masked = _cut_out(image, x, y, ids, ny, nx)
        stars += got
        edge_ids += ids[edge].tolist()
        masked_ids += ids[masked].tolist()
    if edge_ids or masked_ids:
        left = [*edge_ids, *masked_ids]
        more = " ..." if len(left) > 10 else ""
        warn(f"{len(edge_ids)} star(s) too near the image edge for a "
             f"{ny}x{nx} cutout and {len(masked_ids)} fully masked star(s) "
             f"were excluded (ids: {', '.join(map(str, left[:10]))}{more})",
             StarExcludedWarning)
    return EPSFStars(stars)
