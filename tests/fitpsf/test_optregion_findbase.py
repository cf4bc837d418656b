"""Optimisation-region and base-selection plug-ins against brute force."""

import numpy as np
import pytest
from random_fitters import random_fitter
from scipy import ndimage

from psfkit.fitpsf import BasePSFFitter, region_to_mask, rotation_exclusion_mask
from psfkit.fitpsf import findbase as fb
from psfkit.fitpsf import optregion as opt


def _fitter(shape=(25, 31), n=6, **kwargs):
    return random_fitter(shape, n, **kwargs)


def _random_region(shape, seed, frac=0.05):
    rng = np.random.default_rng(seed)
    return np.flatnonzero(rng.random(shape) < frac)


@pytest.mark.parametrize("dilation", [0, 1, 3, 7])
@pytest.mark.parametrize("seed", [0, 1])
def test_dilated_region_matches_full_image_dilation(dilation, seed):
    shape = (25, 31)
    f = _fitter(shape)
    f.dilation_region = dilation
    reg = _random_region(shape, seed)
    got = region_to_mask(opt.dilated_region(f, reg, np.arange(6)), shape)
    struct = np.ones((2 * dilation + 1,) * 2, dtype=bool)
    want = ndimage.binary_dilation(region_to_mask(reg, shape), struct) \
        if dilation else region_to_mask(reg, shape)
    assert np.array_equal(got, want)


def test_dilated_region_structure_array():
    shape = (15, 15)
    f = _fitter(shape)
    struct = ndimage.generate_binary_structure(2, 1)
    f.dilation_region = struct
    reg = np.array([0, 7 * 15 + 7, 14 * 15 + 3])
    got = region_to_mask(opt.dilated_region(f, reg, [0]), shape)
    want = ndimage.binary_dilation(region_to_mask(reg, shape), struct)
    assert np.array_equal(got, want)


@pytest.mark.parametrize("rim", [0, 1, 2])
def test_around_region_brute_force(rim):
    shape = (25, 31)
    f = _fitter(shape)
    f.dilation_region = 4
    f.around_region_rim = rim
    reg = _random_region(shape, 7, 0.02)
    m = region_to_mask(reg, shape)
    got = region_to_mask(opt.around_region(f, reg, [0]), shape)
    # brute force with Chebyshev distances to the nearest region pixel
    ys, xs = np.nonzero(m)
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    dist = np.min(np.maximum(abs(yy[..., None] - ys), abs(xx[..., None] - xs)),
                  axis=-1)
    want = (dist <= 4) & (dist > rim)
    assert np.array_equal(got, want)


def test_all_unmasked_and_ignore_all_masked():
    shape = (10, 12)
    rng = np.random.default_rng(2)
    bmask = rng.random((4, *shape)) < 0.1
    imask = rng.random(shape) < 0.1
    f = _fitter(shape, n=4, base_mask=bmask, image_mask=imask)
    ind = np.array([1, 3])
    got = region_to_mask(opt.all_unmasked(f, None, ind), shape)
    want = ~imask & ~bmask[1] & ~bmask[3]
    assert np.array_equal(got, want)
    wrapped = opt.wrapper_ignore_all_masked(opt.identity)
    reg = np.arange(0, 120, 3)
    got = region_to_mask(wrapped(f, reg, ind), shape)
    assert np.array_equal(got, want & region_to_mask(reg, shape))


def test_wrapper_optmask():
    shape = (10, 12)
    f = _fitter(shape)
    optmask = np.zeros(shape, dtype=bool)
    optmask[2:5, 3:7] = True
    f.optregion = opt.wrapper_optmask(opt.all_unmasked)
    f.optmask = optmask
    got = region_to_mask(f.optregion(None, [0]), shape)
    assert np.array_equal(got, ~optmask)
    f.optmask = np.zeros((3, 3), dtype=bool)
    with pytest.raises(ValueError, match="optmask"):
        f.optregion(None, [0])


def test_allbases_nonmaskedbases_brute_force():
    shape = (9, 9)
    rng = np.random.default_rng(4)
    bmask = rng.random((5, *shape)) < 0.05
    f = _fitter(shape, n=5, base_mask=bmask)
    assert np.array_equal(fb.allbases(f, [0]), np.arange(5))
    for seed in range(5):
        reg = _random_region(shape, seed, 0.1)
        want = [not bmask[k].ravel()[reg].any() for k in range(5)]
        assert list(fb.nonmaskedbases(f, reg)) == want


def test_nonmaskedbases_ignores_pixels_masked_in_the_image():
    shape = (9, 9)
    rng = np.random.default_rng(5)
    bmask = rng.random((5, *shape)) < 0.05
    imask = rng.random(shape) < 0.3
    f = _fitter(shape, n=5, base_mask=bmask, image_mask=imask)
    for seed in range(5):
        reg = _random_region(shape, seed, 0.2)
        want = [not (bmask[k] & ~imask).ravel()[reg].any() for k in range(5)]
        assert list(fb.nonmaskedbases(f, reg)) == want


@pytest.mark.parametrize("cls", ["KLIP", "LOCI", "LOCIAllPixelsSubtraction"])
def test_shared_coronagraph_mask_loses_no_valid_pixel(cls):
    import warnings

    from psfkit import fitpsf
    from psfkit.datasets import make_adi_sequence

    cube, _, _ = make_adi_sequence(n_frames=8, shape=(64, 64), random_state=0,
                                   mask_radius=3.7)
    target, refs = cube[0], cube[1:]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = getattr(fitpsf, cls)(refs).remove_psf(target)
    # the residual is masked exactly on the coronagraph
    assert np.isnan(target).sum() > 0
    assert np.array_equal(res.mask, np.isnan(target))


def test_best_correlated_brute_force():
    shape = (20, 20)
    rng = np.random.default_rng(8)
    base = rng.normal(size=(8, *shape))
    img = 0.9 * base[5] + 0.6 * base[2] + 0.3 * base[7] + 0.01 * rng.normal(size=shape)
    f = BasePSFFitter(base, img)
    f.findbase = fb.best_correlated(3)
    reg = np.arange(50, 300)
    got = np.flatnonzero(np.isin(np.arange(8), f.findbase(reg)))
    corr = [np.corrcoef(img.ravel()[reg], base[k].ravel()[reg])[0, 1]
            for k in range(8)]
    assert list(got) == sorted(np.argsort(corr)[-3:])
    assert list(got) == [2, 5, 7]
    with pytest.raises(ValueError, match="n must be"):
        fb.best_correlated(0)


def test_rotation_exclusion_brute_force():
    shape = (41, 41)
    n = 12
    parangs = np.linspace(-30, 30, n)
    f = _fitter(shape, n=n)
    f.findbase = fb.rotation_exclusion
    f.base_parangs = parangs
    f.image_parang = 2.0
    f.fwhm = 4.0
    f.n_delta = 1.0
    reg = np.array([20 * 41 + 32, 20 * 41 + 33])  # radius 12.5 from centre
    got = f.findbase(reg)
    want = [abs(np.deg2rad(p - 2.0)) * 12.5 >= 4.0 for p in parangs]
    assert list(got) == want
    assert list(rotation_exclusion_mask(parangs, 2.0, 12.5, n_delta=1.0,
                                        fwhm=4.0)) == want
    f.base_parangs = parangs[:3]
    with pytest.raises(ValueError, match="base_parangs"):
        f.findbase(reg)
    g = _fitter(shape)
    g.findbase = fb.rotation_exclusion
    with pytest.raises(AttributeError, match="base_parangs"):
        g.findbase(reg)
