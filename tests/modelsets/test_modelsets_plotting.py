"""Figures of ramp fits: what they show, with labels and units."""

import astropy.units as u
import numpy as np
from numpy.testing import assert_allclose
import pytest

from psfkit.datasets import make_ramp_cube
from psfkit.modelsets import (
    JUMP_DET,
    SATURATED,
    fit_ramps,
    plot_flag_map,
    plot_ramp,
    plot_slope_map,
)

plt = pytest.importorskip("matplotlib.pyplot")

RN, GAIN = 10.0, 2.0


@pytest.fixture
def ramps():
    rate = np.full((30, 30), 2.0)
    rate[:, 15:] = 150.0
    cube, truth = make_ramp_cube((30, 30), 10, rate=rate, read_noise=RN,
                                 gain=GAIN, frame_time=10.0, jump_fraction=0.2,
                                 saturation=12000.0, bias=500.0,
                                 random_state=2)
    options = dict(read_noise=RN, gain=GAIN, saturation=12000.0,
                   detect_jumps=True)
    res = fit_ramps(cube * u.DN, truth.times * u.s, **options)
    return cube, truth, options, res


@pytest.fixture
def ax():
    fig, axes = plt.subplots()
    yield axes
    plt.close(fig)


def test_plot_ramp_with_a_jump(ramps, ax):
    cube, truth, options, res = ramps
    flags = np.asarray(res.flags)
    y, x = np.argwhere(((flags & JUMP_DET) > 0) & (truth.rate < 10))[0]
    plot_ramp(cube * u.DN, (x, y), truth.times * u.s, ax=ax, **options)
    assert ax.get_xlabel() == "time [s]"
    assert ax.get_ylabel() == "signal [DN]"
    # the title quotes the slope of the whole-cube fit, with its unit
    assert f"({x}, {y})" in ax.get_title()
    assert f"{res.slope[y, x].value:.4g}" in ax.get_title()
    assert "DN / s" in ax.get_title()
    # one dotted line at the jump, between the reads around it
    jumps = [line for line in ax.get_lines() if line.get_linestyle() == ":"]
    assert len(jumps) == 1
    j = truth.jump_read[y, x]
    t = truth.times
    assert_allclose(jumps[0].get_xdata()[0], 0.5 * (t[j - 1] + t[j]))
    # a fitted line through each of the two segments, at the fitted rate
    fits = [line for line in ax.get_lines() if line.get_linestyle() == "-"]
    assert len(fits) == 2
    for line in fits:
        tx, ty = line.get_xdata(), line.get_ydata()
        assert_allclose(np.diff(ty) / np.diff(tx), res.slope[y, x].value)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["reads used", "fitted rate", "jump"]


def test_plot_ramp_with_saturation(ramps, ax):
    cube, truth, options, _ = ramps
    y, x = np.argwhere(truth.saturated_read > 2)[0]
    plot_ramp(cube, (x, y), truth.times, ax=ax, **options)
    unused = [line for line in ax.get_lines() if line.get_marker() == "x"]
    assert len(unused) == 1
    assert len(unused[0].get_xdata()) == 10 - truth.saturated_read[y, x]
    assert "saturation" in [t.get_text() for t in ax.get_legend().get_texts()]
    # plain numbers: no unit to show
    assert ax.get_xlabel() == "time" and ax.get_ylabel() == "signal"


def test_plot_ramp_of_a_masked_cube_quotes_the_fit(ramps, ax):
    # the masks a cube carries, and option Quantities, give the slope of
    # the whole-cube fit
    cube, truth, options, _ = ramps
    y, x = np.argwhere((truth.rate < 10) & (truth.jump_read < 0))[3]
    mask = np.zeros(cube.shape, bool)
    mask[4, y, x] = True
    bad = cube.copy()
    bad[4, y, x] += 5000.0
    options = dict(options, saturation=options["saturation"] * u.DN)
    res = fit_ramps(np.ma.MaskedArray(bad * u.DN, mask=mask), truth.times,
                    **options)
    plot_ramp(np.ma.MaskedArray(bad * u.DN, mask=mask), (x, y), truth.times,
              ax=ax, **options)
    assert res.n_used[y, x] == 9
    assert f"{res.slope[y, x].value:.4g}" in ax.get_title()
    unused = [line for line in ax.get_lines() if line.get_marker() == "x"]
    assert_allclose(unused[0].get_xdata(), [truth.times[4]])


