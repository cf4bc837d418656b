"""ADI and evaluation tools: messages that say what is wrong, the executor
dialect, progress bars, and short reprs of the results."""

import dataclasses
import pickle

from astropy.nddata import NDData, StdDevUncertainty, VarianceUncertainty
import numpy as np
import pytest

from psfkit.datasets import make_adi_sequence
from psfkit.fitpsf import (
    KLIP,
    LOCI,
    ADIResult,
    SNRResult,
    adi_subtract,
    aperture_sums,
    contrast_curve,
    derotate_cube,
    inject_planet,
    map_remove_psf,
    rotation_exclusion_mask,
    snr,
    snr_map,
)
from psfkit.fitpsf import findbase as fb
from psfkit.utils import InputDataError, PsfkitDeprecationWarning


@pytest.fixture(scope="module")
def small():
    return make_adi_sequence(n_frames=8, shape=(33, 33), random_state=5)


def test_no_frame_rotated_enough_says_so(small):
    cube, parangs, _ = small
    # before: "cube has no usable values: every value is masked or
    # non-finite", about a cube without a single masked value
    with pytest.raises(ValueError, match=r"no frame is rotated enough.*"
                       r"largest difference in parangs is 80 degrees.*"
                       r"only beyond r = 229 pixels.*22.6 pixels"):
        adi_subtract(cube, parangs, LOCI, n_delta=80, fwhm=4.0)
    with pytest.raises(ValueError, match="is 0 degrees, enough nowhere"):
        adi_subtract(cube, np.full(8, 10.0), LOCI, n_delta=1, fwhm=4.0)
    # no rotation is needed when n_delta is 0
    res = adi_subtract(cube, np.full(8, 10.0), LOCI, n_delta=0, fwhm=4.0)
    assert not res.image.mask.all()


def test_unfittable_regions_say_so(small):
    cube, parangs, _ = small
    with pytest.raises(InputDataError, match="no region of any of the 8 "
                       "frames could be fitted"):
        adi_subtract(cube, parangs, LOCI, n_delta=0.5, fwhm=4.0,
                     settings={"min_opt_pixels": 10 ** 6})


@pytest.mark.parametrize("kind", [VarianceUncertainty, StdDevUncertainty])
def test_negative_uncertainty_says_so(small, kind):
    cube, parangs, _ = small
    unc = np.ones(cube.shape)
    unc[2, 3:5, 4] = -1.0
    data = NDData(cube, uncertainty=kind(unc))
    # before: "every value is masked or non-finite"
    with pytest.raises(ValueError, match=rf"cube.uncertainty \({kind.__name__}"
                       r"\) holds 2 negative value\(s\)"):
        adi_subtract(data, parangs, LOCI, n_delta=0.5, fwhm=4.0)
    with pytest.raises(ValueError, match="image.uncertainty"):
        snr(NDData(cube[0], uncertainty=kind(unc[2])), (20, 16), 4.0)
    # a valid uncertainty is simply not used
    ok = adi_subtract(NDData(cube, uncertainty=kind(np.ones(cube.shape))),
                      parangs, KLIP, n_delta=0.5, fwhm=4.0)
    want = adi_subtract(cube, parangs, KLIP, n_delta=0.5, fwhm=4.0)
    np.testing.assert_allclose(ok.image, want.image, atol=1e-12)


def test_unknown_settings_and_combine(small):
    cube, parangs, _ = small
    with pytest.raises(ValueError, match="not attributes of KLIP: 'klip_mode'"):
        adi_subtract(cube, parangs, KLIP, n_delta=0.5, fwhm=4.0,
                     settings={"klip_mode": 3})
    with pytest.raises(ValueError, match="combine"):
        adi_subtract(cube, parangs, KLIP, n_delta=0.5, fwhm=4.0,
                     combine="sum")


