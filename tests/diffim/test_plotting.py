"""Every figure renders (Agg backend) and shows what it should: the right
data, colour bars with units, labelled axes, titles naming the region."""

from astropy.nddata import NDData, VarianceUncertainty
import astropy.units as u
from astropy.wcs import WCS
import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from psfkit.datasets import make_diffim_pair  # noqa: E402
from psfkit.diffim import (  # noqa: E402
    CandidateStatus,
    ImagePsfMatch,
    ModelPsfMatch,
    PsfMatchConfig,
    plotting,
)
from psfkit.photometry import GaussianPSF  # noqa: E402


def sky_wcs(shape):
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [150.0, 2.0]
    w.wcs.crpix = [shape[1] / 2, shape[0] / 2]
    w.wcs.cdelt = [-0.2 / 3600, 0.2 / 3600]
    return w


@pytest.fixture(scope="module")
def subtraction():
    template, science, _ = make_diffim_pair(
        (256, 256), n_stars=300, flux_range=(3e3, 3e5), science_gain=4.0,
        template_gain=16.0, random_state=2)
    wcs = sky_wcs((256, 256))
    # electrons, with a sky WCS: what a calibrated exposure carries
    template, science = (NDData(nd.data, mask=nd.mask, unit=u.electron,
                                uncertainty=VarianceUncertainty(
                                    nd.uncertainty.array), wcs=wcs)
                         for nd in (template, science))
    cfg = PsfMatchConfig(size_cell_x=64, size_cell_y=64, kernel_size_min=11)
    return template, science, ImagePsfMatch(cfg).subtract_images(template,
                                                                 science)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def render(fig):
    fig.canvas.draw()
    width, height = fig.canvas.get_width_height()
    assert width > 100 and height > 100
    return fig


def suptitle(fig):
    # Figure.get_suptitle is new in matplotlib 3.8; the suptitle is also
    # the figure's one text on every supported version
    (text,) = [t.get_text() for t in fig.texts]
    return text


def colorbar_labels(fig):
    return [ax.get_ylabel() for ax in fig.axes
            if ax.get_label() == "<colorbar>"]


def test_candidates_good_green_bad_red(subtraction):
    template, science, res = subtraction
    # reject one candidate by hand so that both colours are present
    bad = res.cell_set.good_candidates(5)[0]
    bad.set_bad("test")
    try:
        fig = render(plotting.plot_candidates(science, res))
    finally:
        bad.status = CandidateStatus.GOOD
    ax = fig.axes[0]
    colours = {}
    for coll in ax.collections:
        label = coll.get_label()
        if label not in ("good", "bad"):
            continue
        rgba = (coll.get_edgecolor() if label == "good"
                else coll.get_facecolor())[0]
        colours[label] = tuple(np.round(rgba[:3], 2))
        assert len(coll.get_offsets()) >= 1
    assert colours["good"] == tuple(np.round(matplotlib.colors.to_rgb(
        "limegreen"), 2))
    assert colours["bad"] == (1.0, 0.0, 0.0)
    statuses = [c.status for c in res.cell_set.candidates]
    n_good = statuses.count(CandidateStatus.GOOD) - 1
    n_bad = statuses.count(CandidateStatus.BAD) + 1
    assert ax.get_title() == (f"kernel candidates: {n_good} good, {n_bad} bad "
                              "(whole image, 256 x 256 pixels)")
    # sky axes from the WCS, and a colour bar with the unit
    assert hasattr(ax, "coords")
    assert ax.coords[0].get_axislabel() == "Right ascension"
    assert colorbar_labels(fig) == ["image [electron]"]
    # without show_bad only the good ones are drawn
    fig2 = plotting.plot_candidates(science, res.cell_set, show_bad=False)
    labels = [c.get_label() for c in fig2.axes[0].collections]
    assert "good" in labels and "bad" not in labels


def test_kernel_basis(subtraction):
    res = subtraction[2]
    nb = res.kernel.basis.shape[0]
    fig = render(plotting.plot_kernel_basis(res))
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert sum(ax.has_data() for ax in panels) == nb
    assert colorbar_labels(fig) == ["basis value"]
    fig = render(plotting.plot_kernel_basis(res.kernel.basis, max_images=5,
                                            ncols=5))
    assert len(fig.axes) == 6
    with pytest.raises(ValueError, match="stack of 2-D images"):
        plotting.plot_kernel_basis(np.ones((5, 5)))


def test_kernel_mosaic(subtraction):
    res = subtraction[2]
    fig = render(plotting.plot_kernel_mosaic(res, n=3))
    assert len(fig.axes) == 10
    # the top-left panel shows the kernel at the top-left position
    img = fig.axes[0].get_images()[0].get_array()
    ny, nx = res.kernel.shape
    expect = res.kernel.kernel_image(nx / 6 - 0.5, 5 * ny / 6 - 0.5)
    assert np.allclose(img, expect)
    assert colorbar_labels(fig) == ["kernel value"]
    assert fig.axes[6].get_xlabel() == "dx (pixel)"
    assert "whole image (256 x 256 pixels)" in suptitle(fig)
    with pytest.raises(TypeError, match="SpatialKernel"):
        plotting.plot_kernel_mosaic(np.ones((5, 5)))


