"""The simulators' arguments: units converted or refused, clear errors."""

from astropy.table import QTable, Table
import astropy.units as u
import numpy as np
from numpy.testing import assert_allclose, assert_array_equal
import pytest

from psfkit.datasets import (
    make_adi_sequence,
    make_diffim_pair,
    make_gaussian_sources,
    make_noise_image,
    make_ramp_cube,
    make_random_gaussians,
)


def sources(**columns):
    table = QTable()
    values = dict(flux=[1000.0], x_mean=[20.3], y_mean=[15.6],
                  x_stddev=[4.0], y_stddev=[1.5], theta=[0.3])
    values.update(columns)
    for name, value in values.items():
        table[name] = value
    return table


# --- units ------------------------------------------------------------------

def test_ramp_rate_and_frame_time_are_converted():
    kw = dict(read_noise=2.0, random_state=3)
    cube, truth = make_ramp_cube((3, 4), 4, rate=1.0, frame_time=0.01, **kw)
    cube_q, truth_q = make_ramp_cube((3, 4), 4, rate=60 * u.adu / u.min,
                                     frame_time=10 * u.ms, **kw)
    assert_allclose(truth_q.times, [0.01, 0.02, 0.03, 0.04])
    assert_allclose(truth_q.rate, 1.0)
    assert_allclose(cube_q, cube)


def test_ramp_electrons_go_through_the_gain():
    kw = dict(gain=2.0, random_state=4)
    cube, truth = make_ramp_cube((3, 4), 4, rate=5.0, read_noise=1.5, **kw)
    cube_q, truth_q = make_ramp_cube((3, 4), 4, rate=10 * u.electron / u.s,
                                     read_noise=3 * u.electron, **kw)
    assert_allclose(truth_q.rate, 5.0)
    assert truth_q.read_noise == pytest.approx(1.5)
    assert_allclose(cube_q, cube)


@pytest.mark.parametrize(("name", "value"), [
    ("rate", 1 * u.Jy), ("frame_time", 1 * u.m), ("read_noise", 1 * u.s),
    ("saturation", 1 * u.Jy)])
def test_ramp_foreign_units_are_refused_by_name(name, value):
    kw = dict(rate=1.0, read_noise=1.0)
    kw[name] = value
    with pytest.raises(u.UnitsError, match=name):
        make_ramp_cube((2, 2), 3, **kw)


def test_gaussian_sources_angles_and_pixels_are_converted():
    plain = make_gaussian_sources((32, 40), sources(theta=[np.pi / 2]))
    quantity = make_gaussian_sources((32, 40), sources(
        theta=[90.0] * u.deg, x_mean=[20.3] * u.pix, x_stddev=[4.0] * u.pix))
    assert_allclose(quantity, plain, rtol=1e-12, atol=1e-12)
    # a quarter turn: the long axis (4 px) along y
    yy = np.arange(32)[:, None]
    var_y = ((yy - 15.6) ** 2 * plain).sum() / plain.sum()
    assert var_y == pytest.approx(16.0, rel=0.02)


@pytest.mark.parametrize("column", ["x_mean", "y_mean", "x_stddev"])
def test_gaussian_sources_positions_in_sky_units_are_refused(column):
    table = sources(**{column: [2.0] * u.arcsec})
    with pytest.raises(u.UnitsError, match=column):
        make_gaussian_sources((32, 40), table)


def test_gaussian_sources_carry_the_flux_unit():
    plain = make_gaussian_sources((32, 40), sources())
    image = make_gaussian_sources((32, 40), sources(flux=[1000.0] * u.Jy))
    assert image.unit == u.Jy
    assert_allclose(image.value, plain)
    # a Table column with a unit too, and amplitudes
    table = Table(sources())
    table["flux"].unit = u.mJy
    assert make_gaussian_sources((32, 40), table).unit == u.mJy
    table = sources()
    del table["flux"]
    table["amplitude"] = [2.0] * u.adu
    image = make_gaussian_sources((32, 40), table)
    assert image.unit == u.adu
    assert image.value.sum() == pytest.approx(2.0 * 2 * np.pi * 4.0 * 1.5,
                                              rel=1e-4)


def test_random_gaussians_keep_the_flux_unit_and_refuse_sky_positions():
    table = make_random_gaussians(3, (1, 2) * u.Jy, (0, 5), (0, 5), (1, 2),
                                  (1, 2), random_state=0)
    plain = make_random_gaussians(3, (1, 2), (0, 5), (0, 5), (1, 2),
                                  (1, 2), random_state=0)
    assert table["flux"].unit == u.Jy
    assert_allclose(table["flux"].value, plain["flux"])
    with pytest.raises(u.UnitsError, match="xmean_range"):
        make_random_gaussians(3, (1, 2), (0, 5) * u.deg, (0, 5), (1, 2),
                              (1, 2))


