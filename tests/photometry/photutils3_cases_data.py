"""
Simulated images and stand-in finders for the cases re-expressed from
photutils 3.0.0's PSF photometry tests.

The modules ``test_psfphot_photutils3_*.py`` restate, in psfkit's own
code, the cases of photutils 3.0.0 (https://github.com/astropy/photutils;
files ``photutils/psf/tests/test_photometry.py`` and
``photutils/psf/tests/test_iterative.py``; photutils is distributed under
the BSD 3-Clause licence, see ``LICENSE-photutils.rst`` beside this file).
The cases are re-expressed, not copied: same inputs, expected values and
tolerances, psfkit's own code.

photutils' expected numbers (how many stars a finder sees, which stars
share a group, ...) were worked out on images drawn by its
``make_psf_model_image``.  `random_star_table` and `draw_stars` below draw
the same images independently: positions and fluxes come from the same
seeded numpy generator in the same order (``10 * n`` candidate x, then
``10 * n`` candidate y, thinned first come first kept to the minimum
separation, then the other parameters), and each star is evaluated at
pixel centres over a box of the requested shape around its position.
``test_psfphot_photutils3_cases_b.py`` checks the result against photutils
pixel for pixel when photutils is installed.
"""

import math

from astropy.table import QTable, Table
import astropy.units as u
import numpy as np

from psfkit.photometry import CircularGaussianPRF

__all__ = [
    "FINDER_POSITION_COLUMNS",
    "draw_stars",
    "fixed_position_finder",
    "gaussian_noise",
    "iterative_field",
    "photometry_field",
    "random_star_table",
    "simulated_star_image",
]

#: (x, y) column names a finder may return; the last pair is not
#: recognised as a position by the photometry classes
FINDER_POSITION_COLUMNS = [
    ("x", "y"),
    ("x_init", "y_init"),
    ("xcentroid", "ycentroid"),
    ("x_centroid", "y_centroid"),
    ("xpos", "ypos"),
    ("x_peak", "y_peak"),
    ("xcen", "ycen"),
    ("x_fit", "y_fit"),
    ("x_invalid", "y_invalid"),
]


def random_star_table(shape, n_sources, *, border=(0, 0), min_separation=1.0,
                      seed=0, x_name="x_0", y_name="y_0", **ranges):
    """
    Random star positions (and other parameters) on an image.

    Positions are uniform in ``[border, size - border)`` on each axis.
    With a positive `min_separation`, ten candidates per star are drawn
    and a candidate is dropped when it lies within `min_separation` of
    an earlier kept one; the first `n_sources` kept are returned.  Each
    keyword of `ranges` (``name=(low, high)``) adds a uniform column,
    drawn after the positions from the same generator.
    """
    ny, nx = shape
    by, bx = border
    rng = np.random.default_rng(seed)
    n_draw = n_sources * 10 if min_separation > 0 else n_sources
    cand_x = rng.uniform(bx, nx - bx, n_draw)
    cand_y = rng.uniform(by, ny - by, n_draw)

    kept = []
    for i in range(n_draw):
        near = [j for j in kept
                if math.hypot(cand_x[i] - cand_x[j],
                              cand_y[i] - cand_y[j]) <= min_separation]
        if not near:
            kept.append(i)
    kept = np.array(kept[:n_sources], dtype=int)

    table = QTable()
    table["id"] = np.arange(1, kept.size + 1)
    table[x_name] = cand_x[kept]
    table[y_name] = cand_y[kept]
    for name, (low, high) in ranges.items():
        table[name] = rng.uniform(low, high, kept.size)
    return table


def _box_slices(shape, box, x, y):
    # a box of odd size n spans the n pixels nearest the centre (a centre
    # exactly half way rounds down), trimmed to the image
    slices = []
    for size, n, centre in zip(shape, box, (y, x), strict=True):
        lo = math.ceil(centre - n / 2.0)
        hi = lo + n
        if hi <= 0 or lo >= size:
            return None
        slices.append(slice(max(lo, 0), min(hi, size)))
    return tuple(slices)


def draw_stars(shape, model, table, *, box=None, x_name="x_0",
               y_name="y_0"):
    """
    Image of the stars of `table` drawn with the astropy model `model`.

    Every column of `table` named after a parameter of `model` sets that
    parameter for the star.  The model is evaluated at pixel centres over
    a `box` (ny, nx) around each star; when `box` is None, over the
    extent of the model's bounding box (rounded up to whole pixels).
    """
    star = model.copy()
    names = [name for name in table.colnames if name in star.param_names]
    image = np.zeros(shape)
    for row in table:
        for name in names:
            setattr(star, name, row[name])
        star_box = box
        if star_box is None:
            star_box = tuple(math.ceil(hi - lo) for lo, hi
                             in star.bounding_box.bounding_box())
        slices = _box_slices(shape, star_box, row[x_name], row[y_name])
        if slices is None:
            continue
        yy, xx = np.mgrid[slices]
        image[slices] += star(xx, yy)
    return image


def simulated_star_image(shape, model, n_sources, *, box, min_separation,
                         seed=0, x_name="x_0", y_name="y_0", **ranges):
    """
    Random stars kept ``(box - 1) // 2`` pixels from the edges and drawn
    over `box`: returns the image and the table of the stars.
    """
    border = tuple((n - 1) // 2 for n in box)
    table = random_star_table(shape, n_sources, border=border,
                              min_separation=min_separation, seed=seed,
                              x_name=x_name, y_name=y_name, **ranges)
    image = draw_stars(shape, model, table, box=box, x_name=x_name,
                       y_name=y_name)
    return image, table


def gaussian_noise(shape, sigma, seed=0):
    """Zero-mean Gaussian noise of standard deviation `sigma`."""
    return np.random.default_rng(seed).normal(0.0, sigma, size=shape)


def _ten_stars():
    model = CircularGaussianPRF(flux=1, fwhm=2.7)
    return simulated_star_image((101, 101), model, 10, box=(9, 9),
                                min_separation=10, seed=0,
                                flux=(500, 700))


def photometry_field():
    """
    The image of photutils' ``test_photometry.py``: ten stars (FWHM 2.7,
    flux 500-700, at least 10 pixels apart) on 101x101 pixels plus
    Gaussian noise of sigma 0.9.

    Returns the image, the error image (0.9 everywhere) and the table of
    the true star parameters; fresh arrays on each call.
    """
    image, truth = _ten_stars()
    image += gaussian_noise(image.shape, 0.9)
    return image, np.full(image.shape, 0.9), truth


def iterative_field():
    """
    The image of photutils' ``test_iterative.py``: the same ten stars with
    Gaussian noise of sigma 1, and the absolute noise as error image.

    Returns the image, the error image and the table of the true star
    parameters; fresh arrays on each call.
    """
    image, truth = _ten_stars()
    noise = gaussian_noise(image.shape, 1.0)
    return image + noise, np.abs(noise), truth


def fixed_position_finder(x_col, y_col, *, units=False):
    """
    A finder that always reports one star at (25.1, 24.9), in columns
    `x_col` and `y_col` (in pixels as a Quantity when `units` is true).
    """
    scale = u.pixel if units else 1

    def find(data, *, mask=None):  # noqa: ARG001
        found = Table()
        found[x_col] = [25.1] * scale
        found[y_col] = [24.9] * scale
        return found

    return find
