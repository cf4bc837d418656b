"""
A plain, independent reference for the fitters of psfsubtraction.

psfsubtraction (https://github.com/hamogu/psfsubtraction, MIT licence,
Moritz Guenther) cannot be installed here.  This module re-implements, in
its own words and without any of psfkit's code, the algorithm its
``fitpsf`` package documents and runs, step by step and with full-image
boolean masks, as a brute-force check for psfkit's
``convention = 'psfsubtraction'``:

1. the bases are stacked along the last axis, ``(ny, nx, n_bases)``;
2. the regions are visited in order; for each, the bases used are those
   unmasked on every pixel of the region (``nonmaskedbases``) or all bases
   (``allbases``);
3. the optimisation region is the region dilated by a square of side
   ``2 * dilation + 1`` minus the region itself (``around_region``), or
   every pixel (``all_unmasked``), without the pixels masked in the image
   or in a used base;
4. a region is fitted only if the optimisation region has more pixels
   than there are coefficients;
5. the coefficients solve ``min |t - B c|`` on the optimisation region
   (``numpy.linalg.lstsq``; psfsubtraction itself solves the normal
   equations with ``numpy.linalg.solve``, available as ``solver='solve'``);
6. the PSF of the region is ``B c`` on the region's pixels; pixels in no
   region keep a masked PSF, and the residual is the image minus the PSF.

Sectors: boundaries ``logspace(inner, log10(nx), n)``; the centre
``shape / 2`` in array order; the angle of a pixel is that of the complex
number ``d0 + 1j * d1`` (offsets along the first and second array axes),
wrapped to [0, 360) degrees with astropy's `~astropy.coordinates.Angle`; a
pixel is in sector ``(k, j)`` if ``r_k <= r < r_k+1`` and
``phi_j <= angle < phi_j+1``; an int ``phi`` gives ``phi`` equal sectors
over 2 pi.  psfsubtraction compares angles with a Quantity only; plain
numbers are read here as radians (psfsubtraction raises for them).
"""

from astropy.coordinates import Angle
import astropy.units as u
import numpy as np
from scipy.ndimage import binary_dilation


def loci_sector_radius(shape, inner=0.0, n=10):
    """The sector boundaries of psfsubtraction's LOCI fitter."""
    return np.logspace(inner, np.log10(shape[1]), n)


def sector_masks(shape, radius, phi, center=None):
    """The non-empty sectors as 2-D boolean masks, in psfsubtraction's order."""
    if np.isscalar(phi):
        phi_edges = np.linspace(0, 2 * np.pi, int(phi) + 1)
    elif isinstance(phi, u.Quantity):
        phi_edges = phi.to_value(u.rad)
    else:
        phi_edges = np.asarray(phi, dtype=float)
    if center is None:
        center = np.array(shape) / 2.0
    index = np.indices(shape)
    d0 = index[0] - center[0]
    d1 = index[1] - center[1]
    r = np.sqrt(d0 ** 2 + d1 ** 2)
    angle = Angle(np.angle(d0 + d1 * 1j) * u.rad).wrap_at(360 * u.deg)
    angle = angle.to_value(u.rad)
    masks = []
    for k in range(len(radius) - 1):
        for j in range(len(phi_edges) - 1):
            m = ((r >= radius[k]) & (r < radius[k + 1])
                 & (angle >= phi_edges[j]) & (angle < phi_edges[j + 1]))
            if m.any():
                masks.append(m)
    return masks


def basis_groups(psfbase, pixels, min_number_of_bases=1):
    """
    Split a boolean mask of pixels into groups with the same valid bases
    (psfsubtraction's ``group_by_basis`` over those pixels).
    """
    bmask = np.ma.getmaskarray(psfbase)
    groups = {}
    for row, col in zip(*np.nonzero(pixels), strict=True):
        key = tuple(bmask[row, col])
        if (~np.array(key)).sum() >= min_number_of_bases:
            groups.setdefault(key, []).append((row, col))
    masks = []
    for members in groups.values():
        m = np.zeros(pixels.shape, dtype=bool)
        for row, col in members:
            m[row, col] = True
        masks.append(m)
    return masks