def test_adi_planet_angles_in_radians_are_converted():
    kw = dict(n_frames=4, shape=(48, 48), random_state=2)
    cube, _, truth = make_adi_sequence(planets=[(12.0, 30.0, 2e-3)], **kw)
    table = QTable({"separation": [12.0] * u.pix,
                    "angle": [np.pi / 6] * u.rad, "contrast": [2e-3]})
    cube_q, _, truth_q = make_adi_sequence(planets=table, **kw)
    assert truth_q["angle"][0] == pytest.approx(30.0)
    assert_allclose(cube_q, cube)
    plain_table = Table({"separation": [12.0], "angle": [np.pi / 6],
                         "contrast": [2e-3]})
    plain_table["angle"].unit = u.rad
    assert_allclose(make_adi_sequence(planets=plain_table, **kw)[0], cube)
    rows = [(12 * u.pix, np.pi / 6 * u.rad, 2e-3)]
    assert_allclose(make_adi_sequence(planets=rows, **kw)[0], cube)


def test_noise_image_carries_the_unit_of_mean():
    image = make_noise_image((5, 6), mean=10 * u.adu, stddev=200 * u.cadu,
                             random_state=1)
    plain = make_noise_image((5, 6), mean=10.0, stddev=2.0, random_state=1)
    assert image.unit == u.adu
    assert_allclose(image.value, plain)
    with pytest.raises(u.UnitsError, match="stddev"):
        make_noise_image((5, 6), mean=10.0, stddev=2 * u.adu)


@pytest.mark.parametrize(("call", "name"), [
    (lambda: make_diffim_pair(64, template_fwhm=2.5 * u.arcsec), "template_fwhm"),
    (lambda: make_diffim_pair(64, science_sky=300 * u.Jy), "science_sky"),
    (lambda: make_adi_sequence(fwhm=4 * u.arcsec), "fwhm"),
    (lambda: make_adi_sequence(planets=[(1 * u.arcsec, 0, 1e-3)]), "separation"),
])
def test_other_foreign_units_are_refused_by_name(call, name):
    with pytest.raises(u.UnitsError, match=name):
        call()


# --- saturation -------------------------------------------------------------

def footprint_flags(science, truth, level):
    """Stars with a clipped pixel within 3 sigma of their centre."""
    clipped = science.data >= level
    rows, cols = np.nonzero(clipped)
    x = np.asarray(truth.stars["x"])
    y = np.asarray(truth.stars["y"])
    sx, sy = truth.psf_sigma("science", x, y)
    flags = []
    for k in range(len(x)):
        r2 = ((cols - x[k]) / (3 * sx[k])) ** 2 + ((rows - y[k]) / (3 * sy[k])) ** 2
        flags.append(bool(np.any(r2 <= 1)))
    return np.array(flags)


@pytest.mark.parametrize(("level", "seed"), [(2000, 0), (3000, 1), (5000, 3)])
def test_saturated_flag_follows_the_clipped_pixels(level, seed):
    _, science, truth = make_diffim_pair(saturation_level=level,
                                         random_state=seed)
    flags = np.asarray(truth.stars["saturated"])
    assert flags.any()
    assert_array_equal(flags, footprint_flags(science, truth, level))
    # every clipped pixel is masked, and belongs to a flagged star
    clipped = science.data >= level
    assert science.mask[clipped].all()
    assert footprint_flags(science, truth, level)[flags].all()


def test_default_level_saturates_nothing_and_3000_a_few_stars():
    _, science, truth = make_diffim_pair(random_state=0)
    assert not (science.data >= 8e4).any()
    assert not truth.stars["saturated"].any()
    for seed in range(5):
        _, science, truth = make_diffim_pair(saturation_level=3000,
                                             random_state=seed)
        flagged = truth.stars[truth.stars["saturated"]]
        assert 1 <= len(flagged) <= 3
        # the brightest of them is among the ten brightest stars
        tenth = np.sort(truth.stars["flux"])[-10]
        assert flagged["flux"].max() >= tenth


# --- clear errors -----------------------------------------------------------

