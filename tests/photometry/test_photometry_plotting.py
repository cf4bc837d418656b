"""Figures of detections, residuals and flags (psfkit.photometry.plotting)."""

import warnings

from astropy.nddata import NDData
from astropy.table import QTable
import astropy.units as u
from astropy.wcs import WCS
import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from psfkit.datasets import make_gaussian_sources, make_noise_image  # noqa: E402
from psfkit.photometry import (  # noqa: E402
    BasicPSFPhotometry,
    DAOGroup,
    DAOStarFinder,
    IntegratedGaussianPRF,
)
from psfkit.photometry.plotting import (  # noqa: E402
    plot_detections,
    plot_flags,
    plot_residuals,
)


@pytest.fixture(scope="module")
def field():
    rng = np.random.default_rng(0)
    n = 150
    truth = QTable({"flux": rng.uniform(300, 3000, n),
                    "x_mean": rng.uniform(0, 127, n),
                    "y_mean": rng.uniform(0, 127, n),
                    "x_stddev": np.full(n, 1.5), "y_stddev": np.full(n, 1.5)})
    image = (make_gaussian_sources((128, 128), truth)
             + make_noise_image((128, 128), mean=0.0, stddev=2.0,
                                random_state=1))
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [150.0, 2.0]
    wcs.wcs.crpix = [64.0, 64.0]
    wcs.wcs.cdelt = [-1e-4, 1e-4]
    return image, NDData(image, wcs=wcs, unit=u.electron)


@pytest.fixture(scope="module")
def result(field):
    image, _ = field
    phot = BasicPSFPhotometry(DAOGroup(6.0), None,
                              IntegratedGaussianPRF(sigma=1.5), (7, 7),
                              finder=DAOStarFinder(10.0, 3.5))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return phot.run(image)


def _colorbar_labels(fig):
    return [ax.get_ylabel() for ax in fig.axes if ax.get_label() == "<colorbar>"]


def test_detections_with_units_wcs_and_region(field):
    image, nddata = field
    stars = DAOStarFinder(10.0, 3.5)(nddata)
    ax = plot_detections(nddata, stars)
    fig = ax.figure
    assert "pixel value [electron]" in _colorbar_labels(fig)
    assert ax.coords[0].get_axislabel() == "Right ascension"
    assert f"{len(stars)} sources detected" in ax.get_title()
    assert "whole image, 128 x 128 pixels" in ax.get_title()
    rings = ax.collections[0]
    assert len(rings.get_offsets()) == len(stars)
    assert rings.get_facecolor().size == 0 or np.all(
        rings.get_facecolor()[:, 3] == 0)
    plt.close(fig)
    ax = plot_detections(image, stars, region=(10, 60, 20, 90))
    assert ax.get_xlabel() == "x (pixel)"
    assert "x 10-60, y 20-90 of the 128 x 128 pixel image" in ax.get_title()
    assert "(no unit given)" in _colorbar_labels(ax.figure)[0]
    assert ax.get_xlim() == (9.5, 60.5)
    inside = ((stars["x_centroid"] >= 9.5) & (stars["x_centroid"] <= 60.5)
              & (stars["y_centroid"] >= 19.5) & (stars["y_centroid"] <= 90.5))
    assert len(ax.collections[0].get_offsets()) == inside.sum()
    plt.close(ax.figure)


def test_detections_marker_limit(field):
    image, _ = field
    stars = DAOStarFinder(5.0, 3.5, sharpness_range=None,
                          roundness_range=None)(image)
    ax = plot_detections(image, stars, max_markers=10)
    assert len(ax.collections[0].get_offsets()) == 10
    legend = ax.get_legend().get_texts()[0].get_text()
    assert legend == f"10 brightest of {len(stars)} detections"
    shown = ax.collections[0].get_offsets()[:, 0]
    brightest = np.sort(np.asarray(stars["flux"]))[-10:]
    assert set(np.round(shown, 6)) == set(np.round(np.asarray(
        stars["x_centroid"])[np.isin(stars["flux"], brightest)], 6))
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="does not overlap"):
        plot_detections(image, stars, region=(500, 600, 0, 10))


def test_residuals(field, result):
    _, nddata = field
    fig = plot_residuals(nddata, result, region=(0, 63, 0, 63))
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["data - background", "fitted model",
                      "residual (data - background - model)"]
    labels = _colorbar_labels(fig)
    assert "residual [electron]" in labels
    assert "x 0-63, y 0-63" in fig._suptitle.get_text()
    plt.close(fig)
    fig = plot_residuals(field[0], result.residual_image)
    assert len([a for a in fig.axes if a.get_title()]) == 3
    plt.close(fig)
    with pytest.raises(ValueError, match="same shape"):
        plot_residuals(field[0], np.zeros((5, 5)))


def test_flags(field, result):
    image, _ = field
    table = result.table.copy()
    table["flags"][:3] = [1, 4, 5]
    ax = plot_flags(table, data=image)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    n_clean = int(np.sum(table["flags"] == 0))
    assert labels[0] == f"no flag ({n_clean})"
    assert any(text.startswith("partial box (") for text in labels)
    assert any(text.startswith("nonpositive flux (") for text in labels)
    assert "fits flagged" in ax.get_title()
    plt.close(ax.figure)
    ax = plot_flags(result)
    assert ax.get_xlabel() == "x (pixel)"
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="flags"):
        plot_flags(QTable({"x": [1.0], "y": [2.0]}))


