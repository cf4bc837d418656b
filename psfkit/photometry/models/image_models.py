"""
PSF models given as images: `ImagePSF` and the spatially varying
`GriddedPSFModel`.

Both interpolate their (oversampled) images with the cubic B-spline of
``_interpolation``, which gives exact derivatives in x and y; the grid model
adds bilinear weights between the images nearest to each source.
"""

from astropy.modeling import Fittable2DModel, Parameter
from astropy.nddata import NDData
import numpy as np

from ..._numerics.gaussian import unit_spaced
from ...utils import as_pair, coerce_data
from ._interpolation import (
    spline_coefficients,
    spline_evaluate,
    spline_evaluate_grid,
)
from .base import PSFModelMixin
from .gridded_io import _read_gridded, _write_webbpsf

__all__ = ["ImagePSF", "GriddedPSFModel"]


def _psf_images(data, name, ndim):
    arr = coerce_data(data, name=name, ndim=ndim)
    if np.any(arr.mask):
        msg = (f"{name} must be finite and unmasked everywhere: a PSF image "
               f"cannot have missing pixels ({np.count_nonzero(arr.mask)} "
               "found)")
        raise ValueError(msg)
    return np.array(arr.data, dtype=float)


def _normalize_images(stack, oversampling, name):
    """Scale each image so that its sum divided by the oversampling is 1."""
    area = oversampling[0] * oversampling[1]
    sums = stack.sum(axis=(-2, -1), keepdims=True)
    if np.any(sums <= 0):
        msg = (f"{name} cannot be normalised: the sum of an image is not "
               "positive")
        raise ValueError(msg)
    return stack * (area / sums)


def _origin(origin, shape, name="origin"):
    if origin is None:
        return ((shape[-1] - 1) / 2.0, (shape[-2] - 1) / 2.0)
    pair = np.asarray(origin, dtype=float)
    if pair.shape != (2,) or not np.all(np.isfinite(pair)):
        msg = f"{name} must be a finite (x, y) pair, got {origin!r}"
        raise ValueError(msg)
    return (float(pair[0]), float(pair[1]))


def _estimate_fwhm(image, oversampling):
    """Diameter (pixels) of the circle with the area above half maximum."""
    n_above = np.count_nonzero(image >= 0.5 * image.max())
    return float(2.0 * np.sqrt(n_above / (np.pi * oversampling[0]
                                          * oversampling[1])))