def test_psfsubtraction_convention_in_adi(small):
    # the star's (x, y) is handed to the fitters in their convention's
    # order: psfsubtraction's sector_center is (row, column)
    cube, parangs, _ = small
    res = adi_subtract(cube, parangs, LOCI, n_delta=0.5, fwhm=4.0,
                       center=(15.0, 17.0), combine="mean",
                       settings={"convention": "psfsubtraction"})
    frames = []
    for i in range(8):
        others = [j for j in range(8) if j != i]
        f = LOCI(cube[others], cube[i], bases_axis=0)
        f.convention = "psfsubtraction"
        f.sector_center = (17.0, 15.0)
        f.findbase = fb.rotation_exclusion
        f.base_parangs, f.image_parang = parangs[others], parangs[i]
        f.n_delta, f.fwhm, f.warn_skipped = 0.5, 4.0, False
        frames.append(f.remove_psf())
    want = derotate_cube(np.ma.stack(frames), parangs, center=(15.0, 17.0))
    np.testing.assert_allclose(res.residuals, want, atol=1e-12)
    assert np.array_equal(res.residuals.mask, want.mask)


def test_executor_dialect(small):
    cube, parangs, _ = small
    want = adi_subtract(cube, parangs, KLIP, n_delta=0.5, fwhm=4.0)
    got = adi_subtract(cube, parangs, KLIP, n_delta=0.5, fwhm=4.0, executor=2,
                       progress_bar=True)
    np.testing.assert_allclose(got.image, want.image, atol=1e-12)
    with pytest.warns(PsfkitDeprecationWarning, match="n_threads= is "
                      "deprecated; use executor="):
        old = adi_subtract(cube, parangs, KLIP, n_delta=0.5, fwhm=4.0,
                           n_threads=2)
    np.testing.assert_allclose(old.image, want.image, atol=1e-12)
    with pytest.raises(TypeError, match="not both"):
        adi_subtract(cube, parangs, KLIP, n_delta=0.5, fwhm=4.0, executor=2,
                     n_threads=2)
    fitter = KLIP(cube[1:], bases_axis=0)
    with pytest.warns(PsfkitDeprecationWarning, match="n_threads="):
        res = map_remove_psf(fitter, [cube[0]], n_threads=1)
    fresh = KLIP(cube[1:], bases_axis=0).remove_psf(cube[0])
    np.testing.assert_allclose(res[0], fresh, atol=1e-12)
    res = map_remove_psf(fitter, list(cube[:3]), executor=2, progress_bar=True)
    assert len(res) == 3


def test_results_are_frozen_with_short_reprs(small):
    cube, parangs, _ = small
    res = adi_subtract(cube, parangs, KLIP, n_delta=0.5, fwhm=4.0)
    assert isinstance(res, ADIResult)
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.image = None
    text = repr(res)
    assert len(text) < 300 and "(33, 33)" in text and "n_frames=8" in text
    assert "<table>" in res._repr_html_()
    assert pickle.loads(pickle.dumps(res)).image.shape == (33, 33)
    s = snr(inject_planet(np.random.default_rng(0).normal(size=(41, 41)),
                          (30.0, 20.0), 50.0, fwhm=3.0), (30.0, 20.0), 3.0)
    assert isinstance(s, SNRResult)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.snr = 0.0
    assert repr(s).startswith("SNRResult(snr=") and len(repr(s)) < 100


def test_snr_map_against_snr():
    rng = np.random.default_rng(7)
    img = inject_planet(rng.normal(size=(51, 51)), (36.0, 25.0), 40.0,
                        fwhm=3.5)
    img[3:6, 40:44] = np.nan
    smap = snr_map(img, 3.5)
    # the same statistics at every pixel: compared with snr() there
    diffs = []
    for y in range(0, 51, 3):
        for x in range(0, 51, 3):
            if np.ma.is_masked(smap[y, x]):
                continue
            try:
                want = snr(img, (x, y), 3.5).snr
            except ValueError:
                continue
            diffs.append(smap[y, x] - want)
    diffs = np.abs(diffs)
    assert len(diffs) > 150
    # interpolated noise apertures: a few hundredths, rarely a few tenths
    # (where an aperture crosses the coverage limit at the edge or a mask)
    assert np.median(diffs) < 0.03 and np.percentile(diffs, 90) < 0.15
    # the map peaks at the companion, where it agrees closely with snr()
    y, x = (int(i) for i in np.unravel_index(np.argmax(smap), smap.shape))
    assert np.hypot(x - 36, y - 25) <= 1.5
    assert abs(smap[y, x] - snr(img, (x, y), 3.5).snr) < 0.1
    # undefined near the star (fewer than four apertures fit)
    assert smap.mask[25, 25] and smap.mask[25, 26]
    # exclude_neighbors is passed through
    excl = snr_map(img, 3.5, exclude_neighbors=True)
    want = snr(img, (36, 25), 3.5, exclude_neighbors=True).snr
    assert abs(excl[25, 36] - want) < 0.1