def remove_psf(psfbase, image, regions, *, findbase="nonmaskedbases",
               optregion="around_region", dilation=10, solver="lstsq"):
    """
    Residual image of psfsubtraction's fit, as a masked array.

    Parameters
    ----------
    psfbase : masked array, shape (ny, nx, n_bases)
    image : array or masked array, shape (ny, nx)
    regions : list of 2-D boolean masks
    findbase : {'nonmaskedbases', 'allbases'}
    optregion : {'around_region', 'all_unmasked'}
    dilation : int
    solver : {'lstsq', 'solve'}

    Returns
    -------
    residual : masked array
    n_skipped : int
        Regions with too few pixels (psfsubtraction raises for them).
    """
    ny, nx, n_bases = psfbase.shape
    base = np.ma.getdata(psfbase).reshape(ny * nx, n_bases)
    base_mask = np.ma.getmaskarray(psfbase).reshape(ny * nx, n_bases)
    values = np.ma.getdata(image).ravel().astype(float)
    image_mask = np.ma.getmaskarray(image).ravel()
    psf = np.zeros(ny * nx)
    fitted = np.zeros(ny * nx, dtype=bool)
    square = np.ones((2 * dilation + 1, 2 * dilation + 1), dtype=bool)
    n_skipped = 0
    for region in regions:
        flat = region.ravel()
        if findbase == "nonmaskedbases":
            use = ~base_mask[flat].any(axis=0)
        else:
            use = np.ones(n_bases, dtype=bool)
        if optregion == "around_region":
            opt = binary_dilation(region, square).ravel() & ~flat
        else:
            opt = np.ones(ny * nx, dtype=bool)
        opt = opt & ~base_mask[:, use].any(axis=1) & ~image_mask
        if opt.sum() <= use.sum():
            n_skipped += 1
            continue
        a = base[opt][:, use]
        t = values[opt]
        if solver == "lstsq":
            coeff = np.linalg.lstsq(a, t, rcond=None)[0]
        else:
            coeff = np.linalg.solve(a.T @ a, a.T @ t)
        psf[flat] = base[flat][:, use] @ coeff
        fitted[flat] = True
    residual = np.ma.MaskedArray((values - psf).reshape(ny, nx),
                                 mask=(image_mask | ~fitted).reshape(ny, nx))
    return residual, n_skipped


def gaussian_bases():
    """
    The base of psfsubtraction's documentation and tests: three elliptical
    Gaussians on a 40 x 40 grid, and the grid of positions.
    """
    from scipy.stats import multivariate_normal

    x, y = np.mgrid[-1:1:.05, -1:1:.05]
    pos = np.dstack((x, y))
    psf1 = multivariate_normal([0, 0.], [[2.0, 0.3], [0.3, 0.5]]).pdf(pos)
    psf2 = multivariate_normal([0, 0.], [[1.0, 0.3], [0.3, 0.7]]).pdf(pos)
    psf3 = multivariate_normal([0, 0.], [[1.0, 0], [0, 1.]]).pdf(pos)
    return (psf1, psf2, psf3), pos


def gaussian_psfs(random_state):
    """
    The example data of psfsubtraction's documentation: the base of
    `gaussian_bases` as ``(40, 40, 3)``, an image that combines them with
    noise and a faint companion, and a second image.
    """
    from scipy.stats import multivariate_normal

    (psf1, psf2, psf3), pos = gaussian_bases()
    psfbase = np.ma.dstack((psf1, psf2, psf3))
    image = 1 * psf1 + 2 * psf2 + 3 * psf3
    image += 0.3 * random_state.rand(*image.shape)
    image += 0.1 * multivariate_normal([0, 0.05],
                                       [[0.2, 0.], [0., 0.05]]).pdf(pos)
    image2 = 2. * psf1 + 2.3 * psf2 + 2.6 * psf3
    image2 += 0.3 * random_state.rand(*image.shape)
    return psfbase, image, image2