class _ImageModelBase(PSFModelMixin, Fittable2DModel):
    """Shared geometry of the image-based PSF models."""

    flux = Parameter(default=1.0, description="total flux")
    x_0 = Parameter(default=0.0, description="x (column) of the centre")
    y_0 = Parameter(default=0.0, description="y (row) of the centre")

    def _setup(self, stack, oversampling, origin, normalize, name,
               fill_value):
        self._oversampling = as_pair("oversampling", oversampling,
                                     lower_bound=(1, True))
        self._origin = _origin(origin, stack.shape)
        if fill_value is not None:
            fill_value = float(fill_value)
        self.fill_value = fill_value
        if normalize:
            stack = _normalize_images(stack, self._oversampling, name)
        stack = np.ascontiguousarray(stack, dtype=float)
        stack.flags.writeable = False
        self._stack = stack
        self._coef = spline_coefficients(stack)

    def _spline_ends(self, ends):
        """
        Interpolate the images with the spline ends ``ends`` (see
        `spline_coefficients`); ``'not-a-knot'`` gives photutils' values.
        """
        self._coef = spline_coefficients(self._stack, ends=ends)
        return self

    @property
    def oversampling(self):
        """The oversampling factors ``(y, x)`` of the images (an array)."""
        return np.array(self._oversampling)

    @property
    def origin(self):
        """
        The ``(x, y)`` position of the PSF centre in image pixels (an
        array).
        """
        return np.array(self._origin, dtype=float)

    def _fine_coords(self, x, y, x_0, y_0):
        osy, osx = self._oversampling
        return (self._origin[0] + (x - x_0) * osx,
                self._origin[1] + (y - y_0) * osy)

    def _fill_outside(self, xi, yi, value, derivs):
        """Set ``fill_value`` beyond the image grid (photutils' rule)."""
        if self.fill_value is None:
            return value, derivs
        ny, nx = self._stack.shape[-2:]
        with np.errstate(invalid="ignore"):
            outside = (xi < 0) | (xi > nx - 1) | (yi < 0) | (yi > ny - 1)
        if not np.any(outside):
            return value, derivs
        value = np.where(outside, self.fill_value, value)
        if derivs is not None:
            derivs = [np.where(outside, 0.0, d) for d in derivs]
        return value, derivs

    #: on the unit-spaced pixel grids of fit boxes every column of a
    #: source's grid falls at the same phase of the oversampled image (the
    #: oversampling is an integer), and so does every row: `evaluate_grid`
    #: computes the spline weights once per grid (`spline_evaluate_grid`)
    grid_separable = True

    def _grid_free(self, x_cols, y_rows, params, free=None):
        xg = np.asarray(x_cols, dtype=float)
        yg = np.asarray(y_rows, dtype=float)
        params = np.asarray(params, dtype=float)
        if (xg.ndim != 3 or yg.ndim != 3 or not unit_spaced(xg)
                or not unit_spaced(yg) or params.shape != (len(xg), 3)
                or yg.shape[:2] != xg.shape[:2]):
            # other grids (and errors in the arguments) take the general path
            if free is None:
                return PSFModelMixin.evaluate_grid(self, x_cols, y_rows,
                                                   params), None
            values, jac = PSFModelMixin.evaluate_grid(self, x_cols, y_rows,
                                                      params, jacobian=True)
            return values, jac[..., list(free)]
        n, n_grids, nx = xg.shape
        ny = yg.shape[2]
        osy, osx = self._oversampling
        flux = params[:, 0, None, None, None]
        x_0, y_0 = params[:, 1], params[:, 2]
        # the fine-grid position of each grid's first pixel
        x0 = self._origin[0] + (xg[..., 0] - x_0[:, None]) * osx
        y0 = self._origin[1] + (yg[..., 0] - y_0[:, None]) * osy
        wanted = [] if free is None else list(free)
        slopes = 1 in wanted or 2 in wanted
        # photutils' rule: fill_value (and no slope) beyond the image grid
        big_y, big_x = self._stack.shape[-2:]
        within = (None if self.fill_value is None
                  else (0.0, big_x - 1.0, 0.0, big_y - 1.0))
        unit, d_x0, d_y0 = self._grid_profile(x0, y0, x_0, y_0, (ny, nx),
                                              slopes, within)
        size = n_grids * ny * nx
        value = (flux * unit).reshape(n, size)
        if self.fill_value:
            xi = x0[..., None] + osx * np.arange(nx)
            yi = y0[..., None] + osy * np.arange(ny)
            with np.errstate(invalid="ignore"):
                outside = (((xi < 0) | (xi > big_x - 1))[:, :, None, :]
                           | ((yi < 0) | (yi > big_y - 1))[:, :, :, None])
            value = np.where(outside.reshape(n, size), self.fill_value,
                             value)
        if free is None:
            return value, None
        # each source's derivatives contiguous, one after the other
        jac = np.empty((n, len(wanted), n_grids, ny, nx))
        for k, which in enumerate(wanted):
            if which == 0:
                jac[:, k] = unit
            else:
                np.multiply(d_x0 if which == 1 else d_y0, flux, out=jac[:, k])
        return value, np.swapaxes(jac.reshape(n, len(wanted), size), 1, 2)

    def evaluate_grid(self, x_cols, y_rows, params, *, jacobian=False):
        values, jac = self._grid_free(x_cols, y_rows, params,
                                      (0, 1, 2) if jacobian else None)
        return (values, jac) if jacobian else values

    def bounding_box(self):
        """
        The footprint of the image around the centre.

        Returns
        -------
        bbox : tuple
            ``((y_low, y_high), (x_low, x_high))``.
        """
        ny, nx = self._stack.shape[-2:]
        osy, osx = self._oversampling
        x0 = float(np.ravel(self.x_0.value)[0])
        y0 = float(np.ravel(self.y_0.value)[0])
        return ((y0 + (-0.5 - self._origin[1]) / osy,
                 y0 + (ny - 0.5 - self._origin[1]) / osy),
                (x0 + (-0.5 - self._origin[0]) / osx,
                 x0 + (nx - 0.5 - self._origin[0]) / osx))