def test_snr_map_aperture_sums_at_pixels_are_exact():
    from psfkit.fitpsf.significance import _aperture_sum_grid
    from psfkit.utils import coerce_data

    rng = np.random.default_rng(8)
    img = rng.normal(size=(30, 32))
    img[10, 10:14] = np.nan
    grid = _aperture_sum_grid(coerce_data(img, allow_all_masked=True), 2.0, 4)
    xs = np.array([5.0, 11.25, 20.5, 0.0, 31.75])
    ys = np.array([7.0, 10.0, 3.75, 0.0, 29.0])
    want = aperture_sums(img, xs, ys, 2.0)
    got = grid[(ys * 4).astype(int), (xs * 4).astype(int)]
    np.testing.assert_allclose(got, want, rtol=1e-12, equal_nan=True)


def test_contrast_curve_formats_and_progress(small):
    cube, parangs, truth = small
    curve = contrast_curve(cube, parangs, KLIP, fwhm=4.0,
                           star_flux=truth.meta["star_flux"],
                           separations=[8.0, 12.0], n_delta=0.5, n_angles=1,
                           progress_bar=True)
    assert curve["contrast"].info.format == ".3e"
    assert "flux ratio" in curve["contrast"].info.description
    text = "\n".join(curve.pformat())
    assert "e-0" in text and len(text.splitlines()[2]) < 90


def test_unit_of_the_cube_is_kept():
    from astropy.nddata import NDData
    import astropy.units as u

    from psfkit.datasets import make_adi_sequence
    from psfkit.fitpsf import KLIP, adi_subtract, classical_adi

    cube, parangs, _ = make_adi_sequence(n_frames=10, shape=(41, 41),
                                         random_state=0)
    plain = adi_subtract(cube, parangs, KLIP, n_delta=0.75, fwhm=4.0)
    assert plain.unit is None and "unit" not in repr(plain)
    for given in (cube * u.electron, NDData(cube, unit="electron")):
        res = adi_subtract(given, parangs, KLIP, n_delta=0.75, fwhm=4.0)
        assert res.unit == u.electron and "unit=electron" in repr(res)
        np.testing.assert_array_equal(res.image, plain.image)
        q = res.image_quantity()
        assert q.unit == u.electron
        assert np.isnan(q.value[np.ma.getmaskarray(res.image)]).all()
    assert classical_adi(cube * u.adu, parangs).unit == u.adu


def test_parangs_as_angle_quantities(small):
    import astropy.units as u

    cube, parangs, _ = small
    rad = np.deg2rad(parangs) * u.rad
    # derotation: a point right of the centre, rotated by 90 degrees
    z = np.zeros((1, 33, 33))
    z[0, 16, 26] = 1.0
    for angle in ([90.0], [np.pi / 2] * u.rad, [5400.0] * u.arcmin):
        out = derotate_cube(z, angle, order=0)
        assert np.argwhere(out[0] == 1).tolist() == [[6, 16]]
    np.testing.assert_array_equal(
        rotation_exclusion_mask(np.deg2rad([0, 5, 12, 20]) * u.rad,
                                0 * u.rad, 20, n_delta=1, fwhm=4),
        [False, False, True, True])
    # a companion injected at (26, 16) in the sky frame sits at (16, 26)
    # in a frame with parallactic angle 90 degrees
    b = inject_planet(np.zeros((1, 33, 33)), (26, 16), 1, fwhm=2,
                      parangs=[np.pi / 2] * u.rad)
    assert np.unravel_index(b[0].argmax(), b[0].shape) == (26, 16)
    want = adi_subtract(cube, parangs, KLIP, n_delta=0.5, fwhm=4.0)
    got = adi_subtract(cube, rad, KLIP, n_delta=0.5, fwhm=4.0)
    np.testing.assert_allclose(got.image, want.image, atol=1e-10)
    np.testing.assert_array_equal(got.image.mask, want.image.mask)
    # the plug-in reads the fitter attributes the same way
    f = LOCI(cube[1:], cube[0], bases_axis=0)
    f.findbase, f.fwhm = fb.rotation_exclusion, 4.0
    region = np.array([16 * 33 + 28])
    f.base_parangs, f.image_parang = parangs[1:], parangs[0]
    in_degrees = f.findbase(region)
    f.base_parangs, f.image_parang = rad[1:], rad[0]
    np.testing.assert_array_equal(f.findbase(region), in_degrees)
    assert 0 < in_degrees.sum() < 7
    kwargs = dict(fwhm=4.0, star_flux=1e4, separations=[10.0], n_delta=0.5,
                  n_angles=1)
    np.testing.assert_allclose(
        contrast_curve(cube, rad, KLIP, **kwargs)["contrast"],
        contrast_curve(cube, parangs, KLIP, **kwargs)["contrast"], rtol=1e-9)


