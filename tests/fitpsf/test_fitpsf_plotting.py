"""The figures of psfkit.fitpsf.plotting: labels, colour bars, marks."""

import astropy.units as u
import numpy as np
import pytest

from psfkit.datasets import make_adi_sequence
from psfkit.fitpsf import KLIP, adi_subtract, contrast_curve, snr_map

plt = pytest.importorskip("matplotlib.pyplot")
from psfkit.fitpsf import plotting  # noqa: E402


@pytest.fixture(scope="module")
def reduced():
    cube, parangs, truth = make_adi_sequence(n_frames=10, shape=(41, 41),
                                             random_state=2, mask_radius=3)
    res = adi_subtract(cube, parangs, KLIP, n_delta=0.75, fwhm=4.0)
    return cube, parangs, truth, res


def _colorbar_label(fig):
    return [a.get_ylabel() for a in fig.axes if a.get_label() == "<colorbar>"]


def test_plot_residual(reduced):
    _, _, truth, res = reduced
    pos = [(truth["x"][0], truth["y"][0])]
    fig = plotting.plot_residual(res, marks=pos, unit="electron / s")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "x [pixel]" and ax.get_ylabel() == "y [pixel]"
    assert _colorbar_label(fig) == ["residual [electron / s]"]
    im = ax.get_images()[0]
    vmin, vmax = im.get_clim()
    assert vmin == -vmax > -np.inf
    # masked pixels are blank (NaN), the star and the companion are marked
    assert np.ma.getmaskarray(im.get_array())[20, 20]
    xs = sorted(float(x) for line in ax.get_lines() for x in line.get_xdata())
    assert xs == sorted([20.0, float(truth["x"][0])])
    plt.close(fig)
    # the unit of a Quantity is used
    fig = plotting.plot_residual(res.image.filled(0.0) * u.adu)
    assert _colorbar_label(fig) == ["residual [adu]"]
    plt.close(fig)
    # and that of an ADIResult (it was dropped)
    cube, parangs = reduced[:2]
    united = adi_subtract(cube * u.electron, parangs, KLIP, n_delta=0.75,
                          fwhm=4.0)
    fig = plotting.plot_residual(united)
    assert _colorbar_label(fig) == ["residual [electron]"]
    plt.close(fig)


def test_plot_snr_map(reduced):
    _, _, truth, res = reduced
    smap = snr_map(res.image, 4.0)
    fig, ax = plt.subplots()
    out = plotting.plot_snr_map(smap, ax=ax, marks=[(truth["x"][0],
                                                     truth["y"][0])])
    assert out is fig
    assert _colorbar_label(fig) == ["SNR (Student-t, Mawet et al. 2014)"]
    vmin, vmax = ax.get_images()[0].get_clim()
    assert vmax == max(5.0, float(smap.max())) and vmin == -vmax / 2
    plt.close(fig)
    with pytest.raises(ValueError, match="vmax"):
        plotting.plot_snr_map(smap, vmax=-1)


def test_plot_contrast_curve(reduced):
    cube, parangs, truth, _ = reduced
    curve = contrast_curve(cube, parangs, KLIP, fwhm=4.0,
                           star_flux=truth.meta["star_flux"],
                           separations=[8, 12], n_delta=0.75, n_angles=1)
    fig = plotting.plot_contrast_curve(curve, truth=truth,
                                       pixel_scale=12.25 * u.mas)
    ax, twin = fig.axes
    assert ax.get_xlabel() == "separation [mas]"
    assert ax.get_ylabel() == "5-sigma contrast (flux ratio)"
    assert twin.get_ylabel() == "throughput (dashed)"
    np.testing.assert_allclose(ax.get_lines()[0].get_xdata(),
                               np.array([8, 12]) * 12.25)
    assert ax.get_yscale() == "log"
    plt.close(fig)
    with pytest.raises(ValueError, match="angle per pixel"):
        plotting.plot_contrast_curve(curve, pixel_scale=3 * u.m)
    # an angle per pixel, as astropy's pixel_scale equivalency writes it
    fig = plotting.plot_contrast_curve(curve, pixel_scale=0.01 * u.arcsec / u.pix)
    assert fig.axes[0].get_xlabel() == "separation [arcsec]"
    np.testing.assert_allclose(fig.axes[0].get_lines()[0].get_xdata(),
                               [0.08, 0.12])
    plt.close(fig)
    with pytest.raises(ValueError, match="'contrast' column"):
        plotting.plot_contrast_curve(curve[["separation"]])


def test_plot_residual_converts_to_the_unit_asked_for():
    values = np.linspace(-1.0, 1.0, 400).reshape(20, 20)
    fig = plotting.plot_residual(values * u.mJy, unit="Jy")
    assert _colorbar_label(fig) == ["residual [Jy]"]
    np.testing.assert_allclose(fig.axes[0].get_images()[0].get_array(),
                               values / 1000)
    plt.close(fig)
    with pytest.raises(u.UnitsError, match="unit m does not convert"):
        plotting.plot_residual(values * u.mJy, unit="m")


def test_plot_residual_blank_pixels_coloured():
    values = np.ones((20, 20))
    values[3, 4] = np.nan
    fig = plotting.plot_residual(values)
    im = fig.axes[0].get_images()[0]
    assert np.ma.getmaskarray(im.get_array())[3, 4]
    bad = tuple(im.get_cmap().get_bad())
    assert bad[3] == 1.0 and bad[:3] != (1.0, 1.0, 1.0)
    plt.close(fig)


def test_plot_residual_bad_marks_and_center():
    values = np.ones((20, 20))
    with pytest.raises(ValueError, match="marks must be"):
        plotting.plot_residual(values, marks=[1, 2, 3])
    with pytest.raises(ValueError, match="center .* outside the 20 x 20"):
        plotting.plot_residual(values, center=(50, 50))
    with pytest.raises(ValueError, match="center .* outside"):
        plotting.plot_snr_map(values, center=(-3, 5))
    fig = plotting.plot_residual(values, marks=[(1, 2), (3, 4)])
    xs = [list(line.get_xdata()) for line in fig.axes[0].get_lines()]
    assert xs[1] == [1.0, 3.0]
    plt.close(fig)


def test_plot_contrast_curve_angle_column_and_one_twin():
    from astropy.table import QTable

    curve = QTable({"separation": [0.1, 0.2, 0.3] * u.arcsec,
                    "contrast": [1e-3, 1e-4, 1e-5],
                    "throughput": [0.5, 0.6, 0.7]})
    fig, ax = plt.subplots()
    plotting.plot_contrast_curve(curve, ax=ax)
    plotting.plot_contrast_curve(curve, ax=ax, label="again")
    assert ax.get_xlabel() == "separation [arcsec]"
    np.testing.assert_allclose(ax.get_lines()[0].get_xdata(), [0.1, 0.2, 0.3])
    assert len(fig.axes) == 2
    assert len(fig.axes[1].get_lines()) == 2
    plt.close(fig)