def test_plot_ramp_bad_input(ramps, ax):
    cube, truth, options, _ = ramps
    with pytest.raises(ValueError, match="outside the 30 x 30 image"):
        plot_ramp(cube, (30, 0), truth.times, ax=ax)
    with pytest.raises(ValueError, match="cube must be a 3-D array"):
        plot_ramp(cube[:, 0], (0, 0), truth.times, ax=ax)
    with pytest.raises(ValueError, match="jump detection needs read_noise"):
        plot_ramp(cube, (0, 0), truth.times, ax=ax, detect_jumps=True)


def test_slope_map(ramps, ax):
    _, _, _, res = ramps
    plot_slope_map(res, ax=ax)
    image = ax.images[0]
    assert image.colorbar.ax.get_ylabel() == "slope [DN / s]"
    assert ax.get_xlabel() == "x [pixel]" and ax.get_ylabel() == "y [pixel]"
    assert image.origin == "lower"
    # the colour scale follows the slopes' percentiles
    lo, hi = np.nanpercentile(res.slope.value, [1, 99])
    assert_allclose(image.get_clim(), (lo, hi))
    n_blank = int(np.count_nonzero(~np.isfinite(res.slope)))
    assert (f"{n_blank} pixels" in ax.get_title()) == (n_blank > 0)


def test_flag_map(ramps, ax):
    _, _, _, res = ramps
    plot_flag_map(res, ax=ax)
    labels = [t.get_text()
              for t in ax.images[0].colorbar.ax.get_yticklabels()]
    flags = np.asarray(res.flags)
    combos, counts = np.unique(flags, return_counts=True)
    assert len(labels) == combos.size
    assert labels[0] == f"none ({counts[0]})"
    n_sat_only = int(np.count_nonzero(flags == SATURATED))
    assert f"SATURATED ({n_sat_only})" in labels
    assert any(label.startswith("JUMP_DET") for label in labels)
    assert f"{np.count_nonzero(flags)} of 900 pixels" in ax.get_title()


def test_dask_results_plot(ramps, ax):
    da = pytest.importorskip("dask.array")
    cube, truth, options, res = ramps
    lazy = fit_ramps(da.from_array(cube, chunks=(10, 15, 15)), truth.times,
                     **options)
    plot_slope_map(lazy, ax=ax)
    assert_allclose(ax.images[0].get_array().filled(np.nan),
                    res.slope.value, equal_nan=True)


def test_plot_ramp_arguments_named(ramps, ax):
    cube, truth, _, _ = ramps
    with pytest.raises(ValueError, match="pixel must be an"):
        plot_ramp(cube, (3,), truth.times, ax=ax)
    with pytest.raises(ValueError, match="pixel must have integer"):
        plot_ramp(cube, (3.5, 2), truth.times, ax=ax)
    with pytest.raises(ValueError, match="axis must be one of the cube's 3"):
        plot_ramp(cube, (3, 2), truth.times, ax=ax, axis=5)
    with pytest.raises(TypeError, match="result must be a RampFitResult"):
        plot_slope_map(np.ones((4, 4)), ax=ax)
    with pytest.raises(TypeError, match="result must be a RampFitResult"):
        plot_flag_map(np.ones((4, 4)), ax=ax)


def test_slope_map_blank_pixels_coloured(ramps, ax):
    _, _, _, res = ramps
    plot_slope_map(res, ax=ax)
    bad = tuple(ax.images[0].get_cmap().get_bad())
    assert bad[3] == 1.0 and bad[:3] != (1.0, 1.0, 1.0)