@pytest.mark.parametrize("call", ["derotate", "adi", "mask", "inject", "plugin"])
def test_parangs_of_another_unit_are_an_error(small, call):
    import astropy.units as u

    cube, parangs, _ = small
    with pytest.raises(u.UnitsError, match="parang.* must be angles.*got a "
                       "Quantity in m"):
        if call == "derotate":
            derotate_cube(cube, parangs * u.m)
        elif call == "adi":
            adi_subtract(cube, parangs * u.m, KLIP, n_delta=0.5, fwhm=4.0)
        elif call == "mask":
            rotation_exclusion_mask(parangs * u.m, 0, 10, n_delta=1, fwhm=4)
        elif call == "inject":
            inject_planet(cube, (20, 16), 1.0, fwhm=3, parangs=parangs * u.m)
        else:
            f = LOCI(cube[1:], cube[0], bases_axis=0)
            f.findbase, f.fwhm = fb.rotation_exclusion, 4.0
            f.base_parangs, f.image_parang = parangs[1:], 3 * u.m
            f.remove_psf()


def test_inject_and_derotate_keep_the_unit(small):
    import astropy.units as u

    cube, parangs, _ = small
    cube = cube.copy()
    cube[:, 16, 16] = np.nan
    want = inject_planet(cube, (20, 16), 0.5, fwhm=3, parangs=parangs)
    for flux in (500 * u.mJy, 0.5 * u.Jy):
        got = inject_planet(cube * u.Jy, (20, 16), flux, fwhm=3,
                            parangs=parangs)
        assert got.unit == u.Jy
        np.testing.assert_allclose(got.value, want.filled(np.nan), rtol=1e-12,
                                   equal_nan=True)
    one = inject_planet(np.zeros((21, 21)) * u.Jy, (10, 10), 1 * u.mJy, fwhm=3)
    assert abs(one.sum() - 1 * u.mJy) < 1e-12 * u.Jy
    with pytest.raises(u.UnitsError, match=r"flux is in m, which does not "
                       r"convert to Jy"):
        inject_planet(cube * u.Jy, (20, 16), 1 * u.m, fwhm=3, parangs=parangs)
    with pytest.raises(u.UnitsError, match=r"flux has a unit \(Jy\)"):
        inject_planet(cube, (20, 16), 1 * u.Jy, fwhm=3, parangs=parangs)
    plain = derotate_cube(cube, parangs)
    got = derotate_cube(NDData(cube, unit="adu"), parangs)
    assert got.unit == u.adu
    np.testing.assert_array_equal(got.value, plain.filled(np.nan))


def test_clear_errors_for_misshaped_inputs(small):
    from psfkit.fitpsf import classical_adi

    cube, parangs, _ = small
    # before: a zero image (classical_adi) and zip()'s message
    with pytest.raises(ValueError, match="cube must hold at least 2 frames, "
                       "got 1"):
        classical_adi(cube[:1], parangs[:1])
    with pytest.raises(ValueError, match=r"xs and ys must have the same "
                       r"shape .*got \(3,\) and \(2,\)"):
        aperture_sums(cube[0], [10, 12, 14], [10, 12], 2.0)
    fitter = KLIP(cube[1:], bases_axis=0)
    with pytest.raises(ValueError, match=r"images must be a sequence of 2-D "
                       r"images or a 3-D stack, got a single 2-D image of "
                       r"shape \(33, 33\)"):
        map_remove_psf(fitter, cube[0])
    # a 3-D stack is a sequence of images
    stack = map_remove_psf(fitter, cube[:2])
    np.testing.assert_allclose(stack[1], fitter.remove_psf(cube[1]),
                               atol=1e-12)