class ImagePSF(_ImageModelBase):
    """
    A PSF given as an image, possibly oversampled.

    The image is interpolated by a cubic B-spline that passes through every
    image value and has continuous first and second derivatives; the
    derivatives with respect to ``x_0`` and ``y_0`` are exact derivatives
    of that interpolant.  Beyond the image the model falls smoothly to zero
    within two image pixels.

    Parameters
    ----------
    data : array-like or `~astropy.nddata.NDData`
        The 2-D PSF image, sampled on a grid ``oversampling`` times finer
        than the detector pixels.  It must be finite and unmasked.
    oversampling : int or tuple of two int, optional
        The oversampling factor, or ``(y, x)`` factors.
    origin : tuple of two float, optional
        The ``(x, y)`` position in ``data`` pixels that corresponds to the
        model centre ``(x_0, y_0)``.  Defaults to the centre of the image,
        ``((nx - 1) / 2, (ny - 1) / 2)``.
    normalize : bool, optional
        If `True` the image is scaled so that ``data.sum() /
        (oversampling_x * oversampling_y) == 1``: the model summed over
        the detector pixels is then ``flux``.  By default the image is
        used as given (as photutils does): it should already be
        normalised that way.
    fill_value : float or None, optional
        The model value beyond the image grid (photutils' rule); `None`
        lets the interpolant fall smoothly to zero within two image
        pixels instead.
    flux, x_0, y_0 : float, optional
        The initial parameter values.
    **kwargs
        Other astropy model keywords.

    Notes
    -----
    The model value at a detector pixel ``(x, y)`` is ``flux`` times the
    interpolated image at ``origin + (x - x_0, y - y_0) * oversampling``.
    The interpolant is a cubic spline through the image values, like
    photutils' (which uses `scipy.interpolate.RectBivariateSpline`); the
    two differ only in how the spline ends at the image border (here the
    image continues with zeros), by an amount that follows the border
    values: 1e-9 of the peak when the border is below 1e-9 of the peak,
    3e-4 when it is at 0.4% of the peak.

    Examples
    --------
    >>> import numpy as np
    >>> from psfkit.photometry import ImagePSF
    >>> yy, xx = np.mgrid[0:81, 0:81]
    >>> image = np.exp(-((xx - 40) ** 2 + (yy - 40) ** 2) / (2 * 8.0 ** 2))
    >>> psf = ImagePSF(image, oversampling=4, flux=100, x_0=12.3, y_0=8.6,
    ...                normalize=True)
    >>> round(float(psf.data.sum()), 6)  # 4 * 4: one unit of flux
    16.0
    >>> yd, xd = np.mgrid[0:25, 0:25]
    >>> round(float(psf(xd, yd).sum()), 3)
    100.0
    """

    def __init__(self, data, *, flux=1.0, x_0=0.0, y_0=0.0, origin=None,
                 oversampling=1, fill_value=0.0, normalize=False, **kwargs):
        image = _psf_images(data, "data", 2)
        super().__init__(flux=flux, x_0=x_0, y_0=y_0, **kwargs)
        self._setup(image, oversampling, origin, normalize, "data",
                    fill_value)

    @property
    def data(self):
        """The (normalised) PSF image; read-only."""
        return self._stack

    @property
    def shape(self):
        """The shape ``(ny, nx)`` of the (oversampled) PSF image."""
        return self._stack.shape

    @property
    def fwhm(self):
        """
        The FWHM (pixels) estimated from the image: the diameter of the
        circle whose area equals that of the part above half maximum.
        """
        return _estimate_fwhm(self._stack, self._oversampling)

    def _compute(self, x, y, flux, x_0, y_0, *, jacobian=False):
        xi, yi = self._fine_coords(x, y, x_0, y_0)
        if not jacobian:
            value = flux * spline_evaluate(self._coef, xi, yi)
            return self._fill_outside(xi, yi, value, None)
        unit, dxi, dyi = spline_evaluate(self._coef, xi, yi, derivatives=True)
        osy, osx = self._oversampling
        return self._fill_outside(
            xi, yi, flux * unit, [unit, -flux * osx * dxi, -flux * osy * dyi])

    def _grid_profile(self, x0, y0, x_0, y_0, shape, slopes, within):
        """
        The unit-flux model on grids whose first fine-grid points are
        ``(x0, y0)`` (shape ``(n, B)``), and (with ``slopes``) its
        derivatives by ``x_0`` and ``y_0``, each ``(n, B, ny, nx)``; zero
        beyond ``within`` (see `spline_evaluate_grid`).
        """
        osy, osx = self._oversampling
        out = spline_evaluate_grid(self._coef, x0, y0, shape, (osy, osx),
                                   within=within, derivatives=slopes)
        if not slopes:
            return out, None, None
        unit, dxi, dyi = out
        return unit, -osx * dxi, -osy * dyi