def _sky_wcs(ctype):
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ctype
    wcs.wcs.crval = [2.0, 150.0] if ctype[0].startswith("DEC") else [150.0, 2.0]
    wcs.wcs.crpix = [64.0, 64.0]
    wcs.wcs.cdelt = [-1e-4, 1e-4]
    return wcs


@pytest.mark.parametrize(("ctype", "labels"), [
    (["DEC--TAN", "RA---TAN"], ("Declination", "Right ascension")),
    (["GLON-TAN", "GLAT-TAN"], ("Galactic longitude", "Galactic latitude")),
])
def test_sky_axes_labelled_by_coordinate(field, ctype, labels):
    image, _ = field
    stars = QTable({"x": [10.0, 50.0], "y": [20.0, 60.0]})
    ax = plot_detections(NDData(image, wcs=_sky_wcs(ctype)), stars)
    assert (ax.coords[0].get_axislabel(),
            ax.coords[1].get_axislabel()) == labels
    plt.close(ax.figure)


def test_detections_in_the_unit_asked_for(field):
    image, _ = field
    stars = QTable({"x": [10.0], "y": [20.0]})
    adu = NDData(image, unit="adu")
    ax = plot_detections(NDData(image, unit="mJy"), stars, unit="Jy")
    assert "pixel value [Jy]" in _colorbar_labels(ax.figure)
    np.testing.assert_allclose(ax.get_images()[0].get_array(), image / 1000)
    plt.close(ax.figure)
    with pytest.raises(u.UnitsError, match="unit electron"):
        plot_detections(adu, stars, unit="electron")


def test_detections_bad_region(field):
    image, _ = field
    stars = QTable({"x": [10.0], "y": [20.0]})
    with pytest.raises(ValueError, match="region must be"):
        plot_detections(image, stars, region=(1, 2))
    with pytest.raises(TypeError, match="region must be"):
        plot_detections(image, stars, region=("a", 2, 3, 4))


def test_residuals_units_converted_and_masks_shared(field):
    image, _ = field
    residual = np.full(image.shape, 0.5)
    background = 1.0
    # electrons do not convert to ADU: named, not mixed
    with pytest.raises(u.UnitsError, match="result"):
        plot_residuals(image * u.adu, residual * u.electron,
                       background=background * u.electron)
    # mJy convert to Jy: shown in the data's unit
    fig = plot_residuals(image * u.Jy, 1000 * residual * u.mJy,
                         background=1000 * background * u.mJy)
    data_ax, model_ax, resid_ax = (a for a in fig.axes if a.get_title())
    np.testing.assert_allclose(resid_ax.get_images()[0].get_array(), residual)
    np.testing.assert_allclose(data_ax.get_images()[0].get_array(),
                               image - background)
    plt.close(fig)
    with pytest.raises(u.UnitsError, match="background"):
        plot_residuals(image * u.adu, residual * u.adu,
                       background=1.0 * u.m)
    mask = np.zeros(image.shape, bool)
    mask[5, 7] = True
    fig = plot_residuals(NDData(image, mask=mask), residual)
    for ax in (a for a in fig.axes if a.get_title()):
        shown = ax.get_images()[0].get_array()
        assert np.ma.getmaskarray(shown)[5, 7] or np.isnan(shown[5, 7])
        # blank pixels get a colour of their own, not white
        assert tuple(ax.get_images()[0].get_cmap().get_bad())[:3] != (
            1.0, 1.0, 1.0)
        assert ax.get_images()[0].get_cmap().get_bad()[3] == 1.0
    plt.close(fig)


def test_flags_without_data_span_the_image_or_every_source(result):
    shape = result.residual_image.shape
    ax = plot_flags(result)
    assert ax.get_xlim() == (-0.5, shape[1] - 0.5)
    assert ax.get_ylim() == (-0.5, shape[0] - 0.5)
    assert f"whole image, {shape[1]} x {shape[0]} pixels" in ax.get_title()
    plt.close(ax.figure)
    table = QTable({"x": [3.0, 40.7], "y": [5.0, 20.6], "flags": [0, 1]})
    ax = plot_flags(table)
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    assert x0 <= 3.0 and x1 >= 40.7 + 0.5
    assert y0 <= 5.0 and y1 >= 20.6 + 0.5
    assert "whole image" not in ax.get_title()
    assert "sources within x 0 to 41, y 0 to 21" in ax.get_title()
    plt.close(ax.figure)


def test_flags_of_a_bare_table_span_sources_at_negative_coordinates():
    # the frame started at pixel 0, cutting sources partly off the image
    table = QTable({"x": [-3.0, 12.2, 30.4], "y": [6.0, -4.6, 18.0],
                    "flags": [1, 0, 0]})
    ax = plot_flags(table)
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    # every source inside, with the half pixel around its own pixel
    assert (x0, x1) == (-3.5, 30.5)
    assert (y0, y1) == (-5.5, 18.5)
    shown = np.vstack([c.get_offsets() for c in ax.collections])
    assert np.all((shown[:, 0] > x0) & (shown[:, 0] < x1))
    assert np.all((shown[:, 1] > y0) & (shown[:, 1] < y1))
    assert "sources within x -3 to 30, y -5 to 18" in ax.get_title()
    plt.close(ax.figure)
    # a region is cut to the sources' span, which includes negative pixels
    ax = plot_flags(table, region=(-10, 5, -2, 40))
    assert ax.get_xlim() == (-3.5, 5.5)
    assert ax.get_ylim() == (-2.5, 18.5)
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="holds none of the sources"):
        plot_flags(table, region=(40, 50, 0, 10))