def test_spatial_coefficients(subtraction):
    res = subtraction[2]
    fig = render(plotting.plot_spatial_coefficients(res, max_panels=4))
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles[0] == "kernel sum" and len(titles) == 4
    assert colorbar_labels(fig)[0] == "kernel sum"
    fig = render(plotting.plot_spatial_coefficients(res.kernel, indices=[1, 2]))
    shown = fig.axes[1].get_images()[0].get_array()
    assert np.allclose(shown, res.kernel.kernel_function.evaluate(
        res.kernel.coefficients[1]))
    assert fig.axes[1].get_xlabel() == "x (pixel)"
    with pytest.raises(ValueError, match="indices must be <"):
        plotting.plot_spatial_coefficients(res.kernel, indices=[500])


def test_spatial_cells(subtraction):
    science, res = subtraction[1], subtraction[2]
    fig = render(plotting.plot_spatial_cells(res, image=science,
                                             n_star_per_cell=5))
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert len(texts) == len(res.cell_set.cells) == 16
    held = [int(t.split("/")[1]) for t in texts]
    assert held == [len(c.candidates) for c in res.cell_set.cells]
    assert ax.get_title() == "spatial cells: 4 x 4 of 64 x 64 pixels"
    assert colorbar_labels(fig) == ["image [electron]"]


def test_subtraction_panels(subtraction):
    template, science, res = subtraction
    fig = render(plotting.plot_subtraction(template, science, res,
                                           region=(slice(0, 128),
                                                   slice(64, 192))))
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert [ax.get_title() for ax in panels] == [
        "template", "science", "matched template", "difference / sigma"]
    assert panels[3].get_images()[0].get_array().shape == (128, 128)
    assert colorbar_labels(fig) == [
        "template [electron]", "science [electron]",
        "matched template [electron]", "difference / sigma"]
    assert suptitle(fig) == "x 64-191, y 0-127 of a 256 x 256 image"
    assert all(hasattr(ax, "coords") for ax in panels)
    with pytest.raises(TypeError, match="SubtractionResult"):
        plotting.plot_subtraction(template, science, object())
    with pytest.raises(ValueError, match="selects no pixel"):
        plotting.plot_subtraction(template, science, res,
                                  region=(slice(300, 400), slice(0, 10)))


def test_pixel_axes_keep_image_coordinates(subtraction):
    """Without a WCS the axes are pixels of the full image, also for a
    region."""
    template, science, _ = subtraction
    cfg = PsfMatchConfig(size_cell_x=64, size_cell_y=64, kernel_size_min=11)
    res = ImagePsfMatch(cfg).subtract_images(template.data, science.data)
    fig = render(plotting.plot_subtraction(
        template.data, science.data, res, region=(slice(100, 150),
                                                  slice(20, 60))))
    ax = fig.axes[0]
    assert ax.get_xlabel() == "x (pixel)" and ax.get_ylabel() == "y (pixel)"
    assert list(ax.get_images()[0].get_extent()) == [19.5, 59.5, 99.5, 149.5]


def test_model_match_displays():
    res = ModelPsfMatch(PsfMatchConfig(kernel_size=11, size_cell_x=64,
                                       size_cell_y=64)).match(
        np.zeros((128, 128)), GaussianPSF(x_fwhm=2.5, y_fwhm=2.5),
        GaussianPSF(x_fwhm=4.0, y_fwhm=4.0))
    render(plotting.plot_spatial_cells(res))
    render(plotting.plot_kernel_mosaic(res, n=2))
    render(plotting.plot_candidates(res.matched_image, res))


def test_axes_argument_is_used(subtraction):
    science, res = subtraction[1], subtraction[2]
    fig, (a1, a2) = plt.subplots(1, 2)
    assert plotting.plot_candidates(science, res, ax=a1) is fig
    assert plotting.plot_spatial_cells(res, ax=a2) is fig
    assert a1.has_data() and a2.texts
    assert a1.get_xlabel() == "x (pixel)"


def test_sky_axes_labelled_by_coordinate(subtraction):
    template, science, res = subtraction
    swapped = WCS(naxis=2)
    swapped.wcs.ctype = ["DEC--TAN", "RA---TAN"]
    swapped.wcs.crval = [2.0, 150.0]
    swapped.wcs.crpix = [128.0, 128.0]
    swapped.wcs.cdelt = [0.2 / 3600, -0.2 / 3600]
    template, science = (NDData(nd.data, mask=nd.mask, unit=nd.unit,
                                uncertainty=nd.uncertainty, wcs=swapped)
                         for nd in (template, science))
    fig = plotting.plot_subtraction(template, science, res)
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    for ax in panels:
        assert (ax.coords[0].get_axislabel(),
                ax.coords[1].get_axislabel()) == ("Declination",
                                                  "Right ascension")
        bad = tuple(ax.get_images()[0].get_cmap().get_bad())
        assert bad[3] == 1.0 and bad[:3] != (1.0, 1.0, 1.0)