def _grid_axes(xypos, n_images):
    xypos = np.asarray(xypos, dtype=float)
    if xypos.shape != (n_images, 2) or not np.all(np.isfinite(xypos)):
        msg = (f"grid_xypos must be a finite array of shape ({n_images}, 2) "
               f"(one (x, y) per PSF image), got shape {xypos.shape}")
        raise ValueError(msg)
    xs = np.unique(xypos[:, 0])
    ys = np.unique(xypos[:, 1])
    if xs.size * ys.size != n_images:
        msg = (f"grid_xypos must form a rectangular grid: {xs.size} distinct "
               f"x and {ys.size} distinct y do not make {n_images} positions")
        raise ValueError(msg)
    index = np.full((ys.size, xs.size), -1, dtype=np.intp)
    index[np.searchsorted(ys, xypos[:, 1]),
          np.searchsorted(xs, xypos[:, 0])] = np.arange(n_images)
    if np.any(index < 0):
        msg = "grid_xypos must form a rectangular grid without duplicates"
        raise ValueError(msg)
    return xs, ys, index


def _bilinear(nodes, value):
    """Lower node index, fraction and d(fraction)/d(value), clamped."""
    if nodes.size == 1:
        zeros = np.zeros(np.shape(value))
        return zeros.astype(np.intp), zeros, zeros
    j = np.clip(np.searchsorted(nodes, value, side="right") - 1, 0,
                nodes.size - 2)
    width = nodes[j + 1] - nodes[j]
    t = (value - nodes[j]) / width
    inside = (t >= 0) & (t <= 1)
    return j, np.clip(t, 0.0, 1.0), np.where(inside, 1.0 / width, 0.0)