@pytest.mark.parametrize(("call", "error", "match"), [
    (lambda: make_adi_sequence(shape=4), ValueError, "shape.*fwhm"),
    (lambda: make_adi_sequence(shape=8), ValueError, "n_speckles=0"),
    (lambda: make_adi_sequence(fwhm=1000), ValueError, "fwhm=1000"),
    (lambda: make_adi_sequence(planets=[(12, 30, -1e-3)]), ValueError,
     r"planets\[0\] contrast"),
    (lambda: make_adi_sequence(planets=[(-12, 30, 1e-3)]), ValueError,
     r"planets\[0\] separation"),
    (lambda: make_adi_sequence(planets=[(12, np.nan, 1e-3)]), ValueError,
     r"planets\[0\] angle"),
    (lambda: make_diffim_pair(64, transient_snr=(30, 10)), ValueError,
     "transient_snr"),
    (lambda: make_diffim_pair(64, transient_snr=(-30, -10)), ValueError,
     "transient_snr"),
    (lambda: make_diffim_pair(64, flux_range=(1, 2, 3)), ValueError,
     "flux_range"),
    (lambda: make_diffim_pair(64, flux_range=(1e5, 10)), ValueError,
     "flux_range"),
    (lambda: make_diffim_pair(64, science_sky=-1000), ValueError,
     "science_sky"),
    (lambda: make_diffim_pair(64, science_sky=5), ValueError, "sky_gradient"),
    (lambda: make_diffim_pair(64, read_noise=np.nan), ValueError,
     "read_noise"),
    (lambda: make_diffim_pair(64, read_noise=-5), ValueError, "read_noise"),
    (lambda: make_diffim_pair(64), ValueError, "lower n_transients"),
    (lambda: make_diffim_pair(64, fwhm_variation=np.nan), ValueError,
     "fwhm_variation"),
    (lambda: make_noise_image((3, 3), mean=np.nan, stddev=1), ValueError,
     "mean"),
    (lambda: make_noise_image((3, 3), mean=np.inf, stddev=1), ValueError,
     "mean"),
    (lambda: make_ramp_cube((2, 2), 3, rate=[1, 2, 3], read_noise=1),
     ValueError, r"rate must be a scalar or an array of shape \(2, 2\)"),
    (lambda: make_ramp_cube((2, 2), 3, rate=1, read_noise=1, bias=np.nan),
     ValueError, "bias"),
    (lambda: make_ramp_cube((2, 2), 3, rate=1, read_noise=1,
                            saturation=np.nan), ValueError, "saturation"),
    (lambda: make_ramp_cube((2, 2), 3, rate=1, read_noise=1,
                            jump_fraction=np.nan), ValueError,
     "jump_fraction"),
])
def test_bad_arguments_fail_with_their_name(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize(("column", "value"), [
    ("x_stddev", np.nan), ("y_stddev", np.inf), ("x_mean", np.nan),
    ("y_mean", -np.inf), ("theta", np.nan), ("flux", np.nan)])
def test_gaussian_sources_refuse_non_finite_columns(column, value):
    with pytest.raises(ValueError, match=f"'{column}' must be finite"):
        make_gaussian_sources((10, 10), sources(**{column: [value]}))


def test_scalar_sky_gradient_applies_to_both_axes():
    kw = dict(n_stars=20, n_transients=2, random_state=5)
    pair = make_diffim_pair(64, sky_gradient=5.0, **kw)
    same = make_diffim_pair(64, sky_gradient=(5.0, 5.0), **kw)
    assert_array_equal(pair[1].data, same[1].data)
    sky = pair[2].science_sky
    assert sky[0, -1] - sky[0, 0] == pytest.approx(10.0)
    assert sky[-1, 0] - sky[0, 0] == pytest.approx(10.0)


def test_adi_small_frames_without_speckles_still_work():
    cube, _, _ = make_adi_sequence(n_frames=3, shape=8, n_speckles=0,
                                   planets=[], random_state=0)
    assert cube.shape == (3, 8, 8)
    assert np.isfinite(cube).all()


def test_huge_poisson_means_use_the_gaussian_approximation():
    mean = 1e20
    image = make_noise_image((100, 100), type="poisson", mean=mean,
                             random_state=0)
    assert abs(image.mean() - mean) < 5 * np.sqrt(mean) / 100
    assert image.std() == pytest.approx(np.sqrt(mean), rel=0.05)
    cube, _ = make_ramp_cube((50, 50), 3, rate=mean, read_noise=1.0,
                             random_state=0)
    diff = cube[1] - cube[0]
    assert abs(diff.mean() - mean) < 5 * np.sqrt(mean) / 50
    assert diff.std() == pytest.approx(np.sqrt(mean), rel=0.1)
    # below the limit the draws are NumPy's Poisson draws, unchanged
    small = make_noise_image((4, 4), type="poisson", mean=7.0, random_state=3)
    assert_array_equal(small, np.random.default_rng(3).poisson(7.0, (4, 4)))


@pytest.mark.parametrize("dtype", [np.int16, np.uint16, "int32", "U3",
                                   "not-a-type", bool])
def test_ramp_cube_refuses_non_floating_dtypes(dtype):
    with pytest.raises(TypeError, match="dtype must be a floating-point"):
        make_ramp_cube((2, 2), 3, rate=1.0, read_noise=1.0, dtype=dtype)


@pytest.mark.parametrize("dtype", [np.float32, "float64"])
def test_ramp_cube_floating_dtypes(dtype):
    cube, _ = make_ramp_cube((2, 2), 3, rate=1.0, read_noise=1.0,
                             dtype=dtype, random_state=0)
    assert cube.dtype == np.dtype(dtype)
