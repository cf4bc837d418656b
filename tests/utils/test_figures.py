"""Image panels for figures: inputs, units, axis labels, blank pixels."""

from astropy.nddata import NDData
import astropy.units as u
from astropy.wcs import WCS
import numpy as np
from numpy.testing import assert_allclose
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
from matplotlib.colors import to_rgba  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

from psfkit.utils import (  # noqa: E402
    image_colormap,
    image_region,
    label_world_axes,
    show_image,
)


@pytest.fixture
def fig():
    figure = plt.figure()
    yield figure
    plt.close(figure)


def _wcs(ctype):
    w = WCS(naxis=2)
    w.wcs.ctype = ctype
    return w


def test_show_image_quantity_and_nddata(fig):
    ax = fig.add_subplot()
    values = np.arange(12.0).reshape(3, 4)
    im = show_image(ax, values * u.mJy, label="flux")
    assert im.colorbar.ax.get_ylabel() == "flux [mJy]"
    assert_allclose(im.get_array(), values)
    # an explicit unit is used as given
    im = show_image(fig.add_subplot(), values * u.mJy, label="flux", unit="Jy")
    assert im.colorbar.ax.get_ylabel() == "flux [Jy]"
    mask = np.zeros((3, 4), bool)
    mask[1, 2] = True
    im = show_image(fig.add_subplot(), NDData(values, unit="adu", mask=mask),
                    label="counts")
    assert im.colorbar.ax.get_ylabel() == "counts [adu]"
    shown = im.get_array()
    assert np.ma.getmaskarray(shown).sum() == 1 and shown.mask[1, 2]
    assert_allclose(shown.data[0], values[0])


def test_show_image_bad_arguments(fig):
    with pytest.raises(ValueError, match="image must be 2-D"):
        show_image(fig.add_subplot(), np.ones(5), label="x")
    with pytest.raises(ValueError, match="image must be 2-D"):
        show_image(fig.add_subplot(), np.ones((2, 3, 4)) * u.adu, label="x")
    with pytest.raises(TypeError, match="ax must be a matplotlib Axes"):
        show_image(None, np.ones((3, 3)), label="x")


@pytest.mark.parametrize(("ctype", "labels"), [
    (["RA---TAN", "DEC--TAN"], ("Right ascension", "Declination")),
    (["DEC--TAN", "RA---TAN"], ("Declination", "Right ascension")),
    (["GLON-CAR", "GLAT-CAR"], ("Galactic longitude", "Galactic latitude")),
    (["ELON-TAN", "ELAT-TAN"], ("Ecliptic longitude", "Ecliptic latitude")),
    (["WAVE", "TIME"], ("WAVE", "TIME")),
])
def test_world_axis_labels(fig, ctype, labels):
    ax = fig.add_subplot(projection=_wcs(ctype))
    show_image(ax, np.ones((4, 4)), label="x", colorbar=False)
    assert (ax.coords[0].get_axislabel(),
            ax.coords[1].get_axislabel()) == labels
    plain = label_world_axes(fig.add_subplot())
    assert (plain.get_xlabel(), plain.get_ylabel()) == ("x (pixel)",
                                                        "y (pixel)")


@pytest.mark.parametrize("cmap", ["gray", "Greys", "viridis", "magma",
                                  "RdBu_r"])
def test_blank_pixels_have_a_visible_colour(fig, cmap):
    image = np.ones((4, 4))
    image[0, 0] = np.nan
    im = show_image(fig.add_subplot(), image, label="x", cmap=cmap)
    bad = np.asarray(im.get_cmap().get_bad())
    assert bad[3] == 1.0
    # far from every colour of the map: not white, black or grey
    colours = matplotlib.colormaps[cmap](np.linspace(0, 1, 64))[:, :3]
    assert np.min(np.linalg.norm(colours - bad[:3], axis=1)) > 0.5
    assert tuple(image_colormap(cmap).get_bad()) == tuple(bad)
    assert to_rgba(im.to_rgba(np.ma.masked_invalid(image))[0, 0]) == tuple(bad)


@pytest.mark.parametrize("size", [0, -5, 64.5, "64"])
def test_image_region_size_checked(size):
    with pytest.raises((TypeError, ValueError), match="size"):
        image_region((100, 100), size)
    assert image_region((100, 100), 64.0)[0] == (slice(18, 82), slice(18, 82))