class GriddedPSFModel(_ImageModelBase):
    """
    A spatially varying PSF: PSF images at the nodes of a rectangular grid.

    At a source position the PSF is the bilinear interpolation of the
    images at the four surrounding grid nodes (the nearest edge images are
    used outside the grid); each image is interpolated like `ImagePSF`.
    `read` makes the model of a file of WebbPSF/STPSF or of the STDPSF
    libraries, and `write` saves it.

    Parameters
    ----------
    data : `~astropy.nddata.NDData` or array-like
        A 3-D stack ``(n_psf, ny, nx)`` of PSF images.  An
        `~astropy.nddata.NDData` may carry ``meta['grid_xypos']`` and
        ``meta['oversampling']``; its ``meta`` becomes the model's (unless
        ``meta`` is given).
    grid_xypos : array-like, optional
        The ``(x, y)`` detector position of each image, shape
        ``(n_psf, 2)``; the positions must fill a rectangular grid.
        Required unless given in ``data.meta``.
    oversampling : int or tuple of two int, optional
        The oversampling of the images (``(y, x)`` for a pair); from
        ``data.meta`` or 1 when not given.
    origin : tuple of two float, optional
        The ``(x, y)`` image position of the PSF centre; the image centre
        by default.
    normalize : bool, optional
        Normalise every image as `ImagePSF` does (by default they are
        used as given, as photutils does).
    fill_value : float or None, optional
        The model value beyond the image grid (see `ImagePSF`).
    flux, x_0, y_0 : float, optional
        The initial parameter values.
    **kwargs
        Other astropy model keywords.

    Examples
    --------
    >>> import numpy as np
    >>> from astropy.nddata import NDData
    >>> from psfkit.photometry import GriddedPSFModel
    >>> yy, xx = np.mgrid[0:41, 0:41]
    >>> widths = [1.5, 1.75, 2.0, 2.25]  # at (0, 0), (100, 0), (0, 100), (100, 100)
    >>> stack = np.array([np.exp(-((xx - 20) ** 2 + (yy - 20) ** 2)
    ...                          / (2 * (2 * w) ** 2)) for w in widths])
    >>> meta = {'grid_xypos': [(0, 0), (100, 0), (0, 100), (100, 100)],
    ...         'oversampling': 2}
    >>> psf = GriddedPSFModel(NDData(stack, meta=meta), x_0=50, y_0=50,
    ...                       normalize=True)
    >>> psf.grid_shape
    (2, 2)
    >>> yd, xd = np.mgrid[30:71, 30:71]
    >>> round(float(psf(xd, yd).sum()), 4)
    1.0
    """

    def __init__(self, data, *, flux=1.0, x_0=0.0, y_0=0.0, fill_value=0.0,
                 grid_xypos=None, oversampling=None, origin=None,
                 normalize=False, **kwargs):
        meta = data.meta if isinstance(data, NDData) and data.meta else {}
        if meta and "meta" not in kwargs:
            # the NDData's meta (instrument, detector, filter...) is kept
            kwargs["meta"] = dict(meta)
        if grid_xypos is None:
            grid_xypos = meta.get("grid_xypos")
        if grid_xypos is None:
            msg = ("grid_xypos is required: give it explicitly or in "
                   "data.meta['grid_xypos']")
            raise ValueError(msg)
        if oversampling is None:
            oversampling = meta.get("oversampling", 1)
        stack = _psf_images(data, "data", 3)
        self._xs, self._ys, self._index = _grid_axes(grid_xypos, len(stack))
        self._grid_xypos = np.asarray(grid_xypos, dtype=float)
        super().__init__(flux=flux, x_0=x_0, y_0=y_0, **kwargs)
        self._setup(stack, oversampling, origin, normalize, "data",
                    fill_value)

    @classmethod
    def read(cls, filename, *, format=None, detector_id=None):
        """
        Read a gridded PSF model from a FITS file of WebbPSF/STPSF or of
        the STDPSF libraries, as photutils 3.x does.

        Parameters
        ----------
        filename : str or `os.PathLike`
            The file (a local file: psfkit does not download).
        format : {'webbpsf', 'stdpsf', None}, optional
            The file's layout (``'stpsf'`` is another name for
            ``'webbpsf'``).  By default it is recognised from the header:
            ``DET_YX0`` for 'webbpsf', ``NXPSFS`` and ``NYPSFS`` for
            'stdpsf'.

            'webbpsf'
                A cube ``(n_psf, ny, nx)`` of PSF images (or one 2-D
                image) in the primary HDU; ``OVERSAMP`` gives the
                oversampling, ``DET_YX0``, ``DET_YX1``... the detector
                position of each image, ``NUM_PSFS`` (optional) their
                number.
            'stdpsf'
                Jay Anderson's ``STDPSF_*.fits`` libraries: a cube of
                ``NXPSFS`` x ``NYPSFS`` PSFs oversampled 4 times (x varying
                fastest), the grid's 1-based positions in ``IPSFX01``...
                and ``JPSFY01``... (or in the strings of ``IPSFXA5``...
                and ``JPSFYA5``...).
        detector_id : int, optional
            For STDPSF files holding several detectors' grids, the
            detector to read (photutils' numbers): WFPC2 1 (PC), 2 (WF2),
            3 (WF3), 4 (WF4); ACS/WFC and WFC3/UVIS 1 (WFC2 or UVIS2, the
            lower chip, FLT extension ``('SCI', 1)``) and 2 (WFC1 or UVIS1,
            the upper one, ``('SCI', 2)``); NIRCam's short wavelength
            library 1 to 4 (A1 to A4) and 5 to 8 (B1 to B4).  Positions are
            then in that detector's pixels.  Required for those files;
            ignored, with a warning, for files of one detector.

        Returns
        -------
        model : `GriddedPSFModel`
            The model of the file's images, in the file's order, used as
            given (not normalised; both formats are normalised as
            photutils expects), centred in their images.  ``meta`` holds
            ``grid_xypos`` and ``oversampling`` as photutils' readers
            give them, with the header's keywords in lower case
            ('webbpsf') or what the STDPSF file's name says (``STDPSF``,
            ``detector``, ``filter``, ``instrument``).

        Raises
        ------
        psfkit.fitsio.FitsInputError
            (a `ValueError`) When the file is missing or unreadable, a
            header keyword is missing or malformed (the error names it and
            the file) or the cube disagrees with the header.
        ValueError
            For an unknown ``format``, or a ``detector_id`` missing, not
            in the file or given for a 'webbpsf' file.

        See Also
        --------
        write, STDPSFGrid

        Notes
        -----
        All positions are 0-based ``(x, y)`` detector pixels with
        ``(0, 0)`` the centre of the first pixel: the STDPSF header
        values minus 1; the ``DET_YX`` values as written.

        The ``DET_YX`` keywords announce ``'(y, x)'``, but photutils reads
        the first number as x, and psfkit does the same so that both give
        the same grid.  That is what the files of current STPSF and
        WebbPSF versions hold: they store the images sorted by photutils
        (y slowest) beside keywords in the order the positions were
        computed (x slowest), which swaps the two numbers for their square
        grids.  Files of older WebbPSF versions (which stored the images
        in the order of the keywords) hold ``(y, x)``; if the PSFs of such
        a grid vary the wrong way across the detector, swap the columns::

            model = GriddedPSFModel(model.data, oversampling=model.oversampling,
                                    grid_xypos=model.grid_xypos[:, ::-1])

        Examples
        --------
        A 2 x 2 grid of Gaussian PSFs written as WebbPSF does and read
        back:

        >>> import os, tempfile
        >>> import numpy as np
        >>> from astropy.io import fits
        >>> from psfkit.photometry import GriddedPSFModel
        >>> yy, xx = np.mgrid[-40:41, -40:41] / 4.0  # detector pixels
        >>> widths = [1.0, 1.5, 2.0, 2.5]
        >>> cube = np.array([np.exp(-(xx**2 + yy**2) / (2 * w**2)) / (2 * np.pi * w**2)
        ...                  for w in widths])  # each sums to 4 * 4
        >>> hdu = fits.PrimaryHDU(cube)
        >>> hdu.header['NUM_PSFS'], hdu.header['OVERSAMP'] = 4, 4
        >>> for k, (x, y) in enumerate([(0, 0), (2047, 0), (0, 2047), (2047, 2047)]):
        ...     hdu.header[f'DET_YX{k}'] = str((float(x), float(y)))
        >>> tmp = tempfile.TemporaryDirectory()
        >>> filename = os.path.join(tmp.name, 'nircam_nrca1_f200w_npsf4.fits')
        >>> hdu.writeto(filename)
        >>> psf = GriddedPSFModel.read(filename)
        >>> psf.grid_xypos
        array([[   0.,    0.],
               [2047.,    0.],
               [   0., 2047.],
               [2047., 2047.]])
        >>> psf.oversampling
        array([4, 4])
        >>> psf.x_0, psf.y_0 = 2047, 0  # at the second image's node
        >>> yd, xd = np.mgrid[-15:16, 2032:2063]
        >>> round(float(psf(xd, yd).sum()), 6)
        1.0
        >>> tmp.cleanup()
        """
        stack, grid_xypos, oversampling, meta = _read_gridded(
            filename, format=format, detector_id=detector_id)
        return cls(stack, grid_xypos=grid_xypos, oversampling=oversampling,
                   meta=meta)

    def write(self, filename, *, overwrite=False):
        """
        Write the model to a FITS file in the 'webbpsf' format, which
        `read` and photutils' ``GriddedPSFModel.read`` read back.

        The images (as the model holds them, normalised if it was made
        with ``normalize=True``) are written in the order of the grid, y
        varying slowest, as STPSF writes them, with ``NUM_PSFS``,
        ``OVERSAMP`` and each image's ``DET_YX<k>`` (holding ``'(x, y)'``,
        the order photutils reads, see `read`).  The entries of ``meta``
        that are FITS keywords (at most 8 characters) with a string,
        number or boolean value are written too, except those describing
        a file's layout.  The parameters and ``fill_value`` are not
        written.

        Parameters
        ----------
        filename : str or `os.PathLike`
            The file to write.
        overwrite : bool, optional
            Whether an existing file may be replaced.

        Returns
        -------
        path : `~pathlib.Path`
            The file written.

        Raises
        ------
        psfkit.fitsio.FitsInputError
            If the file exists (without ``overwrite``), is a folder or
            its folder does not exist.
        ValueError
            If the oversampling differs between the axes or the
            ``origin`` is not the image centre: the format has no place
            for either.

        Examples
        --------
        >>> import os, tempfile
        >>> import numpy as np
        >>> from psfkit.photometry import GriddedPSFModel
        >>> yy, xx = np.mgrid[-20:21, -20:21] / 2.0
        >>> stack = np.array([np.exp(-(xx**2 + yy**2) / (2 * w**2))
        ...                   for w in (1.0, 1.2, 1.4, 1.6, 1.8, 2.0)])
        >>> psf = GriddedPSFModel(stack, oversampling=2, normalize=True,
        ...                       grid_xypos=[(0, 0), (500, 0), (1000, 0),
        ...                                   (0, 800), (500, 800), (1000, 800)],
        ...                       meta={'filter': 'F555W'})
        >>> tmp = tempfile.TemporaryDirectory()
        >>> path = psf.write(os.path.join(tmp.name, 'grid.fits'))
        >>> again = GriddedPSFModel.read(path)
        >>> again.grid_shape, again.meta['filter'], again.meta['num_psfs']
        ((2, 3), 'F555W', 6)
        >>> bool(np.array_equal(again.data, psf.data))
        True
        >>> tmp.cleanup()
        """
        return _write_webbpsf(filename, self._stack, self._grid_xypos,
                              self._index, self._oversampling, self._origin,
                              self.meta, overwrite=overwrite)

    @property
    def data(self):
        """The (normalised) stack of PSF images; read-only."""
        return self._stack

    @property
    def grid_xypos(self):
        """The ``(x, y)`` position of each image, shape ``(n_psf, 2)``."""
        return self._grid_xypos.copy()

    @property
    def grid_shape(self):
        """The number of grid nodes along ``(y, x)``."""
        return self._index.shape

    def plot_grid(self, *, ax=None, vmax_scale=None, peak_norm=False,
                  deltas=False, cmap="viridis", dividers=True,
                  divider_color="darkgray", divider_ls="-", figsize=None):
        """
        Show the PSF images at their places in the grid (photutils'
        method; needs matplotlib).

        See `psfkit.photometry.plotting.plot_psf_grid` for the
        parameters.

        Returns
        -------
        fig : `matplotlib.figure.Figure`
        """
        from ..plotting import plot_psf_grid

        return plot_psf_grid(self, ax=ax, vmax_scale=vmax_scale,
                             peak_norm=peak_norm, deltas=deltas, cmap=cmap,
                             dividers=dividers, divider_color=divider_color,
                             divider_ls=divider_ls, figsize=figsize)

    @property
    def fwhm(self):
        """The FWHM (pixels) of the mean PSF image, estimated as for
        `ImagePSF`."""
        return _estimate_fwhm(self._stack.mean(axis=0), self._oversampling)

    def _corners(self, x_0, y_0):
        """
        The four grid images around each position and their bilinear
        weights: ``(plane, weight, d weight / d x_0, d weight / d y_0)``.
        """
        jx, tx, dtx = _bilinear(self._xs, x_0)
        jy, ty, dty = _bilinear(self._ys, y_0)
        nyg, nxg = self._index.shape
        corners = []
        for ay, wy, dwy in ((0, 1.0 - ty, -dty), (1, ty, dty)):
            for ax, wx, dwx in ((0, 1.0 - tx, -dtx), (1, tx, dtx)):
                plane = self._index[np.minimum(jy + ay, nyg - 1),
                                    np.minimum(jx + ax, nxg - 1)]
                corners.append((plane, wx * wy, dwx * wy, wx * dwy))
        return corners

    def _grid_profile(self, x0, y0, x_0, y_0, shape, slopes, within):
        """
        `ImagePSF._grid_profile` for the blend of the four grid images
        around each source.
        """
        osy, osx = self._oversampling
        unit = d_x = d_y = 0.0
        for plane, weight, dweight_x, dweight_y in self._corners(x_0, y_0):
            out = spline_evaluate_grid(self._coef, x0, y0, shape, (osy, osx),
                                       plane=plane[:, None], within=within,
                                       derivatives=slopes)
            w = weight[:, None, None, None]
            if not slopes:
                unit = unit + w * out
                continue
            val, dxi, dyi = out
            unit = unit + w * val
            d_x = d_x + dweight_x[:, None, None, None] * val - osx * w * dxi
            d_y = d_y + dweight_y[:, None, None, None] * val - osy * w * dyi
        return (unit, d_x, d_y) if slopes else (unit, None, None)

    def _compute(self, x, y, flux, x_0, y_0, *, jacobian=False):
        x_0, y_0 = np.broadcast_arrays(np.asarray(x_0, dtype=float),
                                       np.asarray(y_0, dtype=float))
        xi, yi = self._fine_coords(x, y, x_0, y_0)
        unit = 0.0
        dxi_sum = dyi_sum = dw_x = dw_y = 0.0
        for plane, weight, dweight_x, dweight_y in self._corners(x_0, y_0):
            if not jacobian:
                unit = unit + weight * spline_evaluate(self._coef, xi, yi,
                                                       plane=plane)
                continue
            val, dxi, dyi = spline_evaluate(self._coef, xi, yi, plane=plane,
                                            derivatives=True)
            unit = unit + weight * val
            dxi_sum = dxi_sum + weight * dxi
            dyi_sum = dyi_sum + weight * dyi
            dw_x = dw_x + dweight_x * val
            dw_y = dw_y + dweight_y * val
        if not jacobian:
            return self._fill_outside(xi, yi, flux * unit, None)
        osy, osx = self._oversampling
        return self._fill_outside(
            xi, yi, flux * unit, [unit, flux * (dw_x - osx * dxi_sum),
                                  flux * (dw_y - osy * dyi_sum)])
